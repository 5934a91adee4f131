//! Which requests may be replayed, and why the others are left out.
//!
//! A request is replayable when it reached the application and can be sent again without side
//! effects: by default a GET, forwarded to a target that answered, with an ELB status of 2xx or
//! 3xx, not a WebSocket or gRPC stream, not classified `Severe`, with a well-formed URL on a host
//! that is a DNS name (never an IP literal or the ALB's own name), from a client that is not a
//! health checker or monitor, and without a credential in the URL. [`Policy`] holds the knobs;
//! [`Policy::admit`] runs the checks in [`Reject`]'s order and normalises the URL on the way;
//! its three parts (the request, the URL alone, this hit) are public so that a caller can
//! remember the URL's verdict.

use crate::alb::{AlbRecord, ConnType, Escaped};

use super::normalize::{HostKind, NormalizeOptions, Normalized, normalize};

/// Why a parsed request is left out of the list. Checks run in this order and a line is counted
/// under the first one it fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reject {
    /// The line's own `time` is not on the mined day (delivery lag, neighbouring folders).
    OtherDay,
    /// `type` is not one greenlight knows.
    UnknownType,
    /// `ws`, `wss` or `grpcs`: not a plain request/response.
    ConnType,
    /// The ALB could not parse the request (`"- http://host:80- -"`).
    MalformedRequest,
    /// The method is not allowed (default: GET only).
    Method,
    /// Not forwarded to a target: WAF block, redirect, fixed response, authentication only.
    NotForwarded,
    /// The target did not answer (`target_status_code` is `-`).
    NoTargetResponse,
    /// The ELB status is not allowed (default: 2xx and 3xx).
    Status,
    /// Desync mitigation classified the request `Severe`.
    Severe,
    /// The URL is not a well-formed `http(s)://host[:port]/path` (or tries to leave its origin).
    BadUrl,
    /// The host is an IP literal.
    HostIpLiteral,
    /// The host is the ALB's own `*.elb.amazonaws.com` name.
    HostAlbName,
    /// The host is not on the `--host` allow-list.
    HostNotAllowed,
    /// The user agent matches an `--exclude-agent` pattern (health checkers, monitors).
    Agent,
    /// The query or path carries something that looks like a credential: never listed.
    Credential,
}

impl Reject {
    pub const ALL: [Reject; 15] = [
        Reject::OtherDay,
        Reject::UnknownType,
        Reject::ConnType,
        Reject::MalformedRequest,
        Reject::Method,
        Reject::NotForwarded,
        Reject::NoTargetResponse,
        Reject::Status,
        Reject::Severe,
        Reject::BadUrl,
        Reject::HostIpLiteral,
        Reject::HostAlbName,
        Reject::HostNotAllowed,
        Reject::Agent,
        Reject::Credential,
    ];

    /// The snake_case name used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Reject::OtherDay => "other_day",
            Reject::UnknownType => "unknown_type",
            Reject::ConnType => "conn_type",
            Reject::MalformedRequest => "malformed_request",
            Reject::Method => "method",
            Reject::NotForwarded => "not_forwarded",
            Reject::NoTargetResponse => "no_target_response",
            Reject::Status => "status",
            Reject::Severe => "severe",
            Reject::BadUrl => "bad_url",
            Reject::HostIpLiteral => "host_ip_literal",
            Reject::HostAlbName => "host_alb_name",
            Reject::HostNotAllowed => "host_not_allowed",
            Reject::Agent => "agent",
            Reject::Credential => "credential",
        }
    }
}

/// Which ELB status codes are replayable: a set of codes from 100 to 599.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusSet([u64; 10]);

impl StatusSet {
    pub fn empty() -> Self {
        StatusSet([0; 10])
    }

    /// Adds `2xx`-style classes or single codes, e.g. `"2xx"`, `"304"`, `"2xx,3xx"`.
    pub fn add_spec(&mut self, spec: &str) -> Result<(), String> {
        for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let lower = item.to_ascii_lowercase();
            if let Some(class) = lower.strip_suffix("xx")
                && let Ok(c @ 1..=5) = class.parse::<u16>()
            {
                (c * 100..c * 100 + 100).for_each(|code| self.insert(code));
            } else if let Ok(code @ 100..=599) = lower.parse::<u16>() {
                self.insert(code);
            } else {
                return Err(format!(
                    "'{item}' is not a status class (2xx) or code (100-599)"
                ));
            }
        }
        Ok(())
    }

    fn insert(&mut self, code: u16) {
        self.0[usize::from(code / 64)] |= 1 << (code % 64);
    }

    pub fn contains(&self, code: u16) -> bool {
        code < 640 && self.0[usize::from(code / 64)] & (1 << (code % 64)) != 0
    }
}

