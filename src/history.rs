//! The retention window: one compact tally file per mined day in a [`StateStore`], replaced
//! when the day is mined again, dropped once older than the window, and read back as one
//! stream of per-URL [`UrlHistory`] in key order; and the partial tallies of a sharded day
//! (`--shard I/N`), merged into its day file.
//!
//! # Day files (format 3)
//!
//! `tally-YYYY-MM-DD.glt`: a text header line `greenlight-tally 3 YYYY-MM-DD\n`, then one gzip
//! stream (level 1) holding the day's URLs sorted by key (`host SP request-target`, bytewise),
//! each as LEB128 varints: shared key prefix length with the previous key, suffix length,
//! suffix bytes, hits, status count and `(code, hits)` pairs, `http` hits, latency
//! count/sum/max (µs), histogram bucket count and `(bucket, hits)` pairs, first second of the
//! day and `last - first`, then the sampled user agent: 0 for none, else its number in the
//! file's agent table (1-based; the number one past the table adds a new agent, whose length
//! and bytes follow), then the top 32 bits of its rank as 4 bytes little-endian. A record with
//! both lengths 0 ends the URLs; it is followed by the URL count and the total hits, then the
//! end of the gzip stream (whose CRC is checked). Sorted keys and integer fields make the file
//! a pure function of the day's tally: mining the same day twice writes the same bytes.
//!
//! Ranks lose their low 32 bits in day files: across days the lowest rank still wins, and the
//! one-in-2^32 ties go to the smaller agent. Files of formats 1 and 2 are not read (the day is
//! reported `corrupt`, "tally format version 2 (this build reads 3)", and left out).
//!
//! # Partial tallies
//!
//! `partial/YYYY-MM-DD/shard-I-of-N.glt`: a header line `greenlight-partial 3 YYYY-MM-DD I N`,
//! the shard's scan figures as one line of JSON, then records as in a day file except that
//! ranks keep all 64 bits (8 bytes), so that [`merge_partials`] picks the agent a single run
//! would have picked and writes the day file a single run would have written.
//!
//! Reading the window never holds more than one record per day file in memory, and reuses it:
//! the files are merged in key order ([`Window::for_each`]). A caller that reads the window
//! twice may keep the merged records of the first read, up to a byte budget ([`WindowCopy`]),
//! and take the second from memory.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::sync::Arc;

use chrono::{Days, NaiveDate};
use flate2::Compression;
use flate2::bufread::GzDecoder;
use flate2::write::GzEncoder;

use crate::mine::tally::{InKeyOrder, MAX_AGENT, SampledAgent, Tally, UrlStats, usable_agent};
use crate::s3::{S3Config, S3Url};

/// Where the day files live: a local folder, or a prefix in S3 (read and written with the
/// crate's shared S3 client, [`crate::s3`]). Everything else in this module goes through
/// `open`, `put`, `list` and `delete` by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateStore {
    /// A local folder (created on first write).
    Dir(PathBuf),
    /// `s3://bucket[/prefix]`: day files are objects `prefix/name`. A PUT is atomic: readers
    /// see the old object or the new one, never part of one.
    S3 {
        bucket: String,
        /// Empty, or ends with `/`.
        prefix: String,
        config: S3Config,
    },
}

impl StateStore {
    /// Parses `--state`: a folder or `s3://bucket[/prefix]`.
    pub fn parse(s: &str) -> Result<Self, String> {
        if s.is_empty() {
            return Err("an empty path".into());
        }
        if let Some(url) = S3Url::parse(s) {
            let url = url?;
            let mut prefix = url.key.trim_end_matches('/').to_owned();
            if !prefix.is_empty() {
                prefix.push('/');
            }
            return Ok(StateStore::S3 {
                bucket: url.bucket,
                prefix,
                config: S3Config::default(),
            });
        }
        Ok(StateStore::Dir(PathBuf::from(s)))
    }

    /// How to reach S3 (endpoint override), for an `s3://` store.
    pub fn set_s3_config(&mut self, cfg: &S3Config) {
        if let StateStore::S3 { config, .. } = self {
            *config = cfg.clone();
        }
    }

    /// Opens the object `name` for reading; `None` when it does not exist.
    pub fn open(&self, name: &str) -> io::Result<Option<Box<dyn Read + Send>>> {
        match self {
            StateStore::Dir(dir) => match std::fs::File::open(dir.join(name)) {
                Ok(f) => Ok(Some(Box::new(f))),
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(e),
            },
            StateStore::S3 {
                bucket,
                prefix,
                config,
            } => {
                let got = config
                    .client()
                    .get(bucket, &format!("{prefix}{name}"))
                    .map_err(io::Error::other)?;
                Ok(got.map(|bytes| Box::new(io::Cursor::new(bytes)) as Box<dyn Read + Send>))
            }
        }
    }

    /// Replaces the object `name` with `bytes`, atomically.
    pub fn put(&self, name: &str, bytes: &[u8]) -> io::Result<()> {
        match self {
            StateStore::Dir(dir) => {
                let path = dir.join(name);
                std::fs::create_dir_all(path.parent().unwrap_or(dir))?;
                crate::output::write_file_atomically(&path, |w| w.write_all(bytes))
            }
            StateStore::S3 {
                bucket,
                prefix,
                config,
            } => config
                .client()
                .put(bucket, &format!("{prefix}{name}"), bytes)
                .map_err(io::Error::other),
        }
    }

    /// Names of the objects in the store, sorted (none when the folder does not exist yet).
    pub fn list(&self) -> io::Result<Vec<String>> {
        match self {
            StateStore::Dir(dir) => {
                let entries = match std::fs::read_dir(dir) {
                    Ok(e) => e,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
                    Err(e) => return Err(e),
                };
                let mut names = Vec::new();
                for e in entries {
                    let e = e?;
                    if e.file_type()?.is_file()
                        && let Some(n) = e.file_name().to_str()
                    {
                        names.push(n.to_owned());
                    }
                }
                names.sort();
                Ok(names)
            }
            StateStore::S3 {
                bucket,
                prefix,
                config,
            } => {
                let objects = config
                    .client()
                    .list(bucket, prefix)
                    .map_err(io::Error::other)?;
                // Direct children only, as in a folder.
                let mut names: Vec<String> = objects
                    .iter()
                    .filter_map(|o| o.key.strip_prefix(prefix.as_str()))
                    .filter(|n| !n.is_empty() && !n.contains('/'))
                    .map(str::to_owned)
                    .collect();
                names.sort();
                Ok(names)
            }
        }
    }

    /// Deletes the object `name` (no error when it is already gone).
    pub fn delete(&self, name: &str) -> io::Result<()> {
        match self {
            StateStore::Dir(dir) => match std::fs::remove_file(dir.join(name)) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
                _ => Ok(()),
            },
            StateStore::S3 {
                bucket,
                prefix,
                config,
            } => config
                .client()
                .delete(bucket, &format!("{prefix}{name}"))
                .map_err(io::Error::other),
        }
    }
}

impl fmt::Display for StateStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StateStore::Dir(p) => write!(f, "{}", p.display()),
            StateStore::S3 { bucket, prefix, .. } => write!(f, "s3://{bucket}/{prefix}"),
        }
    }
}

