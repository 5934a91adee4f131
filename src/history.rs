//! The retention window: one compact tally file per mined day in a [`StateStore`], replaced
//! when the day is mined again, dropped once older than the window, and read back as one
//! stream of per-URL [`UrlHistory`] in key order.
//!
//! # Day files
//!
//! `tally-YYYY-MM-DD.glt`: a text header line `greenlight-tally 2 YYYY-MM-DD\n`, then one gzip
//! stream holding the day's URLs sorted by key (`host SP request-target`, bytewise), each as
//! LEB128 varints: shared key prefix length with the previous key, suffix length, suffix bytes,
//! hits, status count and `(code, hits)` pairs, `http` hits, latency count/sum/max (µs),
//! histogram bucket count and `(bucket, hits)` pairs, first second of the day and
//! `last - first`, then the sampled user agent: its length (0: none), bytes and rank. A record with both lengths 0 ends the URLs; it is followed by the URL count
//! and the total hits, then the end of the gzip stream (whose CRC is checked). Sorted keys and
//! integer fields make the file a pure function of the day's tally: mining the same day twice
//! writes the same bytes.
//!
//! Reading the window never holds more than one record per day file in memory: the files are
//! merged in key order ([`Window::for_each`]).

use std::collections::BTreeMap;
use std::fmt;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::PathBuf;

use chrono::{Days, NaiveDate};
use flate2::Compression;
use flate2::bufread::GzDecoder;
use flate2::write::GzEncoder;

use crate::mine::tally::{MAX_AGENT, SampledAgent, Tally, UrlStats, usable_agent};
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
                std::fs::create_dir_all(dir)?;
                crate::output::write_file_atomically(&dir.join(name), |w| w.write_all(bytes))
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

const FORMAT_VERSION: u32 = 2;
const MAX_KEY: usize = 1 << 20;
const MAX_PAIRS: u64 = 1 << 16;

/// The object name of day `day`'s tally.
pub fn day_name(day: NaiveDate) -> String {
    format!("tally-{day}.glt")
}

