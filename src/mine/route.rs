//! Route templates: which URLs of a host are "the same page with another value"
//! (`/news/2024/some-slug` and `/news/2023/other-story` -> `/news/{year}/{slug}`). Templates
//! are the strata of the sampler.
//!
//! A template is made of the path's segments (the query and a trailing slash are left out:
//! they tell variants of one route apart, see [`variant_of`]). Three sources, in this order:
//!
//! 1. **Rules** from a `--routes FILE` ([`RouteRules::parse`]): the first matching line gives
//!    the template, as written.
//! 2. **Built-in shapes** of one segment: numbers (`{year}` for 1900..2099, `{n}` otherwise),
//!    dates (`{date}`), UUIDs (`{uuid}`), hex of 16+ digits (`{hex}`), opaque tokens of 20+
//!    letters and digits (`{token}`), and hyphenated slugs below the first segment (`{slug}`).
//!    A file extension is not part of the shape (`/p/12.json` -> `/p/{n}`).
//! 3. **Learned positions**: a [`Learner`] sees every URL of the window once; a segment
//!    position below the first (host + the templated segments before it) that takes at least
//!    `min_distinct` different values becomes `{var}`. The first segment is never learned: a
//!    site's top-level folders are its sections, each a route of its own.
//!
//! This module only maps URLs to templates; it knows nothing of tallies, history or budgets.

use std::collections::HashMap;

/// The variable part of one segment, if its shape says it is one.
pub fn builtin_shape(seg: &[u8], index: usize) -> Option<&'static str> {
    let stem = strip_extension(seg);
    if stem.is_empty() {
        return None;
    }
    if stem.iter().all(u8::is_ascii_digit) {
        if stem.len() == 8 && is_date_digits(stem) {
            return Some("{date}");
        }
        if stem.len() == 4 && (stem.starts_with(b"19") || stem.starts_with(b"20")) {
            return Some("{year}");
        }
        return Some("{n}");
    }
    if stem.len() == 10
        && stem[4] == b'-'
        && stem[7] == b'-'
        && stem
            .iter()
            .enumerate()
            .all(|(i, b)| i == 4 || i == 7 || b.is_ascii_digit())
    {
        return Some("{date}");
    }
    if is_uuid(stem) {
        return Some("{uuid}");
    }
    let has_digit = stem.iter().any(u8::is_ascii_digit);
    if stem.len() >= 16 && has_digit && stem.iter().all(u8::is_ascii_hexdigit) {
        return Some("{hex}");
    }
    let has_alpha = stem.iter().any(u8::is_ascii_alphabetic);
    if stem.len() >= 20
        && has_digit
        && has_alpha
        && stem
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_')
        && !stem.contains(&b'-')
    {
        return Some("{token}");
    }
    if index > 0
        && stem.contains(&b'-')
        && !stem.starts_with(b"-")
        && !stem.ends_with(b"-")
        && stem
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
    {
        return Some("{slug}");
    }
    None
}

fn is_date_digits(d: &[u8]) -> bool {
    let n =
        |r: std::ops::Range<usize>| d[r].iter().fold(0u32, |a, &c| a * 10 + u32::from(c - b'0'));
    (1990..2100).contains(&n(0..4)) && (1..=12).contains(&n(4..6)) && (1..=31).contains(&n(6..8))
}

