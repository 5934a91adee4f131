//! The parallel streaming scan: log objects -> gunzip -> lines -> records -> filter -> tally.
//!
//! Objects are scanned in parallel with rayon, each on one thread, each inflated as a stream
//! (`MultiGzDecoder`: ALB objects may hold several gzip members) through a fixed-size buffer, so
//! memory is bounded by the number of threads and the number of distinct URLs, never by the size
//! of an object. Lines are parsed in place (no copy per line). Every thread keeps its own
//! [`Tally`] and [`ScanStats`]; they are merged once at the end.
//!
//! A corrupt or truncated object does not stop the run: it is recorded as an
//! [`ObjectFailure`] with its key, and the complete lines decoded before the damage are kept
//! (they are genuine requests; a half line at the point of damage is dropped). Whether the run
//! as a whole failed is decided by the caller from these figures.
//!
//! A gzip bomb (a small object inflating to gigabytes) is stopped by [`InflateGuard`]: past
//! [`INFLATE_FREE_BYTES`], an object may not inflate to more than [`MAX_INFLATE_RATIO`] times
//! the compressed bytes read so far; beyond that it fails like a corrupt object, named by key.

use std::io::Read;

use flate2::bufread::MultiGzDecoder;
use rayon::prelude::*;

use crate::alb::parse_line;
use crate::source::LogObject;

use super::filter::{Policy, Reject, Scratch};
use super::tally::{Tally, agent_rank, usable_agent};

/// Size of the buffer each object is inflated into; lines are cut from it in place.
const CHUNK: usize = 1 << 20;

/// Lines longer than this are not ALB lines (the user agent is cut at 8 KB and a request line
/// is far shorter than this): they are skipped and counted, and memory stays flat.
pub const MAX_LINE: usize = 256 * 1024;

/// Inflated bytes an object may always produce, whatever its compression ratio.
pub const INFLATE_FREE_BYTES: u64 = 64 << 20;

/// Past [`INFLATE_FREE_BYTES`], the most an object may inflate per compressed byte read. Real
/// ALB logs inflate 5 to 20 times (unique times, addresses and trace ids on every line);
/// deflate cannot exceed about 1032. The work an object can cost is so bounded by its size.
pub const MAX_INFLATE_RATIO: u64 = 100;

/// How many example parse errors the report keeps.
const MAX_EXAMPLES: usize = 20;

/// Field counts at or above this are counted together.
pub const FIELD_COUNT_SLOTS: usize = 64;

/// A log object that could not be read to its end.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ObjectFailure {
    pub key: String,
    /// Complete lines read before the failure (they were counted).
    pub lines_before: u64,
    pub error: String,
}

/// A line that could not be parsed, for the report.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LineError {
    pub key: String,
    /// 1-based line number within the object.
    pub line: u64,
    pub reason: &'static str,
    pub message: String,
}

/// What a scan saw, summed over objects and threads.
#[derive(Debug, Clone)]
pub struct ScanStats {
    pub objects_read: u64,
    pub objects_failed: u64,
    pub compressed_bytes: u64,
    pub uncompressed_bytes: u64,
    pub lines: u64,
    /// Lines that are not access-log records, by [`crate::alb::ParseError::reason`]
    /// (plus `line_too_long`).
    pub parse_errors: std::collections::BTreeMap<&'static str, u64>,
    /// The first few parse errors, with object key and line number.
    pub parse_error_examples: Vec<LineError>,
    /// Parsed lines by their number of fields (the last slot counts that many or more).
    pub field_counts: [u64; FIELD_COUNT_SLOTS],
    /// Requests left out, indexed like [`Reject::ALL`].
    pub rejected: [u64; Reject::ALL.len()],
    /// Requests admitted to the tally.
    pub kept: u64,
    /// Admitted requests whose URL lost tracking parameters.
    pub tracking_removed: u64,
    /// Objects that could not be read to the end, sorted by key.
    pub failures: Vec<ObjectFailure>,
}

impl Default for ScanStats {
    fn default() -> Self {
        ScanStats {
            objects_read: 0,
            objects_failed: 0,
            compressed_bytes: 0,
            uncompressed_bytes: 0,
            lines: 0,
            parse_errors: Default::default(),
            parse_error_examples: Vec::new(),
            field_counts: [0; FIELD_COUNT_SLOTS],
            rejected: [0; Reject::ALL.len()],
            kept: 0,
            tracking_removed: 0,
            failures: Vec::new(),
        }
    }
}

impl ScanStats {
    /// Lines that could not be parsed.
    pub fn parse_error_lines(&self) -> u64 {
        self.parse_errors.values().sum()
    }

    /// Requests left out for `reason`.
    pub fn rejected_for(&self, reason: Reject) -> u64 {
        self.rejected[reason as usize]
    }