const FORMAT_VERSION: u32 = 3;
const MAX_KEY: usize = 1 << 20;
const MAX_PAIRS: u64 = 1 << 16;
/// The largest scan-figures line a partial tally may carry.
const MAX_FIGURES: u64 = 16 << 20;
/// gzip level of day files and partials: 1 (fastest). The records are already compact (shared
/// key prefixes, varints, agents written once per file); a higher level saves little space for
/// much more CPU time (see `benches/history.sh`).
const GZIP_LEVEL: u32 = 1;

/// The object name of day `day`'s tally.
pub fn day_name(day: NaiveDate) -> String {
    format!("tally-{day}.glt")
}

/// The day of a tally object name.
pub fn parse_day_name(name: &str) -> Option<NaiveDate> {
    let d = name.strip_prefix("tally-")?.strip_suffix(".glt")?;
    NaiveDate::parse_from_str(d, "%Y-%m-%d").ok()
}

/// The object name of shard `index` (0-based) of `shards` for day `day`:
/// `partial/YYYY-MM-DD/shard-I-of-N.glt`.
pub fn partial_name(day: NaiveDate, index: u32, shards: u32) -> String {
    format!("partial/{day}/shard-{index}-of-{shards}.glt")
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Writes the records of a day file or a partial tally, one URL at a time in key order, into
/// memory (see the module docs for the layout). [`encode_day`] and [`encode_partial`] use it;
/// so does merging partials, which never holds a whole day's tally.
pub struct TallyWriter {
    gz: GzEncoder<Vec<u8>>,
    buf: Vec<u8>,
    prev: Vec<u8>,
    agents: HashMap<Arc<[u8]>, u64, foldhash::fast::FixedState>,
    full_ranks: bool,
    count: u64,
    hits: u64,
}

impl TallyWriter {
    fn new(header: Vec<u8>, full_ranks: bool) -> Self {
        TallyWriter {
            gz: GzEncoder::new(header, Compression::new(GZIP_LEVEL)),
            buf: Vec::with_capacity(1 << 16),
            prev: Vec::new(),
            agents: HashMap::default(),
            full_ranks,
            count: 0,
            hits: 0,
        }
    }

    /// A day file of `day`.
    pub fn day(day: NaiveDate) -> Self {
        Self::new(
            format!("{DAY_MAGIC} {FORMAT_VERSION} {day}\n").into_bytes(),
            false,
        )
    }

    /// A partial tally: shard `index` of `shards` for `day`, with the shard's scan figures
    /// (one line of JSON, see [`crate::mine::report::DayFigures`]).
    pub fn partial(day: NaiveDate, index: u32, shards: u32, figures: &[u8]) -> io::Result<Self> {
        if figures.contains(&b'\n') || figures.len() as u64 > MAX_FIGURES {
            return Err(io::Error::other("scan figures are not one short line"));
        }
        let mut header =
            format!("{PARTIAL_MAGIC} {FORMAT_VERSION} {day} {index} {shards}\n").into_bytes();
        header.extend_from_slice(figures);
        header.push(b'\n');
        Ok(Self::new(header, true))
    }

    /// Appends one URL; keys must come in strictly increasing order.
    pub fn push(&mut self, key: &[u8], s: &UrlStats) -> io::Result<()> {
        if key.is_empty() || (self.count > 0 && key <= &self.prev[..]) {
            return Err(io::Error::other("tally keys out of order"));
        }
        let buf = &mut self.buf;
        let shared = self
            .prev
            .iter()
            .zip(key.iter())
            .take_while(|(a, b)| a == b)
            .count();
        put_varint(buf, shared as u64);
        put_varint(buf, (key.len() - shared) as u64);
        buf.extend_from_slice(&key[shared..]);
        put_varint(buf, s.hits);
        put_varint(buf, s.statuses.len() as u64);
        for (c, n) in s.statuses.iter() {
            put_varint(buf, u64::from(c));
            put_varint(buf, n);
        }
        put_varint(buf, s.http_hits);
        put_varint(buf, s.target_us_count);
        put_varint(buf, s.target_us_sum);
        put_varint(buf, s.target_us_max);
        put_varint(buf, s.latency_hist.len() as u64);
        for (b, n) in s.latency_hist.iter() {
            buf.push(b);
            put_varint(buf, n);
        }
        put_varint(buf, u64::from(s.first_second));
        put_varint(buf, u64::from(s.last_second.saturating_sub(s.first_second)));
        match &s.agent {
            None => put_varint(buf, 0),
            Some(a) => {
                match self.agents.get(&a.agent) {
                    Some(&i) => put_varint(buf, i),
                    None => {
                        let i = self.agents.len() as u64 + 1;
                        put_varint(buf, i);
                        put_varint(buf, a.agent.len() as u64);
                        buf.extend_from_slice(&a.agent);
                        self.agents.insert(a.agent.clone(), i);
                    }
                }
                if self.full_ranks {
                    buf.extend_from_slice(&a.rank.to_le_bytes());
                } else {
                    buf.extend_from_slice(&((day_file_rank(a.rank) >> 32) as u32).to_le_bytes());
                }
            }
        }
        self.count += 1;
        self.hits = self.hits.wrapping_add(s.hits);
        self.prev.clear();
        self.prev.extend_from_slice(key);
        if self.buf.len() > 1 << 15 {
            self.gz.write_all(&self.buf)?;
            self.buf.clear();
        }
        Ok(())
    }

    /// URLs pushed so far.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Writes the footer and returns the whole file.
    pub fn finish(mut self) -> io::Result<Vec<u8>> {
        put_varint(&mut self.buf, 0);
        put_varint(&mut self.buf, 0);
        put_varint(&mut self.buf, self.count);
        put_varint(&mut self.buf, self.hits);
        self.gz.write_all(&self.buf)?;
        self.gz.finish()
    }
}

/// A rank as a day file keeps it: its top 32 bits (see the module docs).
fn day_file_rank(rank: u64) -> u64 {
    rank & !u64::from(u32::MAX)
}

/// Encodes one day's tally as a day file (see the module docs).
pub fn encode_day(day: NaiveDate, tally: &Tally) -> io::Result<Vec<u8>> {
    let mut w = TallyWriter::day(day);
    for (key, s) in tally.in_key_order() {
        w.push(key, s)?;
    }
    w.finish()
}

/// Encodes shard `index` of `shards`' tally of `day`, with its scan figures (one JSON line).
pub fn encode_partial(
    day: NaiveDate,
    index: u32,
    shards: u32,
    figures: &[u8],
    tally: &Tally,
) -> io::Result<Vec<u8>> {
    let mut w = TallyWriter::partial(day, index, shards, figures)?;
    for (key, s) in tally.in_key_order() {
        w.push(key, s)?;
    }
    w.finish()
}

/// One URL across the window (or one day).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UrlHistory {
    /// `host SP request-target`.
    pub key: Vec<u8>,
    /// Summed over the days (first/last seconds are those of the first and last day).
    pub stats: UrlStats,
    /// Days of the window the URL was seen on.
    pub days_seen: u32,
    /// First and last day it was seen.
    pub first_day: NaiveDate,
    pub last_day: NaiveDate,
}

impl UrlHistory {
    /// About how many bytes a copy of it holds: the struct, its key, its counts' heap blocks
    /// and its agent, each heap block with 16 bytes of allocator overhead.
    pub fn footprint(&self) -> usize {
        const BLOCK: usize = 16;
        let agent = self
            .stats
            .agent
            .as_ref()
            .map_or(0, |a| a.agent.len() + BLOCK);
        let counts = [
            self.stats.statuses.heap_bytes(),
            self.stats.latency_hist.heap_bytes(),
        ]
        .iter()
        .map(|&b| if b > 0 { b + BLOCK } else { 0 })
        .sum::<usize>();
        std::mem::size_of::<Self>() + self.key.len() + BLOCK + counts + agent
    }

