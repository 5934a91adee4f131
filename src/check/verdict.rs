//! Judging answers: one URL's outcome (against the list's expected status, or against the
//! baseline with noise detection), and the gate over all URLs (`--threshold`).
//!
//! Pure functions over [`Answer`]s, no I/O, so every rule has a unit test.
//!
//! Differential rules (with a baseline): blue is asked twice. A URL whose two blue statuses
//! differ is `noisy` and does not count. Otherwise green must match blue on status, and on each
//! of `Location` (normalised, see [`normalize_location`]), `Content-Type` and body digest that
//! was the same in both blue answers; an aspect that differed between the blue answers is not
//! compared for that URL (listed in `ignored`).

use serde::Serialize;

use super::probe::{Answer, ProbeError};

/// The outcome of one list line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Green answered as expected.
    Pass,
    /// Green answered differently (see the mismatches).
    Fail,
    /// Green gave no answer (timeout, connection error).
    Error,
    /// The baseline gave no answer, so the URL could not be judged (counts as failing).
    BaselineError,
    /// Blue's own status was unstable: reported, not counted.
    Noisy,
    /// The list line was refused (not origin-form ...): counts as failing.
    Rejected,
    /// Not requested before `--deadline`: counts as failing.
    NotRun,
}

impl Outcome {
    /// Every outcome, in report order.
    pub const ALL: [Outcome; 7] = [
        Outcome::Pass,
        Outcome::Fail,
        Outcome::Error,
        Outcome::BaselineError,
        Outcome::Noisy,
        Outcome::Rejected,
        Outcome::NotRun,
    ];

    /// The name used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Fail => "fail",
            Outcome::Error => "error",
            Outcome::BaselineError => "baseline_error",
            Outcome::Noisy => "noisy",
            Outcome::Rejected => "rejected",
            Outcome::NotRun => "not_run",
        }
    }

    /// Whether the URL counts towards the pass share (everything but `noisy`).
    pub fn counts(self) -> bool {
        self != Outcome::Noisy
    }
}

/// One aspect where green differs from what was expected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mismatch {
    /// `status`, `location`, `content_type` or `body`.
    pub aspect: &'static str,
    /// What green answered.
    pub green: String,
    /// What was expected (the list's status, or blue's answer).
    pub expected: String,
}

/// The verdict on one URL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UrlVerdict {
    /// The outcome.
    pub outcome: Outcome,
    /// Why it failed (empty unless `fail`).
    pub mismatches: Vec<Mismatch>,
    /// Aspects not compared because blue's two answers differed on them.
    pub ignored: Vec<&'static str>,
    /// A short explanation for errors and noise.
    pub detail: Option<String>,
}

impl UrlVerdict {
    fn of(outcome: Outcome, detail: Option<String>) -> Self {
        UrlVerdict {
            outcome,
            mismatches: Vec::new(),
            ignored: Vec::new(),
            detail,
        }
    }
}

/// Without a baseline: green passes when its status is the list's `expected_status` (200 when
/// the list has none, as the original Lambda did).
pub fn judge_expected(expected: Option<u16>, green: &Result<Answer, ProbeError>) -> UrlVerdict {
    let want = expected.unwrap_or(200);
    match green {
        Err(e) => UrlVerdict::of(Outcome::Error, Some(e.to_string())),
        Ok(a) if a.status == want => UrlVerdict::of(Outcome::Pass, None),
        Ok(a) => UrlVerdict {
            outcome: Outcome::Fail,
            mismatches: vec![Mismatch {
                aspect: "status",
                green: a.status.to_string(),
                expected: want.to_string(),
            }],
            ignored: Vec::new(),
            detail: None,
        },
    }
}

/// The host and listener a `Location` is normalised against.
#[derive(Debug, Clone)]
pub struct LocationContext<'a> {
    /// The `Host` sent (list host, or the listener's authority).
    pub host: &'a str,
    /// The authority connected to (`127.0.0.1:8080`).
    pub listener: &'a str,
}