    fn merge(&mut self, other: ScanStats) {
        self.objects_read += other.objects_read;
        self.objects_failed += other.objects_failed;
        self.compressed_bytes += other.compressed_bytes;
        self.uncompressed_bytes += other.uncompressed_bytes;
        self.lines += other.lines;
        for (k, v) in other.parse_errors {
            *self.parse_errors.entry(k).or_default() += v;
        }
        self.parse_error_examples.extend(other.parse_error_examples);
        for (a, b) in self.field_counts.iter_mut().zip(other.field_counts) {
            *a += b;
        }
        for (a, b) in self.rejected.iter_mut().zip(other.rejected) {
            *a += b;
        }
        self.kept += other.kept;
        self.tracking_removed += other.tracking_removed;
        self.failures.extend(other.failures);
    }

    /// Puts the lists in a deterministic order and trims the examples.
    fn finish(&mut self) {
        self.failures.sort_by(|a, b| a.key.cmp(&b.key));
        self.parse_error_examples
            .sort_by(|a, b| (&a.key, a.line).cmp(&(&b.key, b.line)));
        self.parse_error_examples.truncate(MAX_EXAMPLES);
    }

    fn parse_error(&mut self, reason: &'static str, key: &str, line: u64, message: String) {
        *self.parse_errors.entry(reason).or_default() += 1;
        if self.parse_error_examples.len() < MAX_EXAMPLES {
            self.parse_error_examples.push(LineError {
                key: key.to_owned(),
                line,
                reason,
                message,
            });
        }
    }
}

/// One thread's share of the work: its tally, its figures and its reusable buffers.
struct Worker<'p> {
    policy: &'p Policy,
    tally: Tally,
    stats: ScanStats,
    buf: Vec<u8>,
    scratch: Scratch,
}

/// Scans `objects` in parallel on the current rayon pool. `on_object_done` is called after each
/// object with its compressed size (for progress reporting).
pub fn scan_objects(
    objects: &[LogObject],
    policy: &Policy,
    on_object_done: &(dyn Fn(&LogObject) + Sync),
) -> (Tally, ScanStats) {
    let (tally, mut stats) = objects
        .par_iter()
        .with_max_len(1)
        .fold(
            || Worker::new(policy),
            |mut w, obj| {
                w.scan(obj);
                on_object_done(obj);
                w
            },
        )
        .map(|w| (w.tally, w.stats))
        .reduce(
            || (Tally::default(), ScanStats::default()),
            |(mut ta, mut sa), (tb, sb)| {
                ta.merge(tb);
                sa.merge(sb);
                (ta, sa)
            },
        );
    stats.finish();
    (tally, stats)
}

/// Scans one object on the calling thread (benchmarks, tests).
pub fn scan_object(obj: &LogObject, policy: &Policy) -> (Tally, ScanStats) {
    let mut w = Worker::new(policy);
    w.scan(obj);
    w.stats.finish();
    (w.tally, w.stats)
}

/// Counts the bytes read from the underlying (compressed) stream.
struct Counting<'c, R> {
    inner: R,
    count: &'c std::cell::Cell<u64>,
}

impl<R: Read> Read for Counting<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.set(self.count.get() + n as u64);
        Ok(n)
    }
}

/// Fails the inflated stream of a gzip bomb: see [`MAX_INFLATE_RATIO`].
struct InflateGuard<'c, R> {
    inner: R,
    /// Compressed bytes read so far (shared with the [`Counting`] reader under the decoder).
    compressed: &'c std::cell::Cell<u64>,
    inflated: u64,
}

impl<R: Read> Read for InflateGuard<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.inflated += n as u64;
        let compressed = self.compressed.get();
        if self.inflated > INFLATE_FREE_BYTES
            && self.inflated > compressed.saturating_mul(MAX_INFLATE_RATIO)
        {
            return Err(std::io::Error::new(
                std::io::ErrorKind::FileTooLarge,
                format!(
                    "gzip bomb: {} bytes inflated from {compressed} compressed bytes \
                     (more than {MAX_INFLATE_RATIO} times; ALB logs inflate about 10 times)",
                    self.inflated
                ),
            ));
        }
        Ok(n)
    }
}

impl<'p> Worker<'p> {
    fn new(policy: &'p Policy) -> Self {
        Worker {
            policy,
            tally: Tally::default(),
            stats: ScanStats::default(),
            buf: Vec::new(),
            scratch: Scratch::default(),
        }
    }

    fn scan(&mut self, obj: &LogObject) {
        self.stats.objects_read += 1;
        let mut lines = 0u64;
        let result = match obj.open() {
            Ok(reader) => {
                let compressed = std::cell::Cell::new(0);
                let counting = Counting {
                    inner: reader,
                    count: &compressed,
                };
                let buffered = std::io::BufReader::with_capacity(256 * 1024, counting);
                let guarded = InflateGuard {
                    inner: MultiGzDecoder::new(buffered),
                    compressed: &compressed,
                    inflated: 0,
                };
                let result = self.scan_stream(guarded, &obj.key, &mut lines);
                self.stats.compressed_bytes += compressed.get();
                result
            }
            Err(e) => Err(format!("cannot open: {e}")),
        };
        if let Err(error) = result {
            self.stats.objects_failed += 1;
            self.stats.failures.push(ObjectFailure {
                key: obj.key.clone(),
                lines_before: lines,
                error,
            });
        }
    }

