//! The invariants the fuzz targets check, one `*_holds` function per target, each panicking
//! (with the input) when greenlight breaks a promise on some input.
//!
//! This file is the fuzz crate's library and is also compiled into `tests/fuzz_regressions.rs`
//! (`#[path]`), so every finding and every tricky seed is replayed by a plain `cargo test` on
//! stable with exactly the checks the fuzzer ran. It depends only on greenlight and crates that
//! greenlight already depends on (`csv`, `http`).
//!
//! - [`parse_line_holds`]: the one-sweep field split agrees with the exact one (or declines);
//!   `alb::parse_line` never panics; an accepted line, written back from
//!   its parsed fields, is the same line and parses to the same record; the request split and
//!   the `\xHH` decoder keep their documented shapes; the replay filter ([`Policy::admit`]) on
//!   the record admits only URLs that satisfy [`listed_url_holds`].
//! - [`normalize_holds`]: `mine::normalize` lists only origin-form, sendable, credential-free
//!   request-targets; it keeps path and query byte for byte apart from the documented encoding
//!   and the removal of tracking parameters; it is idempotent.
//! - [`read_list_holds`]: `list::read_list` and `list::check_origin_form` never panic; what they
//!   accept the tester sends unchanged; an accepted list written back reads back the same.

use std::borrow::Cow;
use std::cell::RefCell;

use greenlight::alb::parse::is_quoted_field;
use greenlight::alb::record::{KNOWN_FIELDS, MIN_FIELDS, decode_escapes};
use greenlight::alb::split::fast_agrees_with_exact;
use greenlight::alb::{AlbRecord, ConnType, HostPort, ParseError, parse_line};
use greenlight::check::probe::Endpoint;
use greenlight::list::{ListEntry, check_origin_form, escape_bytes, read_list};
use greenlight::mine::filter::{Policy, Scratch};
use greenlight::mine::normalize::{
    HostKind, MAX_TARGET, NormalizeOptions, Normalized, Scheme, is_credential_key, is_tracking_key,
    normalize,
};

/// The input, printable, for assertion messages.
fn show(b: &[u8]) -> String {
    escape_bytes(b)
}

// ---------------------------------------------------------------------------------------------
// The line parser and the escape decoder
// ---------------------------------------------------------------------------------------------

/// Checks `alb::parse_line` (and the decoder, and the filter on what parses) on one line.
pub fn parse_line_holds(line: &[u8]) {
    decoder_holds(line);
    assert!(
        fast_agrees_with_exact(line),
        "the one-sweep split disagrees with the exact split on {}",
        show(line)
    );
    match parse_line(line) {
        Ok(record) => record_holds(line, &record),
        Err(e) => parse_error_holds(line, &e),
    }
}

fn parse_error_holds(line: &[u8], e: &ParseError) {
    assert!(!e.reason().is_empty());
    assert!(!e.to_string().is_empty());
    let field = match *e {
        ParseError::EmptyField { field }
        | ParseError::UnterminatedQuote { field }
        | ParseError::JunkAfterQuote { field }
        | ParseError::NotQuoted { field }
        | ParseError::UnexpectedQuote { field } => field,
        ParseError::TooFewFields { count } => {
            assert!(count < MIN_FIELDS, "{e} for {}", show(line));
            count
        }
        _ => 1,
    };
    // A field number in an error points into the line (at most one past its last field).
    let fields = line.iter().filter(|&&b| b == b' ').count() + 1;
    assert!(
        (1..=fields.max(1)).contains(&field) || matches!(e, ParseError::TooFewFields { .. }),
        "{e} names field {field} of {fields} for {}",
        show(line)
    );
}