impl Default for StatusSet {
    /// 2xx and 3xx.
    fn default() -> Self {
        let mut s = StatusSet::empty();
        (200..400).for_each(|c| s.insert(c));
        s
    }
}

/// A `--host` allow-list entry: `example.com` (exactly that host) or `*.example.com` (any host
/// below it, not the apex itself). Matched case-insensitively against the host without port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPattern {
    /// Lower-cased; for a wildcard, the suffix including its leading dot.
    pattern: Vec<u8>,
    wildcard: bool,
}

impl HostPattern {
    pub fn parse(s: &str) -> Result<Self, String> {
        let lower = s.trim().to_ascii_lowercase();
        let (name, wildcard) = match lower.strip_prefix("*.") {
            Some(rest) => (rest, true),
            None => (lower.as_str(), false),
        };
        let valid = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'));
        if !valid {
            return Err(format!("'{s}' is not a host name or a *.domain wildcard"));
        }
        let pattern = if wildcard {
            format!(".{name}").into_bytes()
        } else {
            name.as_bytes().to_vec()
        };
        Ok(HostPattern { pattern, wildcard })
    }

    pub fn matches(&self, host: &[u8]) -> bool {
        if self.wildcard {
            host.len() > self.pattern.len()
                && host[host.len() - self.pattern.len()..].eq_ignore_ascii_case(&self.pattern)
        } else {
            host.eq_ignore_ascii_case(&self.pattern)
        }
    }
}

/// User agents of health checkers and uptime monitors: their requests say nothing about what
/// real clients ask for. Matched as case-insensitive substrings.
pub const DEFAULT_EXCLUDED_AGENTS: &[&str] = &[
    "elb-healthchecker",
    "healthcheck",
    "health-check",
    "kube-probe",
    "pingdom",
    "uptimerobot",
    "statuscake",
    "site24x7",
    "newrelicpinger",
    "datadog/synthetics",
    "cloudwatchsynthetics",
    "googlestackdrivermonitoring",
    "uptime-kuma",
    "betteruptime",
    "better uptime",
    "freshping",
    "hetrixtools",
    "nagios",
    "check_http",
    "zabbix",
    "catchpoint",
];

/// The knobs of the replayability filter. `Policy::default()` is the documented default.
#[derive(Debug, Clone)]
pub struct Policy {
    /// The mined day as `YYYY-MM-DD`; lines whose `time` is on another day are left out.
    pub day: [u8; 10],
    /// Allowed methods (exact, case-sensitive as HTTP methods are). Default: GET.
    pub methods: Vec<Vec<u8>>,
    /// Allowed ELB status codes. Default: 2xx and 3xx.
    pub statuses: StatusSet,
    /// Host allow-list; empty means every host that is a DNS name.
    pub hosts: Vec<HostPattern>,
    /// User-agent substrings to leave out (see [`Policy::exclude_agents`]).
    excluded_agents: AgentPatterns,
    pub normalize: NormalizeOptions,
}

impl Policy {
    /// The default policy for `day`.
    pub fn for_day(day: chrono::NaiveDate) -> Self {
        let mut p = Policy {
            day: [0; 10],
            methods: vec![b"GET".to_vec()],
            statuses: StatusSet::default(),
            hosts: Vec::new(),
            excluded_agents: AgentPatterns::new(DEFAULT_EXCLUDED_AGENTS.iter().copied()),
            normalize: NormalizeOptions::default(),
        };
        p.set_day(day);
        p
    }

    /// Mines `day` (UTC) with the same knobs: only `day` changes.
    pub fn set_day(&mut self, day: chrono::NaiveDate) {
        self.day
            .copy_from_slice(day.format("%Y-%m-%d").to_string().as_bytes());
    }

    /// Runs every check on `rec` in [`Reject`]'s order. On success the normalised URL is in
    /// `scratch.url` (see [`Normalized`]). One [`Scratch`] per thread, reused from line to line.
    ///
    /// The same as [`Policy::admit_request`], then [`Policy::admit_url`], then
    /// [`Policy::admit_hit`]: a caller that remembers `admit_url`'s verdict per URL (the scan
    /// does, see `mine::memo`) runs the three itself.
    pub fn admit(&self, rec: &AlbRecord<'_>, scratch: &mut Scratch) -> Result<Normalized, Reject> {
        self.admit_request(rec)?;
        let n = self.admit_url(rec.request.url, scratch)?;
        self.admit_hit(rec.user_agent, &n, scratch)?;
        Ok(n)
    }