    pub fn host(&self) -> &[u8] {
        let split = memchr::memchr(b' ', &self.key).unwrap_or(self.key.len());
        &self.key[..split]
    }
    pub fn target(&self) -> &[u8] {
        let split = memchr::memchr(b' ', &self.key).unwrap_or(self.key.len());
        self.key.get(split + 1..).unwrap_or(b"")
    }
    /// When it was last requested, `YYYY-MM-DDTHH:MM:SSZ`.
    pub fn last_seen(&self) -> String {
        let s = self.stats.last_second;
        format!(
            "{}T{:02}:{:02}:{:02}Z",
            self.last_day,
            s / 3600,
            s / 60 % 60,
            s % 60
        )
    }

    fn merge(&mut self, other: &UrlHistory) {
        // Days are merged oldest first, so `self` holds the earlier days.
        let first_second = self.stats.first_second;
        self.stats.merge(&other.stats);
        self.stats.first_second = first_second;
        self.stats.last_second = other.stats.last_second;
        self.last_day = other.last_day;
        self.days_seen += other.days_seen;
    }
}

/// Why a day file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum DayError {
    #[error("not a greenlight tally (bad header)")]
    Header,
    #[error("tally format version {0} (this build reads {FORMAT_VERSION})")]
    Version(u32),
    #[error("the header names {0}")]
    WrongDay(String),
    #[error("corrupt: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Io(#[from] io::Error),
}

const DAY_MAGIC: &str = "greenlight-tally";
const PARTIAL_MAGIC: &str = "greenlight-partial";

/// The decompressed records, read through one reusable buffer.
struct Input {
    src: GzDecoder<BufReader<Box<dyn Read + Send>>>,
    buf: Vec<u8>,
    pos: usize,
    end: usize,
}

impl Input {
    /// Makes at least `n` bytes available at `pos`; false at the end of the stream.
    fn fill(&mut self, n: usize) -> Result<bool, DayError> {
        if self.end - self.pos >= n {
            return Ok(true);
        }
        self.buf.copy_within(self.pos..self.end, 0);
        self.end -= self.pos;
        self.pos = 0;
        if self.buf.len() < n {
            self.buf.resize(n.max(2 * self.buf.len()), 0);
        }
        while self.end < n {
            let got = match self.src.read(&mut self.buf[self.end..]) {
                Ok(g) => g,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::InvalidInput => {
                    return Err(DayError::Corrupt(format!("gzip: {e}")));
                }
                Err(e) => return Err(e.into()),
            };
            if got == 0 {
                return Ok(false);
            }
            self.end += got;
        }
        Ok(true)
    }

    fn take(&mut self, n: usize) -> Result<&[u8], DayError> {
        if !self.fill(n)? {
            return Err(DayError::Corrupt("truncated".into()));
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn byte(&mut self) -> Result<u8, DayError> {
        Ok(self.take(1)?[0])
    }

    fn varint(&mut self) -> Result<u64, DayError> {
        // Fast path: a whole varint (at most 10 bytes) is in the buffer.
        if self.end - self.pos >= 10 {
            let mut v = 0u64;
            for (i, &b) in self.buf[self.pos..self.pos + 10].iter().enumerate() {
                v |= u64::from(b & 0x7f) << (7 * i);
                if b & 0x80 == 0 {
                    self.pos += i + 1;
                    return Ok(v);
                }
            }
            return Err(DayError::Corrupt("varint too long".into()));
        }
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(DayError::Corrupt("varint too long".into()))
    }

    fn small(&mut self, max: u64, what: &str) -> Result<u64, DayError> {
        let v = self.varint()?;
        if v > max {
            return Err(DayError::Corrupt(format!("{what} {v} out of range")));
        }
        Ok(v)
    }
}

/// Streams the records of one day file (or of one partial tally).
pub struct DayReader {
    day: NaiveDate,
    input: Input,
    key: Vec<u8>,
    agents: Vec<Arc<[u8]>>,
    full_ranks: bool,
    count: u64,
    hits: u64,
    done: bool,
}

/// Reads the header line (at most `limit` bytes with its newline).
fn header_line(r: &mut BufReader<Box<dyn Read + Send>>, limit: u64) -> Result<String, DayError> {
    let mut line = Vec::new();
    r.by_ref().take(limit).read_until(b'\n', &mut line)?;
    if line.pop() != Some(b'\n') {
        return Err(DayError::Header);
    }
    String::from_utf8(line).map_err(|_| DayError::Header)
}

impl DayReader {
    /// Reads the header of a day file.
    pub fn new(day: NaiveDate, reader: Box<dyn Read + Send>) -> Result<Self, DayError> {
        let mut r = BufReader::new(reader);
        let header = header_line(&mut r, 64)?;
        let mut parts = header.split(' ');
        if parts.next() != Some(DAY_MAGIC) {
            return Err(DayError::Header);
        }
        check_version(parts.next())?;
        let d = parts.next().ok_or(DayError::Header)?;
        if d != day.to_string() || parts.next().is_some() {
            return Err(DayError::WrongDay(format!("day {d}")));
        }
        Ok(Self::body(day, r, false))
    }

    /// Reads the header of a partial tally (shard `index` of `shards` for `day`); returns the
    /// reader and the shard's scan figures (the JSON line).
    pub fn partial(
        day: NaiveDate,
        index: u32,
        shards: u32,
        reader: Box<dyn Read + Send>,
    ) -> Result<(Self, Vec<u8>), DayError> {
        let mut r = BufReader::new(reader);
        let header = header_line(&mut r, 128)?;
        let mut parts = header.split(' ');
        if parts.next() != Some(PARTIAL_MAGIC) {
            return Err(DayError::Header);
        }
        check_version(parts.next())?;
        let rest: Vec<&str> = parts.collect();
        let want = [day.to_string(), index.to_string(), shards.to_string()];
        if rest != want {
            return Err(DayError::WrongDay(format!(
                "day {} shard {} of {}",
                rest.first().unwrap_or(&"?"),
                rest.get(1).unwrap_or(&"?"),
                rest.get(2).unwrap_or(&"?")
            )));
        }
        let mut figures = Vec::new();
        r.by_ref()
            .take(MAX_FIGURES + 1)
            .read_until(b'\n', &mut figures)?;
        if figures.pop() != Some(b'\n') {
            return Err(DayError::Corrupt("no scan figures".into()));
        }
        Ok((Self::body(day, r, true), figures))
    }

    fn body(day: NaiveDate, r: BufReader<Box<dyn Read + Send>>, full_ranks: bool) -> Self {
        DayReader {
            day,
            input: Input {
                src: GzDecoder::new(r),
                buf: vec![0; 1 << 16],
                pos: 0,
                end: 0,
            },
            key: Vec::new(),
            agents: Vec::new(),
            full_ranks,
            count: 0,
            hits: 0,
            done: false,
        }
    }

    /// The next URL, or `None` at the (verified) end of the file.
    pub fn next_record(&mut self) -> Result<Option<UrlHistory>, DayError> {
        let mut rec = UrlHistory::default();
        Ok(self.next_into(&mut rec)?.then_some(rec))
    }

    /// Reads the next URL into `rec` (reusing its buffers); false at the (verified) end of the
    /// file.
    pub fn next_into(&mut self, rec: &mut UrlHistory) -> Result<bool, DayError> {
        if self.done {
            return Ok(false);
        }
        let inp = &mut self.input;
        let shared = inp.small(MAX_KEY as u64, "prefix length")? as usize;
        let suffix = inp.small(MAX_KEY as u64, "suffix length")? as usize;
        if shared == 0 && suffix == 0 {
            let count = inp.varint()?;
            let hits = inp.varint()?;
            if count != self.count || hits != self.hits {
                return Err(DayError::Corrupt(format!(
                    "footer says {count} URLs / {hits} hits, read {} / {}",
                    self.count, self.hits
                )));
            }
            // Reading to the end of the gzip stream checks its CRC and length.
            if inp.fill(1)? {
                return Err(DayError::Corrupt("data after the footer".into()));
            }
            self.done = true;
            return Ok(false);
        }
        if shared > self.key.len() || suffix == 0 || shared + suffix > MAX_KEY {
            return Err(DayError::Corrupt("bad key prefix".into()));
        }
        let tail = inp.take(suffix)?;
        if self.count > 0 && tail <= &self.key[shared..] {
            return Err(DayError::Corrupt("keys out of order".into()));
        }
        self.key.truncate(shared);
        self.key.extend_from_slice(tail);
        let s = &mut rec.stats;
        s.hits = inp.varint()?;
        s.statuses.clear();
        let n = inp.small(MAX_PAIRS, "status count")?;
        for _ in 0..n {
            let code = inp.small(999, "status")? as u16;
            let hits = inp.varint()?;
            s.statuses.add(code, hits);
        }
        s.http_hits = inp.varint()?;
        s.https_hits = s
            .hits
            .checked_sub(s.http_hits)
            .ok_or_else(|| DayError::Corrupt("http hits above hits".into()))?;
        s.target_us_count = inp.varint()?;
        s.target_us_sum = inp.varint()?;
        s.target_us_max = inp.varint()?;
        s.latency_hist.clear();
        let n = inp.small(256, "histogram length")?;
        for _ in 0..n {
            let b = inp.byte()?;
            let hits = inp.varint()?;
            s.latency_hist.add(b, hits);
        }
        s.first_second = inp.small(86_399, "first second")? as u32;
        s.last_second = s.first_second + inp.small(86_399, "seconds")? as u32;
        let agent_ref = inp.small(self.agents.len() as u64 + 1, "agent number")? as usize;
        if agent_ref == 0 {
            s.agent = None;
        } else {
            if agent_ref > self.agents.len() {
                let len = inp.small(MAX_AGENT as u64, "agent length")? as usize;
                let agent = inp.take(len)?;
                if usable_agent(agent).is_none() {
                    return Err(DayError::Corrupt("agent not printable ASCII".into()));
                }
                self.agents.push(agent.into());
            }
            let rank = if self.full_ranks {
                u64::from_le_bytes(inp.take(8)?.try_into().unwrap_or_default())
            } else {
                u64::from(u32::from_le_bytes(
                    inp.take(4)?.try_into().unwrap_or_default(),
                )) << 32
            };
            let agent = &self.agents[agent_ref - 1];
            match &mut s.agent {
                // Consecutive URLs often share an agent: no allocation then.
                Some(a) if a.agent == *agent => a.rank = rank,
                _ => {
                    s.agent = Some(SampledAgent {
                        rank,
                        agent: agent.clone(),
                    })
                }
            }
        }
        self.count += 1;
        self.hits = self.hits.wrapping_add(s.hits);
        rec.key.clear();
        rec.key.extend_from_slice(&self.key);
        rec.days_seen = 1;
        rec.first_day = self.day;
        rec.last_day = self.day;
        Ok(true)
    }
}

fn check_version(v: Option<&str>) -> Result<(), DayError> {
    let version: u32 = v.and_then(|v| v.parse().ok()).ok_or(DayError::Header)?;
    if version != FORMAT_VERSION {
        return Err(DayError::Version(version));
    }
    Ok(())
}

/// A day of the window that could not be used.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DayProblem {
    pub day: String,
    /// `missing` or `corrupt`.
    pub problem: &'static str,
    pub detail: String,
}

/// The days of a window, as found in the store (the last one possibly still in memory, see
/// [`Window::with_last_day`]).
#[derive(Debug, Clone)]
pub struct Window<'t> {
    pub store: StateStore,
    /// First and last day of the window.
    pub first: NaiveDate,
    pub last: NaiveDate,
    /// Days with a file (after [`Window::read_checked`]: whose file read back whole), or in
    /// memory.
    pub days: Vec<NaiveDate>,
    /// Days of the window without a usable file, in day order.
    pub problems: Vec<DayProblem>,
    /// The last day's tally, read from here instead of its file.
    last_day: Option<&'t Tally>,
}

