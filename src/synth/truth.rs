//! What the generator knows about the tree it wrote: the expected list and counts per mined day.
//!
//! Everything here is computed from the generator's own choices (which host, which path bytes,
//! which status, which reason a line was built to fail), never by parsing or filtering lines, so
//! it is independent of the miner's code.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::Serialize;

use crate::mine::filter::Reject;
use crate::source::SkipReason;

/// Tracking parameters removed from listed queries (exact, case-sensitive names).
pub const TRACKING_PARAMS: [&str; 7] = [
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_term",
    "utm_content",
    "gclid",
    "fbclid",
];

/// One expected list entry's figures.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct UrlTruth {
    /// Lines of the mined day that list under this entry.
    pub hits: u64,
    /// Those lines by ELB status code.
    pub statuses: BTreeMap<u16, u64>,
}

impl UrlTruth {
    /// The most frequent ELB status; ties go to the lowest code.
    pub fn status(&self) -> u16 {
        let mut best: Option<(u16, u64)> = None;
        for (&code, &n) in &self.statuses {
            // BTreeMap iterates codes in ascending order, so `>` keeps the lowest on ties.
            if best.is_none_or(|(_, m)| n > m) {
                best = Some((code, n));
            }
        }
        best.map_or(0, |(code, _)| code)
    }
}

/// Expected figures for mining one day `D`, reading the day folders `D` and `D+1` (and no
/// others).
///
/// Every line of every access-log object in those two folders is counted exactly once, so
/// `lines_read == kept_lines + rejects.values().sum() + other_day + garbage_lines`:
/// - `garbage_lines`: lines built not to parse (binary junk, a truncated line, a line of 19
///   fields). They carry no usable time, so they count for every day whose folders hold them.
/// - `other_day`: parseable lines whose own `time` is not on `D` (the 23:55-24:00 objects of
///   `D` live in folder `D+1` next to `D+1`'s own lines; the first objects of a folder start
///   with a few lines from just before midnight). This is [`Reject::OtherDay`]; it depends on
///   which folders a miner reads, so it is kept out of `rejects`.
/// - `rejects`: lines of `D` by the [`Reject`] they were built to fail, keyed by
///   [`Reject::as_str`]. Each such line passes every check before that one in the enum's order.
/// - `kept_lines`: lines of `D` that are replayable; they make `list`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DayTruth {
    /// Expected list entries keyed by `(host, path_and_query)` as listed: the host lower-case
    /// with the scheme's default port dropped (`host:port` otherwise); the path and query byte
    /// for byte as sent, tracking parameters ([`TRACKING_PARAMS`]) removed (and the `?` with
    /// them when nothing is left), and only space, `"`, `#`, control bytes and bytes >= 0x80
    /// percent-encoded (upper-case hex). `http` and `https` requests for the same host and path
    /// make one entry.
    pub list: BTreeMap<(String, String), UrlTruth>,
    /// Lines of `D` per reject reason (never `other_day`; absent reasons are absent keys).
    pub rejects: BTreeMap<&'static str, u64>,
    pub kept_lines: u64,
    pub other_day: u64,
    pub garbage_lines: u64,
    /// Objects in folders `D` and `D+1` that must be skipped by key, by reason.
    pub skipped: BTreeMap<SkipReason, u64>,
    /// Every line (including garbage and other days' lines) of the access-log objects read.
    pub lines_read: u64,
    /// Access-log objects in folders `D` and `D+1`.
    pub objects_read: u64,
    /// Parseable lines of those objects (any day) by field count.
    pub field_counts: BTreeMap<usize, u64>,
}

impl DayTruth {
    /// Sum of `rejects`.
    pub fn rejected_lines(&self) -> u64 {
        self.rejects.values().sum()
    }

    /// Total hits of the list (equals `kept_lines`).
    pub fn list_hits(&self) -> u64 {
        self.list.values().map(|u| u.hits).sum()
    }
}

/// The same figures for one day folder, for miners that read other folder sets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FolderTruth {
    /// Parseable lines of this folder by the day of their own `time`.
    pub by_day: BTreeMap<NaiveDate, DayLines>,
    pub garbage_lines: u64,
    pub lines: u64,
    pub access_log_objects: u64,
    pub skipped: BTreeMap<SkipReason, u64>,
    pub field_counts: BTreeMap<usize, u64>,
}

/// Parseable lines of one folder whose `time` is on one day.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DayLines {
    pub list: BTreeMap<(String, String), UrlTruth>,
    pub rejects: BTreeMap<Reject, u64>,
    pub kept_lines: u64,
    pub lines: u64,
}

