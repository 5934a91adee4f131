//! Streaming gunzip with ISA-L (Intel's `igzip`), loaded at run time from the system's
//! `libisal.so.2` when it is installed (Debian and Ubuntu: `libisal2`; the image ships it):
//! an object's compressed bytes in memory -> its uncompressed bytes, a few hundred KiB at a
//! time, every gzip member in turn, each member's CRC-32 and length checked by ISA-L.
//!
//! Why: ISA-L inflates as fast as libdeflate (within 4% on the benchmark day), but it streams.
//! The whole-object inflate writes an object's 16 MB before the scan reads them, so the scan
//! read them back from memory; inflated [`READ_MAX`] at a time, they are read while still in
//! the core's cache. On the 1 GiB benchmark day that took 5-7% off the miner's CPU time (against
//! the same build with `GREENLIGHT_INFLATE=whole`, alternating runs), and on 64 MB objects it
//! also took the per-thread buffer from the object's size to the chunk's.
//!
//! Why loaded at run time and not linked: a build then needs no C library or assembler, and a
//! machine without `libisal.so.2` still runs the miner (with libdeflate, the whole-object
//! inflate). The types come from `isal-sys`' bindings, of ISA-L's commit 496255c, whose
//! `igzip_lib.h` differs from Debian's 2.30 only in formatting: `inflate_state` is part of the
//! library's ABI, which the `.so.2` names. No symbol of `isal-sys` is linked.
//!
//! Errors read as flate2's do ([`std::io::ErrorKind::InvalidData`] for corrupt data,
//! [`std::io::ErrorKind::UnexpectedEof`] for a cut stream), so a damaged object fails alike
//! whichever inflate read it, keeping the lines before the damage.

use std::cell::Cell;
use std::io::Read;

use isal_sys::igzip_lib as ffi;

/// The most bytes one read inflates: what the scan then reads from the core's cache (the
/// cores here have 1 MiB of L2; 128 KiB and 256 KiB measured alike, and 1 MiB reads about 3%
/// slower in another run).
pub const READ_MAX: usize = 256 * 1024;

type InitFn = unsafe extern "C" fn(*mut ffi::inflate_state);
type InflateFn = unsafe extern "C" fn(*mut ffi::inflate_state) -> std::os::raw::c_int;

/// The three entry points of a loaded `libisal.so.2`.
struct Library {
    init: InitFn,
    reset: InitFn,
    inflate: InflateFn,
}

/// `libisal.so.2`, loaded once per process; `None` when it is not installed (or not on Linux).
fn library() -> Option<&'static Library> {
    static LIBRARY: std::sync::OnceLock<Option<Library>> = std::sync::OnceLock::new();
    LIBRARY.get_or_init(load).as_ref()
}

#[cfg(target_os = "linux")]
fn load() -> Option<Library> {
    // SAFETY: dlopen and dlsym with NUL-terminated names; the handle is never closed, so the
    // symbols stay valid for the process. Each symbol is the C function of that name in
    // ISA-L's igzip_lib.h, whose signature is the one it is cast to.
    unsafe {
        let handle = libc::dlopen(c"libisal.so.2".as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL);
        if handle.is_null() {
            return None;
        }
        let symbol = |name: &std::ffi::CStr| {
            let s = libc::dlsym(handle, name.as_ptr());
            (!s.is_null()).then_some(s)
        };
        let init = symbol(c"isal_inflate_init")?;
        let reset = symbol(c"isal_inflate_reset")?;
        let inflate = symbol(c"isal_inflate")?;
        Some(Library {
            init: std::mem::transmute::<*mut libc::c_void, InitFn>(init),
            reset: std::mem::transmute::<*mut libc::c_void, InitFn>(reset),
            inflate: std::mem::transmute::<*mut libc::c_void, InflateFn>(inflate),
        })
    }
}

#[cfg(not(target_os = "linux"))]
fn load() -> Option<Library> {
    None
}

/// Whether `libisal.so.2` could be loaded.
pub fn available() -> bool {
    library().is_some()
}

/// One ISA-L decompression state (~40 KB of tables), reused for every object a thread
/// inflates.
pub struct IsalInflater {
    lib: &'static Library,
    state: Box<ffi::inflate_state>,
}

