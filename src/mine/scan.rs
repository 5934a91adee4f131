//! The parallel scan: log objects -> gunzip -> lines -> records -> filter -> tally.
//!
//! Objects are scanned in parallel with rayon, each on one thread, but at the end of the
//! queue: the lines of the objects still being scanned are shared out in pieces with the
//! threads that have run out of objects, a chunk at a time as ISA-L inflates them
//! ([`Worker::scan_stream_shared`]; without ISA-L, the last object once inflated whole,
//! [`Worker::scan_shared`]), so that the threads end together. An object of at most
//! [`WHOLE_OBJECT_MAX_COMPRESSED`] bytes is read whole: a local one when its turn comes (mapped
//! into memory, [`map_object`]), an S3 one fetched in the background a few objects ahead of it
//! ([`ReadAhead`]), so that downloads overlap the scan. It is then inflated by ISA-L a chunk at
//! a time ([`isal`], where `libisal.so.2` is installed: the cheapest inflate there is, the lines
//! read from the cache), or whole by libdeflate ([`inflate`]) into a buffer the thread reuses
//! (elsewhere; there the queue's last object too, to share it out); see [`Inflate`]. Larger
//! objects are inflated as a stream (`MultiGzDecoder`: ALB objects may hold several gzip
//! members) through a fixed-size buffer, and so are damaged ones libdeflate refuses. So memory
//! is bounded by the number of threads, the size limit and the number of distinct URLs, never
//! by the size of the input. Lines are parsed in place (no copy per line). Every thread keeps
//! its own [`Tally`] and [`ScanStats`]; they are merged once at the end.
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
use std::sync::Arc;

use flate2::bufread::MultiGzDecoder;
use rayon::prelude::*;

use crate::alb::{AlbRecord, Escaped, parse_into};
use crate::source::s3::{Fetched, Fetching};
use crate::source::{LogObject, ObjectLocation};

#[cfg(feature = "scan-floor")]
mod floor;
mod inflate;
mod isal;
use inflate::WholeInflater;
use isal::IsalInflater;

use super::filter::{Policy, Reject, Scratch};
use super::memo::{UrlHash, UrlMemo};
use super::normalize::Scheme;
use super::tally::{Slot, Tally, agent_rank};

/// Size of the buffer each object is inflated into; lines are cut from it in place.
const CHUNK: usize = 1 << 20;

/// Objects up to this size (compressed) are read (local) or fetched (S3) whole, then inflated
/// by ISA-L or libdeflate ([`Inflate`]).
///
/// Why this size: a busy load balancer's node writes objects of tens of MB every five minutes
/// (ALB logs compress 7-10 times), which were streamed through flate2. On a 1 GiB day of 64 MB
/// objects (`benches/throughput.sh --object-mb 64`), inflating them whole with libdeflate
/// instead took the 1-thread CPU from 1.22 to 1.16 s and the 2-thread wall from 0.70 to 0.66 s.
pub const WHOLE_OBJECT_MAX_COMPRESSED: u64 = 16 << 20;

/// The most a whole-inflated object may expand to; beyond it the object is streamed instead
/// (through the gzip-bomb guard, and through the 1 MiB scan buffer, so a huge line is never
/// held). With the compressed limit, this bounds each thread's buffers (144 MiB, reached only
/// by objects that large; `GREENLIGHT_INFLATE=stream` streams every object through ~2 MiB).
pub const WHOLE_OBJECT_MAX_UNCOMPRESSED: usize = 128 << 20;

/// Any object may be inflated whole to this size; past it, only to [`WHOLE_OBJECT_MAX_RATIO`]
/// times its compressed size ([`whole_limit`]).
const WHOLE_OBJECT_FREE_BYTES: usize = 16 << 20;

/// Real ALB logs inflate 7 to 10 times (unique times, addresses and trace ids on every line).
/// An object that inflates much further is not held whole: it is streamed, which holds 1 MiB
/// of it at a time (a line of megabytes of one repeated byte, a gzip bomb).
const WHOLE_OBJECT_MAX_RATIO: usize = 20;

// The whole path stays within what the gzip-bomb guard lets a streamed object produce.
const _: () = assert!(
    WHOLE_OBJECT_FREE_BYTES as u64 <= INFLATE_FREE_BYTES
        && WHOLE_OBJECT_MAX_RATIO as u64 <= MAX_INFLATE_RATIO
);

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
        // Keep the first examples by (key, line), sorted: which ones a thread keeps must not
        // depend on the order it happened to scan its objects in.
        let examples = &mut self.parse_error_examples;
        let at = examples.partition_point(|e| (e.key.as_str(), e.line) < (key, line));
        if at >= MAX_EXAMPLES {
            return;
        }
        if examples.len() >= MAX_EXAMPLES {
            examples.pop();
        }
        examples.insert(
            at,
            LineError {
                key: key.to_owned(),
                line,
                reason,
                message,
            },
        );
    }
}

/// One thread's share of the work: its tally, its figures and its reusable buffers.
struct Worker<'p> {
    policy: &'p Policy,
    tally: Tally,
    stats: ScanStats,
    buf: Vec<u8>,
    scratch: Scratch,
    memo: UrlMemo,
    /// For whole objects: the libdeflate state, the compressed bytes and the inflated bytes.
    whole: Option<WholeInflater>,
    /// ISA-L's streaming inflate, when `libisal.so.2` is installed ([`Inflate::Isal`]).
    isal: Option<IsalInflater>,
    compressed: Vec<u8>,
    inflated: Vec<u8>,
    /// Whether streamed objects are inflated on a thread of their own (see
    /// [`Worker::scan_pipelined`]): when the run has two threads or more.
    pipeline: bool,
    /// Where the last object's lines are shared out ([`TailPieces`]): when the run has two
    /// threads or more.
    tail: Option<&'p TailPieces>,
    /// The object being scanned is the queue's last.
    last_object: bool,
}