    /// The checks on the request apart from its URL: day, type, method, actions, statuses,
    /// classification.
    #[inline(always)]
    pub fn admit_request(&self, rec: &AlbRecord<'_>) -> Result<(), Reject> {
        if rec.date_bytes() != self.day {
            return Err(Reject::OtherDay);
        }
        match rec.conn_type {
            ConnType::Http | ConnType::Https | ConnType::H2 => {}
            ConnType::Ws | ConnType::Wss | ConnType::Grpcs => return Err(Reject::ConnType),
            ConnType::Unknown(_) => return Err(Reject::UnknownType),
        }
        if rec.request.malformed {
            return Err(Reject::MalformedRequest);
        }
        if !self.methods.iter().any(|m| m == rec.request.method) {
            return Err(Reject::Method);
        }
        if !rec.forwarded_only() {
            return Err(Reject::NotForwarded);
        }
        if rec.target_status_code.is_none() {
            return Err(Reject::NoTargetResponse);
        }
        match rec.elb_status_code {
            Some(code) if self.statuses.contains(code) => {}
            _ => return Err(Reject::Status),
        }
        if rec.is_severe() {
            return Err(Reject::Severe);
        }
        Ok(())
    }

    /// The checks that depend on the URL (as logged) alone: it normalises, and its host is
    /// a listable one. The verdict is a function of `url` and the policy, so it may be
    /// remembered per URL. On success the normalised URL is in `scratch.url`.
    pub fn admit_url(&self, url: Escaped<'_>, scratch: &mut Scratch) -> Result<Normalized, Reject> {
        let url = url.decode();
        let n = normalize(&url, &self.normalize, &mut scratch.url)?;
        if n.host_kind == HostKind::IpLiteral {
            return Err(Reject::HostIpLiteral);
        }
        let host = n.host_name(&scratch.url);
        if is_alb_name(host) {
            return Err(Reject::HostAlbName);
        }
        if !self.hosts.is_empty() && !self.hosts.iter().any(|p| p.matches(host)) {
            return Err(Reject::HostNotAllowed);
        }
        Ok(n)
    }

    /// The last checks, on this hit of an admitted URL `n`: the client is not one to leave
    /// out, and the URL holds no credential (checked last so that a monitor's request counts
    /// as `Agent` whatever its URL, as [`Reject`]'s order says).
    pub fn admit_hit(
        &self,
        user_agent: Escaped<'_>,
        n: &Normalized,
        scratch: &mut Scratch,
    ) -> Result<(), Reject> {
        if scratch
            .agents
            .is_excluded(&self.excluded_agents, user_agent.raw())
        {
            return Err(Reject::Agent);
        }
        if n.has_credential {
            return Err(Reject::Credential);
        }
        Ok(())
    }

    /// Adds user-agent substrings to leave out (case-insensitive).
    pub fn exclude_agents<'s>(&mut self, patterns: impl IntoIterator<Item = &'s str>) {
        let mut all = std::mem::take(&mut self.excluded_agents.patterns);
        all.extend(patterns.into_iter().map(str::to_owned));
        self.excluded_agents = AgentPatterns::new(all.iter().map(String::as_str));
    }

    /// Drops every user-agent pattern, the built-in ones included.
    pub fn clear_excluded_agents(&mut self) {
        self.excluded_agents = AgentPatterns::new(std::iter::empty());
    }

    /// The user-agent substrings left out.
    pub fn excluded_agents(&self) -> &[String] {
        &self.excluded_agents.patterns
    }
}

/// A thread's reusable state for [`Policy::admit`]. Belongs to one policy: create a new one
/// when the policy changes.
#[derive(Debug, Default)]
pub struct Scratch {
    /// The normalised URL of the last admitted request (`host SP request-target`).
    pub url: Vec<u8>,
    agents: AgentVerdicts,
}

/// Verdicts on user agents already seen by this thread. A day's traffic comes from a few
/// thousand distinct agents, so most lines cost one hash lookup instead of a scan of the agent
/// for every pattern. Bounded: agents are attacker-chosen, and past the bound the patterns are
/// simply matched again.
#[derive(Debug, Default)]
struct AgentVerdicts {
    seen: std::collections::HashMap<Box<[u8]>, bool, foldhash::fast::RandomState>,
}

