//! The tester's report: what every URL got and the gate, as a terminal summary, JSON
//! (`--json`) and JUnit XML (`--junit`). A run that could not happen at all is a report too
//! ([`Report::failed`]), so every output and every release hook sees a Failed status.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use serde::Serialize;

use super::CheckConfig;
use super::probe::Answer;
use super::verdict::{self, Gate, Outcome, UrlVerdict};
use crate::list::{ListEntry, RejectedLine};

/// How many failing URLs the terminal summary names (all are in the JSON and JUnit).
pub const SUMMARY_MAX_URLS: usize = 40;

/// One URL's result.
#[derive(Debug, Clone, Serialize)]
pub struct UrlResult {
    /// List line.
    pub line: u64,
    /// `Host` sent (`None`: the endpoint's authority).
    pub host: Option<String>,
    /// Request-target sent.
    pub target: String,
    /// Route template for grouping (`/news/{id}`).
    pub route: String,
    /// The list's expected status, if it has one.
    pub expected_status: Option<u16>,
    /// The verdict (outcome, mismatches, ignored aspects, detail).
    #[serde(flatten)]
    pub verdict: UrlVerdict,
    /// Green's answer, if any.
    pub green: Option<Answer>,
    /// Blue's two answers when a baseline was used (`null` for no answer).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub baseline: Vec<Option<Answer>>,
}

impl UrlResult {
    /// A result without answers, taking the entry's strings instead of copying them (the run
    /// hands every entry over once, when the results are put together).
    pub fn from_entry(entry: ListEntry, verdict: UrlVerdict) -> Self {
        UrlResult {
            route: route_template(&entry.target),
            line: entry.line,
            host: entry.host,
            target: entry.target,
            expected_status: entry.expected_status,
            verdict,
            green: None,
            baseline: Vec::new(),
        }
    }

    fn host_or<'a>(&'a self, default: &'a str) -> &'a str {
        self.host.as_deref().unwrap_or(default)
    }
}

/// Latency percentiles in milliseconds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Latency {
    /// Answers measured.
    pub count: usize,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Slowest.
    pub max: f64,
}

impl Latency {
    /// Nearest-rank percentiles of `ms`; `None` when empty.
    pub fn of(mut ms: Vec<f64>) -> Option<Self> {
        if ms.is_empty() {
            return None;
        }
        ms.sort_by(f64::total_cmp);
        let at = |p: f64| {
            let rank = ((p / 100.0) * ms.len() as f64).ceil() as usize;
            ms[rank.clamp(1, ms.len()) - 1]
        };
        Some(Latency {
            count: ms.len(),
            p50: at(50.0),
            p90: at(90.0),
            p99: at(99.0),
            max: ms[ms.len() - 1],
        })
    }
}

/// The whole run.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Whether the release may go on.
    pub passed: bool,
    /// Why the run could not happen (then `passed` is false and `gate` is absent).
    pub error: Option<String>,
    /// Where the list came from.
    pub list: String,
    /// Green listener.
    pub endpoint: String,
    /// Blue listener, when compared.
    pub baseline: Option<String>,
    /// The gate.
    pub gate: Option<Gate>,
    /// URLs (and rejected lines) per outcome.
    pub counts: BTreeMap<&'static str, u64>,
    /// Green's latency.
    pub latency_ms: Option<Latency>,
    /// Blue's latency (both requests).
    pub baseline_latency_ms: Option<Latency>,
    /// Wall time of the replay, seconds.
    pub duration_s: f64,
    /// List lines refused.
    pub rejected_lines: Vec<RejectedLine>,
    /// Every URL.
    pub urls: Vec<UrlResult>,
}