/// Scans `objects` in parallel on the current rayon pool. `on_object_done` is called after each
/// object with its compressed size (for progress reporting).
///
/// One [`Worker`] per pool thread takes objects from a shared queue, largest first (so the run
/// does not end waiting on one big object started last), and keeps its tally and buffers from
/// object to object: tallies are merged once per thread, not once per object.
pub fn scan_objects(
    objects: &[LogObject],
    policy: &Policy,
    on_object_done: &(dyn Fn(&LogObject) + Sync),
) -> (Tally, ScanStats) {
    let mut order: Vec<&LogObject> = objects.iter().collect();
    order.sort_by(|a, b| b.size.cmp(&a.size).then_with(|| a.key.cmp(&b.key)));
    let next = std::sync::atomic::AtomicUsize::new(0);
    let threads = rayon::current_num_threads().clamp(1, objects.len().max(1));
    let tail = TailPieces::new();
    let ahead = ReadAhead::new(&order, threads);
    let (tally, mut stats) = (0..threads)
        .into_par_iter()
        .with_max_len(1)
        .map(|_| {
            let mut w = Worker {
                pipeline: rayon::current_num_threads() >= 2,
                tail: (threads >= 2).then_some(&tail),
                ..Worker::new(policy)
            };
            // While this worker scans objects, the workers out of objects wait for pieces it
            // may offer (or for word that there will be none: also if this panics).
            let scanning = w.tail.map(TailPieces::scanning);
            loop {
                let at = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(obj) = order.get(at) else { break };
                w.last_object = at + 1 == order.len();
                let fetched = ahead.as_ref().and_then(|a| a.take(at));
                let was_fetched = fetched.is_some();
                w.scan(obj, fetched);
                if let Some(ahead) = ahead.as_ref().filter(|_| was_fetched) {
                    // The fetched bytes became the worker's buffer: back for the next fetch.
                    ahead.recycle(std::mem::take(&mut w.compressed));
                }
                on_object_done(obj);
            }
            drop(scanning);
            if let Some(tail) = w.tail {
                w.help_with(tail);
            }
            // On every thread at once: the merge below and the day file then need no sort.
            w.tally.sort();
            (w.tally, w.stats)
        })
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
    let fetched = whole_inflate_enabled()
        .then(|| obj.fetch_ahead(WHOLE_OBJECT_MAX_COMPRESSED, Vec::new()))
        .flatten();
    w.scan(obj, fetched);
    w.stats.finish();
    (w.tally, w.stats)
}

/// Inflated chunks in flight between the inflating thread and the parsing one.
const PIPELINE_DEPTH: usize = 4;

/// An inflated chunk; an empty one marks the clean end of the stream.
type Chunk = std::io::Result<Vec<u8>>;

/// The inflating side of [`Worker::scan_pipelined`]: fills chunks (recycled from `empty`) from
/// `stream` and sends them, then the end marker or the error. Stops when the parse hangs up.
fn inflate_chunks(
    mut stream: impl Read,
    full: &std::sync::mpsc::SyncSender<Chunk>,
    empty: &std::sync::mpsc::Receiver<Vec<u8>>,
) {
    loop {
        let mut chunk = empty.try_recv().unwrap_or_default();
        chunk.resize(CHUNK, 0);
        let mut filled = 0;
        let mut error = None;
        while filled < chunk.len() {
            match stream.read(&mut chunk[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    error = Some(e);
                    break;
                }
            }
        }
        let at_end = filled < chunk.len();
        chunk.truncate(filled);
        if filled > 0 && full.send(Ok(chunk)).is_err() {
            return;
        }
        if let Some(e) = error {
            let _ = full.send(Err(e));
            return;
        }
        if at_end {
            let _ = full.send(Ok(Vec::new()));
            return;
        }
    }
}

/// The parsing side of [`Worker::scan_pipelined`]: the inflated bytes as a [`Read`], handing
/// each chunk back for reuse once read. An inflating thread that vanishes without the end
/// marker is an error, never a silent end of the object.
struct ChunkReader {
    full: std::sync::mpsc::Receiver<Chunk>,
    empty: std::sync::mpsc::Sender<Vec<u8>>,
    chunk: Vec<u8>,
    pos: usize,
    ended: bool,
}

