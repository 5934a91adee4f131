//! The run report: what a mining run read, left out (by reason), kept in its state and wrote,
//! with the table of strata (route templates) the list covers, as JSON (`--report FILE`) and as
//! a short human summary on stderr. The scan figures are those of the last mined day.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use super::filter::Reject;
use super::scan::{FIELD_COUNT_SLOTS, ScanStats};
#[cfg(doc)]
use super::scan::{LineError, ObjectFailure};
use crate::alb::record::{KNOWN_FIELDS, KNOWN_LAYOUTS, MIN_FIELDS};
use crate::history::{DayProblem, Window};
use crate::sample::{Sample, SampleConfig, StratumReport};
use crate::source::Listing;

/// Rows of the strata table kept in the JSON report (most hit first) and left-out strata named.
pub const STRATA_ROWS: usize = 500;

/// How many example parse errors a report keeps (as the scan does).
const MAX_EXAMPLES: usize = 20;

/// An object that could not be read to its end (as [`ObjectFailure`], owned, for partials).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailedObject {
    pub key: String,
    /// Complete lines read before the failure (they were counted).
    pub lines_before: u64,
    pub error: String,
}

/// A line that could not be parsed (as [`LineError`], owned, for partials).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BadLine {
    pub key: String,
    /// 1-based line number within the object.
    pub line: u64,
    pub reason: String,
    pub message: String,
}

/// What mining one day found: its listing and its scan figures, as the report shows them and
/// as the run's checks (error rates) use them. A shard (`--shard I/N`) keeps its own in its
/// partial tally, as one JSON line; the merge adds the shards' up ([`DayFigures::add_shard`])
/// and reports and checks them exactly as one run over every object would.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayFigures {
    /// The listing, the same for every shard of a day.
    pub listing: ListingFigures,
    pub objects_read: u64,
    pub objects_failed: u64,
    /// Sorted by key.
    pub failures: Vec<FailedObject>,
    pub compressed_bytes: u64,
    pub uncompressed_bytes: u64,
    pub lines: u64,
    pub parse_errors: BTreeMap<String, u64>,
    /// The first [`MAX_EXAMPLES`] by (key, line).
    pub parse_error_examples: Vec<BadLine>,
    /// Parsed lines by field count (the last slot: that many or more).
    pub field_counts: Vec<u64>,
    /// Requests left out, indexed like [`Reject::ALL`].
    pub rejected: Vec<u64>,
    pub kept: u64,
    pub tracking_removed: u64,
}

/// The day's listing, in short.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListingFigures {
    pub folders: Vec<String>,
    pub selected: u64,
    pub skipped_by_key: BTreeMap<String, u64>,
    pub next_day_not_in_window: u64,
    pub missing_folders: Vec<String>,
    /// FNV-1a (64-bit, hex) over the selected objects' keys and sizes: shards that listed
    /// different objects (a late delivery between two shards' runs) do not merge.
    pub objects_digest: String,
}

impl ListingFigures {
    pub fn new(listing: &Listing) -> Self {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for o in &listing.objects {
            for &b in o
                .key
                .as_bytes()
                .iter()
                .chain(b"\n")
                .chain(&o.size.to_le_bytes())
            {
                h ^= u64::from(b);
                h = h.wrapping_mul(0x0100_0000_01b3);
            }
        }
        ListingFigures {
            folders: listing.folders.clone(),
            selected: listing.objects.len() as u64,
            skipped_by_key: listing
                .skipped
                .iter()
                .map(|(reason, n)| (reason.as_str().to_owned(), *n))
                .collect(),
            next_day_not_in_window: listing.not_in_window,
            missing_folders: listing.missing_folders.clone(),
            objects_digest: format!("{h:016x}"),
        }
    }
}