impl Report {
    /// Judges the results (gate) and builds the report.
    pub fn build(
        cfg: &CheckConfig,
        urls: Vec<UrlResult>,
        rejected: Vec<RejectedLine>,
        elapsed: Duration,
    ) -> Self {
        let outcomes = urls
            .iter()
            .map(|u| u.verdict.outcome)
            .chain(rejected.iter().map(|_| Outcome::Rejected));
        let gate = verdict::gate(outcomes.clone(), cfg.threshold());
        // Counted by position first: a map lookup by name for every URL compared strings
        // (~310 instructions a URL, callgrind).
        let mut by_outcome = [0u64; Outcome::ALL.len()];
        for o in outcomes {
            if let Some(i) = Outcome::ALL.iter().position(|x| *x == o) {
                by_outcome[i] += 1;
            }
        }
        let counts: BTreeMap<&'static str, u64> = Outcome::ALL
            .iter()
            .zip(by_outcome)
            .map(|(o, n)| (o.as_str(), n))
            .collect();
        let latency = Latency::of(
            urls.iter()
                .filter_map(|u| u.green.as_ref())
                .map(|a| a.ms)
                .collect(),
        );
        let baseline_latency = Latency::of(
            urls.iter()
                .flat_map(|u| u.baseline.iter().flatten())
                .map(|a| a.ms)
                .collect(),
        );
        Report {
            passed: gate.passed,
            error: None,
            list: String::new(),
            endpoint: cfg.endpoint.to_string(),
            baseline: cfg.baseline.as_ref().map(ToString::to_string),
            gate: Some(gate),
            counts,
            latency_ms: latency,
            baseline_latency_ms: baseline_latency,
            duration_s: elapsed.as_secs_f64(),
            rejected_lines: rejected,
            urls,
        }
    }

    /// The report of a run that could not happen: failed, with the reason.
    pub fn failed(error: impl Into<String>, list: &str, endpoint: &str) -> Self {
        Report {
            passed: false,
            error: Some(error.into()),
            list: list.to_string(),
            endpoint: endpoint.to_string(),
            baseline: None,
            gate: None,
            counts: BTreeMap::new(),
            latency_ms: None,
            baseline_latency_ms: None,
            duration_s: 0.0,
            rejected_lines: Vec::new(),
            urls: Vec::new(),
        }
    }