impl Read for ChunkReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.pos == self.chunk.len() {
            if self.ended {
                return Ok(0);
            }
            let used = std::mem::take(&mut self.chunk);
            if used.capacity() > 0 {
                let _ = self.empty.send(used);
            }
            self.pos = 0;
            match self.full.recv() {
                Ok(Ok(chunk)) if chunk.is_empty() => self.ended = true,
                Ok(Ok(chunk)) => self.chunk = chunk,
                Ok(Err(e)) => return Err(e),
                Err(_) => return Err(std::io::Error::other("the inflating thread stopped")),
            }
        }
        let n = buf.len().min(self.chunk.len() - self.pos);
        buf[..n].copy_from_slice(&self.chunk[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// The inflated stream of compressed `reader`: every gzip member in turn, through the bomb
/// guard ([`InflateGuard`]); `compressed` counts the compressed bytes read.
fn gunzip_guarded<'c, R: Read + 'c>(
    reader: R,
    compressed: &'c std::cell::Cell<u64>,
) -> impl Read + 'c {
    let counting = Counting {
        inner: reader,
        count: compressed,
    };
    InflateGuard {
        inner: MultiGzDecoder::new(std::io::BufReader::with_capacity(256 * 1024, counting)),
        compressed,
        inflated: 0,
    }
}

/// ISA-L's reader of the inflated bytes of `gz` ([`IsalInflater::reader`]) through the
/// gzip-bomb guard; `consumed` counts the compressed bytes used.
fn isal_guarded<'a>(
    isal: &'a mut IsalInflater,
    gz: &'a [u8],
    consumed: &'a std::cell::Cell<u64>,
) -> InflateGuard<'a, isal::IsalReader<'a>> {
    InflateGuard {
        inner: isal.reader(gz, consumed),
        compressed: consumed,
        inflated: 0,
    }
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
            memo: UrlMemo::default(),
            whole: if whole_inflate_enabled() {
                WholeInflater::new()
            } else {
                None
            },
            isal: match Inflate::in_use() {
                Inflate::Isal => IsalInflater::new(),
                Inflate::Whole | Inflate::Stream => None,
            },
            compressed: Vec::new(),
            inflated: Vec::new(),
            pipeline: false,
            tail: None,
            last_object: false,
        }
    }

    /// Scans `obj`; `fetched` is its fetch when it was started ahead ([`ReadAhead`]).
    fn scan(&mut self, obj: &LogObject, fetched: Option<Fetching>) {
        self.stats.objects_read += 1;
        let mut lines = 0u64;
        let result = match (&obj.location, fetched) {
            (_, Some(fetching)) => self.scan_fetched(fetching, &obj.key, &mut lines),
            (ObjectLocation::Local(path), None)
                if obj.size <= WHOLE_OBJECT_MAX_COMPRESSED && self.whole.is_some() =>
            {
                self.scan_whole(path, &obj.key, &mut lines)
            }
            _ => self.scan_streamed(obj, &mut lines),
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

    /// Reads a local object whole and scans it ([`Worker::scan_bytes`]): mapped into memory
    /// where it can be ([`map_object`]), else read into the thread's buffer.
    fn scan_whole(
        &mut self,
        path: &std::path::Path,
        key: &str,
        lines: &mut u64,
    ) -> Result<(), String> {
        let mut file = std::fs::File::open(path).map_err(|e| format!("cannot open: {e}"))?;
        if let Some(mapped) = map_object(&file) {
            return self.scan_bytes(&mapped, key, lines);
        }
        let mut compressed = std::mem::take(&mut self.compressed);
        compressed.clear();
        let result = match file.read_to_end(&mut compressed) {
            Ok(_) => self.scan_bytes(&compressed, key, lines),
            Err(e) => Err(format!("cannot open: {e}")),
        };
        self.compressed = compressed;
        result
    }

    /// Scans an S3 object fetched whole ahead of its turn ([`LogObject::fetch_ahead`]),
    /// failing (or not) exactly as when it is streamed: a refused GET cannot open it; a body
    /// that broke off for good keeps its lines before the break and fails with the read
    /// error; an object that grew past the limit since it was listed is streamed on.
    fn scan_fetched(
        &mut self,
        fetching: Fetching,
        key: &str,
        lines: &mut u64,
    ) -> Result<(), String> {
        match fetching.wait() {
            Fetched::NotOpened(e) => Err(format!("cannot open: {e}")),
            Fetched::Body {
                bytes,
                rest: Some(rest),
                ..
            } => {
                let stream = std::io::Cursor::new(bytes).chain(rest);
                let (result, compressed) = self.scan_guarded(stream, key, lines);
                self.stats.compressed_bytes += compressed;
                result
            }
            Fetched::Body {
                bytes,
                rest: None,
                error: Some(e),
            } => {
                let (_, compressed) = self.scan_guarded(&bytes[..], key, lines);
                self.stats.compressed_bytes += compressed;
                Err(describe_read_error(&e))
            }
            Fetched::Body {
                bytes,
                rest: None,
                error: None,
            } => {
                let result = self.scan_bytes(&bytes, key, lines);
                // The fetched buffer becomes the thread's, for a local object read whole or
                // for the next fetch (`ReadAhead::recycle`).
                self.compressed = bytes;
                result
            }
        }
    }

    /// Inflates an object's stored bytes and scans its lines: with ISA-L a chunk at a time
    /// (shared out at the end of the queue on 2+ threads), else whole with libdeflate; an
    /// object libdeflate refuses (damaged, or larger than the limit once inflated) is streamed
    /// from the same bytes, so it fails (or not) exactly as a streamed object would, keeping
    /// the lines before the damage.
    fn scan_bytes(&mut self, compressed: &[u8], key: &str, lines: &mut u64) -> Result<(), String> {
        // With ISA-L, objects are inflated a chunk at a time and shared out as they are
        // inflated ([`Worker::scan_stream_shared`]); without it, the queue's last object is
        // inflated whole to be shared out ([`Worker::scan_shared`]).
        if let Some(mut isal) = self.isal.take() {
            self.stats.compressed_bytes += compressed.len() as u64;
            // Read as a streamed object is: a damaged one keeps its lines before the damage and
            // fails with the same words.
            let consumed = std::cell::Cell::new(0);
            let stream = isal_guarded(&mut isal, compressed, &consumed);
            let result = match self.tail {
                Some(tail) => self.scan_stream_shared(tail, stream, key, lines),
                None => self.scan_stream(stream, key, lines),
            };
            self.isal = Some(isal);
            return result;
        }
        let mut inflated = std::mem::take(&mut self.inflated);
        let whole = match &mut self.whole {
            Some(w) => w
                .gunzip(compressed, &mut inflated, whole_limit(compressed.len()))
                .is_ok(),
            None => false,
        };
        self.stats.compressed_bytes += compressed.len() as u64;
        let result = if whole {
            self.stats.uncompressed_bytes += inflated.len() as u64;
            match self.tail {
                Some(tail) if self.last_object && shareable(&inflated) => {
                    self.scan_shared(tail, std::mem::take(&mut inflated), key, lines);
                    Ok(())
                }
                _ => self.scan_lines(&inflated, key, lines),
            }
        } else {
            self.scan_guarded(compressed, key, lines).0
        };
        self.inflated = inflated;
        result
    }

    /// [`Worker::scan_stream`] for a run of two threads or more (an object inflated by ISA-L,
    /// [`isal_guarded`]): the object is scanned a chunk of whole lines at a time, and while
    /// another worker is out of objects ([`Worker::help_with`]) each chunk goes to it as a
    /// [`Piece`] instead, and this worker inflates the next one. Fails (or not) exactly as
    /// `scan_stream`: a damaged object keeps the lines before the damage, a JSON first line
    /// fails it (that chunk is never given away), and a line longer than [`MAX_LINE`] is
    /// counted once as too long (its first `MAX_LINE + 1` bytes are kept for that, the rest
    /// dropped as it is read).
    ///
    /// Why: at the end of a run the workers ran out of objects one by one and waited for the
    /// last one to finish its object. The queue's last object was shared out, but only once
    /// libdeflate had inflated it whole: the others waited for that (12-15 ms of a 16 MB object
    /// on the benchmark day; `perf` timelines of the 2-thread run), it went into 16 MB of
    /// memory never touched before (~3,900 page faults, `perf record -e page-faults`), and a
    /// worker whose own object was the one before the last still finished alone (gaps of
    /// 6-10 ms). Here any object still being scanned feeds the idle workers, from its next
    /// chunk on, and the chunk buffers are passed round.
    fn scan_stream_shared(
        &mut self,
        tail: &TailPieces,
        mut stream: impl Read,
        key: &str,
        lines: &mut u64,
    ) -> Result<(), String> {
        let mut shared_key: Option<Arc<str>> = None;
        let mut buf = chunk_buffer(std::mem::take(&mut self.buf));
        // Bytes of `buf` in use: from 0, the start of a line (the end of the chunk before).
        let mut end = 0;
        // Inside a line longer than MAX_LINE, whose first MAX_LINE + 1 bytes are in `buf`.
        let mut skipping = false;
        // The first fill is one read, as a stream's first: a JSON first line is refused after
        // the same inflated bytes.
        let mut first_read = true;
        let result = loop {
            let (read, outcome) =
                fill_chunk(&mut stream, &mut buf, &mut end, &mut skipping, first_read);
            first_read = false;
            self.stats.uncompressed_bytes += read;
            let clean_end = matches!(outcome, Ok(true));
            // What is scanned now: whole lines, and at the clean end the last line without
            // its newline; the half line after them is carried to the next chunk.
            let cut = if clean_end {
                end
            } else {
                match memchr::memrchr(b'\n', &buf[..end]) {
                    Some(i) => i + 1,
                    // The first read ended inside the first line.
                    None if outcome.is_ok() && end < buf.len() => continue,
                    None if outcome.is_ok() => {
                        // A full chunk without a newline: a line far longer than MAX_LINE.
                        end = MAX_LINE + 1;
                        skipping = true;
                        continue;
                    }
                    None => 0,
                }
            };
            let (carry, failed) = match outcome {
                Err(e) => (0, Some(e)),
                Ok(_) => (end - cut, None),
            };
            let json_first = *lines == 0 && buf.first() == Some(&b'{');
            if cut > 0 && !json_first && tail.wants_piece() {
                let piece_lines = memchr::memchr_iter(b'\n', &buf[..cut]).count() as u64
                    + u64::from(buf[..cut].last().is_some_and(|&b| b != b'\n'));
                let mut next = chunk_buffer(tail.spare());
                next[..carry].copy_from_slice(&buf[cut..cut + carry]);
                let key = shared_key.get_or_insert_with(|| Arc::from(key));
                tail.offer_one(Piece {
                    data: Arc::new(std::mem::replace(&mut buf, next)),
                    range: 0..cut,
                    lines_before: *lines,
                    key: Arc::clone(key),
                });
                *lines += piece_lines;
            } else {
                if let Err(e) = self.scan_lines(&buf[..cut], key, lines) {
                    break Err(e);
                }
                buf.copy_within(cut..cut + carry, 0);
            }
            if let Some(e) = failed {
                if skipping {
                    // A stream counts a too long line when its buffer fills with it.
                    *lines += 1;
                    self.stats.lines += 1;
                    self.too_long(key, *lines);
                }
                break Err(describe_read_error(&e));
            }
            if clean_end {
                break Ok(());
            }
            end = carry;
        };
        self.buf = buf;
        result
    }

    /// Processes every line of an object's whole inflated bytes, exactly as
    /// [`Worker::scan_stream`] does chunk by chunk.
    fn scan_lines(&mut self, data: &[u8], key: &str, lines: &mut u64) -> Result<(), String> {
        let mut pending = Pending::default();
        let mut start = 0;
        let mut result = Ok(());
        while start < data.len() {
            let end = memchr::memchr(b'\n', &data[start..]).map_or(data.len(), |i| start + i);
            *lines += 1;
            if end - start > MAX_LINE {
                self.stats.lines += 1;
                self.too_long(key, *lines);
            } else if let Err(e) = self.line(&data[start..end], key, *lines, &mut pending) {
                result = Err(e);
                break;
            }
            start = end + 1;
        }
        self.record_all(pending);
        result
    }

    /// Scans the lines of the queue's last object, `data`, with the threads that have run out
    /// of objects: cut into [`PIECE`]-sized runs of whole lines, all but the first offered in
    /// `tail`, the first scanned here; [`Worker::help_with`] then takes what is left.
    ///
    /// Why: the day's objects are alike in size, so the run ended with one thread scanning
    /// the last object alone while the others waited (18-20 ms of 16 MB for 2 threads on
    /// the benchmark's 65 objects). The pieces go to the threads' own workers: no tally more
    /// to merge. `lines` ends at the object's line count.
    fn scan_shared(&mut self, tail: &TailPieces, data: Vec<u8>, key: &str, lines: &mut u64) {
        let data = Arc::new(data);
        let key: Arc<str> = Arc::from(key);
        let base = *lines;
        let mut pieces = Vec::new();
        let mut start = 0;
        let mut before = base;
        while start < data.len() {
            let end = data
                .get(start + PIECE..)
                .and_then(|rest| memchr::memchr(b'\n', rest))
                .map_or(data.len(), |i| start + PIECE + i + 1);
            pieces.push(Piece {
                data: Arc::clone(&data),
                range: start..end,
                lines_before: before,
                key: Arc::clone(&key),
            });
            // Whole lines: every piece but the last ends with its line's newline.
            let piece = data.get(start..end).unwrap_or_default();
            before += memchr::memchr_iter(b'\n', piece).count() as u64
                + u64::from(end == data.len() && piece.last().is_some_and(|&b| b != b'\n'));
            start = end;
        }
        *lines = before;
        let mut first = pieces.into_iter();
        let own = first.next();
        tail.offer(first.rev());
        if let Some(piece) = own {
            self.scan_piece(piece, tail);
        }
    }

    /// Takes pieces that workers still scanning offer ([`Worker::scan_stream_shared`],
    /// [`Worker::scan_shared`]) until none is left and no worker is scanning: never waits on a
    /// worker that is not.
    fn help_with(&mut self, tail: &TailPieces) {
        let mut state = tail.lock();
        state.helpers += 1;
        // This worker reads no more objects: its chunk buffer can carry a piece.
        if self.buf.len() == CHUNK {
            state.spare.push(std::mem::take(&mut self.buf));
        }
        loop {
            if let Some(piece) = state.pieces.pop() {
                drop(state);
                self.scan_piece(piece, tail);
                state = tail.lock();
            } else if state.scanning == 0 {
                state.helpers -= 1;
                return;
            } else {
                state = tail
                    .changed
                    .wait(state)
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
            }
        }
    }

    /// Scans `piece`, then gives its buffer back to `tail` when it was the piece's alone.
    fn scan_piece(&mut self, piece: Piece, tail: &TailPieces) {
        let mut lines = piece.lines_before;
        let data = piece.data.get(piece.range).unwrap_or_default();
        // Only a JSON first line fails an object, and such objects are not shared out
        // ([`shareable`], [`Worker::scan_stream_shared`]).
        let scanned = self.scan_lines(data, &piece.key, &mut lines);
        debug_assert!(scanned.is_ok());
        if let Ok(buf) = Arc::try_unwrap(piece.data) {
            tail.recycle(buf);
        }
    }

    fn scan_streamed(&mut self, obj: &LogObject, lines: &mut u64) -> Result<(), String> {
        match obj.open() {
            Ok(reader) if self.pipeline => {
                let (result, compressed) = self.scan_pipelined(reader, &obj.key, lines);
                self.stats.compressed_bytes += compressed;
                result
            }
            Ok(reader) => {
                let (result, compressed) = self.scan_guarded(reader, &obj.key, lines);
                self.stats.compressed_bytes += compressed;
                result
            }
            Err(e) => Err(format!("cannot open: {e}")),
        }
    }

    /// Streams compressed `reader` through the gzip decoder and the bomb guard
    /// ([`InflateGuard`]) into [`Worker::scan_stream`]. Returns the result and the compressed
    /// bytes read.
    fn scan_guarded(
        &mut self,
        reader: impl Read,
        key: &str,
        lines: &mut u64,
    ) -> (Result<(), String>, u64) {
        let compressed = std::cell::Cell::new(0);
        let result = self.scan_stream(gunzip_guarded(reader, &compressed), key, lines);
        (result, compressed.get())
    }

    /// Streams an object with the inflate on a thread of its own, a few chunks ahead of the
    /// parse on this one: a single large object then keeps two cores busy instead of one.
    /// Returns the result and the compressed bytes read. Memory: [`PIPELINE_DEPTH`] + 2 chunks.
    fn scan_pipelined(
        &mut self,
        reader: Box<dyn Read + Send>,
        key: &str,
        lines: &mut u64,
    ) -> (Result<(), String>, u64) {
        let (full_tx, full_rx) = std::sync::mpsc::sync_channel(PIPELINE_DEPTH);
        let (empty_tx, empty_rx) = std::sync::mpsc::channel::<Vec<u8>>();
        std::thread::scope(|s| {
            let inflater = s.spawn(move || {
                let compressed = std::cell::Cell::new(0);
                inflate_chunks(gunzip_guarded(reader, &compressed), &full_tx, &empty_rx);
                compressed.get()
            });
            let chunks = ChunkReader {
                full: full_rx,
                empty: empty_tx,
                chunk: Vec::new(),
                pos: 0,
                ended: false,
            };
            // `scan_stream` drops the reader when it returns, so an inflater still at work sees
            // the channel closed and stops.
            let result = self.scan_stream(chunks, key, lines);
            let compressed = inflater.join().unwrap_or(0);
            (result, compressed)
        })
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
                        } else {
                            let mut pending = Pending::default();
                            let result = self.line(&buf[start..end], key, *lines, &mut pending);
                            self.record_all(pending);
                            if let Err(e) = result {
                                break Err(e);
                            }
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
            // Recorded before the buffer is refilled (its hits borrow the lines).
            let mut pending = Pending::default();
            while let Some(i) = memchr::memchr(b'\n', &buf[pos..end]) {
                let nl = pos + i;
                if skipping {
                    skipping = false;
                } else {
                    *lines += 1;
                    if nl - start > MAX_LINE {
                        self.stats.lines += 1;
                        self.too_long(key, *lines);
                    } else if let Err(e) = self.line(&buf[start..nl], key, *lines, &mut pending) {
                        refused = Some(e);
                        break;
                    }
                }
                start = nl + 1;
                pos = start;
            }
            self.record_all(pending);
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
    ///
    /// The work on a line is spread over the next ones ([`Pending`]), so that the memory each
    /// step reads is in cache when it runs: the line's URL's memo entry is prefetched here and
    /// the request admitted at the next line ([`Worker::admit`]); a kept hit is counted two kept
    /// hits later, the memo having asked for the URL's counts as soon as it knew the slot
    /// ([`Tally::prefetch`]) and a hit later this for their heap blocks
    /// ([`Tally::prefetch_blocks`]). A day's rarely requested URLs are out of cache, and doing
    /// each step at once waited for them. The caller admits and records what is still pending
    /// ([`Worker::record_all`]) before `line`'s bytes go.
    fn line<'d>(
        &mut self,
        line: &'d [u8],
        key: &str,
        line_no: u64,
        pending: &mut Pending<'d>,
    ) -> Result<(), String> {
        self.stats.lines += 1;
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line_no == 1 && line.first() == Some(&b'{') {
            return Err("holds JSON lines (a CloudWatch vended log delivery?), \
                        not ALB access-log lines"
                .to_owned());
        }
        #[cfg(feature = "scan-floor")]
        let floor = floor::floor();
        #[cfg(feature = "scan-floor")]
        match floor {
            floor::Floor::Lines => return Ok(()),
            floor::Floor::Head => {
                std::hint::black_box(floor::locate_head(line));
                return Ok(());
            }
            floor::Floor::Split => {
                let mut fields = crate::alb::split::Fields::new(line);
                let split = crate::alb::split::split_fields(line, &mut fields);
                std::hint::black_box((&fields, &split));
                return Ok(());
            }
            _ => {}
        }
        let mut rec = AlbRecord::empty(line);
        let parsed = parse_into(line, &mut rec);
        #[cfg(feature = "scan-floor")]
        if floor == floor::Floor::Parse {
            std::hint::black_box((&parsed, &rec));
            return Ok(());
        }
        let rec = match parsed {
            Ok(()) => &rec,
            Err(e) => {
                self.stats
                    .parse_error(e.reason(), key, line_no, e.to_string());
                return Ok(());
            }
        };
        self.stats.field_counts[rec.field_count.min(FIELD_COUNT_SLOTS - 1)] += 1;
        if let Err(reason) = self.policy.admit_request(rec) {
            self.stats.rejected[reason as usize] += 1;
            return Ok(());
        }
        #[cfg(feature = "scan-floor")]
        if floor == floor::Floor::Filter {
            return Ok(());
        }
        // The URL's memo entry starts loading now and is looked up a line later, once it is
        // in the cache: a day's URLs do not fit in it, and the lookup waited for memory.
        let hash = self.memo.prefetch(rec.request.url);
        let parsed = Parsed {
            url: rec.request.url,
            hash,
            figures: HitFigures {
                // `admit_request` guarantees a status (the Status check needs one).
                status: rec.elb_status_code.unwrap_or_default(),
                target_us: rec.target_us(),
                second: rec.second_of_day(),
                rank: agent_rank(&[rec.trace_id.raw(), rec.time, rec.client.ip]),
                agent: rec.user_agent,
            },
        };
        if let Some(p) = pending.parsed.replace(parsed) {
            self.admit(p, pending);
        }
        Ok(())
    }

    /// The rest of [`Policy::admit`] on a parsed request (through the memo), and its hit
    /// queued to be counted.
    fn admit<'d>(&mut self, p: Parsed<'d>, pending: &mut Pending<'d>) {
        let admitted = self.memo.admit_hashed(
            self.policy,
            p.url,
            p.figures.agent,
            p.hash,
            &mut self.scratch,
            &mut self.tally,
        );
        let (url, slot) = match admitted {
            Ok(a) => a,
            Err(reason) => {
                self.stats.rejected[reason as usize] += 1;
                return;
            }
        };
        self.stats.kept += 1;
        self.stats.tracking_removed += u64::from(url.tracking_removed);
        let hit = Hit {
            slot,
            scheme: url.scheme,
            figures: p.figures,
        };
        let due = pending.older.take();
        pending.older = pending.newer.replace(hit);
        if let Some(next) = &pending.older {
            self.tally.prefetch_blocks(next.slot);
        }
        self.record(due);
    }

    /// Counts `hit` in the tally (see [`Worker::line`]).
    #[inline]
    fn record(&mut self, hit: Option<Hit<'_>>) {
        if let Some(Hit {
            slot,
            scheme,
            figures: f,
        }) = hit
        {
            self.tally.record_at(
                slot,
                scheme,
                f.status,
                f.target_us,
                f.second,
                Some((f.rank, f.agent.raw())),
            );
        }
    }

    /// Admits the request still pending and counts every hit still pending, in order.
    fn record_all<'d>(&mut self, mut pending: Pending<'d>) {
        if let Some(p) = pending.parsed.take() {
            self.admit(p, &mut pending);
        }
        self.record(pending.older);
        self.record(pending.newer);
    }
}