fn record_holds(line: &[u8], r: &AlbRecord<'_>) {
    let stripped = line.strip_suffix(b"\r").unwrap_or(line);
    assert!(r.field_count >= MIN_FIELDS);

    // Written back from its fields, the line is the line (up to ports written with leading
    // zeros, which parse to the same number), or a prefix of it when it has fields after the
    // known ones.
    let rebuilt = render_line(r);
    let fields: Vec<&[u8]> = stripped.split(|&b| b == b' ').collect();
    let canonical_ports = fields
        .get(3..5)
        .is_some_and(|f| f.iter().all(|f| !has_leading_zero_port(f)));
    if canonical_ports {
        if r.field_count <= KNOWN_FIELDS {
            assert_eq!(
                show(&rebuilt),
                show(stripped),
                "the line written back from its fields differs"
            );
        } else {
            assert!(
                stripped.starts_with(&rebuilt) && stripped.get(rebuilt.len()) == Some(&b' '),
                "the known fields written back are not a prefix of {}",
                show(stripped)
            );
        }
    }

    // ... and parses to the same record (with a CR terminator too, which the parser strips).
    let mut expected = r.clone();
    expected.field_count = r.field_count.min(KNOWN_FIELDS);
    let mut with_cr = rebuilt.clone();
    with_cr.push(b'\r');
    for again in [&rebuilt, &with_cr] {
        if again.ends_with(b"\r\r") || (again == &rebuilt && rebuilt.ends_with(b"\r")) {
            // A last field ending in CR only survives behind a CR terminator.
            continue;
        }
        match parse_line(again) {
            Ok(back) => assert_eq!(back, expected, "round trip of {}", show(line)),
            Err(e) => panic!("{e}: written back from {}: {}", show(line), show(again)),
        }
    }

    // Typed fields.
    assert_eq!(r.date_bytes().len(), 10);
    assert!(r.second_of_day() < 86_400);
    for hp in std::iter::once(&r.client).chain(r.target.as_ref()) {
        assert!(!hp.ip.is_empty());
        assert!(
            hp.ip
                .iter()
                .all(|&b| b.is_ascii_hexdigit() || b == b'.' || b == b':')
        );
    }
    for code in [r.elb_status_code, r.target_status_code]
        .into_iter()
        .flatten()
    {
        assert!(code <= 999);
    }

    // The request split: method SP url SP protocol, trailing spaces trimmed.
    let req = &r.request;
    if !req.malformed {
        let mut joined = req.method.to_vec();
        joined.push(b' ');
        joined.extend_from_slice(req.url.raw());
        joined.push(b' ');
        joined.extend_from_slice(req.protocol);
        assert!(
            req.raw.starts_with(&joined) && req.raw[joined.len()..].iter().all(|&b| b == b' '),
            "request split of {}",
            show(req.raw)
        );
        assert!(!req.method.contains(&b' ') && !req.protocol.contains(&b' '));
        assert!(!req.url.raw().is_empty());
        assert!(req.method != b"-" && req.protocol != b"-");
    }
    for quoted in quoted_fields(r) {
        decoder_holds(quoted);
    }
    decoder_holds(req.url.raw());

    admitted_holds(r);
}

