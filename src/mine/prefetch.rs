//! The cache prefetch hint the scan uses where it knows, a little ahead, which memory it will
//! need: the memo entry of the next line's URL, the tally counts of a kept hit.
//!
//! The scan's stalls are loads of data that a day's worth of URLs pushed out of the core's
//! cache; a hint issued early lets the load run while other work does. It is the crate's one
//! `unsafe` outside the libdeflate binding, and it reads and writes nothing.

/// Asks the CPU to start loading the cache lines of `value`, without waiting for them.
#[inline(always)]
pub(crate) fn prefetch<T>(value: &T) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        let start = std::ptr::from_ref(value).cast::<i8>();
        for offset in (0..std::mem::size_of::<T>()).step_by(64) {
            // SAFETY: a prefetch is only a hint: it never faults, and it neither reads into
            // the program nor writes; the addresses are inside `value` anyway. SSE, which
            // `_mm_prefetch` needs, is part of every x86_64 CPU.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(start.wrapping_add(offset)) }
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = value;
}