fn is_uuid(s: &[u8]) -> bool {
    s.len() == 36
        && s.iter().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => *b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

/// `name.ext` -> `name` when `ext` is 1..=5 letters or digits.
fn strip_extension(seg: &[u8]) -> &[u8] {
    match memchr::memrchr(b'.', seg) {
        Some(i) if i > 0 && (2..=6).contains(&(seg.len() - i)) => {
            if seg[i + 1..].iter().all(u8::is_ascii_alphanumeric) {
                &seg[..i]
            } else {
                seg
            }
        }
        _ => seg,
    }
}

/// The path part of a request-target, without query.
fn path_of(target: &[u8]) -> &[u8] {
    let end = memchr::memchr(b'?', target).unwrap_or(target.len());
    &target[..end]
}

/// The non-empty segments of a path (so `//a/` and `/a` have the same segments).
fn segments(path: &[u8]) -> impl Iterator<Item = &[u8]> {
    path.split(|&b| b == b'/').filter(|s| !s.is_empty())
}

/// What tells variants of one route apart: the sorted set of query keys, the file extension
/// and whether the path ends in `/`. Two URLs of a stratum with the same variant are
/// near-duplicates for a release test.
pub fn variant_of(target: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    variant_into(target, &mut v);
    v
}

/// [`variant_of`] into a reused buffer (cleared first).
pub fn variant_into(target: &[u8], v: &mut Vec<u8>) {
    let path = path_of(target);
    v.clear();
    let last = segments(path).last().unwrap_or(b"");
    if let Some(i) = memchr::memrchr(b'.', last)
        && strip_extension(last).len() == i
    {
        v.extend_from_slice(&last[i..]);
    }
    v.push(if path.ends_with(b"/") { b'/' } else { b'-' });
    if let Some(q) = memchr::memchr(b'?', target) {
        let mut keys: Vec<&[u8]> = target[q + 1..]
            .split(|&b| b == b'&')
            .map(|kv| kv.split(|&b| b == b'=').next().unwrap_or(b""))
            .collect();
        keys.sort_unstable();
        keys.dedup();
        v.push(b'?');
        for (i, k) in keys.iter().enumerate() {
            if i > 0 {
                v.push(b'&');
            }
            v.extend_from_slice(k);
        }
    }
}

/// One line of a routes file.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Rule {
    /// `None`: any host; `Some((suffix, true))`: `*.suffix`; `Some((host, false))`: exact.
    host: Option<(Vec<u8>, bool)>,
    /// Segments; `None` matches any one segment; a final `**` matches the rest.
    segments: Vec<Option<Vec<u8>>>,
    rest: bool,
    template: String,
}

/// Route rules from a `--routes FILE`.
///
/// ```text
/// # comment; blank lines are ignored
/// # HOST PATTERN           (HOST: *, www.example.com or *.example.com)
/// www.example.com  /news/{year}/{slug}
/// *                /api/v1/{resource}/{id}
/// shop.example.com /legacy/**
/// ```
///
/// A pattern segment in braces matches any one segment; `**` as the last segment matches the
/// rest of the path (also nothing). Other segments match exactly. The first matching line (in
/// file order) wins and its pattern, as written, is the template; URLs no line matches get the
/// built-in and learned templates.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RouteRules {
    rules: Vec<Rule>,
}

impl RouteRules {
    /// Parses a routes file; errors name the line.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut rules = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut parts = line.split_whitespace();
            let (Some(host), Some(pattern), None) = (parts.next(), parts.next(), parts.next())
            else {
                return Err(format!("line {}: expected `HOST PATTERN`", n + 1));
            };
            if !pattern.starts_with('/') {
                return Err(format!("line {}: the pattern must start with /", n + 1));
            }
            let host = match host {
                "*" => None,
                h if h.starts_with("*.") => Some((h[1..].to_ascii_lowercase().into_bytes(), true)),
                h => Some((h.to_ascii_lowercase().into_bytes(), false)),
            };
            let mut segs: Vec<&str> = pattern.split('/').filter(|s| !s.is_empty()).collect();
            let rest = segs.last() == Some(&"**");
            if rest {
                segs.pop();
            }
            if segs.contains(&"**") {
                return Err(format!("line {}: `**` only as the last segment", n + 1));
            }
            rules.push(Rule {
                host,
                segments: segs
                    .iter()
                    .map(|s| {
                        (!(s.starts_with('{') && s.ends_with('}'))).then(|| s.as_bytes().to_vec())
                    })
                    .collect(),
                rest,
                template: pattern.to_owned(),
            });
        }
        Ok(RouteRules { rules })
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    fn matching(&self, host: &[u8], path: &[u8]) -> Option<&str> {
        let segs: Vec<&[u8]> = segments(path).collect();
        self.rules
            .iter()
            .find(|r| {
                let host_ok = match &r.host {
                    None => true,
                    Some((h, false)) => h == host,
                    Some((suffix, true)) => host.ends_with(suffix),
                };
                host_ok
                    && (segs.len() == r.segments.len()
                        || (r.rest && segs.len() >= r.segments.len()))
                    && r.segments
                        .iter()
                        .zip(&segs)
                        .all(|(p, s)| p.as_deref().is_none_or(|p| p == *s))
            })
            .map(|r| r.template.as_str())
    }
}