/// The S3 objects of the queue fetched whole ahead of their turn ([`LogObject::fetch_ahead`]):
/// when a worker takes the object at position `at`, the fetches of the next `depth` positions
/// are started, so each worker has about one object downloading while it scans.
///
/// Why: streamed from S3, each object waited for S3's first byte when its turn came, and was
/// inflated by the streaming decoder, which costs more than the whole-object one.
/// Memory: at most `depth` objects of at most [`WHOLE_OBJECT_MAX_COMPRESSED`] bytes ahead, and
/// as many spare buffers of that size.
struct ReadAhead<'o> {
    order: &'o [&'o LogObject],
    depth: usize,
    state: std::sync::Mutex<AheadState>,
}

struct AheadState {
    /// Positions below this had their fetch started (or were not to be fetched).
    started: usize,
    fetches: Vec<Option<Fetching>>,
    /// Buffers of scanned objects, for the next fetches (a fresh buffer per object cost a
    /// page fault per 4 KiB).
    spare: Vec<Vec<u8>>,
}

impl<'o> ReadAhead<'o> {
    /// `None` when no object is in S3, or objects are not inflated whole
    /// (`GREENLIGHT_INFLATE=stream`).
    fn new(order: &'o [&'o LogObject], depth: usize) -> Option<Self> {
        let any_s3 = order
            .iter()
            .any(|o| matches!(o.location, ObjectLocation::S3 { .. }));
        (any_s3 && whole_inflate_enabled()).then(|| ReadAhead {
            order,
            depth,
            state: std::sync::Mutex::new(AheadState {
                started: 0,
                fetches: order.iter().map(|_| None).collect(),
                spare: Vec::new(),
            }),
        })
    }

    /// The fetch of the object at `at` (`None`: it is not fetched whole), after starting the
    /// fetches of the `depth` objects after it.
    fn take(&self, at: usize) -> Option<Fetching> {
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let until = (at + 1 + self.depth).min(self.order.len());
        while state.started < until {
            let i = state.started;
            // A spare buffer only exists once a fetched object was scanned; the queue is
            // largest first, so every object from here on is small enough to be fetched and
            // the buffer is not dropped unused.
            let buffer = state.spare.pop().unwrap_or_default();
            let fetch = self
                .order
                .get(i)
                .and_then(|o| o.fetch_ahead(WHOLE_OBJECT_MAX_COMPRESSED, buffer));
            if let Some(slot) = state.fetches.get_mut(i) {
                *slot = fetch;
            }
            state.started += 1;
        }
        state.fetches.get_mut(at).and_then(Option::take)
    }

    /// Keeps `buffer` for a next fetch (at most one per object ahead).
    fn recycle(&self, buffer: Vec<u8>) {
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if buffer.capacity() > 0 && state.spare.len() < self.depth {
            state.spare.push(buffer);
        }
    }
}