/// Normalises a `Location` for comparison between listeners: an absolute URL that points back
/// at the requested host (any scheme or port) or at the listener itself becomes its path
/// (`http://www.example.com:8081/new` -> `/new`), so blue and green listening on different
/// ports or schemes compare equal. Redirects to other hosts keep scheme and authority.
pub fn normalize_location(loc: &str, ctx: &LocationContext<'_>) -> String {
    let lower = loc.to_ascii_lowercase();
    let rest = lower
        .strip_prefix("http://")
        .map(|_| &loc[7..])
        .or_else(|| lower.strip_prefix("https://").map(|_| &loc[8..]));
    let Some(rest) = rest else {
        return loc.to_string();
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = rest[..end].to_ascii_lowercase();
    let path = if end == rest.len() { "/" } else { &rest[end..] };
    let host_only = |a: &str| -> String {
        if a.starts_with('[') {
            a.split_inclusive(']').next().unwrap_or(a).to_string()
        } else {
            a.split(':').next().unwrap_or(a).to_string()
        }
    };
    let target_host = host_only(&authority);
    if target_host == host_only(&ctx.host.to_ascii_lowercase())
        || authority == ctx.listener.to_ascii_lowercase()
    {
        path.to_string()
    } else {
        loc.to_string()
    }
}

/// With a baseline: green against blue, blue asked twice (see the module docs).
pub fn judge_differential(
    green: &Result<Answer, ProbeError>,
    green_ctx: &LocationContext<'_>,
    blue: [&Result<Answer, ProbeError>; 2],
    blue_ctx: &LocationContext<'_>,
) -> UrlVerdict {
    let (b1, b2) = match (blue[0], blue[1]) {
        (Ok(b1), Ok(b2)) => (b1, b2),
        (Err(e), _) | (_, Err(e)) => {
            return UrlVerdict::of(Outcome::BaselineError, Some(format!("baseline: {e}")));
        }
    };
    if b1.status != b2.status {
        return UrlVerdict::of(
            Outcome::Noisy,
            Some(format!(
                "baseline status unstable: {} then {}",
                b1.status, b2.status
            )),
        );
    }
    let g = match green {
        Ok(g) => g,
        Err(e) => return UrlVerdict::of(Outcome::Error, Some(e.to_string())),
    };
    let mut v = UrlVerdict::of(Outcome::Pass, None);
    if g.status != b1.status {
        v.mismatches.push(Mismatch {
            aspect: "status",
            green: g.status.to_string(),
            expected: b1.status.to_string(),
        });
    }
    let loc = |a: &Answer, ctx| a.location.as_deref().map(|l| normalize_location(l, ctx));
    let (bl1, bl2, gl) = (loc(b1, blue_ctx), loc(b2, blue_ctx), loc(g, green_ctx));
    compare(&mut v, "location", [&bl1, &bl2], &gl);
    compare(
        &mut v,
        "content_type",
        [&b1.content_type, &b2.content_type],
        &g.content_type,
    );
    if g.status == b1.status {
        let digest = |a: &Answer| format!("sha256:{} ({} bytes)", a.body_sha256, a.body_len);
        if b1.body_sha256 != b2.body_sha256 {
            v.ignored.push("body");
        } else if g.body_sha256 != b1.body_sha256 {
            v.mismatches.push(Mismatch {
                aspect: "body",
                green: digest(g),
                expected: digest(b1),
            });
        }
    }
    if !v.mismatches.is_empty() {
        v.outcome = Outcome::Fail;
    }
    v
}

fn compare(
    v: &mut UrlVerdict,
    aspect: &'static str,
    blue: [&Option<String>; 2],
    green: &Option<String>,
) {
    if blue[0] != blue[1] {
        v.ignored.push(aspect);
    } else if green != blue[0] {
        let show = |o: &Option<String>| o.clone().unwrap_or_else(|| "(none)".into());
        v.mismatches.push(Mismatch {
            aspect,
            green: show(green),
            expected: show(blue[0]),
        });
    }
}

/// The gate over all URLs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Gate {
    /// Whether the release may go on.
    pub passed: bool,
    /// URLs that passed.
    pub passing: u64,
    /// URLs that count (all but noisy).
    pub counted: u64,
    /// `passing / counted` in percent (0 when nothing counts).
    pub share_percent: f64,
    /// The threshold applied, percent.
    pub threshold_percent: f64,
}