/// Content of field `n` (1-based, known fields only) as it is written in a line.
fn field_content(r: &AlbRecord<'_>, n: usize) -> Option<Vec<u8>> {
    let host_port = |h: &HostPort<'_>| {
        let mut v = h.ip.to_vec();
        v.extend_from_slice(format!(":{}", h.port).as_bytes());
        v
    };
    let status =
        |s: Option<u16>| s.map_or_else(|| b"-".to_vec(), |s| format!("{s:03}").into_bytes());
    let b = |s: &[u8]| Some(s.to_vec());
    match n {
        1 => b(match r.conn_type {
            ConnType::Http => b"http",
            ConnType::Https => b"https",
            ConnType::H2 => b"h2",
            ConnType::Grpcs => b"grpcs",
            ConnType::Ws => b"ws",
            ConnType::Wss => b"wss",
            ConnType::Unknown(u) => u,
        }),
        2 => b(r.time),
        3 => b(r.elb()),
        4 => Some(host_port(&r.client)),
        5 => Some(r.target.as_ref().map_or_else(|| b"-".to_vec(), host_port)),
        6 => b(r.request_processing_time()),
        7 => b(r.target_processing_time),
        8 => b(r.response_processing_time()),
        9 => Some(status(r.elb_status_code)),
        10 => Some(status(r.target_status_code)),
        11 => b(r.received_bytes()),
        12 => b(r.sent_bytes()),
        13 => b(r.request.raw),
        14 => b(r.user_agent.raw()),
        15 => b(r.ssl_cipher()),
        16 => b(r.ssl_protocol()),
        17 => b(r.target_group_arn()),
        18 => b(r.trace_id.raw()),
        19 => b(r.domain_name().raw()),
        20 => b(r.chosen_cert_arn().raw()),
        21 => r.matched_rule_priority().and_then(b),
        22 => r.request_creation_time().and_then(b),
        23 => r.actions_executed.and_then(|e| b(e.raw())),
        24 => r.redirect_url().and_then(|e| b(e.raw())),
        25 => r.error_reason().and_then(|e| b(e.raw())),
        26 => r.target_port_list().and_then(|e| b(e.raw())),
        27 => r.target_status_code_list().and_then(|e| b(e.raw())),
        28 => r.classification.and_then(|e| b(e.raw())),
        29 => r.classification_reason().and_then(|e| b(e.raw())),
        30 => r.conn_trace_id().and_then(b),
        31 => r.transformed_host().and_then(|e| b(e.raw())),
        32 => r.transformed_uri().and_then(|e| b(e.raw())),
        33 => r.request_transform_status().and_then(|e| b(e.raw())),
        34 => r.ip_address().and_then(b),
        _ => None,
    }
}

/// The line a record's known fields make: single spaces, quotes where the format has them.
pub fn render_line(r: &AlbRecord<'_>) -> Vec<u8> {
    let mut line = Vec::new();
    for n in 1..=r.field_count.min(KNOWN_FIELDS) {
        let content = field_content(r, n).unwrap_or_else(|| panic!("field {n} of a record"));
        if n > 1 {
            line.push(b' ');
        }
        let quoted = is_quoted_field(n);
        if quoted {
            line.push(b'"');
        }
        line.extend_from_slice(&content);
        if quoted {
            line.push(b'"');
        }
    }
    line
}

/// `ip:port` whose port has a leading zero (`10.0.0.1:080`): parses, but is written back as 80.
fn has_leading_zero_port(field: &[u8]) -> bool {
    match field.iter().rposition(|&b| b == b':') {
        Some(i) => field.get(i + 1) == Some(&b'0') && field.len() > i + 2,
        None => false,
    }
}

/// The quoted fields' contents (still escaped).
fn quoted_fields<'a>(r: &AlbRecord<'a>) -> Vec<&'a [u8]> {
    let mut v = vec![
        r.user_agent.raw(),
        r.trace_id.raw(),
        r.domain_name().raw(),
        r.chosen_cert_arn().raw(),
    ];
    v.extend(
        [
            r.actions_executed,
            r.redirect_url(),
            r.error_reason(),
            r.target_port_list(),
            r.target_status_code_list(),
            r.classification,
            r.classification_reason(),
            r.transformed_host(),
            r.transformed_uri(),
            r.request_transform_status(),
        ]
        .into_iter()
        .flatten()
        .map(|e| e.raw()),
    );
    v
}

/// The ALB's escaping: `"`, `\` and every byte that is not printable ASCII as `\xHH`.
pub fn alb_escape(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len());
    for &b in raw {
        if b == b'"' || b == b'\\' || !(0x20..0x7f).contains(&b) {
            out.extend_from_slice(format!("\\x{b:02x}").as_bytes());
        } else {
            out.push(b);
        }
    }
    out
}

/// `decode_escapes`: borrows when there is no `\`, never grows, decodes exactly the well-formed
/// `\xHH` escapes, and undoes the ALB's escaping.
fn decoder_holds(raw: &[u8]) {
    let decoded = decode_escapes(raw);
    if !raw.contains(&b'\\') {
        assert!(matches!(decoded, Cow::Borrowed(d) if d == raw));
    }
    let escapes = count_escapes(raw);
    assert_eq!(
        decoded.len(),
        raw.len() - 3 * escapes,
        "decoding {}",
        show(raw)
    );
    assert_eq!(
        &*decode_escapes(&alb_escape(&decoded)),
        &*decoded,
        "escape then decode of {}",
        show(raw)
    );
}