    /// `Succeeded` or `Failed`, as CodeDeploy spells it.
    pub fn status_word(&self) -> &'static str {
        if self.passed { "Succeeded" } else { "Failed" }
    }

    /// The JSON report.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| {
            format!("{{\"passed\":false,\"error\":\"report not serialisable: {e}\"}}")
        })
    }

    /// One line for logs and hook descriptions.
    pub fn one_line(&self) -> String {
        if let Some(e) = &self.error {
            return format!("FAILED (could not run): {e}");
        }
        let g = self.gate.as_ref();
        format!(
            "{}: {:.2}% of {} counted URLs passed (threshold {}%); {}",
            if self.passed { "PASSED" } else { "FAILED" },
            g.map_or(0.0, |g| g.share_percent),
            g.map_or(0, |g| g.counted),
            g.map_or(0.0, |g| g.threshold_percent),
            self.counts
                .iter()
                .filter(|(_, n)| **n > 0)
                .map(|(k, n)| format!("{k} {n}"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    }

    /// The terminal summary: verdict, counts, latency, failing URLs grouped by host and route.
    pub fn summary(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "greenlight-tester {}", self.one_line());
        let _ = writeln!(
            s,
            "  list {}  endpoint {}{}",
            self.list,
            self.endpoint,
            self.baseline
                .as_ref()
                .map(|b| format!("  baseline {b}"))
                .unwrap_or_default()
        );
        if self.error.is_some() {
            return s;
        }
        let lat = |name: &str, l: &Option<Latency>, s: &mut String| {
            if let Some(l) = l {
                let _ = writeln!(
                    s,
                    "  {name} latency ms: p50 {:.1}  p90 {:.1}  p99 {:.1}  max {:.1}  ({} answers)",
                    l.p50, l.p90, l.p99, l.max, l.count
                );
            }
        };
        lat("green", &self.latency_ms, &mut s);
        lat("blue ", &self.baseline_latency_ms, &mut s);
        let n = self.urls.len() + self.rejected_lines.len();
        let _ = writeln!(
            s,
            "  {} URLs in {:.1}s ({:.0} URLs/s)",
            n,
            self.duration_s,
            n as f64 / self.duration_s.max(1e-9)
        );
        let default_host = self.endpoint.trim_start_matches("http://").to_string();
        // host -> route -> failing URLs
        let mut groups: BTreeMap<&str, BTreeMap<&str, Vec<&UrlResult>>> = BTreeMap::new();
        for u in &self.urls {
            if !matches!(u.verdict.outcome, Outcome::Pass | Outcome::Noisy) {
                groups
                    .entry(u.host_or(&default_host))
                    .or_default()
                    .entry(u.route.as_str())
                    .or_default()
                    .push(u);
            }
        }
        if !groups.is_empty() {
            let _ = writeln!(s, "  failing URLs by host and route:");
        }
        let mut shown = 0;
        for (host, routes) in &groups {
            let _ = writeln!(s, "    {host}");
            for (route, urls) in routes {
                let _ = writeln!(s, "      {route}  ({} URLs)", urls.len());
                for u in urls {
                    if shown >= SUMMARY_MAX_URLS {
                        continue;
                    }
                    shown += 1;
                    let _ = writeln!(s, "        {}  {}", u.target, describe(u));
                }
            }
        }
        let failing: usize = groups.values().flat_map(|r| r.values()).map(Vec::len).sum();
        if failing > shown {
            let _ = writeln!(
                s,
                "    ... {} more in the JSON/JUnit report",
                failing - shown
            );
        }
        let noisy: Vec<_> = self
            .urls
            .iter()
            .filter(|u| u.verdict.outcome == Outcome::Noisy)
            .collect();
        if !noisy.is_empty() {
            let _ = writeln!(s, "  noisy (not counted):");
            for u in noisy.iter().take(10) {
                let _ = writeln!(
                    s,
                    "    {} {}  {}",
                    u.host_or(&default_host),
                    u.target,
                    u.verdict.detail.as_deref().unwrap_or("")
                );
            }
        }
        if !self.rejected_lines.is_empty() {
            let _ = writeln!(s, "  rejected list lines (counted as failing):");
            for r in self.rejected_lines.iter().take(10) {
                let _ = writeln!(s, "    line {}: {} {}", r.line, r.reason, r.value);
            }
        }
        s
    }

    /// JUnit XML: one test case per URL (class = host), rejected lines as failures, noisy URLs
    /// skipped; a run that could not happen is one erroring test case.
    pub fn to_junit(&self) -> String {
        let mut cases = String::new();
        let (mut failures, mut errors, mut skipped, mut tests) = (0, 0, 0, 0);
        if let Some(e) = &self.error {
            tests += 1;
            errors += 1;
            let _ = writeln!(
                cases,
                "    <testcase classname=\"greenlight-tester\" name=\"run\"><error message=\"{}\"/></testcase>",
                xml(e)
            );
        }
        let default_host = self.endpoint.trim_start_matches("http://").to_string();
        for u in &self.urls {
            tests += 1;
            let time = u.green.as_ref().map_or(0.0, |a| a.ms / 1000.0);
            let _ = write!(
                cases,
                "    <testcase classname=\"{}\" name=\"{}\" time=\"{time:.3}\">",
                xml(u.host_or(&default_host)),
                xml(&u.target)
            );
            match u.verdict.outcome {
                Outcome::Pass => {}
                Outcome::Noisy => {
                    skipped += 1;
                    let _ = write!(
                        cases,
                        "<skipped message=\"{}\"/>",
                        xml(u.verdict.detail.as_deref().unwrap_or("noisy"))
                    );
                }
                Outcome::Fail => {
                    failures += 1;
                    let _ = write!(cases, "<failure message=\"{}\"/>", xml(&describe(u)));
                }
                o => {
                    errors += 1;
                    let _ = write!(
                        cases,
                        "<error type=\"{}\" message=\"{}\"/>",
                        o.as_str(),
                        xml(&describe(u))
                    );
                }
            }
            cases.push_str("</testcase>\n");
        }
        for r in &self.rejected_lines {
            tests += 1;
            failures += 1;
            let _ = writeln!(
                cases,
                "    <testcase classname=\"rejected\" name=\"line {}\"><failure message=\"{}: {}\"/></testcase>",
                r.line,
                r.reason,
                xml(&r.value)
            );
        }
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n  <testsuite name=\"greenlight-tester\" tests=\"{tests}\" failures=\"{failures}\" errors=\"{errors}\" skipped=\"{skipped}\" time=\"{:.3}\">\n{cases}  </testsuite>\n</testsuites>\n",
            self.duration_s
        )
    }
}