// SAFETY: the state is plain data (its pointers point into buffers only for the duration of a
// call); it is used by one thread at a time (`&mut self`).
unsafe impl Send for IsalInflater {}

impl IsalInflater {
    /// `None` when `libisal.so.2` is not available.
    pub fn new() -> Option<Self> {
        let lib = library()?;
        // SAFETY: inflate_state is a C struct of integers, arrays and raw pointers, for which
        // all-zero bytes are a valid value; isal_inflate_init sets it up before any use.
        let state = Box::new(unsafe { std::mem::zeroed::<ffi::inflate_state>() });
        Some(IsalInflater { lib, state })
    }

    /// A reader of the inflated bytes of `gz` (every member); `consumed` counts the compressed
    /// bytes used so far (for the gzip-bomb guard).
    pub fn reader<'a>(&'a mut self, gz: &'a [u8], consumed: &'a Cell<u64>) -> IsalReader<'a> {
        // SAFETY: the state is owned and valid; init only writes to it.
        unsafe { (self.lib.init)(&mut *self.state) };
        self.state.crc_flag = ffi::ISAL_GZIP;
        consumed.set(0);
        IsalReader {
            inflater: self,
            gz,
            pos: 0,
            consumed,
            done: false,
            failed: None,
        }
    }
}

/// See [`IsalInflater::reader`].
pub struct IsalReader<'a> {
    inflater: &'a mut IsalInflater,
    gz: &'a [u8],
    pos: usize,
    consumed: &'a Cell<u64>,
    done: bool,
    /// An error met in a call that also inflated bytes: reported by the next read, after
    /// those bytes (as flate2 does: a member's lines reach the scan before its checksum fails).
    failed: Option<std::io::Error>,
}

impl Read for IsalReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let out_len = buf.len().min(READ_MAX);
        if let Some(e) = self.failed.take() {
            self.done = true;
            return Err(e);
        }
        loop {
            if self.done || out_len == 0 {
                return Ok(0);
            }
            let rest = self.gz.get(self.pos..).unwrap_or_default();
            let lib = self.inflater.lib;
            let s = &mut *self.inflater.state;
            s.next_in = rest.as_ptr().cast_mut();
            s.avail_in = u32::try_from(rest.len()).unwrap_or(u32::MAX);
            s.next_out = buf.as_mut_ptr();
            s.avail_out = out_len as u32;
            let avail_in = s.avail_in;
            // SAFETY: next_in/avail_in describe readable bytes of `gz`, next_out/avail_out
            // writable bytes of `buf` (at most READ_MAX, so the cast above is exact); ISA-L
            // reads and writes only within them, and reports how much it used.
            let status = unsafe { (lib.inflate)(s) };
            let used_in = (avail_in - s.avail_in.min(avail_in)) as usize;
            let written = out_len - (s.avail_out as usize).min(out_len);
            self.pos += used_in;
            self.consumed.set(self.pos as u64);
            if status != ffi::ISAL_DECOMP_OK as i32 {
                if written > 0 {
                    self.failed = Some(corrupt(status));
                    return Ok(written);
                }
                self.done = true;
                return Err(corrupt(status));
            }
            if s.block_state == ffi::isal_block_state_ISAL_BLOCK_FINISH {
                // A member ended (its checksum checked): the next one, if any, starts here.
                if self.pos >= self.gz.len() {
                    self.done = true;
                } else {
                    // SAFETY: as for init.
                    unsafe { (lib.reset)(s) };
                    s.crc_flag = ffi::ISAL_GZIP;
                }
            } else if written == 0 && used_in == 0 {
                // All input used, the member unfinished: the object was cut.
                self.done = true;
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "the gzip stream ends in the middle of a member",
                ));
            }
            if written > 0 {
                return Ok(written);
            }
        }
    }
}

