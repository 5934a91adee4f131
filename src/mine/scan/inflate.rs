//! Whole-object gunzip with libdeflate: an object's compressed bytes in memory -> its
//! uncompressed bytes in a reused buffer, member by member (ALB objects may hold several gzip
//! members), each member's CRC-32 and length checked by libdeflate.
//!
//! libdeflate inflates faster than any streaming inflater (it never stops mid-block to hand out
//! output), at the price of needing the whole output buffer at once: the scan uses it for objects
//! up to a size limit and streams the rest. It only ever succeeds or refuses: on damaged data
//! nothing is returned, and the caller streams the object instead to keep the lines before the
//! damage.

use std::ptr::NonNull;

use libdeflate_sys::{
    libdeflate_alloc_decompressor, libdeflate_decompressor, libdeflate_free_decompressor,
    libdeflate_gzip_decompress_ex, libdeflate_result_LIBDEFLATE_INSUFFICIENT_SPACE,
    libdeflate_result_LIBDEFLATE_SUCCESS,
};

/// Why an object was not inflated whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WholeError {
    /// Not a clean sequence of gzip members (bad header, bad data, bad checksum, truncated,
    /// trailing junk).
    Damaged,
    /// The output would exceed the limit.
    TooLarge,
}

/// One libdeflate decompressor (a few KB of tables), reused for every member a thread inflates.
pub struct WholeInflater {
    ptr: NonNull<libdeflate_decompressor>,
}

// SAFETY: a libdeflate decompressor holds no thread-local state; it is used by one thread at a
// time (`&mut self`).
unsafe impl Send for WholeInflater {}

impl Drop for WholeInflater {
    fn drop(&mut self) {
        // SAFETY: allocated by libdeflate_alloc_decompressor, freed once.
        unsafe { libdeflate_free_decompressor(self.ptr.as_ptr()) }
    }
}

impl WholeInflater {
    /// `None` only when libdeflate cannot allocate its tables.
    pub fn new() -> Option<Self> {
        // SAFETY: no arguments; a null return is handled.
        NonNull::new(unsafe { libdeflate_alloc_decompressor() }).map(|ptr| WholeInflater { ptr })
    }

    /// Inflates every gzip member of `gz` into `out` (cleared first), growing `out` as needed up
    /// to `limit` bytes. On error `out` holds nothing meaningful.
    pub fn gunzip(&mut self, gz: &[u8], out: &mut Vec<u8>, limit: usize) -> Result<(), WholeError> {
        out.clear();
        // The last member's ISIZE trailer: the whole output of a single-member object (mod
        // 2^32), a lower bound otherwise.
        let last_isize = match gz {
            [.., a, b, c, d] if gz.len() >= 18 => u32::from_le_bytes([*a, *b, *c, *d]) as usize,
            _ => return Err(WholeError::Damaged),
        };
        if last_isize > limit {
            // The last member alone is larger than the limit (ISIZE is exact below 4 GiB).
            return Err(WholeError::TooLarge);
        }
        out.reserve(last_isize.max(64 * 1024).min(limit));
        let mut pos = 0;
        while pos < gz.len() {
            let input = &gz[pos..];
            let room = limit.saturating_sub(out.len());
            let spare = out.spare_capacity_mut();
            let avail = spare.len().min(room);
            let spare = &mut spare[..avail];
            let (mut used_in, mut used_out) = (0usize, 0usize);
            // SAFETY: `input` and `spare` are valid for their lengths; libdeflate writes at
            // most `spare.len()` bytes and reports how many it wrote and read.
            let result = unsafe {
                libdeflate_gzip_decompress_ex(
                    self.ptr.as_ptr(),
                    input.as_ptr().cast(),
                    input.len(),
                    spare.as_mut_ptr().cast(),
                    spare.len(),
                    &mut used_in,
                    &mut used_out,
                )
            };
            if result == libdeflate_result_LIBDEFLATE_SUCCESS {
                if used_in == 0 || used_in > input.len() || used_out > avail {
                    return Err(WholeError::Damaged);
                }
                // SAFETY: libdeflate initialised the first `used_out` spare bytes.
                unsafe { out.set_len(out.len() + used_out) };
                pos += used_in;
            } else if result == libdeflate_result_LIBDEFLATE_INSUFFICIENT_SPACE {
                if avail == room {
                    return Err(WholeError::TooLarge);
                }
                // Retry the member with twice the room (the partial output is discarded).
                let want = (out.capacity() * 2).min(limit);
                out.reserve_exact(want - out.len());
            } else {
                return Err(WholeError::Damaged);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use std::io::Write;

    /// `data` as one gzip member (also the ISA-L tests' input).
    pub(in crate::mine::scan) fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn inflates_every_member_growing_the_buffer() {
        let a: Vec<u8> = (0..300_000u32).flat_map(|i| i.to_le_bytes()).collect();
        let b = b"second member\n".repeat(1000);
        let mut gz = gzip(&a);
        gz.extend(gzip(&b));
        let mut out = Vec::new();
        let mut inf = WholeInflater::new().unwrap();
        inf.gunzip(&gz, &mut out, 1 << 30).unwrap();
        assert_eq!(out.len(), a.len() + b.len());
        assert!(out[..a.len()] == a[..] && out[a.len()..] == b[..]);
    }

    #[test]
    fn refuses_damage_and_oversize() {
        let data = b"line\n".repeat(100_000);
        let gz = gzip(&data);
        let mut out = Vec::new();
        let mut inf = WholeInflater::new().unwrap();
        // A cut or junk-tailed object ends in bytes that are no ISIZE: refused as damaged or
        // (when those bytes read as a huge size) as too large; either way it is streamed.
        assert!(inf.gunzip(&gz[..gz.len() / 2], &mut out, 1 << 30).is_err());
        let mut junk = gz.clone();
        junk.extend_from_slice(b"junk after the member\x00\x00\x00\x00");
        assert_eq!(
            inf.gunzip(&junk, &mut out, 1 << 30),
            Err(WholeError::Damaged)
        );
        let mut bad_crc = gz.clone();
        let n = bad_crc.len();
        bad_crc[n - 8] ^= 1;
        assert_eq!(
            inf.gunzip(&bad_crc, &mut out, 1 << 30),
            Err(WholeError::Damaged)
        );
        assert_eq!(inf.gunzip(&gz, &mut out, 1000), Err(WholeError::TooLarge));
        inf.gunzip(&gz, &mut out, 1 << 30).unwrap();
        assert_eq!(out, data);
    }
}