/// What went wrong for one URL, in one line.
pub fn describe(u: &UrlResult) -> String {
    let v = &u.verdict;
    if !v.mismatches.is_empty() {
        return v
            .mismatches
            .iter()
            .map(|m| format!("{}: green {} vs expected {}", m.aspect, m.green, m.expected))
            .collect::<Vec<_>>()
            .join("; ");
    }
    format!(
        "{}{}",
        v.outcome.as_str(),
        v.detail
            .as_deref()
            .map(|d| format!(": {d}"))
            .unwrap_or_default()
    )
}

/// A route template for grouping: the query is dropped and path segments that look like ids
/// (digits, long hex, UUIDs) become `{id}`.
pub fn route_template(target: &str) -> String {
    let path = memchr::memchr(b'?', target.as_bytes()).map_or(target, |q| &target[..q]);
    // Written segment by segment into one string (once per URL; collecting the segments and
    // joining them took ~1,290 instructions a URL against ~830, callgrind), split at `/` as one
    // of a set of chars (the single `char` pattern's searcher cost ~215 instructions a URL
    // more).
    let mut out = String::with_capacity(path.len() + 8);
    for (i, seg) in path.split(['/']).enumerate() {
        if i > 0 {
            out.push('/');
        }
        let is_id = !seg.is_empty()
            && (seg.bytes().all(|b| b.is_ascii_digit())
                || (seg.len() >= 8
                    && seg.bytes().any(|b| b.is_ascii_digit())
                    && seg.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-')));
        out.push_str(if is_id { "{id}" } else { seg });
    }
    out
}

fn xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 && c != '\t' => {
                let _ = write!(out, "&#xFFFD;");
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        assert_eq!(route_template("/news/123?x=1"), "/news/{id}");
        assert_eq!(
            route_template("/u/550e8400-e29b-41d4-a716-446655440000/p"),
            "/u/{id}/p"
        );
        assert_eq!(route_template("/about/team"), "/about/team");
        assert_eq!(route_template("/"), "/");
        // Empty segments stay; hex needs a digit and eight characters to be an id.
        assert_eq!(route_template("/a//7/"), "/a//{id}/");
        assert_eq!(
            route_template("/deadbeef/deadbee1/1a2b"),
            "/deadbeef/{id}/1a2b"
        );
        assert_eq!(route_template("/x?/1"), "/x");
    }

    #[test]
    fn percentiles() {
        let l = Latency::of((1..=100).map(f64::from).collect()).unwrap();
        assert_eq!((l.p50, l.p90, l.p99, l.max), (50.0, 90.0, 99.0, 100.0));
        assert!(Latency::of(vec![]).is_none());
    }

    #[test]
    fn failed_report_is_failed_everywhere() {
        let r = Report::failed("no list", "x.csv", "http://127.0.0.1:1");
        assert!(!r.passed);
        assert_eq!(r.status_word(), "Failed");
        assert!(r.to_junit().contains("<error message=\"no list\"/>"));
        assert!(r.to_json().contains("\"passed\": false"));
    }

    #[test]
    fn xml_escaping() {
        assert_eq!(
            xml("/a?b=1&c=<\"x\">"),
            "/a?b=1&amp;c=&lt;&quot;x&quot;&gt;"
        );
    }
}
