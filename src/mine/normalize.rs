//! The URL to replay: the absolute request URL of a log line -> (host, request-target).
//!
//! - The host is lower-cased and its default port dropped (`:80` for `http`, `:443` for
//!   `https`); any other port stays (`shop.example.com:8443`), since it is what the client sent
//!   in `Host`.
//! - Path and query stay byte-for-byte as the client sent them (`//`, `../`, invalid `%` escapes
//!   included). Only bytes that cannot stand in a request-target are percent-encoded, upper-case:
//!   space, `"`, `<`, `>`, `` ` ``, control bytes, DEL and bytes >= 0x80 (what HTTP stacks
//!   refuse in a request line), plus `#`, which any HTTP client would take for the start of a
//!   fragment and silently cut off. A request-target longer than [`MAX_TARGET`] bytes is not
//!   listed (`BadUrl`): the tester refuses such lines, and no real page needs one.
//! - Tracking parameters (`utm_*`, `gclid`, `fbclid`, ...) are dropped unless asked to keep them:
//!   they never change what a server answers, and they would split one URL into many.
//! - A URL carrying something that looks like a credential (a query key such as `token`,
//!   `password`, `X-Amz-Signature`, a `;jsessionid=` path parameter, a JWT as a value, or an
//!   AWS access key id or a JWT anywhere in the path or query, see [`looks_like_secret`]) is
//!   flagged; the filter then keeps it off the list. Logs are attacker-controlled and the list is
//!   shared widely, so this errs on the side of dropping.
//!
//! Nothing here allocates per line: the result is written into a caller's scratch buffer as
//! `host SP request-target` (neither part can contain a space once encoded), which is also the
//! tally's key.

use super::filter::Reject;

/// The scheme of the request URL (what the client used to reach the ALB).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scheme {
    Http,
    Https,
}

impl Scheme {
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }

    fn default_port(self) -> u16 {
        match self {
            Scheme::Http => 80,
            Scheme::Https => 443,
        }
    }
}

/// What kind of host the URL names; the filter decides which kinds may be listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostKind {
    /// A DNS name made of letters, digits, `-`, `_` and dots.
    DnsName,
    /// An IPv4 literal (in any of the forms a URL parser accepts) or a bracketed IPv6 literal.
    IpLiteral,
}

/// The longest request-target listed, in bytes (the tester's limit).
pub const MAX_TARGET: usize = 8192;

/// A normalised URL; its bytes are in the scratch buffer passed to [`normalize`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Normalized {
    pub scheme: Scheme,
    /// The port the client connected to (explicit, or the scheme's default).
    pub port: u16,
    pub host_kind: HostKind,
    /// Length of the host part (lower-cased, with `:port` when not the default) at the start of
    /// the scratch buffer; the request-target starts after one space.
    pub host_len: usize,
    /// Tracking parameters were removed.
    pub tracking_removed: bool,
    /// Something in the path or query looks like a credential.
    pub has_credential: bool,
}

impl Normalized {
    /// The listed host (`www.example.com`, `shop.example.com:8443`).
    pub fn host<'s>(&self, scratch: &'s [u8]) -> &'s [u8] {
        &scratch[..self.host_len]
    }

    /// The host without the port, for allow-lists.
    pub fn host_name<'s>(&self, scratch: &'s [u8]) -> &'s [u8] {
        let host = self.host(scratch);
        if host.first() == Some(&b'[') {
            return host;
        }
        match memchr::memrchr(b':', host) {
            Some(i) => &host[..i],
            None => host,
        }
    }

    /// The request-target (path and query) to replay.
    pub fn target<'s>(&self, scratch: &'s [u8]) -> &'s [u8] {
        &scratch[self.host_len + 1..]
    }
}

/// Options of the normalisation.
#[derive(Debug, Clone, Default)]
pub struct NormalizeOptions {
    /// Keep `utm_*`, `gclid` and the other tracking parameters.
    pub keep_tracking: bool,
}