/// Why reading the window stopped: which day, and why.
#[derive(Debug, thiserror::Error)]
#[error("{day}: {error}")]
pub struct WindowError {
    pub day: NaiveDate,
    pub error: DayError,
}

/// Writes day `day`'s tally, replacing any earlier one.
pub fn write_day(store: &StateStore, day: NaiveDate, tally: &Tally) -> io::Result<()> {
    store.put(&day_name(day), &encode_day(day, tally)?)
}

/// Deletes the tallies of days before the window that ends on `last` (`window_days` days long).
/// Returns the days removed.
pub fn expire(store: &StateStore, last: NaiveDate, window_days: u32) -> io::Result<Vec<NaiveDate>> {
    let first = window_start(last, window_days);
    let mut removed = Vec::new();
    for name in store.list()? {
        if let Some(d) = parse_day_name(&name)
            && d < first
        {
            store.delete(&name)?;
            removed.push(d);
        }
    }
    Ok(removed)
}

/// The first day of the window of `window_days` days ending on `last`.
pub fn window_start(last: NaiveDate, window_days: u32) -> NaiveDate {
    last.checked_sub_days(Days::new(u64::from(window_days.max(1) - 1)))
        .unwrap_or(NaiveDate::MIN)
}

/// The k-way merge of the days: a tournament ("loser") tree over the readers' current
/// records, ordered by (key, reader index), so that of equal keys the oldest day's comes first.
/// Each internal node keeps the loser of its match and the root the winner; after the winner's
/// reader moves on, only the matches on its path are replayed: log2(k) key compares, where a
/// binary heap's pop and push took about twice that (its compares were ~15% of reading a
/// 30-day window). Keys are compared where they are, never copied.
struct LoserTree {
    /// `nodes[0]`: the winner; `nodes[n]`, `1 <= n < size`: the loser of the match at node n,
    /// whose children are nodes `2n` and `2n + 1` (leaf `i` is node `size + i`).
    nodes: Vec<usize>,
    /// Whether reader `i` has a current record (readers past the last one never have).
    live: Vec<bool>,
}

impl LoserTree {
    /// The tree over `heads`, of which those marked in `live` are current records.
    fn new(heads: &[UrlHistory], live: &[bool]) -> Self {
        let size = live.len().next_power_of_two();
        let mut tree = LoserTree {
            nodes: vec![0; size],
            live: live.to_vec(),
        };
        tree.live.resize(size, false);
        let mut winners = vec![0; 2 * size];
        for (i, w) in winners[size..].iter_mut().enumerate() {
            *w = i;
        }
        for n in (1..size).rev() {
            let (a, b) = (winners[2 * n], winners[2 * n + 1]);
            let (win, lose) = if tree.beats(heads, a, b) {
                (a, b)
            } else {
                (b, a)
            };
            winners[n] = win;
            tree.nodes[n] = lose;
        }
        // Node 1 is the root, or the one leaf when `size` is 1.
        tree.nodes[0] = winners[1];
        tree
    }