/// 64-bit FNV-1a, then a SplitMix64 finaliser: a fixed, portable hash for sampling priorities
/// (the same on every machine and version).
pub fn stable_hash(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for &b in *p {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        h ^= 0xff;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    mix64(h)
}

/// The hash of one step of a URL's path for the positions a run learns ([`Learner`]) and
/// looks up ([`Router`]): `part` after the steps hashed into `prefix` (0 for none). foldhash
/// with a fixed seed, which takes a word or more a step.
///
/// Why not [`stable_hash`]: these hashes never leave the run (the positions are learned again
/// from the window every run), so they need not be the same on every machine and version;
/// [`stable_hash`] takes a byte at a time, each step waiting on a multiply: this took the route
/// work (learning and templating every URL of the window) from 203.6 M to 166.4 M
/// instructions on a day of 83,834 distinct URLs (callgrind), the list unchanged.
fn position_hash(prefix: u64, part: &[u8]) -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = foldhash::fast::FixedState::with_seed(0x6772_6565_6e6c_6967).build_hasher();
    h.write_u64(prefix);
    h.write_usize(part.len());
    h.write(part);
    h.finish()
}

/// SplitMix64's finaliser.
pub fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Learns which segment positions have many values, from every URL of the window seen once.
///
/// Memory is bounded: a position keeps at most `min_distinct` value hashes, and at most
/// `max_positions` positions are tracked (positions beyond that keep their literal values;
/// [`Learner::untracked`] counts them).
#[derive(Debug)]
pub struct Learner {
    min_distinct: usize,
    max_positions: usize,
    positions: HashMap<u64, Vec<u64>, foldhash::fast::FixedState>,
    untracked: u64,
}

impl Learner {
    pub fn new(min_distinct: usize) -> Self {
        Learner {
            min_distinct: min_distinct.max(2),
            max_positions: 4_000_000,
            positions: HashMap::default(),
            untracked: 0,
        }
    }

    /// Positions not tracked because the table was full.
    pub fn untracked(&self) -> u64 {
        self.untracked
    }

    /// Sees one URL (`host`, request-target).
    pub fn see(&mut self, host: &[u8], target: &[u8]) {
        let mut prefix = position_hash(0, host);
        for (i, seg) in segments(path_of(target)).enumerate() {
            match builtin_shape(seg, i) {
                Some(shape) => prefix = position_hash(prefix, shape.as_bytes()),
                None if i == 0 => prefix = position_hash(prefix, seg),
                None => {
                    let pos = position_hash(prefix, b"#pos");
                    let value = position_hash(0, seg);
                    let full = self.positions.len() >= self.max_positions;
                    match self.positions.get_mut(&pos) {
                        Some(v) => {
                            if v.len() < self.min_distinct && !v.contains(&value) {
                                v.push(value);
                            }
                        }
                        None if full => self.untracked += 1,
                        None => {
                            self.positions.insert(pos, vec![value]);
                        }
                    }
                    prefix = position_hash(prefix, seg);
                }
            }
        }
    }

    /// The finished learning, to template URLs with.
    pub fn finish(self, rules: RouteRules) -> Router {
        let min = self.min_distinct;
        Router {
            variable: self
                .positions
                .into_iter()
                .filter(|(_, v)| v.len() >= min)
                .map(|(k, _)| k)
                .collect(),
            rules,
        }
    }
}

/// Maps URLs to templates: rules first, then built-in shapes, then learned positions.
#[derive(Debug, Default)]
pub struct Router {
    variable: std::collections::HashSet<u64, foldhash::fast::FixedState>,
    rules: RouteRules,
}

impl Router {
    /// A router with rules and built-in shapes only (nothing learned).
    pub fn with_rules(rules: RouteRules) -> Self {
        Router {
            variable: Default::default(),
            rules,
        }
    }

    /// The template of a URL's path, e.g. `/news/{year}/{slug}`; `/` for the root.
    pub fn template(&self, host: &[u8], target: &[u8]) -> String {
        let mut out = String::new();
        self.template_into(host, target, &mut out);
        out
    }