impl DayFigures {
    /// The figures of a scan of (some of) the day's objects.
    pub fn new(listing: ListingFigures, stats: &ScanStats) -> Self {
        DayFigures {
            listing,
            objects_read: stats.objects_read,
            objects_failed: stats.objects_failed,
            failures: stats
                .failures
                .iter()
                .map(|f| FailedObject {
                    key: f.key.clone(),
                    lines_before: f.lines_before,
                    error: f.error.clone(),
                })
                .collect(),
            compressed_bytes: stats.compressed_bytes,
            uncompressed_bytes: stats.uncompressed_bytes,
            lines: stats.lines,
            parse_errors: stats
                .parse_errors
                .iter()
                .map(|(k, v)| ((*k).to_owned(), *v))
                .collect(),
            parse_error_examples: stats
                .parse_error_examples
                .iter()
                .map(|e| BadLine {
                    key: e.key.clone(),
                    line: e.line,
                    reason: e.reason.to_owned(),
                    message: e.message.clone(),
                })
                .collect(),
            field_counts: stats.field_counts.to_vec(),
            rejected: stats.rejected.to_vec(),
            kept: stats.kept,
            tracking_removed: stats.tracking_removed,
        }
    }

    /// Lines that could not be parsed.
    pub fn parse_error_lines(&self) -> u64 {
        self.parse_errors.values().sum()
    }