/// Well-formed `\xHH` escapes, counted left to right as the decoder reads them.
fn count_escapes(raw: &[u8]) -> usize {
    let mut i = 0;
    let mut n = 0;
    while i < raw.len() {
        if let [b'\\', b'x', h, l, ..] = raw[i..]
            && h.is_ascii_hexdigit()
            && l.is_ascii_hexdigit()
        {
            n += 1;
            i += 4;
        } else {
            i += 1;
        }
    }
    n
}

thread_local! {
    /// The default policy (its day is set to each record's own) and its scratch space.
    static POLICY: RefCell<(Policy, Scratch)> = RefCell::new((
        Policy::for_day(chrono::NaiveDate::from_ymd_opt(2026, 3, 2).expect("a date")),
        Scratch::default(),
    ));
}

/// The replay filter on a record of its own day: what it admits is listable.
fn admitted_holds(r: &AlbRecord<'_>) {
    POLICY.with(|cell| {
        let (policy, scratch) = &mut *cell.borrow_mut();
        let Ok(day) = <[u8; 10]>::try_from(r.date_bytes()) else {
            return;
        };
        policy.day = day;
        if let Ok(n) = policy.admit(r, scratch) {
            assert_eq!(n.host_kind, HostKind::DnsName);
            assert!(!n.has_credential);
            listed_url_holds(&n, &scratch.url);
            assert_eq!(
                r.request.method, b"GET",
                "the default policy lists GETs only"
            );
        }
    });
}

// ---------------------------------------------------------------------------------------------
// The URL normaliser
// ---------------------------------------------------------------------------------------------

/// Checks `mine::normalize` on one URL: the first byte picks the options, the rest is the URL.
pub fn normalize_holds(data: &[u8]) {
    let Some((&flags, url)) = data.split_first() else {
        return;
    };
    let opts = NormalizeOptions {
        keep_tracking: flags & 1 == 1,
    };
    let mut scratch = Vec::new();
    match normalize(url, &opts, &mut scratch) {
        Ok(n) => {
            listed_url_holds(&n, &scratch);
            normalized_matches_model(url, &opts, &n, &scratch);
            idempotent(&opts, &n, &scratch);
        }
        Err(_) => scratch.clear(),
    }

    // Whatever follows a well-formed origin is listed (encoded), never refused, unless too
    // long once encoded.
    let mut on_origin = b"http://www.example.com/".to_vec();
    let tail = url.strip_prefix(b"/").unwrap_or(url);
    on_origin.extend_from_slice(tail);
    if 3 * tail.len() < MAX_TARGET {
        match normalize(&on_origin, &opts, &mut scratch) {
            Ok(n) => {
                assert_eq!(n.host(&scratch), b"www.example.com");
                listed_url_holds(&n, &scratch);
                normalized_matches_model(&on_origin, &opts, &n, &scratch);
            }
            Err(e) => panic!("{e:?} for a path on a good origin: {}", show(&on_origin)),
        }
    }
}