    /// Whether reader `a`'s record comes before reader `b`'s (a reader without one comes last).
    fn beats(&self, heads: &[UrlHistory], a: usize, b: usize) -> bool {
        self.live[a] && (!self.live[b] || (&heads[a].key, a) < (&heads[b].key, b))
    }

    /// The reader whose record comes first, if any reader has one.
    fn winner(&self) -> Option<usize> {
        let w = self.nodes[0];
        self.live[w].then_some(w)
    }

    /// After the winner, reader `i`, moved on to its next record (`live`: it has one): replays
    /// the matches on its path.
    fn replay(&mut self, heads: &[UrlHistory], i: usize, live: bool) {
        self.live[i] = live;
        let mut w = i;
        let mut n = (self.nodes.len() + i) / 2;
        while n >= 1 {
            let other = self.nodes[n];
            if self.beats(heads, other, w) {
                self.nodes[n] = w;
                w = other;
            }
            n /= 2;
        }
        self.nodes[0] = w;
    }
}

/// The k-way merge of `readers` sorted streams of records (see [`LoserTree`]): `next(j, rec)`
/// reads reader `j`'s next record into `rec` (false at its end); the records of one key are
/// folded, in reader order, into a copy of the first (`fold`), and the result is handed to
/// `emit` with the index of the reader it started from. Holds one record per reader.
fn merge_in_key_order<E>(
    readers: usize,
    mut next: impl FnMut(usize, &mut UrlHistory) -> Result<bool, E>,
    fold: impl Fn(&mut UrlHistory, &UrlHistory),
    mut emit: impl FnMut(usize, &UrlHistory) -> Result<(), E>,
) -> Result<(), E> {
    let mut heads = vec![UrlHistory::default(); readers];
    let mut live = Vec::with_capacity(readers);
    for (j, head) in heads.iter_mut().enumerate() {
        live.push(next(j, head)?);
    }
    let mut tree = LoserTree::new(&heads, &live);
    let mut merged = UrlHistory::default();
    while let Some(i) = tree.winner() {
        assign(&mut merged, &heads[i]);
        // Keys only grow within a reader: its next record is another URL.
        let more = next(i, &mut heads[i])?;
        tree.replay(&heads, i, more);
        while let Some(j) = tree.winner()
            && heads[j].key == merged.key
        {
            fold(&mut merged, &heads[j]);
            let more = next(j, &mut heads[j])?;
            tree.replay(&heads, j, more);
        }
        emit(i, &merged)?;
    }
    Ok(())
}

/// Copies `from` into `to`, reusing `to`'s buffers.
fn assign(to: &mut UrlHistory, from: &UrlHistory) {
    to.key.clone_from(&from.key);
    assign_stats(&mut to.stats, &from.stats);
    to.days_seen = from.days_seen;
    to.first_day = from.first_day;
    to.last_day = from.last_day;
}

/// Copies `f` into `t`, reusing `t`'s buffers.
fn assign_stats(t: &mut UrlStats, f: &UrlStats) {
    t.hits = f.hits;
    t.statuses.clone_from(&f.statuses);
    t.target_us_sum = f.target_us_sum;
    t.target_us_count = f.target_us_count;
    t.target_us_max = f.target_us_max;
    t.http_hits = f.http_hits;
    t.https_hits = f.https_hits;
    t.latency_hist.clone_from(&f.latency_hist);
    t.first_second = f.first_second;
    t.last_second = f.last_second;
    match (&mut t.agent, &f.agent) {
        (Some(a), Some(b)) if a.agent == b.agent => a.rank = b.rank,
        (a, b) => a.clone_from(b),
    }
}

/// The merged records of one read of the window, kept for a second read while they fit in a
/// byte budget ([`UrlHistory::footprint`] summed).
///
/// Why: the miner reads the window twice (routes are learned from every URL before any URL
/// is sampled), and the second read inflated and merged every day file again: ~190 ms a read
/// of a 30-day window of 30 k URLs a day, where iterating the copy costs next to nothing (the
/// 2-thread run of that window went from 1.04-1.08 s to 0.85-0.90 s). Past the budget the copy is
/// dropped and the second read goes back to the files, so memory stays bounded whatever the
/// window holds.
#[derive(Debug, Clone)]
pub struct WindowCopy {
    records: Vec<UrlHistory>,
    bytes: usize,
    budget: usize,
    overflowed: bool,
}

/// The default budget of a [`WindowCopy`] (the miner's `--window-memory-mb`): about 300 k
/// URLs of the synthetic corpus.
pub const WINDOW_COPY_BYTES: usize = 128 << 20;

impl WindowCopy {
    /// An empty copy that may hold `budget` bytes (0: keeps nothing, and never stands in for
    /// a read, not even of an empty window).
    pub fn new(budget: usize) -> Self {
        WindowCopy {
            records: Vec::new(),
            bytes: 0,
            budget,
            overflowed: budget == 0,
        }
    }

    /// Keeps a copy of `u`, the next record of the read; past the budget, drops every record
    /// kept and keeps no more.
    pub fn keep(&mut self, u: &UrlHistory) {
        if self.overflowed {
            return;
        }
        self.bytes += u.footprint();
        if self.bytes > self.budget {
            self.overflowed = true;
            self.records = Vec::new();
            return;
        }
        self.records.push(u.clone());
    }

    /// Every record of the read, in its order; `None` when they did not fit.
    pub fn records(&self) -> Option<&[UrlHistory]> {
        (!self.overflowed).then_some(&self.records[..])
    }
}

/// Where [`Window::for_each`] reads one day from.
enum DaySource<'t> {
    File(Box<DayReader>),
    /// A tally in memory, in key order.
    Memory {
        day: NaiveDate,
        urls: InKeyOrder<'t>,
    },
}

impl DaySource<'_> {
    /// [`DayReader::next_into`]: the same records, from either source.
    fn next_into(&mut self, rec: &mut UrlHistory) -> Result<bool, DayError> {
        match self {
            DaySource::File(r) => r.next_into(rec),
            DaySource::Memory { day, urls } => {
                let Some((key, stats)) = urls.next() else {
                    return Ok(false);
                };
                rec.key.clear();
                rec.key.extend_from_slice(key);
                assign_stats(&mut rec.stats, stats);
                if let Some(a) = &mut rec.stats.agent {
                    a.rank = day_file_rank(a.rank);
                }
                rec.days_seen = 1;
                rec.first_day = *day;
                rec.last_day = *day;
                Ok(true)
            }
        }
    }
}

/// Reads shard `index` of `shards`' partial tally of `day`: a reader of its records and its scan
/// figures (the JSON line); `None` when the store has no such partial.
pub fn open_partial(
    store: &StateStore,
    day: NaiveDate,
    index: u32,
    shards: u32,
) -> Result<Option<(DayReader, Vec<u8>)>, DayError> {
    match store.open(&partial_name(day, index, shards))? {
        None => Ok(None),
        Some(r) => DayReader::partial(day, index, shards, r).map(Some),
    }
}