/// An ISA-L error status in flate2's words (the object's failure then reads the same whichever
/// inflate met the damage).
fn corrupt(status: std::os::raw::c_int) -> std::io::Error {
    let what = match status {
        ffi::ISAL_INVALID_WRAPPER => "invalid gzip header".to_owned(),
        ffi::ISAL_INCORRECT_CHECKSUM => {
            "corrupt gzip stream does not have a matching checksum".to_owned()
        }
        ffi::ISAL_INVALID_BLOCK | ffi::ISAL_INVALID_SYMBOL | ffi::ISAL_INVALID_LOOKBACK => {
            "corrupt deflate stream".to_owned()
        }
        ffi::ISAL_UNSUPPORTED_METHOD => "unsupported gzip compression method".to_owned(),
        other => format!("ISA-L inflate error {other}"),
    };
    std::io::Error::new(std::io::ErrorKind::InvalidData, what)
}

#[cfg(test)]
mod tests {
    use super::super::inflate::tests::gzip;
    use super::*;

    fn inflate(inf: &mut IsalInflater, gz: &[u8]) -> (Vec<u8>, std::io::Result<()>) {
        let consumed = Cell::new(0);
        let mut r = inf.reader(gz, &consumed);
        let mut out = Vec::new();
        let mut buf = vec![0u8; 1 << 20];
        loop {
            match r.read(&mut buf) {
                Ok(0) => return (out, Ok(())),
                Ok(n) => {
                    assert!(n <= READ_MAX);
                    out.extend_from_slice(&buf[..n]);
                }
                Err(e) => return (out, Err(e)),
            }
        }
    }

    /// ISA-L is installed where the tests run (`.ci/test` installs it): without it these
    /// tests would pass without testing anything, so they fail instead.
    fn inflater() -> IsalInflater {
        IsalInflater::new().expect("libisal.so.2 (Debian: libisal2; `bash .ci/test` installs it)")
    }

    #[test]
    fn inflates_every_member_and_every_empty_one() {
        let a: Vec<u8> = (0..600_000u32).flat_map(|i| i.to_le_bytes()).collect();
        let b = b"second member\n".repeat(1000);
        let mut gz = gzip(b"");
        gz.extend(gzip(&a));
        gz.extend(gzip(b""));
        gz.extend(gzip(&b));
        let mut inf = inflater();
        let (out, r) = inflate(&mut inf, &gz);
        r.unwrap();
        assert!(out.len() == a.len() + b.len() && out[..a.len()] == a[..] && out[a.len()..] == b);
        // The state is reused: the next object inflates as if first.
        let (out, r) = inflate(&mut inf, &gzip(b"again\n"));
        r.unwrap();
        assert_eq!(out, b"again\n");
    }

    #[test]
    fn damage_reads_as_flate2_reads_it() {
        let data = b"line\n".repeat(100_000);
        let gz = gzip(&data);
        let mut inf = inflater();
        // Cut: the bytes before the cut, then an unexpected end.
        let (out, r) = inflate(&mut inf, &gz[..gz.len() / 2]);
        assert_eq!(r.unwrap_err().kind(), std::io::ErrorKind::UnexpectedEof);
        assert!(!out.is_empty() && data.starts_with(&out));
        // Nothing at all: cut before the header.
        let (out, r) = inflate(&mut inf, b"");
        assert_eq!(r.unwrap_err().kind(), std::io::ErrorKind::UnexpectedEof);
        assert!(out.is_empty());
        // A wrong checksum: the member's bytes, then corrupt data.
        let mut bad = gz.clone();
        let n = bad.len();
        bad[n - 8] ^= 1;
        let (out, r) = inflate(&mut inf, &bad);
        let e = r.unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidData);
        assert!(e.to_string().contains("checksum"), "{e}");
        assert!(out == data, "{} of {} bytes", out.len(), data.len());
        // Not gzip, and junk after a good member.
        let (_, r) = inflate(&mut inf, b"plain text, not gzip at all\n");
        assert_eq!(r.unwrap_err().kind(), std::io::ErrorKind::InvalidData);
        let mut junk = gz.clone();
        junk.extend_from_slice(b"junk after the member");
        let (out, r) = inflate(&mut inf, &junk);
        assert_eq!(r.unwrap_err().kind(), std::io::ErrorKind::InvalidData);
        assert!(out == data, "{} of {} bytes", out.len(), data.len());
    }
}