/// Bytes of the last object per piece it is shared out in ([`Worker::scan_shared`]): 16 pieces
/// of a 16 MB object, so the threads end within about a millisecond of each other.
const PIECE: usize = 1 << 20;

/// Local objects smaller than this are read, not mapped. A chosen bound, not a measured one:
/// a mapping has a fixed cost (mapping and unmapping, two system calls) that copying a few
/// pages may not repay. Only objects far above it were measured (the 1 GiB day's, ~2.3 MB
/// compressed each); the shipped fixtures are all below it, and tests/inflate_paths.rs covers
/// both sides.
const MAP_MIN_BYTES: u64 = 64 << 10;

/// Maps a local object read-only, its pages populated at once, or `None` when it is small or
/// cannot be mapped (the caller then reads it).
///
/// Why: reading copied every compressed byte from the page cache, 3.2-3.6% of a 1-thread run's
/// samples (`perf record`, 1 GiB day, `_copy_to_iter` under `read_to_end`); a mapping costs one
/// page-table entry per 4 KiB page, filled in one pass by `MAP_POPULATE`. `libdeflate-gunzip`,
/// the baseline, maps its input too.
///
/// The one risk, documented in the README: a file cut shorter by another process while it is
/// mapped ends the run with SIGBUS. The local folder is logs at rest (a copy of the bucket, or
/// fixtures); the S3 source never maps.
fn map_object(file: &std::fs::File) -> Option<memmap2::Mmap> {
    let len = file.metadata().ok()?.len();
    if len < MAP_MIN_BYTES {
        return None;
    }
    // SAFETY: the mapping is read-only and private to this call's caller, which only reads it
    // as bytes (any bit pattern is a valid `u8`). Another process may still change the file
    // underneath: the bytes then read may be the old or the new ones, either being log bytes the
    // parser checks as it checks any input; a file truncated under the mapping raises SIGBUS,
    // the risk stated above.
    unsafe { memmap2::MmapOptions::new().populate().map(file) }.ok()
}