/// Normalises a decoded absolute URL (`http://host:port/path?query`). The result's bytes are in
/// `scratch` (cleared first). A URL that is not well-formed gives [`Reject::BadUrl`].
pub fn normalize(
    url: &[u8],
    opts: &NormalizeOptions,
    scratch: &mut Vec<u8>,
) -> Result<Normalized, Reject> {
    scratch.clear();
    let (scheme, rest) = if let Some(rest) = strip_prefix_ci(url, b"http://") {
        (Scheme::Http, rest)
    } else if let Some(rest) = strip_prefix_ci(url, b"https://") {
        (Scheme::Https, rest)
    } else {
        return Err(Reject::BadUrl);
    };

    // The authority runs to the first `/`; a `?` or `#` before it means there was no path.
    let auth_end = rest
        .iter()
        .position(|&b| matches!(b, b'/' | b'?' | b'#'))
        .unwrap_or(rest.len());
    let (authority, target) = rest.split_at(auth_end);
    if !(target.is_empty() || target[0] == b'/') {
        return Err(Reject::BadUrl);
    }
    let (host, port) = split_authority(authority).ok_or(Reject::BadUrl)?;
    let port = port.unwrap_or(scheme.default_port());
    let host_kind = host_kind(host).ok_or(Reject::BadUrl)?;

    scratch.extend(host.iter().map(u8::to_ascii_lowercase));
    if port != scheme.default_port() {
        scratch.push(b':');
        push_decimal(scratch, port);
    }
    let host_len = scratch.len();
    scratch.push(b' ');

    let (path, query) = match memchr::memchr(b'?', target) {
        Some(q) => (&target[..q], Some(&target[q + 1..])),
        None => (target, None),
    };
    if path.is_empty() {
        scratch.push(b'/');
    } else {
        push_encoded(scratch, path);
    }
    let mut has_credential = path_has_session_param(path);
    let mut tracking_removed = false;
    if let Some(query) = query {
        scratch.push(b'?');
        let query_start = scratch.len();
        // Whether a parameter is already written: empty parameters (`?&a=1`, `a&&b`) are kept
        // as they are, so the `&` goes before every kept parameter but the first.
        let mut kept_any = false;
        for param in query.split(|&b| b == b'&') {
            let key = param.split(|&b| b == b'=').next().unwrap_or(param);
            let value = param.get(key.len() + 1..).unwrap_or(b"");
            if !opts.keep_tracking && is_tracking_key(key) {
                tracking_removed = true;
                continue;
            }
            has_credential |= is_credential_key(key) || looks_like_jwt(value);
            if kept_any {
                scratch.push(b'&');
            }
            kept_any = true;
            let written = scratch.len();
            push_encoded(scratch, param);
            // The value as listed is judged too: percent-encoding lengthens it, which can give
            // it a JWT's shape (`eyJ.a.` and a few control bytes).
            if let Some(eq) = memchr::memchr(b'=', &scratch[written..]) {
                has_credential |= looks_like_jwt(&scratch[written + eq + 1..]);
            }
        }
        // Every parameter was tracking: drop the `?` too (`/a?utm_source=x` lists as `/a`).
        if tracking_removed && scratch.len() == query_start {
            scratch.pop();
        }
    }
    if scratch.len() - host_len - 1 > MAX_TARGET {
        return Err(Reject::BadUrl);
    }
    // Judged on the target as listed, not as logged: a secret inside a dropped tracking
    // parameter is gone, and the tester's reader, which only sees the listed form, must reach
    // the same verdict (the fuzzers check that both agree).
    has_credential = has_credential || looks_like_secret(&scratch[host_len + 1..]);
    Ok(Normalized {
        scheme,
        port,
        host_kind,
        host_len,
        tracking_removed,
        has_credential,
    })
}

fn strip_prefix_ci<'a>(s: &'a [u8], prefix: &[u8]) -> Option<&'a [u8]> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