    /// Reads `stream` to its end, processing each complete line in place.
    fn scan_stream(
        &mut self,
        mut stream: impl Read,
        key: &str,
        lines: &mut u64,
    ) -> Result<(), String> {
        let mut buf = std::mem::take(&mut self.buf);
        buf.resize(CHUNK, 0);
        let (mut start, mut end) = (0usize, 0usize);
        // Inside a line longer than MAX_LINE: drop bytes until its end.
        let mut skipping = false;
        let result = loop {
            if end == buf.len() {
                if start > 0 {
                    buf.copy_within(start..end, 0);
                    end -= start;
                    start = 0;
                } else {
                    // A whole buffer without a newline: far beyond any real line.
                    if !skipping {
                        *lines += 1;
                        self.stats.lines += 1;
                        self.too_long(key, *lines);
                    }
                    skipping = true;
                    start = 0;
                    end = 0;
                }
            }
            let n = match stream.read(&mut buf[end..]) {
                Ok(0) => {
                    // Clean end: a last line without a newline still counts.
                    if end > start && !skipping {
                        *lines += 1;
                        if end - start > MAX_LINE {
                            self.stats.lines += 1;
                            self.too_long(key, *lines);
                        } else if let Err(e) = self.line(&buf[start..end], key, *lines) {
                            break Err(e);
                        }
                    }
                    break Ok(());
                }
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => break Err(describe_read_error(&e)),
            };
            self.stats.uncompressed_bytes += n as u64;
            let scan_from = end;
            end += n;
            let mut pos = scan_from;
            let mut refused = None;
            while let Some(i) = memchr::memchr(b'\n', &buf[pos..end]) {
                let nl = pos + i;
                if skipping {
                    skipping = false;
                } else {
                    *lines += 1;
                    if nl - start > MAX_LINE {
                        self.stats.lines += 1;
                        self.too_long(key, *lines);
                    } else if let Err(e) = self.line(&buf[start..nl], key, *lines) {
                        refused = Some(e);
                        break;
                    }
                }
                start = nl + 1;
                pos = start;
            }
            if let Some(e) = refused {
                break Err(e);
            }
            if skipping {
                start = end;
            }
        };
        self.buf = buf;
        result
    }

    fn too_long(&mut self, key: &str, line: u64) {
        self.stats.parse_error(
            "line_too_long",
            key,
            line,
            format!("line longer than {MAX_LINE} bytes"),
        );
    }

    /// Processes one line. An object whose first line is JSON is refused whole: it is a
    /// CloudWatch "vended" delivery in another format, and mis-parsing it line by line would
    /// only bury that fact in error counts.
    fn line(&mut self, line: &[u8], key: &str, line_no: u64) -> Result<(), String> {
        self.stats.lines += 1;
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line_no == 1 && line.first() == Some(&b'{') {
            return Err("holds JSON lines (a CloudWatch vended log delivery?), \
                        not ALB access-log lines"
                .to_owned());
        }
        let rec = match parse_line(line) {
            Ok(rec) => rec,
            Err(e) => {
                self.stats
                    .parse_error(e.reason(), key, line_no, e.to_string());
                return Ok(());
            }
        };
        self.stats.field_counts[rec.field_count.min(FIELD_COUNT_SLOTS - 1)] += 1;
        match self.policy.admit(&rec, &mut self.scratch) {
            Ok(url) => {
                self.stats.kept += 1;
                self.stats.tracking_removed += u64::from(url.tracking_removed);
                // `admit` guarantees a status (the Status check needs one).
                let status = rec.elb_status_code.unwrap_or_default();
                let target_us = rec.target_us();
                let second = rec.second_of_day();
                let agent = rec.user_agent.decode();
                let agent = usable_agent(&agent).map(|a| {
                    let rank = agent_rank(&[rec.trace_id.raw(), rec.time, rec.client.ip]);
                    (rank, a)
                });
                self.tally
                    .record(&self.scratch.url, &url, status, target_us, second, agent);
            }
            Err(reason) => self.stats.rejected[reason as usize] += 1,
        }
        Ok(())
    }
}

/// A gzip stream error in words a person can act on.
fn describe_read_error(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::UnexpectedEof => {
            "truncated gzip stream (the object ends in the middle of a member)".to_owned()
        }
        std::io::ErrorKind::InvalidInput | std::io::ErrorKind::InvalidData => {
            format!("corrupt gzip data: {e}")
        }
        std::io::ErrorKind::FileTooLarge => e.to_string(),
        _ => format!("read error: {e}"),
    }
}