// A chunk without a newline holds a line too long to keep whole: its first MAX_LINE + 1 bytes
// are kept in the chunk ([`Worker::scan_stream_shared`]).
const _: () = assert!(MAX_LINE < CHUNK);

/// `buf` when it is a chunk buffer ([`CHUNK`] bytes long), else a new one.
fn chunk_buffer(buf: Vec<u8>) -> Vec<u8> {
    if buf.len() == CHUNK {
        buf
    } else {
        vec![0; CHUNK]
    }
}

/// Reads `stream` into `buf` from `end` on, until `buf` is full (`Ok(false)`; after one read
/// when `once`), the stream ends (`Ok(true)`) or fails; with the inflated bytes read. Inside
/// a line longer than [`MAX_LINE`] (`skipping`, its first bytes kept) the bytes before its
/// newline are dropped.
fn fill_chunk(
    stream: &mut impl Read,
    buf: &mut [u8],
    end: &mut usize,
    skipping: &mut bool,
    once: bool,
) -> (u64, std::io::Result<bool>) {
    let mut read = 0;
    while *end < buf.len() && (read == 0 || !once) {
        let n = match stream.read(&mut buf[*end..]) {
            Ok(0) => return (read, Ok(true)),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return (read, Err(e)),
        };
        read += n as u64;
        if !*skipping {
            *end += n;
        } else if let Some(i) = memchr::memchr(b'\n', &buf[*end..*end + n]) {
            buf.copy_within(*end + i..*end + n, *end);
            *end += n - i;
            *skipping = false;
        }
    }
    (read, Ok(false))
}

/// Whether the last object may be shared out in pieces: big enough to be worth it, and not
/// refused whole (an object whose first line is JSON fails, see [`Worker::line`]).
fn shareable(data: &[u8]) -> bool {
    data.len() > 2 * PIECE && data.first() != Some(&b'{')
}