/// Splits `host[:port]` or `[v6][:port]`. `None` for userinfo (`@`), an empty host or a port that
/// is not a number in 1..=65535.
fn split_authority(authority: &[u8]) -> Option<(&[u8], Option<u16>)> {
    if authority.is_empty() || authority.contains(&b'@') {
        return None;
    }
    let (host, port) = if authority[0] == b'[' {
        let close = memchr::memchr(b']', authority)?;
        let after = &authority[close + 1..];
        let port = match after {
            [] => None,
            [b':', digits @ ..] => Some(digits),
            _ => return None,
        };
        (&authority[..=close], port)
    } else {
        match memchr::memrchr(b':', authority) {
            Some(i) => (&authority[..i], Some(&authority[i + 1..])),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return None;
    }
    let port = match port {
        None => None,
        Some(digits) => Some(parse_port(digits)?),
    };
    Some((host, port))
}

fn parse_port(digits: &[u8]) -> Option<u16> {
    if digits.is_empty() || digits.len() > 5 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let v = digits
        .iter()
        .fold(0u32, |acc, &d| acc * 10 + u32::from(d - b'0'));
    u16::try_from(v).ok().filter(|&p| p != 0)
}

/// Longest textual IPv6 address: six groups of four hex digits and a dotted IPv4 tail.
const MAX_IPV6_TEXT: usize = "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255".len();

/// Classifies a host, or `None` when it is not a valid host at all.
fn host_kind(host: &[u8]) -> Option<HostKind> {
    if host[0] == b'[' {
        let inner = &host[1..host.len() - 1];
        // The longest textual IPv6 address is 45 bytes (`ffff:…:ffff:255.255.255.255`); anything
        // longer is no address, and no list reader would take it as a host.
        let ok = !inner.is_empty()
            && inner.len() <= MAX_IPV6_TEXT
            && inner
                .iter()
                .all(|&b| b.is_ascii_hexdigit() || matches!(b, b':' | b'.'));
        return ok.then_some(HostKind::IpLiteral);
    }
    if host.len() > 253
        || host[0] == b'.'
        || host[0] == b'-'
        || !host
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'))
    {
        return None;
    }
    let trimmed = host.strip_suffix(b".").unwrap_or(host);
    if trimmed.is_empty() || trimmed.split(|&b| b == b'.').any(<[u8]>::is_empty) {
        return None;
    }
    // As in the WHATWG URL parser: a host whose last label is numeric (decimal or 0x-hex) is an
    // IPv4 address (`10.0.0.1`, `2130706433`, `0x7f.1`), whatever the other labels look like.
    let last = trimmed.rsplit(|&b| b == b'.').next().unwrap_or(trimmed);
    let numeric = last.iter().all(u8::is_ascii_digit)
        || (last.len() > 2
            && last[..2].eq_ignore_ascii_case(b"0x")
            && last[2..].iter().all(u8::is_ascii_hexdigit));
    Some(if numeric {
        HostKind::IpLiteral
    } else {
        HostKind::DnsName
    })
}

fn push_decimal(out: &mut Vec<u8>, v: u16) {
    let mut digits = [0u8; 5];
    let mut n = v;
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

/// The bytes that cannot stand in a request-target as they are (see the module doc).
const NEEDS_ENCODING: [bool; 256] = {
    let mut t = [false; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        t[c] = b <= 0x20 || b >= 0x7f || matches!(b, b'"' | b'#' | b'<' | b'>' | b'`');
        c += 1;
    }
    t
};

/// Appends `bytes`, percent-encoding what cannot stand in a request-target. Runs of bytes
/// that stay as they are (nearly every URL is one run) are copied whole, not pushed byte by
/// byte: this runs on every admitted request.
fn push_encoded(out: &mut Vec<u8>, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut rest = bytes;
    while let Some(i) = rest.iter().position(|&b| NEEDS_ENCODING[usize::from(b)]) {
        let (plain, from) = rest.split_at(i);
        out.extend_from_slice(plain);
        if let Some((&b, after)) = from.split_first() {
            out.extend_from_slice(&[b'%', HEX[usize::from(b >> 4)], HEX[usize::from(b & 0xf)]]);
            rest = after;
        } else {
            rest = from;
        }
    }
    out.extend_from_slice(rest);
}

/// Decodes `%XX` in a query key and lower-cases it, into a small stack buffer, for comparison.
/// Keys longer than the buffer are compared by their first bytes, which is enough for the
/// prefixes and names below.
fn key_for_match(key: &[u8], buf: &mut [u8; 48]) -> usize {
    let mut n = 0;
    let mut i = 0;
    while i < key.len() && n < buf.len() {
        let mut b = key[i];
        if b == b'%'
            && let Some(hex) = key.get(i + 1..i + 3)
            && let Ok(s) = std::str::from_utf8(hex)
            && let Ok(v) = u8::from_str_radix(s, 16)
        {
            b = v;
            i += 2;
        } else if b == b'+' {
            b = b' ';
        }
        buf[n] = b.to_ascii_lowercase();
        n += 1;
        i += 1;
    }
    n
}

/// Parameters that only identify a campaign or a click; servers answer the same without them.
pub const TRACKING_KEYS: &[&[u8]] = &[
    b"gclid",
    b"gclsrc",
    b"dclid",
    b"gbraid",
    b"wbraid",
    b"fbclid",
    b"msclkid",
    b"yclid",
    b"twclid",
    b"ttclid",
    b"igshid",
    b"li_fat_id",
    b"mc_cid",
    b"mc_eid",
    b"_ga",
    b"_gl",
    b"_hsenc",
    b"_hsmi",
    b"mkt_tok",
];

/// `utm_*` or a name in [`TRACKING_KEYS`] (case-insensitive, percent-decoded).
pub fn is_tracking_key(key: &[u8]) -> bool {
    let mut buf = [0u8; 48];
    let len = key_for_match(key, &mut buf);
    let k = &buf[..len];
    k.starts_with(b"utm_") || TRACKING_KEYS.contains(&k)
}

/// Query keys that carry a credential when they are the whole key.
const CREDENTIAL_KEYS: &[&[u8]] = &[
    b"auth",
    b"sid",
    b"sig",
    b"pwd",
    b"pass",
    b"jwt",
    b"otp",
    b"phpsessid",
    b"awsaccesskeyid",
    b"key_id",
    b"private_key",
    b"client_secret",
];

/// Parts that mark a query key as a credential wherever they appear in it.
const CREDENTIAL_PARTS: &[&[u8]] = &[
    b"token",
    b"passw",
    b"secret",
    b"session",
    b"signature",
    b"apikey",
    b"api_key",
    b"api-key",
    b"credential",
    b"x-amz-",
];

/// A query key that looks like it carries a credential (case-insensitive, percent-decoded).
pub fn is_credential_key(key: &[u8]) -> bool {
    let mut buf = [0u8; 48];
    let len = key_for_match(key, &mut buf);
    let k = &buf[..len];
    CREDENTIAL_KEYS.contains(&k)
        || CREDENTIAL_PARTS
            .iter()
            .any(|part| k.windows(part.len()).any(|w| w == *part))
}

/// A JSON Web Token as a value (`eyJ...` header, three dot-separated parts).
fn looks_like_jwt(value: &[u8]) -> bool {
    value.len() > 20 && value.starts_with(b"eyJ") && memchr::memchr_iter(b'.', value).count() == 2
}

/// Bytes that hold a well-known secret shape anywhere, whatever the key or path segment around
/// it: an AWS access key id (`AKIA`/`ASIA` and 16 upper-case letters or digits, as a whole
/// token) or a JSON Web Token (`eyJ...`, three dot-separated base64url parts). Used on the raw
/// request-target and, by the list writer, on user agents. Long hex or base64 ids in paths are
/// *not* flagged: content hashes and record ids look the same and are what a replay is for.
pub fn looks_like_secret(s: &[u8]) -> bool {
    let token_byte = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-');
    memchr::memchr2_iter(b'A', b'e', s).any(|i| {
        let rest = &s[i..];
        // A percent-escape before the token is a boundary too: `%FFeyJ...` decodes to a byte
        // and then a JWT, and the listed (encoded) form must be flagged like the logged one.
        let escaped = i >= 3
            && s[i - 3] == b'%'
            && s[i - 2].is_ascii_hexdigit()
            && s[i - 1].is_ascii_hexdigit();
        let boundary = i == 0 || !token_byte(s[i - 1]) || escaped;
        if rest.starts_with(b"AKIA") || rest.starts_with(b"ASIA") {
            let id = rest.iter().take_while(|b| token_byte(**b)).count();
            return boundary
                && id == 20
                && rest[..20]
                    .iter()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
        }
        if rest.starts_with(b"eyJ") && boundary {
            let run = rest
                .iter()
                .take_while(|b| token_byte(**b) || **b == b'.')
                .count();
            return looks_like_jwt(&rest[..run]);
        }
        false
    })
}

/// `;jsessionid=` (or another session id) as a path parameter, as legacy Java servers write it.
fn path_has_session_param(path: &[u8]) -> bool {
    memchr::memchr_iter(b';', path).any(|i| {
        let param = &path[i + 1..];
        let name_end = param
            .iter()
            .position(|&b| matches!(b, b'=' | b'/' | b';'))
            .unwrap_or(param.len());
        is_credential_key(&param[..name_end])
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(url: &str) -> Result<(String, String, Normalized), Reject> {
        norm_opts(url, &NormalizeOptions::default())
    }

    fn norm_opts(
        url: &str,
        opts: &NormalizeOptions,
    ) -> Result<(String, String, Normalized), Reject> {
        let mut s = Vec::new();
        let n = normalize(url.as_bytes(), opts, &mut s)?;
        Ok((
            String::from_utf8(n.host(&s).to_vec()).unwrap(),
            String::from_utf8(n.target(&s).to_vec()).unwrap(),
            n,
        ))
    }

    #[test]
    fn lowercases_host_and_drops_default_ports() {
        let (h, t, n) = norm("http://WWW.Example.COM:80/A/B?X=1").unwrap();
        assert_eq!((h.as_str(), t.as_str()), ("www.example.com", "/A/B?X=1"));
        assert_eq!((n.scheme, n.port), (Scheme::Http, 80));
        let (h, _, n) = norm("HTTPS://www.example.com:443/").unwrap();
        assert_eq!((h.as_str(), n.scheme), ("www.example.com", Scheme::Https));
    }

    #[test]
    fn keeps_non_default_ports_in_the_host() {
        let (h, _, n) = norm("https://shop.example.com:8443/cart").unwrap();
        assert_eq!(h, "shop.example.com:8443");
        assert_eq!(n.port, 8443);
        // Port 80 on https is not the default: it stays.
        assert_eq!(norm("https://a.example:80/").unwrap().0, "a.example:80");
    }

    #[test]
    fn keeps_path_and_query_byte_for_byte() {
        for target in [
            "/a//b/../c?x=%zz&y=%2F",
            "/%E2%82%AC/?q=a+b&&z",
            "/x?",
            "/x?&a=1",
            "/x?&&a=1&",
            "/x;param=1/y",
            "//double/leading",
        ] {
            let url = format!("http://example.com:80{target}");
            assert_eq!(norm(&url).unwrap().1, target, "{url}");
        }
    }

    #[test]
    fn encodes_only_bytes_that_cannot_stand_in_a_request_target() {
        let mut s = Vec::new();
        let n = normalize(
            b"http://example.com:80/caf\xc3\xa9 x\"y#z\x01\x7f?q=\xff",
            &NormalizeOptions::default(),
            &mut s,
        )
        .unwrap();
        assert_eq!(n.target(&s), b"/caf%C3%A9%20x%22y%23z%01%7F?q=%FF");
        let n = normalize(
            b"http://e.com/a<b>`c{d}|e^f\\g?h=<i>",
            &NormalizeOptions::default(),
            &mut s,
        )
        .unwrap();
        assert_eq!(n.target(&s), b"/a%3Cb%3E%60c{d}|e^f\\g?h=%3Ci%3E");
    }

    #[test]
    fn overlong_targets_are_not_listed() {
        let ok = format!("http://e.com/{}", "a".repeat(MAX_TARGET - 1));
        assert!(norm(&ok).is_ok());
        let long = format!("http://e.com/{}", "a".repeat(MAX_TARGET));
        assert_eq!(norm(&long).unwrap_err(), Reject::BadUrl);
    }

    #[test]
    fn an_empty_path_is_the_root() {
        assert_eq!(norm("http://example.com:80").unwrap().1, "/");
    }

    #[test]
    fn drops_tracking_parameters_unless_asked_to_keep_them() {
        let t = |u: &str| norm(u).unwrap().1;
        assert_eq!(t("http://e.com/a?utm_source=x&id=3&gclid=1"), "/a?id=3");
        assert_eq!(t("http://e.com/a?UTM_Medium=x"), "/a");
        assert_eq!(
            t("http://e.com/a?fbclid=1&msclkid=2&utm%5Fcampaign=3"),
            "/a"
        );
        assert_eq!(t("http://e.com/a?id=1&utm_x=2&b=3"), "/a?id=1&b=3");
        assert!(norm("http://e.com/a?utm_x=1").unwrap().2.tracking_removed);
        assert!(!norm("http://e.com/a?utmost=1").unwrap().2.tracking_removed);
        let keep = NormalizeOptions {
            keep_tracking: true,
        };
        assert_eq!(
            norm_opts("http://e.com/a?utm_source=x&id=3", &keep)
                .unwrap()
                .1,
            "/a?utm_source=x&id=3"
        );
    }

    #[test]
    fn flags_credentials_in_query_and_path() {
        for url in [
            "http://e.com/a?token=abc",
            "http://e.com/a?x=1&Access_Token=abc",
            "http://e.com/a?password=hunter2",
            "http://e.com/a?client_secret=s",
            "http://e.com/a?PHPSESSID=1",
            "http://e.com/a?sid=1",
            "http://e.com/a?X-Amz-Signature=abc&X-Amz-Credential=x",
            "http://e.com/a?api_key=1",
            "http://e.com/a?apiKey=1",
            "http://e.com/a?%74oken=1",
            "http://e.com/a;jsessionid=ABC123?x=1",
            "http://e.com/a;JSESSIONID=ABC123",
            "http://e.com/a?t=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl",
            "http://e.com/reset/eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl/go",
            "http://e.com/a?k=AKIAIOSFODNN7EXAMPLE",
            "http://e.com/keys/ASIAIOSFODNN7EXAMPLE",
            "http://e.com/a?t=eyJ.a.\x01\x01\x01\x01\x01\x01\x01",
            "http://e.com/a?t=\u{ff}eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl:x",
            "http://e.com/a?t=%FF%FFeyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl",
        ] {
            assert!(norm(url).unwrap().2.has_credential, "{url}");
        }
        for url in [
            "http://e.com/a?page=2",
            "http://e.com/tokens/list",
            "http://e.com/a?sidebar=1",
            "http://e.com/a;v=1",
            "http://e.com/a?k=AKIAIOSFODNN7EXAMPLEX",
            "http://e.com/XAKIAIOSFODNN7EXAMPLE",
            "http://e.com/eyJ.a.b",
            "http://e.com/app.3f2a9c0d1e2b3a4f5e6d7c8b9a0f1e2d.js",
            // Inside a dropped tracking parameter: the listed URL no longer holds it.
            "http://e.com/a?fbclid=x?t=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl&p=2",
        ] {
            assert!(!norm(url).unwrap().2.has_credential, "{url}");
        }
    }

    #[test]
    fn recognises_ip_literals() {
        for url in [
            "http://10.0.0.1:80/",
            "http://[::ffff:a9fe:a9fe]:443/",
            "http://[::1]/",
            "http://2130706433/",
            "http://foo.0x7f/",
            "http://www.example.1/",
            "http://[ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255]/",
        ] {
            assert_eq!(norm(url).unwrap().2.host_kind, HostKind::IpLiteral, "{url}");
        }
        // Fuzz finding: a bracketed "address" of hundreds of hex digits was an IP literal to the
        // miner and a bad host to the list reader. No IPv6 address is longer than 45 bytes.
        let long = format!("http://[::{}]/", "a".repeat(44));
        assert!(norm(&long).is_err(), "{long}");
        assert_eq!(
            norm("http://[::1]:8080/").unwrap().0,
            "[::1]:8080",
            "bracketed IPv6 keeps its brackets"
        );
        assert_eq!(
            norm("http://x1.example.com/").unwrap().2.host_kind,
            HostKind::DnsName
        );
    }

    #[test]
    fn host_name_strips_the_port() {
        let mut s = Vec::new();
        let n = normalize(
            b"https://a.example:8443/",
            &NormalizeOptions::default(),
            &mut s,
        )
        .unwrap();
        assert_eq!(n.host_name(&s), b"a.example");
    }

    #[test]
    fn rejects_urls_that_are_not_well_formed() {
        for url in [
            "/relative/path",
            "ftp://example.com/",
            "http://",
            "http:///path",
            "http://:80/",
            "http://user:pw@example.com/",
            "http://evil.example@example.com/",
            "http://example.com:80-",
            "http://example.com:99999/",
            "http://example.com:0/",
            "http://example.com:/",
            "http://exa mple.com/",
            "http://example.com?x=1",
            "http://-bad.example/",
            "http://bad..example/",
            "http://[::1/",
            "http://[zz]/",
            "http://ex\\ample.com/",
            "*",
        ] {
            assert_eq!(norm(url).unwrap_err(), Reject::BadUrl, "{url}");
        }
    }
}