/// What a listed URL must be, wherever it comes from: an origin-form request-target of visible
/// ASCII without `#` (nothing a client would cut or re-encode), a lower-case host, nothing that
/// looks like a credential, accepted by the tester's list reader unchanged and put on the wire
/// unchanged.
pub fn listed_url_holds(n: &Normalized, scratch: &[u8]) {
    let host = n.host(scratch);
    let target = n.target(scratch);
    assert!(target.starts_with(b"/"), "target {}", show(target));
    assert!(target.len() <= MAX_TARGET);
    assert!(
        target
            .iter()
            .all(|&b| (0x21..0x7f).contains(&b) && !matches!(b, b'#' | b'"' | b'<' | b'>' | b'`')),
        "target {}",
        show(target)
    );
    assert!(!host.is_empty());
    assert!(
        host.iter().all(|&b| b.is_ascii_lowercase()
            || b.is_ascii_digit()
            || matches!(b, b'.' | b'-' | b'_' | b':' | b'[' | b']')),
        "host {}",
        show(host)
    );
    if !n.has_credential {
        assert_eq!(
            credential_in(target),
            None,
            "a credential in the listed target {}",
            show(target)
        );
    }

    // The tester's reader takes it as it is ...
    let target_str = std::str::from_utf8(target).expect("visible ASCII");
    assert_eq!(check_origin_form(target), Ok(target_str.to_string()));
    let mut csv = Vec::new();
    {
        let mut w = csv::Writer::from_writer(&mut csv);
        w.write_record([&b"path"[..], b"host"]).expect("in memory");
        w.write_record([target, host]).expect("in memory");
        w.flush().expect("in memory");
    }
    let list = read_list(&csv[..]).expect("a list of one line");
    if n.has_credential {
        // Never listed by the miner; a list that holds it anyway is refused by the tester,
        // and the refusal does not repeat the value.
        assert!(list.entries.is_empty(), "a credential target was accepted");
        assert_eq!(list.rejected.len(), 1);
        assert_eq!(list.rejected[0].reason, "credential");
        assert!(!list.rejected[0].value.contains(target_str));
        return;
    }
    assert!(list.rejected.is_empty(), "{:?}", list.rejected);
    assert_eq!(list.entries.len(), 1);
    assert_eq!(list.entries[0].target, target_str);
    assert_eq!(
        list.entries[0].host.as_deref().map(str::as_bytes),
        Some(host)
    );
    // ... and sends it unchanged.
    sent_unchanged(target_str);
}

/// The tester puts `target` in the request line byte for byte.
fn sent_unchanged(target: &str) {
    thread_local! {
        static ENDPOINT: Endpoint =
            Endpoint::parse("http://127.0.0.1:8080").expect("a loopback endpoint");
    }
    let uri = ENDPOINT
        .with(|endpoint| endpoint.uri_for(target))
        .unwrap_or_else(|e| panic!("{e}: the tester cannot send {target:?}"));
    assert_eq!(uri.path_and_query().map(|p| p.as_str()), Some(target));
}

/// A second opinion on credentials in a request-target, written from the module docs of
/// `mine::normalize`: a credential query key, a JWT-shaped query value, or a `;name=` path
/// parameter whose name is a credential key. Returns what it found.
pub fn credential_in(target: &[u8]) -> Option<String> {
    let (path, query) = match target.iter().position(|&b| b == b'?') {
        Some(q) => (&target[..q], Some(&target[q + 1..])),
        None => (target, None),
    };
    for param in path.split(|&b| b == b';').skip(1) {
        let name_end = param
            .iter()
            .position(|&b| matches!(b, b'=' | b'/'))
            .unwrap_or(param.len());
        if is_credential_key(&param[..name_end]) {
            return Some(format!("path parameter {}", show(param)));
        }
    }
    for param in query.into_iter().flat_map(|q| q.split(|&b| b == b'&')) {
        let (key, value) = match param.iter().position(|&b| b == b'=') {
            Some(i) => (&param[..i], &param[i + 1..]),
            None => (param, &b""[..]),
        };
        if is_credential_key(key) {
            return Some(format!("query key {}", show(key)));
        }
        if value.len() > 20
            && value.starts_with(b"eyJ")
            && value.iter().filter(|&&b| b == b'.').count() == 2
        {
            return Some(format!("JWT-shaped value {}", show(value)));
        }
    }
    None
}

/// The request-target bytes that `normalize` percent-encodes (module docs).
fn needs_encoding(b: u8) -> bool {
    b <= 0x20 || b >= 0x7f || matches!(b, b'"' | b'#' | b'<' | b'>' | b'`')
}

fn percent_encode(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    for &b in bytes {
        if needs_encoding(b) {
            out.extend_from_slice(format!("%{b:02X}").as_bytes());
        } else {
            out.push(b);
        }
    }
    out
}