    /// Adds another shard's figures of the same day (same listing) into these.
    pub fn add_shard(&mut self, other: DayFigures) -> Result<(), String> {
        if other.listing != self.listing {
            return Err(format!(
                "the shards listed different objects ({} vs {} selected, digest {} vs {}): \
                 mine the day's shards again",
                self.listing.selected,
                other.listing.selected,
                self.listing.objects_digest,
                other.listing.objects_digest
            ));
        }
        if other.field_counts.len() != self.field_counts.len()
            || other.rejected.len() != self.rejected.len()
        {
            return Err("the shards were mined by different greenlight versions".into());
        }
        self.objects_read += other.objects_read;
        self.objects_failed += other.objects_failed;
        self.failures.extend(other.failures);
        self.failures.sort_by(|a, b| a.key.cmp(&b.key));
        self.compressed_bytes += other.compressed_bytes;
        self.uncompressed_bytes += other.uncompressed_bytes;
        self.lines += other.lines;
        for (k, v) in other.parse_errors {
            *self.parse_errors.entry(k).or_default() += v;
        }
        self.parse_error_examples.extend(other.parse_error_examples);
        self.parse_error_examples
            .sort_by(|a, b| (&a.key, a.line).cmp(&(&b.key, b.line)));
        self.parse_error_examples.truncate(MAX_EXAMPLES);
        for (a, b) in self.field_counts.iter_mut().zip(other.field_counts) {
            *a += b;
        }
        for (a, b) in self.rejected.iter_mut().zip(other.rejected) {
            *a += b;
        }
        self.kept += other.kept;
        self.tracking_removed += other.tracking_removed;
        Ok(())
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub greenlight_version: &'static str,
    /// The mined day (UTC), `YYYY-MM-DD`.
    pub day: String,
    pub logs: String,
    /// `ok`, or `failed` with `error` saying why.
    pub outcome: &'static str,
    pub error: Option<String>,
    /// The exit code the miner ends with.
    pub exit_code: i32,
    /// `I/N` for a shard run (`--shard`), which writes a partial tally and no list.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shard: Option<String>,
    /// Where the list was written; `None` when no list was written.
    pub list: Option<String>,
    pub folders: Vec<String>,
    pub objects: ObjectsReport,
    pub bytes: BytesReport,
    pub lines: LinesReport,
    pub requests: RequestsReport,
    pub urls: UrlsReport,
    pub history: HistoryReport,
    pub sample: SampleReport,
    pub elapsed_seconds: f64,
    pub uncompressed_mb_per_second: f64,
    pub lines_per_second: f64,
    /// What inflated the objects: `isa-l` (where `libisal.so.2` is installed), `libdeflate`,
    /// or `flate2` (`GREENLIGHT_INFLATE=stream`); see [`crate::mine::scan::Inflate`].
    pub inflate: &'static str,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct ObjectsReport {
    /// ALB access-log objects selected for the day.
    pub selected: u64,
    pub read: u64,
    pub failed: u64,
    /// Objects in the day folders skipped by key, by reason.
    pub skipped_by_key: BTreeMap<String, u64>,
    /// Access logs in the next day's folder delivered after the late-delivery margin: they
    /// cannot hold the day's requests and were not read.
    pub next_day_not_in_window: u64,
    /// Day folders that do not exist (yet). A missing next-day folder means the last minutes
    /// of the day may be missing.
    pub missing_folders: Vec<String>,
    pub failures: Vec<FailedObject>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct BytesReport {
    pub compressed: u64,
    pub uncompressed: u64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct LinesReport {
    pub total: u64,
    pub parsed: u64,
    /// Lines that are not access-log records, by reason.
    pub rejected: BTreeMap<String, u64>,
    pub rejected_examples: Vec<BadLine>,
    /// Parsed lines by number of fields (`"64+"` for that many or more).
    pub field_counts: BTreeMap<String, u64>,
    /// Parsed lines whose field count is not a layout AWS has written (a format change shows up
    /// here first).
    pub unusual_field_counts: u64,
    /// Parsed lines with fields after the last one greenlight knows (ignored, counted).
    pub with_unknown_trailing_fields: u64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct RequestsReport {
    /// Requests admitted to the tally.
    pub kept: u64,
    /// Parsed requests left out, by reason (in the order the checks run).
    pub filtered: BTreeMap<String, u64>,
    pub tracking_params_removed: u64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct UrlsReport {
    pub distinct: u64,
    pub listed: u64,
    pub max_urls: u64,
}

/// The state and the retention window.
#[derive(Debug, Clone, Default, Serialize)]
pub struct HistoryReport {
    pub state: String,
    pub window_days: u32,
    /// `first..=last` day of the window the list was built from.
    pub window: String,
    /// Days of the window whose tally was used.
    pub days_used: u64,
    /// Days of the window without a usable tally (missing or corrupt): the list was built
    /// without them.
    pub problems: Vec<DayProblem>,
    /// Tallies dropped as older than the window.
    pub expired: Vec<String>,
    /// The days this run mined, in order.
    pub mined: Vec<MinedDay>,
    /// Whether the second read of the window (sampling) took the first read's merged records,
    /// kept in memory; false when they were over `--window-memory-mb` and the day files were
    /// read again, or when the window's only day was the one just mined (already in memory).
    pub second_read_from_copy: bool,
}

/// One mined day, in short.
#[derive(Debug, Clone, Default, Serialize)]
pub struct MinedDay {
    pub day: String,
    pub objects_read: u64,
    pub lines: u64,
    pub kept: u64,
    pub distinct_urls: u64,
}

/// A stratum the list does not cover.
#[derive(Debug, Clone, Serialize)]
pub struct LeftOut {
    pub host: String,
    pub template: String,
    pub urls_seen: u64,
    pub hits: u64,
}

/// The sampling: what the window held and what the list covers.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SampleReport {
    pub seed: u64,
    pub max_urls: u64,
    pub head_share: f64,
    pub rare_share: f64,
    pub time_budget_seconds: Option<f64>,
    pub concurrency: u64,
    pub urls_in_window: u64,
    pub hits_in_window: u64,
    pub strata_seen: u64,
    pub strata_covered: u64,
    /// Share of the window's hits that the listed URLs carry.
    pub traffic_covered: f64,
    /// Estimated test time of the list at `concurrency`, in seconds.
    pub est_test_seconds: f64,
    /// URLs the time budget kept out.
    pub skipped_for_time: u64,
    pub head_over_time_budget: bool,
    /// Head URLs of an already covered stratum left out so that every stratum fits the budget.
    pub head_yielded: u64,
    /// Path positions not tracked by the route learner (its table was full).
    pub route_positions_untracked: u64,
    pub listed_by_class: BTreeMap<String, u64>,
    /// Strata without any listed URL (the first `STRATA_ROWS`, most hit first).
    pub left_out: Vec<LeftOut>,
    pub left_out_total: u64,
    /// The strata table (the first `STRATA_ROWS`, most hit first).
    pub strata: Vec<StratumReport>,
}

impl RunReport {
    /// A report of a run that has not read anything yet.
    pub fn new(day: &str, logs: &str, max_urls: usize) -> Self {
        RunReport {
            greenlight_version: env!("CARGO_PKG_VERSION"),
            day: day.to_owned(),
            logs: logs.to_owned(),
            outcome: "ok",
            error: None,
            exit_code: 0,
            shard: None,
            list: None,
            folders: Vec::new(),
            objects: ObjectsReport::default(),
            bytes: BytesReport::default(),
            lines: LinesReport::default(),
            requests: RequestsReport::default(),
            urls: UrlsReport {
                max_urls: max_urls as u64,
                ..UrlsReport::default()
            },
            history: HistoryReport::default(),
            sample: SampleReport::default(),
            elapsed_seconds: 0.0,
            uncompressed_mb_per_second: 0.0,
            lines_per_second: 0.0,
            inflate: crate::mine::scan::Inflate::in_use().name(),
        }
    }

    pub fn add_listing(&mut self, listing: &ListingFigures) {
        self.folders = listing.folders.clone();
        self.objects.selected = listing.selected;
        self.objects.skipped_by_key = listing.skipped_by_key.clone();
        self.objects.next_day_not_in_window = listing.next_day_not_in_window;
        self.objects.missing_folders = listing.missing_folders.clone();
    }

    pub fn add_scan(&mut self, f: &DayFigures, distinct_urls: u64) {
        self.objects.read = f.objects_read;
        self.objects.failed = f.objects_failed;
        self.objects.failures = f.failures.clone();
        self.bytes = BytesReport {
            compressed: f.compressed_bytes,
            uncompressed: f.uncompressed_bytes,
        };
        let parse_errors = f.parse_error_lines();
        let mut field_counts = BTreeMap::new();
        let mut unusual = 0;
        let mut trailing = 0;
        for (count, &n) in f.field_counts.iter().enumerate().filter(|(_, n)| **n > 0) {
            let name = if count == FIELD_COUNT_SLOTS - 1 {
                format!("{count}+")
            } else {
                format!("{count:02}")
            };
            field_counts.insert(name, n);
            if count < MIN_FIELDS || !KNOWN_LAYOUTS.contains(&count) {
                unusual += n;
            }
            if count > KNOWN_FIELDS {
                trailing += n;
            }
        }
        self.lines = LinesReport {
            total: f.lines,
            parsed: f.lines.saturating_sub(parse_errors),
            rejected: f.parse_errors.clone(),
            rejected_examples: f.parse_error_examples.clone(),
            field_counts,
            unusual_field_counts: unusual,
            with_unknown_trailing_fields: trailing,
        };
        let rejected_for = |r: Reject| f.rejected.get(r as usize).copied().unwrap_or(0);
        self.requests = RequestsReport {
            kept: f.kept,
            filtered: Reject::ALL
                .iter()
                .filter(|r| rejected_for(**r) > 0)
                .map(|r| (r.as_str().to_owned(), rejected_for(*r)))
                .collect(),
            tracking_params_removed: f.tracking_removed,
        };
        self.urls.distinct = distinct_urls;
    }

    pub fn add_window(&mut self, w: &Window) {
        self.history.window = format!("{}..={}", w.first, w.last);
        self.history.days_used = w.days.len() as u64;
        self.history.problems = w.problems.clone();
    }

    pub fn add_sample(&mut self, s: &Sample, cfg: &SampleConfig, untracked: u64) {
        let listed_hits: u64 = s.picks.iter().map(|p| p.url.stats.hits).sum();
        let mut by_class = BTreeMap::new();
        for p in &s.picks {
            *by_class.entry(p.class.as_str().to_owned()).or_insert(0) += 1;
        }
        let left_out: Vec<&StratumReport> = s.strata.iter().filter(|r| !r.covered).collect();
        self.sample = SampleReport {
            seed: cfg.seed,
            max_urls: cfg.max_urls as u64,
            head_share: cfg.head_share,
            rare_share: cfg.rare_share,
            time_budget_seconds: cfg.time_budget,
            concurrency: cfg.concurrency as u64,
            urls_in_window: s.urls_seen,
            hits_in_window: s.hits_seen,
            strata_seen: s.strata.len() as u64,
            strata_covered: s.strata.iter().filter(|r| r.covered).count() as u64,
            traffic_covered: listed_hits as f64 / s.hits_seen.max(1) as f64,
            est_test_seconds: s.est_seconds,
            skipped_for_time: s.skipped_for_time,
            head_over_time_budget: s.head_over_time_budget,
            head_yielded: s.head_yielded,
            route_positions_untracked: untracked,
            listed_by_class: by_class,
            left_out_total: left_out.len() as u64,
            left_out: left_out
                .iter()
                .take(STRATA_ROWS)
                .map(|r| LeftOut {
                    host: r.host.clone(),
                    template: r.template.clone(),
                    urls_seen: r.urls_seen,
                    hits: r.hits,
                })
                .collect(),
            strata: s.strata.iter().take(STRATA_ROWS).cloned().collect(),
        };
    }

    pub fn set_elapsed(&mut self, seconds: f64) {
        self.elapsed_seconds = seconds;
        if seconds > 0.0 {
            self.uncompressed_mb_per_second = self.bytes.uncompressed as f64 / 1e6 / seconds;
            self.lines_per_second = self.lines.total as f64 / seconds;
        }
    }

    /// The short human summary printed on stderr.
    pub fn summary(&self) -> String {
        let mut s = String::new();
        let o = &self.objects;
        let skipped: u64 = o.skipped_by_key.values().sum();
        let _ = writeln!(
            s,
            "greenlight-miner {}: day {} from {}",
            self.greenlight_version, self.day, self.logs
        );
        let _ = writeln!(
            s,
            "  objects: {} read, {} failed, {} skipped by key{}",
            o.read,
            o.failed,
            skipped,
            fmt_map(&o.skipped_by_key)
        );
        for m in &o.missing_folders {
            let _ = writeln!(s, "    missing folder: {m}");
        }
        for f in &o.failures {
            let _ = writeln!(
                s,
                "    failed: {}: {} (after {} lines)",
                f.key, f.error, f.lines_before
            );
        }
        let _ = writeln!(
            s,
            "  bytes: {:.1} MB compressed, {:.1} MB uncompressed",
            self.bytes.compressed as f64 / 1e6,
            self.bytes.uncompressed as f64 / 1e6
        );
        let l = &self.lines;
        let _ = writeln!(
            s,
            "  lines: {} read, {} parsed, {} rejected{}",
            l.total,
            l.parsed,
            l.total - l.parsed,
            fmt_map(&l.rejected)
        );
        for e in l.rejected_examples.iter().take(3) {
            let _ = writeln!(s, "    e.g. {} line {}: {}", e.key, e.line, e.message);
        }
        let _ = writeln!(
            s,
            "  field counts: {}{}",
            l.field_counts
                .iter()
                .map(|(k, v)| format!("{k}:{v}"))
                .collect::<Vec<_>>()
                .join(" "),
            if l.unusual_field_counts > 0 {
                format!(
                    " ({} lines with an unusual count, {} with unknown trailing fields)",
                    l.unusual_field_counts, l.with_unknown_trailing_fields
                )
            } else {
                String::new()
            }
        );
        let r = &self.requests;
        let filtered: u64 = r.filtered.values().sum();
        let _ = writeln!(
            s,
            "  requests: {} kept, {} filtered{}; tracking parameters removed from {}",
            r.kept,
            filtered,
            fmt_map(&r.filtered),
            r.tracking_params_removed
        );
        let _ = writeln!(
            s,
            "  urls: {} distinct, {} listed (max {})",
            self.urls.distinct, self.urls.listed, self.urls.max_urls
        );
        let h = &self.history;
        if !h.state.is_empty() {
            let _ = writeln!(
                s,
                "  state: {} (window {} days: {}, {} days used{})",
                h.state,
                h.window_days,
                h.window,
                h.days_used,
                if h.expired.is_empty() {
                    String::new()
                } else {
                    format!(", {} expired", h.expired.len())
                }
            );
            for p in &h.problems {
                if p.problem != "missing" {
                    let _ = writeln!(s, "    {} {}: {}", p.problem, p.day, p.detail);
                }
            }
            let missing = h.problems.iter().filter(|p| p.problem == "missing").count();
            if missing > 0 {
                let _ = writeln!(s, "    {missing} days of the window have no tally");
            }
        }
        let sm = &self.sample;
        if sm.strata_seen > 0 {
            let _ = writeln!(
                s,
                "  sample: {} URLs in the window, {} strata, {} covered; the list carries {:.1}% of the \
                 window's hits; est. test time {:.1} s at concurrency {} (seed {})",
                sm.urls_in_window,
                sm.strata_seen,
                sm.strata_covered,
                sm.traffic_covered * 100.0,
                sm.est_test_seconds,
                sm.concurrency,
                sm.seed
            );
            let _ = writeln!(
                s,
                "    {:<40} {:>8} {:>10} {:>7} {:>9} {:>8}",
                "stratum", "urls", "hits", "listed", "traffic", "est s"
            );
            for r in sm.strata.iter().take(12) {
                let _ = writeln!(
                    s,
                    "    {:<40} {:>8} {:>10} {:>7} {:>8.1}% {:>8.2}",
                    format!("{} {}", r.host, r.template),
                    r.urls_seen,
                    r.hits,
                    r.urls_listed,
                    r.hits_listed as f64 * 100.0 / r.hits.max(1) as f64,
                    r.est_seconds
                );
            }
            if sm.strata.len() > 12 {
                let _ = writeln!(
                    s,
                    "    ... {} more strata in the JSON report",
                    sm.strata_seen - 12
                );
            }
            if sm.left_out_total > 0 {
                let names: Vec<String> = sm
                    .left_out
                    .iter()
                    .take(5)
                    .map(|l| format!("{} {}", l.host, l.template))
                    .collect();
                let _ = writeln!(
                    s,
                    "    LEFT OUT: {} strata not covered within the budget (e.g. {}){}",
                    sm.left_out_total,
                    names.join(", "),
                    if sm.skipped_for_time > 0 {
                        format!("; {} URLs did not fit the time budget", sm.skipped_for_time)
                    } else {
                        String::new()
                    }
                );
            }
        }
        let _ = writeln!(
            s,
            "  speed: {:.2} s, {:.1} MB/s uncompressed, {:.0} lines/s (inflate: {})",
            self.elapsed_seconds,
            self.uncompressed_mb_per_second,
            self.lines_per_second,
            self.inflate
        );
        match (&self.error, &self.list) {
            (Some(e), _) => {
                let _ = writeln!(s, "FAILED (exit {}): {e}", self.exit_code);
            }
            (None, Some(list)) => {
                let _ = writeln!(s, "wrote {} URLs to {list}", self.urls.listed);
            }
            (None, None) => {}
        }
        s
    }
}

fn fmt_map(m: &BTreeMap<String, u64>) -> String {
    if m.is_empty() {
        return String::new();
    }
    let items: Vec<_> = m.iter().map(|(k, v)| format!("{k} {v}")).collect();
    format!(" ({})", items.join(", "))
}