/// Applies the threshold: passes when at least one URL passed and the share of passing URLs is
/// at least `threshold` percent. An empty list (nothing counted) fails, and so does a run where
/// nothing passed, whatever the threshold (even `--threshold 0` never passes on no answer).
pub fn gate(outcomes: impl IntoIterator<Item = Outcome>, threshold: f64) -> Gate {
    let (mut passing, mut counted) = (0u64, 0u64);
    for o in outcomes {
        if o.counts() {
            counted += 1;
        }
        if o == Outcome::Pass {
            passing += 1;
        }
    }
    let share = if counted == 0 {
        0.0
    } else {
        passing as f64 * 100.0 / counted as f64
    };
    Gate {
        passed: passing > 0 && share >= threshold,
        passing,
        counted,
        share_percent: share,
        threshold_percent: threshold,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::probe::BodyDigest;

    fn a(status: u16, loc: Option<&str>, body: &str) -> Result<Answer, ProbeError> {
        Ok(Answer {
            status,
            location: loc.map(str::to_string),
            content_type: Some("text/html".into()),
            body_sha256: BodyDigest::of(body.as_bytes()),
            body_len: 1,
            body_truncated: false,
            ms: 1.0,
        })
    }
    const G: LocationContext<'static> = LocationContext {
        host: "www.example.com",
        listener: "127.0.0.1:8081",
    };
    const B: LocationContext<'static> = LocationContext {
        host: "www.example.com",
        listener: "127.0.0.1:8080",
    };

    #[test]
    fn expected_status() {
        assert_eq!(
            judge_expected(None, &a(200, None, "x")).outcome,
            Outcome::Pass
        );
        assert_eq!(
            judge_expected(Some(301), &a(301, None, "x")).outcome,
            Outcome::Pass
        );
        let v = judge_expected(None, &a(404, None, "x"));
        assert_eq!(v.outcome, Outcome::Fail);
        assert_eq!(v.mismatches[0].expected, "200");
        let v = judge_expected(None, &Err(ProbeError::Timeout));
        assert_eq!(v.outcome, Outcome::Error);
    }

    #[test]
    fn location_normalisation() {
        let n = |l| normalize_location(l, &G);
        assert_eq!(n("http://www.example.com:8081/new"), "/new");
        assert_eq!(n("HTTPS://WWW.example.com/new?a=1"), "/new?a=1");
        assert_eq!(n("http://127.0.0.1:8081"), "/");
        assert_eq!(n("/rel"), "/rel");
        assert_eq!(
            n("https://other.example.com/x"),
            "https://other.example.com/x"
        );
    }

    #[test]
    fn differential_same_redirect_on_other_port_passes() {
        let b = a(301, Some("http://www.example.com:8080/new"), "r");
        let g = a(301, Some("http://www.example.com:8081/new"), "r");
        assert_eq!(
            judge_differential(&g, &G, [&b, &b], &B).outcome,
            Outcome::Pass
        );
        let g = a(301, Some("http://www.example.com:8081/old"), "r");
        let v = judge_differential(&g, &G, [&b, &b], &B);
        assert_eq!(v.outcome, Outcome::Fail);
        assert_eq!(v.mismatches[0].aspect, "location");
    }

    #[test]
    fn differential_noise() {
        let b1 = a(200, None, "t1");
        let b2 = a(200, None, "t2");
        let g = a(200, None, "t3");
        let v = judge_differential(&g, &G, [&b1, &b2], &B);
        assert_eq!(v.outcome, Outcome::Pass);
        assert_eq!(v.ignored, ["body"]);
        let v = judge_differential(&g, &G, [&b1, &b1], &B);
        assert_eq!(v.outcome, Outcome::Fail);
        assert_eq!(v.mismatches[0].aspect, "body");
        let v = judge_differential(&g, &G, [&b1, &a(503, None, "x")], &B);
        assert_eq!(v.outcome, Outcome::Noisy);
        let v = judge_differential(&g, &G, [&b1, &Err(ProbeError::Timeout)], &B);
        assert_eq!(v.outcome, Outcome::BaselineError);
    }

    #[test]
    fn differential_status() {
        let b = a(200, None, "x");
        let v = judge_differential(&a(500, None, "y"), &G, [&b, &b], &B);
        assert_eq!(v.outcome, Outcome::Fail);
        assert_eq!(v.mismatches.len(), 1, "no body comparison across statuses");
    }

    #[test]
    fn gate_threshold() {
        use Outcome::*;
        let g = gate([Pass, Pass, Pass, Fail, Noisy], 75.0);
        assert!(g.passed);
        assert_eq!((g.passing, g.counted), (3, 4));
        assert!(!gate([Pass, Pass, Pass, Fail], 75.1).passed);
        assert!(!gate([], 0.0).passed);
        assert!(!gate([Noisy], 0.0).passed);
        assert!(!gate([Pass, Rejected], 99.0).passed);
        assert!(!gate([Error, Error], 0.0).passed);
        assert!(!gate([Rejected], 0.0).passed);
        assert!(gate([Pass, Error], 0.0).passed);
    }
}