/// The day of a tally object name.
pub fn parse_day_name(name: &str) -> Option<NaiveDate> {
    let d = name.strip_prefix("tally-")?.strip_suffix(".glt")?;
    NaiveDate::parse_from_str(d, "%Y-%m-%d").ok()
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Encodes one day's tally as a day file (see the module docs).
pub fn encode_day(day: NaiveDate, tally: &Tally) -> io::Result<Vec<u8>> {
    let mut out = format!("greenlight-tally {FORMAT_VERSION} {day}\n").into_bytes();
    let mut gz = GzEncoder::new(&mut out, Compression::new(6));
    let mut buf = Vec::with_capacity(1 << 16);
    let mut prev: &[u8] = b"";
    let mut total_hits = 0u64;
    let sorted = tally.sorted();
    for (key, s) in &sorted {
        let shared = prev
            .iter()
            .zip(key.iter())
            .take_while(|(a, b)| a == b)
            .count();
        put_varint(&mut buf, shared as u64);
        put_varint(&mut buf, (key.len() - shared) as u64);
        buf.extend_from_slice(&key[shared..]);
        put_varint(&mut buf, s.hits);
        put_varint(&mut buf, s.statuses.len() as u64);
        for &(c, n) in &s.statuses {
            put_varint(&mut buf, u64::from(c));
            put_varint(&mut buf, n);
        }
        put_varint(&mut buf, s.http_hits);
        put_varint(&mut buf, s.target_us_count);
        put_varint(&mut buf, s.target_us_sum);
        put_varint(&mut buf, s.target_us_max);
        put_varint(&mut buf, s.latency_hist.len() as u64);
        for &(b, n) in &s.latency_hist {
            buf.push(b);
            put_varint(&mut buf, n);
        }
        put_varint(&mut buf, u64::from(s.first_second));
        put_varint(
            &mut buf,
            u64::from(s.last_second.saturating_sub(s.first_second)),
        );
        match &s.agent {
            None => put_varint(&mut buf, 0),
            Some(a) => {
                put_varint(&mut buf, a.agent.len() as u64);
                buf.extend_from_slice(&a.agent);
                put_varint(&mut buf, a.rank);
            }
        }
        total_hits += s.hits;
        prev = key;
        if buf.len() > 1 << 15 {
            gz.write_all(&buf)?;
            buf.clear();
        }
    }
    put_varint(&mut buf, 0);
    put_varint(&mut buf, 0);
    put_varint(&mut buf, sorted.len() as u64);
    put_varint(&mut buf, total_hits);
    gz.write_all(&buf)?;
    gz.finish()?;
    Ok(out)
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
    #[error("the header names day {0}")]
    WrongDay(String),
    #[error("corrupt: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// Streams the records of one day file.
pub struct DayReader {
    day: NaiveDate,
    inner: BufReader<GzDecoder<BufReader<Box<dyn Read + Send>>>>,
    key: Vec<u8>,
    count: u64,
    hits: u64,
    done: bool,
}

impl DayReader {
    /// Reads the header of a day file.
    pub fn new(day: NaiveDate, reader: Box<dyn Read + Send>) -> Result<Self, DayError> {
        let mut r = BufReader::new(reader);
        let mut header = Vec::new();
        r.by_ref().take(64).read_until(b'\n', &mut header)?;
        let text = std::str::from_utf8(&header).map_err(|_| DayError::Header)?;
        let mut parts = text.trim_end().split(' ');
        if parts.next() != Some("greenlight-tally") {
            return Err(DayError::Header);
        }
        let version: u32 = parts
            .next()
            .and_then(|v| v.parse().ok())
            .ok_or(DayError::Header)?;
        if version != FORMAT_VERSION {
            return Err(DayError::Version(version));
        }
        let d = parts.next().ok_or(DayError::Header)?;
        if d != day.to_string() {
            return Err(DayError::WrongDay(d.to_owned()));
        }
        Ok(DayReader {
            day,
            inner: BufReader::with_capacity(1 << 16, GzDecoder::new(r)),
            key: Vec::new(),
            count: 0,
            hits: 0,
            done: false,
        })
    }

    fn byte(&mut self) -> Result<u8, DayError> {
        let mut b = [0u8];
        self.inner.read_exact(&mut b).map_err(|e| {
            if e.kind() == io::ErrorKind::UnexpectedEof {
                DayError::Corrupt("truncated".into())
            } else {
                DayError::Io(e)
            }
        })?;
        Ok(b[0])
    }

    fn varint(&mut self) -> Result<u64, DayError> {
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

    /// The next URL, or `None` at the (verified) end of the file.
    pub fn next_record(&mut self) -> Result<Option<UrlHistory>, DayError> {
        if self.done {
            return Ok(None);
        }
        let shared = self.small(MAX_KEY as u64, "prefix length")? as usize;
        let suffix = self.small(MAX_KEY as u64, "suffix length")? as usize;
        if shared == 0 && suffix == 0 {
            let count = self.varint()?;
            let hits = self.varint()?;
            if count != self.count || hits != self.hits {
                return Err(DayError::Corrupt(format!(
                    "footer says {count} URLs / {hits} hits, read {} / {}",
                    self.count, self.hits
                )));
            }
            let mut rest = Vec::new();
            self.inner.read_to_end(&mut rest)?;
            if !rest.is_empty() {
                return Err(DayError::Corrupt("data after the footer".into()));
            }
            self.done = true;
            return Ok(None);
        }
        if shared > self.key.len() || suffix == 0 {
            return Err(DayError::Corrupt("bad key prefix".into()));
        }
        let prev = std::mem::take(&mut self.key);
        let mut key = prev[..shared].to_vec();
        let start = key.len();
        key.resize(start + suffix, 0);
        self.inner.read_exact(&mut key[start..])?;
        if key <= prev && !prev.is_empty() {
            return Err(DayError::Corrupt("keys out of order".into()));
        }
        let mut s = UrlStats {
            hits: self.varint()?,
            ..UrlStats::default()
        };
        let n = self.small(MAX_PAIRS, "status count")?;
        for _ in 0..n {
            let code = self.small(999, "status")? as u16;
            let hits = self.varint()?;
            s.statuses.push((code, hits));
        }
        s.http_hits = self.varint()?;
        s.https_hits = s
            .hits
            .checked_sub(s.http_hits)
            .ok_or_else(|| DayError::Corrupt("http hits above hits".into()))?;
        s.target_us_count = self.varint()?;
        s.target_us_sum = self.varint()?;
        s.target_us_max = self.varint()?;
        let n = self.small(256, "histogram length")?;
        for _ in 0..n {
            let b = self.byte()?;
            let hits = self.varint()?;
            s.latency_hist.push((b, hits));
        }
        s.first_second = self.small(86_399, "first second")? as u32;
        s.last_second = s.first_second + self.small(86_399, "seconds")? as u32;
        let agent_len = self.small(MAX_AGENT as u64, "agent length")? as usize;
        if agent_len > 0 {
            let mut agent = vec![0u8; agent_len];
            self.inner.read_exact(&mut agent)?;
            if usable_agent(&agent).is_none() {
                return Err(DayError::Corrupt("agent not printable ASCII".into()));
            }
            s.agent = Some(SampledAgent {
                rank: self.varint()?,
                agent: agent.into(),
            });
        }
        self.count += 1;
        self.hits = self.hits.wrapping_add(s.hits);
        self.key = key.clone();
        Ok(Some(UrlHistory {
            key,
            stats: s,
            days_seen: 1,
            first_day: self.day,
            last_day: self.day,
        }))
    }
}

/// A day of the window that could not be used.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DayProblem {
    pub day: String,
    /// `missing` or `corrupt`.
    pub problem: &'static str,
    pub detail: String,
}

/// The days of a window, as found in the store.
#[derive(Debug, Clone)]
pub struct Window {
    pub store: StateStore,
    /// First and last day of the window.
    pub first: NaiveDate,
    pub last: NaiveDate,
    /// Days whose file read back whole.
    pub days: Vec<NaiveDate>,
    /// Days of the window without a usable file.
    pub problems: Vec<DayProblem>,
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

impl Window {
    /// Finds and checks (reads whole) the day files of the window ending on `last`. A day
    /// without a file is a `missing` problem, a file that does not read back whole a `corrupt`
    /// one; both are left out.
    pub fn open(store: &StateStore, last: NaiveDate, window_days: u32) -> io::Result<Window> {
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
        };
        for day in first.iter_days().take_while(|d| *d <= last) {
            if !present.contains_key(&day) {
                w.problems.push(DayProblem {
                    day: day.to_string(),
                    problem: "missing",
                    detail: "no tally for this day in the state".into(),
                });
                continue;
            }
            match check_day(store, day) {
                Ok(()) => w.days.push(day),
                Err(e) => w.problems.push(DayProblem {
                    day: day.to_string(),
                    problem: "corrupt",
                    detail: e.to_string(),
                }),
            }
        }
        Ok(w)
    }

    fn reader(&self, day: NaiveDate) -> Result<DayReader, DayError> {
        let r = self
            .store
            .open(&day_name(day))?
            .ok_or_else(|| DayError::Corrupt("disappeared".into()))?;
        DayReader::new(day, r)
    }

    /// Calls `f` with every URL of the window, merged over the days, in key order. Holds one
    /// record per day in memory.
    pub fn for_each(&self, mut f: impl FnMut(&UrlHistory)) -> Result<(), DayError> {
        let mut readers = Vec::with_capacity(self.days.len());
        let mut heads: Vec<Option<UrlHistory>> = Vec::with_capacity(self.days.len());
        for &d in &self.days {
            let mut r = self.reader(d)?;
            heads.push(r.next_record()?);
            readers.push(r);
        }
        let mut heap: std::collections::BinaryHeap<std::cmp::Reverse<(Vec<u8>, usize)>> = heads
            .iter()
            .enumerate()
            .filter_map(|(i, h)| h.as_ref().map(|h| std::cmp::Reverse((h.key.clone(), i))))
            .collect();
        while let Some(std::cmp::Reverse((key, i))) = heap.pop() {
            // Readers are in day order; pop every reader on this key, oldest day first.
            let mut idx = vec![i];
            while let Some(std::cmp::Reverse((k, _))) = heap.peek()
                && *k == key
            {
                if let Some(std::cmp::Reverse((_, j))) = heap.pop() {
                    idx.push(j);
                }
            }
            idx.sort_unstable();
            let mut merged: Option<UrlHistory> = None;
            for &j in &idx {
                let Some(rec) = heads[j].take() else { continue };
                match &mut merged {
                    None => merged = Some(rec),
                    Some(m) => m.merge(&rec),
                }
                heads[j] = readers[j].next_record()?;
                if let Some(h) = &heads[j] {
                    heap.push(std::cmp::Reverse((h.key.clone(), j)));
                }
            }
            if let Some(m) = merged {
                f(&m);
            }
        }
        Ok(())
    }
}

fn check_day(store: &StateStore, day: NaiveDate) -> Result<(), DayError> {
    let r = store
        .open(&day_name(day))?
        .ok_or_else(|| DayError::Corrupt("disappeared".into()))?;
    let mut reader = DayReader::new(day, r)?;
    while reader.next_record()?.is_some() {}
    Ok(())
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
            assert_eq!(&g.stats, s);
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
        let w = Window::open(&store, day(4), 4).unwrap();
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
        let w = Window::open(&store, day(3), 2).unwrap();
        assert_eq!(w.days, vec![day(3)]);
        assert_eq!(expire(&store, day(3), 2).unwrap(), vec![day(1)]);
        assert_eq!(store.list().unwrap(), vec![day_name(day(3))]);
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