/// The module docs of `mine::normalize`, as a slow second implementation: host lower-cased,
/// default port dropped, path and query byte for byte but for the encoding, tracking
/// parameters dropped unless kept (and the `?` with them when nothing is left).
fn normalized_matches_model(url: &[u8], opts: &NormalizeOptions, n: &Normalized, s: &[u8]) {
    let lower = url.to_ascii_lowercase();
    let (scheme, rest) = if lower.starts_with(b"http://") {
        (Scheme::Http, &url[7..])
    } else if lower.starts_with(b"https://") {
        (Scheme::Https, &url[8..])
    } else {
        panic!("normalised a URL that is not http(s): {}", show(url));
    };
    assert_eq!(n.scheme, scheme);
    let auth_end = rest
        .iter()
        .position(|&b| matches!(b, b'/' | b'?' | b'#'))
        .unwrap_or(rest.len());
    let (authority, target) = rest.split_at(auth_end);
    assert!(!authority.contains(&b'@'), "userinfo in {}", show(url));

    // Host: the authority's host lower-cased, with `:port` unless the port is the default.
    let (host, port) = if authority.first() == Some(&b'[') {
        let close = authority
            .iter()
            .position(|&b| b == b']')
            .expect("a closing bracket");
        (
            &authority[..=close],
            authority[close + 1..].strip_prefix(b":"),
        )
    } else {
        match authority.iter().rposition(|&b| b == b':') {
            Some(i) => (&authority[..i], Some(&authority[i + 1..])),
            None => (authority, None),
        }
    };
    let default_port = match scheme {
        Scheme::Http => 80,
        Scheme::Https => 443,
    };
    let port = port.map_or(default_port, |digits| {
        assert!(!digits.is_empty() && digits.iter().all(u8::is_ascii_digit));
        let number = std::str::from_utf8(digits)
            .ok()
            .and_then(|d| d.parse().ok());
        number.unwrap_or_else(|| panic!("port {} of {}", show(digits), show(url)))
    });
    assert_eq!(n.port, port, "port of {}", show(url));
    let mut expected_host = host.to_ascii_lowercase();
    if port != default_port {
        expected_host.extend_from_slice(format!(":{port}").as_bytes());
    }
    assert_eq!(
        show(n.host(s)),
        show(&expected_host),
        "host of {}",
        show(url)
    );

    let (path, query) = match target.iter().position(|&b| b == b'?') {
        Some(q) => (&target[..q], Some(&target[q + 1..])),
        None => (target, None),
    };
    let mut expected = if path.is_empty() {
        b"/".to_vec()
    } else {
        percent_encode(path)
    };
    if let Some(query) = query {
        let mut removed = false;
        let mut kept: Vec<Vec<u8>> = Vec::new();
        for param in query.split(|&b| b == b'&') {
            let key = param.split(|&b| b == b'=').next().unwrap_or(param);
            if !opts.keep_tracking && is_tracking_key(key) {
                removed = true;
            } else {
                kept.push(percent_encode(param));
            }
        }
        let joined = kept.join(&b'&');
        if !(removed && joined.is_empty()) {
            expected.push(b'?');
            expected.extend_from_slice(&joined);
        }
        assert_eq!(n.tracking_removed, removed);
    } else {
        assert!(!n.tracking_removed);
    }
    assert_eq!(
        show(n.target(s)),
        show(&expected),
        "target of {}",
        show(url)
    );
    if let Some(found) = credential_in(&expected) {
        assert!(n.has_credential, "{found} in {} is not flagged", show(url));
    }
}