/// Merges the partial tallies of one day into its day file, exactly as [`encode_day`] of the
/// tally of one run over all their objects: URLs in key order, each URL's figures added up
/// ([`UrlStats::merge`]: order independent; the agent of the lowest full rank, which partials
/// keep). Holds one record per partial in memory. Returns the day file and its URL count; an
/// error names the partial (its position in `readers`).
pub fn merge_partials(
    day: NaiveDate,
    mut readers: Vec<DayReader>,
) -> Result<(Vec<u8>, u64), (usize, DayError)> {
    let mut out = TallyWriter::day(day);
    let io = |i: usize| move |e: io::Error| (i, DayError::Io(e));
    merge_in_key_order(
        readers.len(),
        |j, rec| readers[j].next_into(rec).map_err(|e| (j, e)),
        |merged, other| merged.stats.merge(&other.stats),
        |i, merged| out.push(&merged.key, &merged.stats).map_err(io(i)),
    )?;
    let count = out.count();
    Ok((out.finish().map_err(io(0))?, count))
}

impl<'t> Window<'t> {
    /// Finds the day files of the window ending on `last`. A day without a file is a `missing`
    /// problem. The files are not read: [`Window::read_checked`] does that on the first pass.
    pub fn open(store: &StateStore, last: NaiveDate, window_days: u32) -> io::Result<Self> {
        let first = window_start(last, window_days);
        let present: BTreeMap<NaiveDate, String> = store
            .list()?
            .into_iter()
            .filter_map(|n| parse_day_name(&n).map(|d| (d, n)))
            .filter(|(d, _)| (first..=last).contains(d))
            .collect();
        let mut w = Window {
            store: store.clone(),
            first,
            last,
            days: Vec::new(),
            problems: Vec::new(),
            last_day: None,
        };
        for day in first.iter_days().take_while(|d| *d <= last) {
            if present.contains_key(&day) {
                w.days.push(day);
            } else {
                w.problems.push(DayProblem {
                    day: day.to_string(),
                    problem: "missing",
                    detail: "no tally for this day in the state".into(),
                });
            }
        }
        Ok(w)
    }

    /// Reads the last day from `tally` instead of its file, which need not be in the store
    /// (yet): the records are those its day file would give back ([`encode_day`], then
    /// [`DayReader`]). Why: the run that has just mined the day holds its tally, and reading
    /// the file it writes would inflate and decode it once per pass; the file can then be
    /// written while the window is read.
    pub fn with_last_day(mut self, tally: &'t Tally) -> Self {
        let last = self.last.to_string();
        self.problems.retain(|p| p.day != last);
        if self.days.last() != Some(&self.last) {
            self.days.push(self.last);
        }
        self.last_day = Some(tally);
        self
    }

    /// Finds the day files and reads them whole, leaving out (as `corrupt` problems) those that
    /// do not read back.
    pub fn open_checked(store: &StateStore, last: NaiveDate, window_days: u32) -> io::Result<Self> {
        let mut w = Self::open(store, last, window_days)?;
        w.read_checked(|| (), |_, _| ());
        Ok(w)
    }

    /// The first pass over the window: calls `see` with every URL, as [`Window::for_each`]
    /// does, on a state made by `fresh`. A day whose file does not read back whole is moved to
    /// the `corrupt` problems and the pass starts again (on a fresh state) without it, so the
    /// result is that of the days that read back whole. Returns the state of the last pass.
    pub fn read_checked<T>(
        &mut self,
        mut fresh: impl FnMut() -> T,
        mut see: impl FnMut(&mut T, &UrlHistory),
    ) -> T {
        loop {
            let mut state = fresh();
            match self.for_each(|u| see(&mut state, u)) {
                Ok(()) => return state,
                Err(e) => {
                    self.days.retain(|d| *d != e.day);
                    self.problems.push(DayProblem {
                        day: e.day.to_string(),
                        problem: "corrupt",
                        detail: e.error.to_string(),
                    });
                    self.problems.sort_by(|a, b| a.day.cmp(&b.day));
                }
            }
        }
    }

