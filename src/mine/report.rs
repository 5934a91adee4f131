//! The run report: what a mining run read, left out (by reason) and wrote, as JSON
//! (`--report FILE`) and as a short human summary on stderr.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use super::filter::Reject;
use super::scan::{FIELD_COUNT_SLOTS, LineError, ObjectFailure, ScanStats};
use crate::alb::record::{KNOWN_FIELDS, KNOWN_LAYOUTS, MIN_FIELDS};
use crate::source::Listing;

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
    /// Where the list was written; `None` when no list was written.
    pub list: Option<String>,
    pub folders: Vec<String>,
    pub objects: ObjectsReport,
    pub bytes: BytesReport,
    pub lines: LinesReport,
    pub requests: RequestsReport,
    pub urls: UrlsReport,
    pub elapsed_seconds: f64,
    pub uncompressed_mb_per_second: f64,
    pub lines_per_second: f64,
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
    pub failures: Vec<ObjectFailure>,
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
    pub rejected_examples: Vec<LineError>,
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
            elapsed_seconds: 0.0,
            uncompressed_mb_per_second: 0.0,
            lines_per_second: 0.0,
        }
    }

    pub fn add_listing(&mut self, listing: &Listing) {
        self.folders = listing.folders.clone();
        self.objects.selected = listing.objects.len() as u64;
        self.objects.skipped_by_key = listing
            .skipped
            .iter()
            .map(|(reason, n)| (reason.as_str().to_owned(), *n))
            .collect();
        self.objects.next_day_not_in_window = listing.not_in_window;
        self.objects.missing_folders = listing.missing_folders.clone();
    }

    pub fn add_scan(&mut self, stats: &ScanStats, distinct_urls: usize) {
        self.objects.read = stats.objects_read;
        self.objects.failed = stats.objects_failed;
        self.objects.failures = stats.failures.clone();
        self.bytes = BytesReport {
            compressed: stats.compressed_bytes,
            uncompressed: stats.uncompressed_bytes,
        };
        let parse_errors = stats.parse_error_lines();
        let mut field_counts = BTreeMap::new();
        let mut unusual = 0;
        let mut trailing = 0;
        for (count, &n) in stats
            .field_counts
            .iter()
            .enumerate()
            .filter(|(_, n)| **n > 0)
        {
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
            total: stats.lines,
            parsed: stats.lines - parse_errors,
            rejected: stats
                .parse_errors
                .iter()
                .map(|(k, v)| ((*k).to_owned(), *v))
                .collect(),
            rejected_examples: stats.parse_error_examples.clone(),
            field_counts,
            unusual_field_counts: unusual,
            with_unknown_trailing_fields: trailing,
        };
        self.requests = RequestsReport {
            kept: stats.kept,
            filtered: Reject::ALL
                .iter()
                .filter(|r| stats.rejected_for(**r) > 0)
                .map(|r| (r.as_str().to_owned(), stats.rejected_for(*r)))
                .collect(),
            tracking_params_removed: stats.tracking_removed,
        };
        self.urls.distinct = distinct_urls as u64;
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
        let _ = writeln!(
            s,
            "  speed: {:.2} s, {:.1} MB/s uncompressed, {:.0} lines/s",
            self.elapsed_seconds, self.uncompressed_mb_per_second, self.lines_per_second
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