/// Normalising the listed URL again changes nothing.
fn idempotent(opts: &NormalizeOptions, n: &Normalized, s: &[u8]) {
    let mut again_url = format!("{}://", n.scheme.as_str()).into_bytes();
    again_url.extend_from_slice(n.host(s));
    again_url.extend_from_slice(n.target(s));
    let mut again = Vec::new();
    let m = normalize(&again_url, opts, &mut again)
        .unwrap_or_else(|e| panic!("{e:?}: the listed URL {} is refused", show(&again_url)));
    assert_eq!(show(m.host(&again)), show(n.host(s)));
    assert_eq!(show(m.target(&again)), show(n.target(s)));
    assert_eq!(
        (m.scheme, m.port, m.host_kind, m.has_credential),
        (n.scheme, n.port, n.host_kind, n.has_credential),
        "normalising {} again",
        show(&again_url)
    );
}

// ---------------------------------------------------------------------------------------------
// The tester's list reader
// ---------------------------------------------------------------------------------------------

/// Checks `list::read_list` on one file and `list::check_origin_form` on the raw bytes.
pub fn read_list_holds(data: &[u8]) {
    if let Ok(target) = check_origin_form(data) {
        assert_eq!(target.as_bytes(), data);
        entry_target_holds(&target);
    }
    let escaped = escape_bytes(data);
    assert!(escaped.bytes().all(|b| (0x20..0x7f).contains(&b)));

    let list = match read_list(data) {
        Ok(list) => list,
        Err(e) => {
            assert!(!e.to_string().is_empty());
            return;
        }
    };
    let mut last_line = 0;
    for e in &list.entries {
        assert!(e.line >= last_line, "entries out of order");
        last_line = e.line;
        entry_target_holds(&e.target);
        if let Some(host) = &e.host {
            assert!(!host.is_empty() && host.len() <= 300);
            assert!(host.bytes().all(|b| b.is_ascii_lowercase()
                || b.is_ascii_digit()
                || matches!(b, b'.' | b'-' | b'_' | b':' | b'[' | b']')));
        }
        if let Some(code) = e.expected_status {
            assert!((100..=599).contains(&code));
        }
        if let Some(scheme) = &e.scheme {
            assert!(scheme == "http" || scheme == "https");
        }
        if let Some(agent) = &e.agent {
            assert!(agent.bytes().all(|b| (0x20..0x7f).contains(&b)));
        }
    }
    for r in &list.rejected {
        assert!(!r.reason.is_empty());
        assert!(r.value.bytes().all(|b| (0x20..0x7f).contains(&b)));
    }

    // What was accepted, written back as a list, reads back the same.
    if !list.entries.is_empty() {
        let again = read_list(&write_entries(&list.entries)[..]).expect("a list we wrote");
        assert!(
            again.rejected.is_empty(),
            "rejected on reading back: {:?}",
            again.rejected
        );
        assert_eq!(again.entries.len(), list.entries.len());
        for (i, (a, b)) in again.entries.iter().zip(&list.entries).enumerate() {
            let b = ListEntry {
                line: i as u64 + 2,
                ..b.clone()
            };
            assert_eq!(a, &b);
        }
    }
}

/// A target the reader accepted: origin form, visible ASCII, no `#`, accepted again unchanged
/// and sent unchanged.
fn entry_target_holds(target: &str) {
    let b = target.as_bytes();
    assert!(b.starts_with(b"/") && b.len() <= 8192);
    assert!(b.iter().all(|&c| (0x21..0x7f).contains(&c) && c != b'#'));
    assert_eq!(check_origin_form(b), Ok(target.to_string()));
    sent_unchanged(target);
}

/// The entries as a full-format list, columns by name.
fn write_entries(entries: &[ListEntry]) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut w = csv::Writer::from_writer(&mut out);
        w.write_record(["path", "host", "expected_status", "scheme", "agent", "hits"])
            .expect("in memory");
        for e in entries {
            w.write_record([
                e.target.clone(),
                e.host.clone().unwrap_or_default(),
                e.expected_status.map(|c| c.to_string()).unwrap_or_default(),
                e.scheme.clone().unwrap_or_default(),
                e.agent.clone().unwrap_or_default(),
                e.hits.map(|h| h.to_string()).unwrap_or_default(),
            ])
            .expect("in memory");
        }
        w.flush().expect("in memory");
    }
    out
}