    fn reader(&self, day: NaiveDate) -> Result<DaySource<'t>, WindowError> {
        if let Some(tally) = self.last_day
            && day == self.last
        {
            return Ok(DaySource::Memory {
                day,
                urls: tally.in_key_order(),
            });
        }
        let open = || -> Result<DayReader, DayError> {
            let r = self
                .store
                .open(&day_name(day))?
                .ok_or_else(|| DayError::Corrupt("disappeared".into()))?;
            DayReader::new(day, r)
        };
        open()
            .map(|r| DaySource::File(Box::new(r)))
            .map_err(|error| WindowError { day, error })
    }

    /// Whether reading the window reads a day file (any day but the last day held in memory,
    /// [`Window::with_last_day`]). When it does not, a [`WindowCopy`] saves nothing: the
    /// records come from memory either way, and copying them cost more than reading them again
    /// (10-18 ms against 9 for the 30 k URLs of a 1 GiB day).
    pub fn reads_files(&self) -> bool {
        self.days
            .iter()
            .any(|&d| self.last_day.is_none() || d != self.last)
    }

    /// Calls `f` with every URL of the window, merged over the days, in key order. Holds one
    /// record per day in memory (and reuses it).
    pub fn for_each(&self, mut f: impl FnMut(&UrlHistory)) -> Result<(), WindowError> {
        let mut readers = Vec::with_capacity(self.days.len());
        for &day in &self.days {
            readers.push(self.reader(day)?);
        }
        // Readers are in day order, and of equal keys the lowest reader's comes first: the
        // oldest day's, as `UrlHistory::merge` wants.
        merge_in_key_order(
            readers.len(),
            |j, rec| {
                readers[j].next_into(rec).map_err(|error| WindowError {
                    day: self.days[j],
                    error,
                })
            },
            UrlHistory::merge,
            |_, merged| {
                f(merged);
                Ok(())
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mine::normalize::{NormalizeOptions, normalize};

    fn tally(urls: &[(&str, u16, u32)]) -> Tally {
        let mut t = Tally::default();
        let mut s = Vec::new();
        for &(u, status, second) in urls {
            let n = normalize(u.as_bytes(), &NormalizeOptions::default(), &mut s).unwrap();
            t.record(
                &s,
                &n,
                status,
                Some(12_000),
                second,
                Some((u64::from(second), b"Mozilla/5.0")),
            );
        }
        t
    }

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 3, d).unwrap()
    }

    fn read_all(store: &StateStore, d: NaiveDate) -> Vec<UrlHistory> {
        let mut r = DayReader::new(d, store.open(&day_name(d)).unwrap().unwrap()).unwrap();
        let mut v = Vec::new();
        while let Some(x) = r.next_record().unwrap() {
            v.push(x);
        }
        v
    }

    #[test]
    fn a_window_copy_keeps_every_record_in_order_or_none_past_its_budget() {
        let records: Vec<UrlHistory> = (0..50)
            .map(|i| {
                let mut u = UrlHistory {
                    key: format!("h /p{i:03}").into_bytes(),
                    ..Default::default()
                };
                u.stats.hits = i;
                // Spilled counts (five codes past 255: narrow entries, four inline) and an agent
                // count too.
                for k in 0..i as u16 % 6 {
                    u.stats.statuses.add(200 + 100 * k, 1);
                }
                u.stats.agent = (i % 2 == 0).then(|| crate::mine::tally::SampledAgent {
                    rank: i,
                    agent: b"Mozilla/5.0".as_slice().into(),
                });
                u
            })
            .collect();
        let total: usize = records.iter().map(UrlHistory::footprint).sum();
        assert!(records[5].footprint() > records[1].footprint() + 16);

        let mut fits = WindowCopy::new(total);
        records.iter().for_each(|u| fits.keep(u));
        assert_eq!(fits.records(), Some(&records[..]));

        let mut over = WindowCopy::new(total - 1);
        records.iter().for_each(|u| over.keep(u));
        assert_eq!(over.records(), None);

        assert_eq!(
            WindowCopy::new(1).records(),
            Some(&[][..]),
            "an empty read fits"
        );
        let mut none = WindowCopy::new(0);
        assert_eq!(none.records(), None, "no budget: never a copy");
        none.keep(&records[0]);
        assert_eq!(none.records(), None);
    }

    #[test]
    fn a_day_round_trips_and_encodes_deterministically() {
        let dir = tempfile::tempdir().unwrap();
        let store = StateStore::Dir(dir.path().into());
        let t = tally(&[
            ("https://a.example/x", 200, 10),
            ("https://a.example/x", 304, 20),
            ("http://a.example/xy?q=1", 200, 30),
            ("https://b.example/", 200, 40),
        ]);
        write_day(&store, day(1), &t).unwrap();
        let a = std::fs::read(dir.path().join(day_name(day(1)))).unwrap();
        assert_eq!(encode_day(day(1), &t).unwrap(), a);
        let got = read_all(&store, day(1));
        let want: Vec<_> = t
            .sorted()
            .into_iter()
            .map(|(k, s)| (k.to_vec(), s.clone()))
            .collect();
        assert_eq!(got.len(), want.len());
        for (g, (k, s)) in got.iter().zip(&want) {
            assert_eq!(&g.key, k);
            // Day files keep the top 32 bits of agent ranks.
            let mut s = s.clone();
            if let Some(a) = &mut s.agent {
                a.rank &= !0xffff_ffff;
            }
            assert_eq!(g.stats, s);
        }
    }

    /// A tally whose URLs share two agents, with ranks that differ only in their low bits.
    fn tally_with_agents(urls: &[(&str, u64, &[u8])]) -> Tally {
        let mut t = Tally::default();
        let mut s = Vec::new();
        for &(u, rank, agent) in urls {
            let n = normalize(u.as_bytes(), &NormalizeOptions::default(), &mut s).unwrap();
            t.record(&s, &n, 200, Some(1000), 5, Some((rank, agent)));
        }
        t
    }

    #[test]
    fn agents_are_written_once_per_file_and_partials_keep_full_ranks() {
        let agent: &[u8] = b"Mozilla/5.0 (a long agent that would cost bytes on every URL)";
        let urls: Vec<String> = (0..50).map(|i| format!("https://a.example/{i}")).collect();
        let rows: Vec<(&str, u64, &[u8])> = urls
            .iter()
            .enumerate()
            .map(|(i, u)| {
                (
                    u.as_str(),
                    (7 << 32) | i as u64,
                    if i % 2 == 0 { agent } else { b"curl/8" },
                )
            })
            .collect();
        let t = tally_with_agents(&rows);
        let file = encode_day(day(1), &t).unwrap();
        let body = &file[file.iter().position(|&b| b == b'\n').unwrap() + 1..];
        let mut raw = Vec::new();
        GzDecoder::new(body).read_to_end(&mut raw).unwrap();
        assert_eq!(
            memchr::memmem::find_iter(&raw, agent).count(),
            1,
            "one copy"
        );
        let mut r = DayReader::new(day(1), Box::new(io::Cursor::new(file))).unwrap();
        let mut n = 0;
        while let Some(u) = r.next_record().unwrap() {
            let a = u.stats.agent.unwrap();
            assert_eq!(a.rank, 7 << 32, "the top 32 bits");
            n += 1;
        }
        assert_eq!(n, 50);
        let part = encode_partial(day(1), 2, 3, b"{}", &t).unwrap();
        let (mut r, figures) =
            DayReader::partial(day(1), 2, 3, Box::new(io::Cursor::new(part.clone()))).unwrap();
        assert_eq!(figures, b"{}");
        let mut got = Vec::new();
        while let Some(u) = r.next_record().unwrap() {
            got.push((u.key, u.stats));
        }
        let want: Vec<_> = t
            .sorted()
            .into_iter()
            .map(|(k, s)| (k.to_vec(), s.clone()))
            .collect();
        assert_eq!(got, want, "partials keep everything, full ranks included");
        // A partial of another shard or day is refused.
        assert!(DayReader::partial(day(1), 1, 3, Box::new(io::Cursor::new(part.clone()))).is_err());
        assert!(DayReader::new(day(1), Box::new(io::Cursor::new(part))).is_err());
    }

    #[test]
    fn merged_partials_equal_the_day_file_of_the_whole_tally() {
        let rows: Vec<(String, u64, &[u8])> = (0..300u64)
            .map(|i| {
                let agent: &[u8] = if i % 3 == 0 {
                    b"curl/8"
                } else {
                    b"Mozilla/5.0"
                };
                (
                    format!("https://h{}.example/p/{}", i % 7, i % 40),
                    i.wrapping_mul(0x9e37_79b9_7f4a_7c15),
                    agent,
                )
            })
            .collect();
        let whole = tally_with_agents(
            &rows
                .iter()
                .map(|(u, r, a)| (u.as_str(), *r, *a))
                .collect::<Vec<_>>(),
        );
        let mut readers = Vec::new();
        for shard in 0..3u32 {
            let part: Vec<_> = rows
                .iter()
                .enumerate()
                .filter(|(i, _)| *i as u32 % 3 == shard)
                .map(|(_, (u, r, a))| (u.as_str(), *r, *a))
                .collect();
            let file = encode_partial(day(2), shard, 3, b"{}", &tally_with_agents(&part)).unwrap();
            readers.push(
                DayReader::partial(day(2), shard, 3, Box::new(io::Cursor::new(file)))
                    .unwrap()
                    .0,
            );
        }
        let (file, count) = merge_partials(day(2), readers).unwrap();
        assert_eq!(count, whole.len() as u64);
        assert!(file == encode_day(day(2), &whole).unwrap());
    }

    #[test]
    fn damaged_records_are_corrupt_not_a_panic() {
        let t = tally(&[
            ("https://a.example/x", 200, 10),
            ("https://a.example/y", 200, 10),
        ]);
        let file = encode_day(day(1), &t).unwrap();
        let split = file.iter().position(|&b| b == b'\n').unwrap() + 1;
        let mut raw = Vec::new();
        GzDecoder::new(&file[split..])
            .read_to_end(&mut raw)
            .unwrap();
        // Every truncation and every single-byte change of the records, re-gzipped (so the CRC
        // holds): an error or a clean read, never a panic.
        let regzip = |raw: &[u8]| {
            let mut gz = GzEncoder::new(file[..split].to_vec(), Compression::fast());
            gz.write_all(raw).unwrap();
            gz.finish().unwrap()
        };
        for cut in 0..raw.len() {
            let f = regzip(&raw[..cut]);
            let mut r = DayReader::new(day(1), Box::new(io::Cursor::new(f))).unwrap();
            let mut res = Ok(Some(UrlHistory::default()));
            while let Ok(Some(_)) = res {
                res = r.next_record();
            }
            assert!(res.is_err(), "a file cut at {cut} reads as whole");
        }
        for at in 0..raw.len() {
            for flip in [0x01u8, 0x80, 0xff] {
                let mut bad = raw.clone();
                bad[at] ^= flip;
                let mut r =
                    DayReader::new(day(1), Box::new(io::Cursor::new(regzip(&bad)))).unwrap();
                while let Ok(Some(_)) = r.next_record() {}
            }
        }
    }

    #[test]
    fn corrupt_and_missing_days_are_reported_and_left_out() {
        let dir = tempfile::tempdir().unwrap();
        let store = StateStore::Dir(dir.path().into());
        let t = tally(&[
            ("https://a.example/x", 200, 10),
            ("https://a.example/y", 200, 10),
        ]);
        for d in [1, 2, 4] {
            write_day(&store, day(d), &t).unwrap();
        }
        let path = dir.path().join(day_name(day(2)));
        let mut bytes = std::fs::read(&path).unwrap();
        let n = bytes.len();
        bytes[n - 12] ^= 0x55;
        std::fs::write(&path, &bytes).unwrap();
        std::fs::write(dir.path().join(day_name(day(4))), b"garbage\n").unwrap();
        let w = Window::open_checked(&store, day(4), 4).unwrap();
        assert_eq!(w.days, vec![day(1)]);
        let probs: Vec<_> = w
            .problems
            .iter()
            .map(|p| (p.day.as_str(), p.problem))
            .collect();
        assert_eq!(
            probs,
            vec![
                ("2026-03-02", "corrupt"),
                ("2026-03-03", "missing"),
                ("2026-03-04", "corrupt")
            ]
        );
        let mut n = 0;
        w.for_each(|_| n += 1).unwrap();
        assert_eq!(n, 2);
    }

    #[test]
    fn the_window_merges_days_in_key_order() {
        let dir = tempfile::tempdir().unwrap();
        let store = StateStore::Dir(dir.path().into());
        write_day(
            &store,
            day(1),
            &tally(&[
                ("https://a.example/x", 200, 100),
                ("https://c.example/", 200, 5),
            ]),
        )
        .unwrap();
        write_day(
            &store,
            day(3),
            &tally(&[
                ("https://a.example/x", 404, 50),
                ("https://b.example/", 200, 7),
            ]),
        )
        .unwrap();
        let w = Window::open(&store, day(3), 3).unwrap();
        let mut got = Vec::new();
        w.for_each(|u| got.push(u.clone())).unwrap();
        let keys: Vec<_> = got
            .iter()
            .map(|u| String::from_utf8_lossy(&u.key).into_owned())
            .collect();
        assert_eq!(keys, ["a.example /x", "b.example /", "c.example /"]);
        let x = &got[0];
        assert_eq!((x.stats.hits, x.days_seen), (2, 2));
        assert_eq!(x.stats.statuses, vec![(200, 1), (404, 1)]);
        assert_eq!((x.first_day, x.last_day), (day(1), day(3)));
        assert_eq!(x.last_seen(), "2026-03-03T00:00:50Z");
        // Day 1 leaves a 2-day window ending on day 3, and expiry deletes it.
        let w = Window::open_checked(&store, day(3), 2).unwrap();
        assert_eq!(w.days, vec![day(3)]);
        assert_eq!(expire(&store, day(3), 2).unwrap(), vec![day(1)]);
        assert_eq!(store.list().unwrap(), vec![day_name(day(3))]);
    }

    #[test]
    fn the_last_day_in_memory_reads_as_its_file() {
        let dir = tempfile::tempdir().unwrap();
        let store = StateStore::Dir(dir.path().into());
        write_day(
            &store,
            day(1),
            &tally_with_agents(&[("https://a.example/x", 7 << 32, b"old")]),
        )
        .unwrap();
        // Recorded out of key order, with ranks whose low bits a day file drops.
        let last = tally_with_agents(&[
            ("https://c.example/", (3 << 32) + 5, b"curl/8"),
            ("https://a.example/x", (9 << 32) + 1, b"new"),
            ("https://b.example/", 1, b"Mozilla/5.0"),
            ("https://a.example/x", (2 << 32) + 9, b"newer"),
        ]);
        let read = |w: &Window<'_>| {
            let mut got = Vec::new();
            w.for_each(|u| got.push(u.clone())).unwrap();
            got
        };

        // Not in the store (yet): still a day of the window, and no problem.
        let w = Window::open(&store, day(2), 2).unwrap();
        assert_eq!(w.problems.len(), 1);
        let w = w.with_last_day(&last);
        assert_eq!(
            (w.days.clone(), w.problems.len()),
            (vec![day(1), day(2)], 0)
        );
        let from_memory = read(&w);

        write_day(&store, day(2), &last).unwrap();
        let from_files = read(&Window::open(&store, day(2), 2).unwrap());
        assert_eq!(from_memory, from_files);
        assert_eq!(from_memory.len(), 3);
        let a = &from_memory[0];
        assert_eq!((a.days_seen, a.stats.hits), (2, 3));
        assert_eq!(a.stats.agent.as_ref().unwrap().rank, 2 << 32);

        // A damaged file of the last day is not read when the day is in memory.
        store.put(&day_name(day(2)), b"not a tally").unwrap();
        let mut w = Window::open(&store, day(2), 2)
            .unwrap()
            .with_last_day(&last);
        w.read_checked(|| (), |_, _| ());
        assert!(w.problems.is_empty());
        assert_eq!(read(&w), from_files);
    }

    #[test]
    fn the_loser_tree_merges_in_key_then_reader_order() {
        // Every reader count up to 9, with keys shared between readers, empty readers, and
        // readers that run out early.
        for k in 0..=9usize {
            let lists: Vec<Vec<Vec<u8>>> = (0..k)
                .map(|r| {
                    (0..(r * 7 + 3) % 11)
                        .map(|j| format!("k{:02}", (j * (r + 2) + r) % 23).into_bytes())
                        .collect::<std::collections::BTreeSet<_>>()
                        .into_iter()
                        .collect()
                })
                .collect();
            let mut want: Vec<(Vec<u8>, usize)> = lists
                .iter()
                .enumerate()
                .flat_map(|(r, l)| l.iter().map(move |key| (key.clone(), r)))
                .collect();
            want.sort();
            let mut pos = vec![0usize; k];
            let mut heads: Vec<UrlHistory> = (0..k).map(|_| UrlHistory::default()).collect();
            let mut live = vec![false; k];
            for r in 0..k {
                if let Some(key) = lists[r].first() {
                    heads[r].key = key.clone();
                    live[r] = true;
                }
            }
            let mut tree = LoserTree::new(&heads, &live);
            let mut got = Vec::new();
            while let Some(r) = tree.winner() {
                got.push((heads[r].key.clone(), r));
                pos[r] += 1;
                let next = lists[r].get(pos[r]);
                if let Some(key) = next {
                    heads[r].key = key.clone();
                }
                tree.replay(&heads, r, next.is_some());
            }
            assert_eq!(got, want, "{k} readers");
        }
    }

    #[test]
    fn state_stores_parse() {
        let s3 = |bucket: &str, prefix: &str| StateStore::S3 {
            bucket: bucket.into(),
            prefix: prefix.into(),
            config: S3Config::default(),
        };
        assert_eq!(
            StateStore::parse("s3://bucket/prefix").unwrap(),
            s3("bucket", "prefix/")
        );
        assert_eq!(
            StateStore::parse("s3://bucket/a/b/").unwrap(),
            s3("bucket", "a/b/")
        );
        assert_eq!(StateStore::parse("s3://bucket").unwrap(), s3("bucket", ""));
        assert!(StateStore::parse("s3://B").is_err());
        assert!(StateStore::parse("").is_err());
        assert_eq!(
            StateStore::parse("st").unwrap(),
            StateStore::Dir("st".into())
        );
    }
}