/// Most agents remembered per thread (and longest agent remembered): a few MB at most.
const AGENT_CACHE_ENTRIES: usize = 8192;
const AGENT_CACHE_MAX_LEN: usize = 512;

impl AgentVerdicts {
    fn is_excluded(&mut self, patterns: &AgentPatterns, agent: &[u8]) -> bool {
        if let Some(&verdict) = self.seen.get(agent) {
            return verdict;
        }
        let verdict = patterns.matches(agent);
        if self.seen.len() < AGENT_CACHE_ENTRIES && agent.len() <= AGENT_CACHE_MAX_LEN {
            self.seen.insert(agent.into(), verdict);
        }
        verdict
    }
}

/// User-agent substrings, matched case-insensitively in one pass over the (still escaped)
/// agent: one Aho-Corasick automaton for all patterns, built once per policy.
#[derive(Debug, Clone)]
struct AgentPatterns {
    patterns: Vec<String>,
    matcher: Option<aho_corasick::AhoCorasick>,
}

impl AgentPatterns {
    fn new<'s>(patterns: impl Iterator<Item = &'s str>) -> Self {
        let patterns: Vec<String> = patterns
            .filter(|p| !p.is_empty())
            .map(str::to_owned)
            .collect();
        // Building fails only past the automaton's size limits, far beyond any agent list; the
        // patterns are then matched one by one instead.
        let matcher = (!patterns.is_empty())
            .then(|| {
                aho_corasick::AhoCorasick::builder()
                    .ascii_case_insensitive(true)
                    .kind(Some(aho_corasick::AhoCorasickKind::DFA))
                    .build(&patterns)
                    .ok()
            })
            .flatten();
        AgentPatterns { patterns, matcher }
    }

    fn matches(&self, agent: &[u8]) -> bool {
        match &self.matcher {
            Some(m) => m.is_match(agent),
            None => self.patterns.iter().any(|p| {
                agent
                    .windows(p.len())
                    .any(|w| w.eq_ignore_ascii_case(p.as_bytes()))
            }),
        }
    }
}

/// The ALB's own DNS name (`my-alb-123.eu-west-1.elb.amazonaws.com`, also the China partition).
fn is_alb_name(host: &[u8]) -> bool {
    let host = host.strip_suffix(b".").unwrap_or(host);
    [&b".elb.amazonaws.com"[..], b".elb.amazonaws.com.cn"]
        .iter()
        .any(|s| host.len() > s.len() && host[host.len() - s.len()..].eq_ignore_ascii_case(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_specs() {
        let d = StatusSet::default();
        assert!(d.contains(200) && d.contains(304) && d.contains(399));
        assert!(!d.contains(199) && !d.contains(404) && !d.contains(500));
        let mut s = StatusSet::empty();
        s.add_spec("2xx, 404").unwrap();
        assert!(s.contains(250) && s.contains(404) && !s.contains(301));
        assert!(s.add_spec("6xx").is_err());
        assert!(s.add_spec("99").is_err());
        assert!(s.add_spec("abc").is_err());
        assert!(!s.contains(639) && !s.contains(9999));
    }

    #[test]
    fn host_patterns() {
        let exact = HostPattern::parse("Example.com").unwrap();
        assert!(exact.matches(b"example.com") && exact.matches(b"EXAMPLE.COM"));
        assert!(!exact.matches(b"www.example.com"));
        let wild = HostPattern::parse("*.example.com").unwrap();
        assert!(wild.matches(b"www.example.com") && wild.matches(b"a.b.example.com"));
        assert!(!wild.matches(b"example.com") && !wild.matches(b"badexample.com"));
        assert!(HostPattern::parse("*.").is_err());
        assert!(HostPattern::parse("a b").is_err());
    }

    #[test]
    fn alb_names() {
        assert!(is_alb_name(b"my-alb-1234.eu-west-1.elb.amazonaws.com"));
        assert!(is_alb_name(b"internal-x.cn-north-1.elb.amazonaws.com.cn"));
        assert!(!is_alb_name(b"elb.amazonaws.com"));
        assert!(!is_alb_name(b"www.example.com"));
    }

    #[test]
    fn reasons_have_unique_names_in_order() {
        let names: Vec<_> = Reject::ALL.iter().map(|r| r.as_str()).collect();
        let mut sorted = Reject::ALL.to_vec();
        sorted.sort();
        assert_eq!(sorted, Reject::ALL.to_vec(), "ALL is in check order");
        let unique: std::collections::BTreeSet<_> = names.iter().collect();
        assert_eq!(unique.len(), names.len());
    }
}