/// Pieces of the objects still being scanned at the end of the queue, offered by the workers
/// that scan them to the workers that have run out of objects ([`Worker::scan_stream_shared`],
/// [`Worker::scan_shared`], [`Worker::help_with`]), and the chunk buffers passed round.
struct TailPieces {
    state: std::sync::Mutex<TailState>,
    changed: std::sync::Condvar,
}

struct TailState {
    /// Offered and not taken yet; taken from the end.
    pieces: Vec<Piece>,
    /// Workers still scanning objects: pieces may come while there are any.
    scanning: usize,
    /// Workers out of objects, taking pieces ([`Worker::help_with`]).
    helpers: usize,
    /// Chunk buffers free to carry the next pieces ([`Worker::scan_stream_shared`]).
    spare: Vec<Vec<u8>>,
}

/// A worker counted in [`TailState::scanning`], until it is dropped: when the worker has run
/// out of objects (every piece it will offer was offered before), or if its scan panics, so
/// that no worker waits for ever.
struct Scanning<'t>(&'t TailPieces);

impl Drop for Scanning<'_> {
    fn drop(&mut self) {
        self.0.lock().scanning -= 1;
        self.0.changed.notify_all();
    }
}

/// A run of whole lines of an object, with the number of lines before it (for the line
/// numbers of parse errors).
struct Piece {
    data: Arc<Vec<u8>>,
    range: std::ops::Range<usize>,
    lines_before: u64,
    key: Arc<str>,
}

impl TailPieces {
    fn new() -> Self {
        TailPieces {
            state: std::sync::Mutex::new(TailState {
                pieces: Vec::new(),
                scanning: 0,
                helpers: 0,
                spare: Vec::new(),
            }),
            changed: std::sync::Condvar::new(),
        }
    }

    /// A worker starts taking objects: workers out of objects wait for pieces until the guard
    /// is dropped. (Counted when it starts, not from the start of the scan: a worker rayon
    /// starts late, after the others ran out of objects, must not keep them waiting.)
    fn scanning(&self) -> Scanning<'_> {
        self.lock().scanning += 1;
        Scanning(self)
    }

    /// Whether a worker out of objects would take a piece now: fewer pieces wait than there
    /// are such workers (a worker still scanning its piece takes the next one then).
    fn wants_piece(&self) -> bool {
        let state = self.lock();
        state.pieces.len() < state.helpers
    }

    /// Offers one piece ([`Worker::scan_stream_shared`]).
    fn offer_one(&self, piece: Piece) {
        self.lock().pieces.push(piece);
        self.changed.notify_one();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, TailState> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A free chunk buffer, or an empty `Vec` when there is none ([`chunk_buffer`]).
    fn spare(&self) -> Vec<u8> {
        self.lock().spare.pop().unwrap_or_default()
    }

    /// Keeps `buf`, a scanned piece's, for the next pieces when it is a chunk buffer.
    fn recycle(&self, buf: Vec<u8>) {
        if buf.len() == CHUNK {
            self.lock().spare.push(buf);
        }
    }

    /// Offers `pieces`, the first to be taken last ([`Worker::scan_shared`]).
    fn offer(&self, pieces: impl Iterator<Item = Piece>) {
        self.lock().pieces.extend(pieces);
        self.changed.notify_all();
    }
}

/// What [`Worker::line`] leaves for later lines: the last request it parsed, admitted at the
/// next one, and the last two kept hits, not counted yet (`older` is counted at the next
/// kept hit).
#[derive(Default)]
struct Pending<'d> {
    parsed: Option<Parsed<'d>>,
    older: Option<Hit<'d>>,
    newer: Option<Hit<'d>>,
}

/// What the rest of the checks and the count take from a parsed request that passed
/// [`Policy::admit_request`]: its URL with the URL's memo hash (its memo entry prefetched),
/// and what it would add to the URL's counts. Not the whole record: copying that from line to
/// line (~600 bytes) cost more than the wait it saves.
struct Parsed<'d> {
    url: Escaped<'d>,
    hash: UrlHash,
    figures: HitFigures<'d>,
}

/// A kept request, parsed and admitted, waiting to be counted at `slot`.
struct Hit<'d> {
    slot: Slot,
    scheme: Scheme,
    figures: HitFigures<'d>,
}

/// What one request adds to its URL's counts ([`Tally::record_at`]), from its line.
struct HitFigures<'d> {
    status: u16,
    target_us: Option<u64>,
    second: u32,
    rank: u64,
    /// The user agent as logged (also what the per-hit agent check reads).
    agent: Escaped<'d>,
}

/// How the scan inflates the objects it reads whole (those of at most
/// [`WHOLE_OBJECT_MAX_COMPRESSED`] bytes; larger ones are always streamed through flate2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inflate {
    /// ISA-L, a chunk at a time ([`isal`]): the default where `libisal.so.2` is installed.
    Isal,
    /// libdeflate, whole ([`inflate`]): the default elsewhere, and `GREENLIGHT_INFLATE=whole`.
    Whole,
    /// flate2 (zlib-rs), streamed: `GREENLIGHT_INFLATE=stream`.
    Stream,
}

impl Inflate {
    /// The inflate of this process: `GREENLIGHT_INFLATE` (`whole`, `stream`) when set, a
    /// benchmark and test knob (benches/throughput.sh compares them in one command); otherwise
    /// ISA-L when it loads, libdeflate when not. The queue's last object is inflated whole
    /// whatever it is (to be shared out), unless streaming.
    pub fn in_use() -> Inflate {
        static IN_USE: std::sync::OnceLock<Inflate> = std::sync::OnceLock::new();
        *IN_USE.get_or_init(|| match std::env::var("GREENLIGHT_INFLATE").as_deref() {
            Ok("stream") => Inflate::Stream,
            Ok("whole") => Inflate::Whole,
            _ if isal::available() => Inflate::Isal,
            _ => Inflate::Whole,
        })
    }

    /// Its name in the run report.
    pub fn name(self) -> &'static str {
        match self {
            Inflate::Isal => "isa-l",
            Inflate::Whole => "libdeflate",
            Inflate::Stream => "flate2",
        }
    }
}

/// Whether small objects are read whole (ISA-L and libdeflate), not streamed.
fn whole_inflate_enabled() -> bool {
    Inflate::in_use() != Inflate::Stream
}