    /// [`Router::template`] appended to `out`.
    pub fn template_into(&self, host: &[u8], target: &[u8], out: &mut String) {
        let path = path_of(target);
        if let Some(t) = self.rules.matching(host, path) {
            out.push_str(t);
            return;
        }
        let start = out.len();
        let mut prefix = position_hash(0, host);
        for (i, seg) in segments(path).enumerate() {
            out.push('/');
            match builtin_shape(seg, i) {
                Some(shape) => {
                    out.push_str(shape);
                    prefix = position_hash(prefix, shape.as_bytes());
                }
                None => {
                    let pos = position_hash(prefix, b"#pos");
                    if i > 0 && self.variable.contains(&pos) {
                        out.push_str("{var}");
                    } else {
                        out.push_str(&String::from_utf8_lossy(seg));
                    }
                    prefix = position_hash(prefix, seg);
                }
            }
        }
        if out.len() == start {
            out.push('/');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(router: &Router, target: &str) -> String {
        router.template(b"www.example.com", target.as_bytes())
    }

    #[test]
    fn builtin_shapes() {
        let r = Router::default();
        assert_eq!(t(&r, "/news/2024/some-slug"), "/news/{year}/{slug}");
        assert_eq!(t(&r, "/news/2023/other-story?x=1"), "/news/{year}/{slug}");
        assert_eq!(t(&r, "/p/12.json"), "/p/{n}");
        assert_eq!(t(&r, "/d/2024-03-01/"), "/d/{date}");
        assert_eq!(t(&r, "/d/20240301"), "/d/{date}");
        assert_eq!(
            t(&r, "/o/123e4567-e89b-12d3-a456-426614174000"),
            "/o/{uuid}"
        );
        assert_eq!(t(&r, "/a/deadbeef00112233aa.png"), "/a/{hex}");
        assert_eq!(t(&r, "/s/Ab3dEf9hIjKlMn0pQrStUv"), "/s/{token}");
        assert_eq!(t(&r, "/about-us"), "/about-us", "first segment is no slug");
        assert_eq!(t(&r, "/"), "/");
        assert_eq!(t(&r, "//x//"), "/x");
    }

    #[test]
    fn many_values_at_a_position_are_learned() {
        let mut l = Learner::new(5);
        for name in ["alice", "bob", "carol", "dave", "erin"] {
            l.see(b"www.example.com", format!("/u/{name}/photos").as_bytes());
        }
        for name in ["news", "shop", "a", "b", "c", "d", "e"] {
            l.see(b"www.example.com", format!("/{name}").as_bytes());
        }
        l.see(b"other.example.com", b"/u/zed/photos");
        let r = l.finish(RouteRules::default());
        assert_eq!(t(&r, "/u/frank/photos"), "/u/{var}/photos");
        assert_eq!(
            t(&r, "/news"),
            "/news",
            "the first segment is never learned"
        );
        assert_eq!(
            r.template(b"other.example.com", b"/u/zed/photos"),
            "/u/zed/photos",
            "learned per host"
        );
    }

    #[test]
    fn rules_come_first() {
        let rules = RouteRules::parse(
            "# comment\n\nwww.example.com /legacy/**\n*.example.com /api/{version}/{x}\n",
        )
        .unwrap();
        let r = Router::with_rules(rules);
        assert_eq!(t(&r, "/legacy/a/b/c"), "/legacy/**");
        assert_eq!(t(&r, "/legacy"), "/legacy/**");
        assert_eq!(t(&r, "/api/v1/users"), "/api/{version}/{x}");
        assert_eq!(t(&r, "/api/v1/users/3"), "/api/v1/users/{n}");
        assert!(RouteRules::parse("www.example.com").is_err());
        assert!(RouteRules::parse("* nope").is_err());
        assert!(RouteRules::parse("* /a/**/b").is_err());
    }

    #[test]
    fn variants() {
        assert_eq!(variant_of(b"/a/b"), b"-");
        assert_eq!(variant_of(b"/a/b/"), b"/");
        assert_eq!(variant_of(b"/a/b.json?z=1&a=2&a=3"), b".json-?a&z");
        assert_ne!(variant_of(b"/a?x=1"), variant_of(b"/a?y=1"));
        assert_eq!(variant_of(b"/a?x=1"), variant_of(b"/a?x=2"));
    }
}