/// What [`super::write_tree`] wrote, and what mining it must give.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Truth {
    /// Per mined day: each configured day whose folders `D` and `D+1` both exist in the tree.
    pub days: BTreeMap<NaiveDate, DayTruth>,
    /// Per day folder written (configured days plus the day after the last).
    pub folders: BTreeMap<NaiveDate, FolderTruth>,
    /// Whole tree, for coverage checks: lines per kind label and objects per object label.
    /// Every line counts once under `kept`, `reject:<reason>` (the reason it was built to fail
    /// when its own day is mined) or `garbage:<binary|truncated|short>`, and once more under each
    /// label that applies: `kept:<feature>`, `reject:<reason>:<variant>`, `fields:<n>` (every
    /// parseable line), `other_day` (its time is not on the day whose objects hold it). Objects:
    /// `object:multi_member`, `object:second_for_interval`, `object:delivered_next_day`.
    pub kinds: BTreeMap<String, u64>,
    /// Whole tree: skipped objects by reason.
    pub skipped: BTreeMap<SkipReason, u64>,
    /// Whole tree: every object written, access logs and skipped ones.
    pub objects: u64,
    pub access_log_objects: u64,
    /// Whole tree: lines of the access-log objects.
    pub lines: u64,
}

/// How a generated line fares when its own day is mined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Fate {
    Kept {
        host: String,
        path: String,
        status: u16,
    },
    Rejected(Reject),
    Garbage,
}

impl Truth {
    pub(crate) fn folder(&mut self, day: NaiveDate) -> &mut FolderTruth {
        self.folders.entry(day).or_default()
    }

    pub(crate) fn count_kind(&mut self, label: &str) {
        *self.kinds.entry(label.to_string()).or_default() += 1;
    }

    pub(crate) fn record_line(
        &mut self,
        folder: NaiveDate,
        day: Option<NaiveDate>,
        fate: Fate,
        fields: Option<usize>,
    ) {
        self.lines += 1;
        let f = self.folder(folder);
        f.lines += 1;
        if let Some(n) = fields {
            *f.field_counts.entry(n).or_default() += 1;
        }
        match (fate, day) {
            (Fate::Garbage, _) | (_, None) => f.garbage_lines += 1,
            (fate, Some(day)) => {
                let d = f.by_day.entry(day).or_default();
                d.lines += 1;
                match fate {
                    Fate::Kept { host, path, status } => {
                        d.kept_lines += 1;
                        let u = d.list.entry((host, path)).or_default();
                        u.hits += 1;
                        *u.statuses.entry(status).or_default() += 1;
                    }
                    Fate::Rejected(r) => *d.rejects.entry(r).or_default() += 1,
                    Fate::Garbage => unreachable!("handled above"),
                }
            }
        }
    }

    pub(crate) fn record_skip(&mut self, folder: NaiveDate, reason: SkipReason) {
        self.objects += 1;
        *self.skipped.entry(reason).or_default() += 1;
        *self.folder(folder).skipped.entry(reason).or_default() += 1;
    }

    pub(crate) fn record_object(&mut self, folder: NaiveDate) {
        self.objects += 1;
        self.access_log_objects += 1;
        self.folder(folder).access_log_objects += 1;
    }

    /// Fills `days` from `folders` for the configured days.
    pub(crate) fn finish(&mut self, days: impl IntoIterator<Item = NaiveDate>) {
        for day in days {
            let Some(next) = day.succ_opt() else { continue };
            let (Some(a), Some(b)) = (self.folders.get(&day), self.folders.get(&next)) else {
                continue;
            };
            let mut t = DayTruth::default();
            for f in [a, b] {
                t.garbage_lines += f.garbage_lines;
                t.lines_read += f.lines;
                t.objects_read += f.access_log_objects;
                for (r, n) in &f.skipped {
                    *t.skipped.entry(*r).or_default() += n;
                }
                for (k, n) in &f.field_counts {
                    *t.field_counts.entry(*k).or_default() += n;
                }
                for (d, lines) in &f.by_day {
                    if *d != day {
                        t.other_day += lines.lines;
                        continue;
                    }
                    t.kept_lines += lines.kept_lines;
                    for (r, n) in &lines.rejects {
                        *t.rejects.entry(r.as_str()).or_default() += n;
                    }
                    for (key, u) in &lines.list {
                        let e = t.list.entry(key.clone()).or_default();
                        e.hits += u.hits;
                        for (s, n) in &u.statuses {
                            *e.statuses.entry(*s).or_default() += n;
                        }
                    }
                }
            }
            self.days.insert(day, t);
        }
    }