/// The most an object of `compressed` bytes is inflated to whole (see
/// [`WHOLE_OBJECT_FREE_BYTES`]); it is below what the gzip-bomb guard ([`InflateGuard`]) lets
/// any object produce, so the whole path never inflates past it.
fn whole_limit(compressed: usize) -> usize {
    let by_ratio =
        WHOLE_OBJECT_FREE_BYTES.saturating_add(compressed.saturating_mul(WHOLE_OBJECT_MAX_RATIO));
    by_ratio.min(WHOLE_OBJECT_MAX_UNCOMPRESSED)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_are_inflated_whole_only_to_an_alb_like_ratio() {
        // Any object, to the free allowance.
        assert_eq!(whole_limit(0), 16 << 20);
        // A busy node's object (10 MB compressed, ~7x): whole.
        assert!(whole_limit(10_000_000) >= 70_000_000);
        // One of ~50 KB holding a 48 MiB line of one byte: streamed (1 MiB at a time).
        assert!(whole_limit(50_000) < 48 << 20);
        // Never past the per-thread bound, nor past what the gzip-bomb guard allows.
        assert_eq!(whole_limit(usize::MAX), WHOLE_OBJECT_MAX_UNCOMPRESSED);
        for c in [0, 1 << 10, 1 << 20, 5 << 20, 16 << 20] {
            let guard = INFLATE_FREE_BYTES + c as u64 * MAX_INFLATE_RATIO;
            assert!(whole_limit(c) as u64 <= guard, "{c}");
        }
    }

    /// `n` replayable lines of 2026-03-03 over 50 URLs; line `i` (1-based) is replaced by
    /// `special(i)` when it gives one.
    fn object_lines(n: usize, special: impl Fn(usize) -> Option<Vec<u8>>) -> Vec<u8> {
        let mut text = Vec::new();
        for i in 1..=n {
            match special(i) {
                Some(line) => text.extend_from_slice(&line),
                None => text.extend_from_slice(
                    format!(
                        "https 2026-03-03T19:35:{:02}.580623Z app/my-alb/22224b0b19c5314d \
                         81.88.222.213:63695 10.0.2.109:8080 0.001 0.274 0.000 200 200 816 23602 \
                         \"GET https://www.example.com:443/p/{}?q={i} HTTP/1.1\" \"Mozilla/5.0 \
                         (Macintosh) Safari/605.1.15\" ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 \
                         arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/web-tg/\
                         873ec1229f2b76f9 \"Root=1-69a737eb-2a839bcf269f5a8127ed8433\" \
                         \"www.example.com\" \"session-reused\" 4 2026-03-03T19:35:06.705848Z \
                         \"forward\" \"-\" \"-\" \"10.0.2.109:8080\" \"200\" \"-\" \"-\" \
                         TID_a9b204b35cd1be7e81b6695401724246",
                        i % 60,
                        i % 50
                    )
                    .as_bytes(),
                ),
            }
            text.push(b'\n');
        }
        text
    }

    fn gzip(data: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    /// What a scan of one object gave: its result, its line count, its figures and its tally
    /// as a day file.
    type Scanned = (Result<(), String>, u64, ScanStats, Vec<u8>);

    fn scanned(result: Result<(), String>, lines: u64, w: Worker<'_>) -> Scanned {
        let mut stats = w.stats;
        stats.finish();
        let day = chrono::NaiveDate::from_ymd_opt(2026, 3, 3).unwrap();
        let tally = crate::history::encode_day(day, &w.tally).unwrap();
        (result, lines, stats, tally)
    }

    fn assert_same(a: &Scanned, b: &Scanned, case: &str) {
        assert_eq!(a.0, b.0, "{case}: result");
        assert_eq!(a.1, b.1, "{case}: lines");
        let (sa, sb) = (&a.2, &b.2);
        assert_eq!(sa.lines, sb.lines, "{case}: lines parsed");
        assert_eq!(sa.uncompressed_bytes, sb.uncompressed_bytes, "{case}");
        assert_eq!(sa.parse_errors, sb.parse_errors, "{case}");
        assert_eq!(sa.parse_error_examples, sb.parse_error_examples, "{case}");
        assert_eq!(sa.field_counts, sb.field_counts, "{case}");
        assert_eq!(sa.rejected, sb.rejected, "{case}");
        assert_eq!(sa.kept, sb.kept, "{case}");
        assert_eq!(a.3, b.3, "{case}: the tally");
    }

    #[test]
    fn an_object_shared_out_chunk_by_chunk_reads_as_one_worker_reads_it() {
        let Some(mut isal) = IsalInflater::new() else {
            panic!("libisal.so.2 is not installed (Debian: libisal2; `bash .ci/test` installs it)");
        };
        let policy = Policy::for_day(chrono::NaiveDate::from_ymd_opt(2026, 3, 3).unwrap());
        // ~6 MB: a line of 19 fields in the first chunk and later ones, a line longer than
        // MAX_LINE but shorter than a chunk, and one longer than a chunk (2.5 MiB).
        let long = |i: usize| match i {
            3 | 4_000 | 9_000 => Some(b"https 2026-03-03T00:00:00Z only a few fields".to_vec()),
            2_000 => Some(vec![b'x'; MAX_LINE + 10]),
            6_000 => Some(vec![b'y'; (5 << 20) / 2]),
            _ => None,
        };
        let text = object_lines(10_000, long);
        let whole = gzip(&text);
        let json = gzip(&object_lines(5_000, |i| {
            (i == 1).then(|| b"{\"a\": 1}".to_vec())
        }));
        let cases: [(&str, Vec<u8>); 5] = [
            ("whole", whole.clone()),
            ("no newline at the end", gzip(&text[..text.len() - 1])),
            (
                "cut inside the long line",
                whole[..whole.len() * 2 / 3].to_vec(),
            ),
            ("cut after it", whole[..whole.len() * 9 / 10].to_vec()),
            ("JSON", json),
        ];
        for (case, gz) in cases {
            let mut lines = 0;
            let mut alone = Worker::new(&policy);
            let consumed = std::cell::Cell::new(0);
            let stream = isal_guarded(&mut isal, &gz, &consumed);
            let result = alone.scan_stream(stream, "k", &mut lines);
            let alone = scanned(result, lines, alone);

            // Shared: a helper waits for pieces before the object's scan starts.
            let tail = TailPieces::new();
            let scanning = tail.scanning();
            let (shared, helper) = std::thread::scope(|s| {
                let helper = s.spawn(|| {
                    let mut h = Worker::new(&policy);
                    h.help_with(&tail);
                    h
                });
                while tail.lock().helpers == 0 {
                    std::thread::yield_now();
                }
                let mut w = Worker::new(&policy);
                let mut lines = 0;
                let consumed = std::cell::Cell::new(0);
                let stream = isal_guarded(&mut isal, &gz, &consumed);
                let result = w.scan_stream_shared(&tail, stream, "k", &mut lines);
                drop(scanning);
                let helper = helper.join().unwrap();
                ((result, lines, w), helper)
            });
            let (result, lines, mut w) = shared;
            if case != "JSON" {
                assert!(helper.stats.lines > 0, "{case}: no piece was shared out");
            }
            w.tally.sort();
            let mut helped = helper.tally;
            helped.sort();
            w.tally.merge(helped);
            w.stats.merge(helper.stats);
            assert_same(&alone, &scanned(result, lines, w), case);
        }
    }
}