    /// A JSON rendering (stable key order), for fixtures and tools written in other languages.
    pub fn to_json(&self) -> serde_json::Value {
        #[derive(Serialize)]
        struct Entry<'a> {
            host: &'a str,
            path: &'a str,
            hits: u64,
            status: u16,
        }
        #[derive(Serialize)]
        struct Day<'a> {
            list_len: usize,
            kept_lines: u64,
            rejects: &'a BTreeMap<&'static str, u64>,
            other_day: u64,
            garbage_lines: u64,
            skipped: &'a BTreeMap<SkipReason, u64>,
            lines_read: u64,
            objects_read: u64,
            field_counts: &'a BTreeMap<usize, u64>,
            list: Vec<Entry<'a>>,
        }
        let days: BTreeMap<String, Day<'_>> = self
            .days
            .iter()
            .map(|(d, t)| {
                let list = t
                    .list
                    .iter()
                    .map(|((host, path), u)| Entry {
                        host,
                        path,
                        hits: u.hits,
                        status: u.status(),
                    })
                    .collect();
                let day = Day {
                    list_len: t.list.len(),
                    kept_lines: t.kept_lines,
                    rejects: &t.rejects,
                    other_day: t.other_day,
                    garbage_lines: t.garbage_lines,
                    skipped: &t.skipped,
                    lines_read: t.lines_read,
                    objects_read: t.objects_read,
                    field_counts: &t.field_counts,
                    list,
                };
                (d.to_string(), day)
            })
            .collect();
        serde_json::json!({
            "objects": self.objects,
            "access_log_objects": self.access_log_objects,
            "lines": self.lines,
            "skipped": self.skipped,
            "kinds": self.kinds,
            "days": days,
        })
    }
}

/// The listed form of a host: lower-case, the scheme's default port dropped.
pub fn listed_host(scheme: &str, host: &str, port: u16) -> String {
    let default = match scheme {
        "http" => 80,
        "https" => 443,
        _ => 0,
    };
    let host = host.to_ascii_lowercase();
    if port == default {
        host
    } else {
        format!("{host}:{port}")
    }
}

/// The listed form of a path and query as sent (raw bytes, not `\xHH`-escaped): tracking
/// parameters removed, then space, `"`, `#`, control bytes and bytes >= 0x80 percent-encoded.
pub fn listed_path(raw: &[u8]) -> String {
    let stripped;
    let bytes = match raw.iter().position(|&b| b == b'?') {
        None => raw,
        Some(q) => {
            let kept: Vec<&[u8]> = raw[q + 1..]
                .split(|&b| b == b'&')
                .filter(|param| {
                    let name = param.split(|&b| b == b'=').next().unwrap_or_default();
                    !TRACKING_PARAMS.iter().any(|t| t.as_bytes() == name)
                })
                .collect();
            let mut out = raw[..q].to_vec();
            if !kept.is_empty() {
                out.push(b'?');
                out.extend_from_slice(&kept.join(&b'&'));
            }
            stripped = out;
            &stripped[..]
        }
    };
    let mut s = String::with_capacity(bytes.len());
    for &b in bytes {
        if b == b' ' || b == b'"' || b == b'#' || !(0x20..0x7f).contains(&b) {
            s.push_str(&format!("%{b:02X}"));
        } else {
            s.push(b as char);
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_tracking_and_encodes() {
        assert_eq!(listed_path(b"/a?utm_source=x&id=3"), "/a?id=3");
        assert_eq!(listed_path(b"/a?id=3&gclid=Cj0&fbclid=Iw"), "/a?id=3");
        assert_eq!(listed_path(b"/a?utm_source=x"), "/a");
        assert_eq!(listed_path(b"/caf\xc3\xa9/m?q=a b"), "/caf%C3%A9/m?q=a%20b");
        assert_eq!(listed_path(b"/s?q=\"x\"&p=%2F"), "/s?q=%22x%22&p=%2F");
    }

    #[test]
    fn hosts_drop_default_ports_only() {
        assert_eq!(
            listed_host("https", "WWW.Example.com", 443),
            "www.example.com"
        );
        assert_eq!(
            listed_host("https", "shop.example.com", 8443),
            "shop.example.com:8443"
        );
        assert_eq!(listed_host("http", "a.example", 443), "a.example:443");
    }

    #[test]
    fn status_ties_go_to_lowest() {
        let u = UrlTruth {
            hits: 4,
            statuses: [(304, 2), (200, 2)].into_iter().collect(),
        };
        assert_eq!(u.status(), 200);
    }
}
