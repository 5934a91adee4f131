//! The access-log line parser: one line of bytes -> [`AlbRecord`], borrowing from the line.
//!
//! This module owns the *syntax* of an ALB access-log line (see `alb-log-format.md`) above the
//! split into fields (which is [`super::split`]'s): the 20-to-34+ field layouts, which fields
//! must be quoted, the checks on the few
//! fields that are typed (type, time shape, client/target, status codes, the request split) and
//! the [`ParseError`] taxonomy, including the recognisable non-access-log lines that share the
//! same S3 folders. It owns no policy: which requests are replayable is decided in `mine`.
//!
//! The parser never allocates and never panics: fields are kept in a fixed-size array on the
//! stack; everything typed is checked with bounds-safe slice patterns.

use super::record::{
    AlbRecord, ConnType, Escaped, HostPort, KNOWN_FIELDS, MIN_FIELDS, Request, field_mask,
};
use wide::u8x16;

use super::split::{Fields, split_fields};

/// The names of the known fields, 1-based field `n` at index `n - 1` (as in the format notes).
const FIELD_NAMES: [&str; KNOWN_FIELDS] = [
    "type",
    "time",
    "elb",
    "client:port",
    "target:port",
    "request_processing_time",
    "target_processing_time",
    "response_processing_time",
    "elb_status_code",
    "target_status_code",
    "received_bytes",
    "sent_bytes",
    "request",
    "user_agent",
    "ssl_cipher",
    "ssl_protocol",
    "target_group_arn",
    "trace_id",
    "domain_name",
    "chosen_cert_arn",
    "matched_rule_priority",
    "request_creation_time",
    "actions_executed",
    "redirect_url",
    "error_reason",
    "target:port_list",
    "target_status_code_list",
    "classification",
    "classification_reason",
    "conn_trace_id",
    "transformed_host",
    "transformed_uri",
    "request_transform_status",
    "ip_address",
];

/// The name of field `field` (1-based); `"unknown"` after the last known field.
pub fn field_name(field: usize) -> &'static str {
    field
        .checked_sub(1)
        .and_then(|i| FIELD_NAMES.get(i))
        .copied()
        .unwrap_or("unknown")
}

/// Bit `n - 1` is set when known field `n` is written in double quotes.
const QUOTED_FIELDS: u64 =
    field_mask(&[13, 14, 18, 19, 20, 23, 24, 25, 26, 27, 28, 29, 31, 32, 33]);

/// Whether known field `field` (1-based) is a quoted one in the format.
pub fn is_quoted_field(field: usize) -> bool {
    (1..=KNOWN_FIELDS).contains(&field) && QUOTED_FIELDS >> (field - 1) & 1 == 1
}

/// Why a line is not an access-log record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("empty line")]
    Empty,
    #[error(
        "field 1 (type): line starts with '{{': a JSON record (CloudWatch vended delivery?), \
         not a space-separated access-log line"
    )]
    JsonLine,
    #[error(
        "field 1 (type): line starts with a timestamp: a connection-log line, not an access-log line"
    )]
    ConnectionLog,
    #[error(
        "field 3 (elb): a duration instead of 'app/...' in a short line: a health-check-log line, \
         not an access-log line"
    )]
    HealthCheckLog,
    #[error(
        "field 1 (type): 'Enable AccessLog for ELB: ...': the ELBAccessLogTestFile line, \
         not an access-log line"
    )]
    TestFileLine,
    #[error(
        "only {count} fields: fields 1 (type) to 20 (chosen_cert_arn) are required, so at least 20"
    )]
    TooFewFields { count: usize },
    #[error(
        "field {field} ({name}): empty (two spaces in a row, or a space at the end of the line)",
        name = field_name(*.field)
    )]
    EmptyField { field: usize },
    #[error(
        "field {field} ({name}): opening quote without a closing quote",
        name = field_name(*.field)
    )]
    UnterminatedQuote { field: usize },
    #[error(
        "field {field} ({name}): closing quote not followed by a space or the end of the line",
        name = field_name(*.field)
    )]
    JunkAfterQuote { field: usize },
    #[error(
        "field {field} ({name}): expected a quoted field, found a bare one",
        name = field_name(*.field)
    )]
    NotQuoted { field: usize },
    #[error(
        "field {field} ({name}): expected a bare field, found a quoted one",
        name = field_name(*.field)
    )]
    UnexpectedQuote { field: usize },
    #[error("field 2 (time): expected YYYY-MM-DDTHH:MM:SS[.fraction]Z")]
    BadTime,
    #[error("field 4 (client:port): expected ip:port (IPv6 without brackets)")]
    BadClient,
    #[error("field 5 (target:port): expected ip:port (IPv6 without brackets) or '-'")]
    BadTarget,
    #[error("field 9 (elb_status_code): expected three digits or '-'")]
    BadElbStatus,
    #[error("field 10 (target_status_code): expected three digits or '-'")]
    BadTargetStatus,
}

impl ParseError {
    /// A stable snake_case name, used as the key in reports.
    pub fn reason(&self) -> &'static str {
        match self {
            ParseError::Empty => "empty",
            ParseError::JsonLine => "json_line",
            ParseError::ConnectionLog => "connection_log",
            ParseError::HealthCheckLog => "health_check_log",
            ParseError::TestFileLine => "test_file_line",
            ParseError::TooFewFields { .. } => "too_few_fields",
            ParseError::EmptyField { .. } => "empty_field",
            ParseError::UnterminatedQuote { .. } => "unterminated_quote",
            ParseError::JunkAfterQuote { .. } => "junk_after_quote",
            ParseError::NotQuoted { .. } => "not_quoted",
            ParseError::UnexpectedQuote { .. } => "unexpected_quote",
            ParseError::BadTime => "bad_time",
            ParseError::BadClient => "bad_client",
            ParseError::BadTarget => "bad_target",
            ParseError::BadElbStatus => "bad_elb_status",
            ParseError::BadTargetStatus => "bad_target_status",
        }
    }
}

/// Parses one line (without its line terminator; a trailing `\r` is tolerated).
///
/// Fields 1-20 are required, 21-34 optional (older layouts end early), later fields are counted
/// in [`AlbRecord::field_count`] and otherwise ignored. A malformed *request* is not an error: it
/// parses with [`Request::malformed`] set.
#[inline]
pub fn parse_line(line: &[u8]) -> Result<AlbRecord<'_>, ParseError> {
    let mut rec = AlbRecord::empty(line);
    parse_into(line, &mut rec).map(|()| rec)
}

/// [`parse_line`] into a record the caller holds: every field of `rec` is overwritten on
/// success (on error, `rec` holds nothing of use).
///
/// Why: a record returned by value was built in the callee's frame and copied out (a `memcpy`
/// of its 424 bytes, or of its 168-byte field index, a line); the scan parses each line into
/// one record of its own frame instead.
#[inline]
pub fn parse_into<'a>(line: &'a [u8], rec: &mut AlbRecord<'a>) -> Result<(), ParseError> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    match line {
        [] => return Err(ParseError::Empty),
        [b'{', ..] => return Err(ParseError::JsonLine),
        [y0, y1, y2, y3, b'-', ..] if all_digits(&[*y0, *y1, *y2, *y3]) => {
            return Err(ParseError::ConnectionLog);
        }
        _ if line.starts_with(b"Enable AccessLog for ELB") => {
            return Err(ParseError::TestFileLine);
        }
        _ => {}
    }

    rec.fields = Fields::new(line);
    let fields = &mut rec.fields;
    split_fields(line, fields)?;
    let count = fields.count;
    if count < MIN_FIELDS {
        return Err(if looks_like_health_check(fields) {
            ParseError::HealthCheckLog
        } else {
            ParseError::TooFewFields { count }
        });
    }

    // Quoting must match the format for every known field present: a field added or lost in
    // the middle of a line shows up here rather than as shifted values.
    let present_mask = (1u64 << count.min(KNOWN_FIELDS)) - 1;
    let wrong = (fields.quoted_mask ^ QUOTED_FIELDS) & present_mask;
    if wrong != 0 {
        let field = wrong.trailing_zeros() as usize + 1;
        return Err(if is_quoted_field(field) {
            ParseError::NotQuoted { field }
        } else {
            ParseError::UnexpectedQuote { field }
        });
    }

    let fields: &Fields<'_> = fields;
    let raw = |n: usize| fields.get(n);
    let opt_esc = |n: usize| (count >= n).then(|| Escaped(fields.get(n)));

    let time = raw(2);
    if !valid_time(time) {
        return Err(ParseError::BadTime);
    }
    let (client, rest) = fields.get_with_rest(4);
    let client = host_port(client, rest).ok_or(ParseError::BadClient)?;
    let target = match fields.get_with_rest(5) {
        (b"-", _) => None,
        (t, rest) => Some(host_port(t, rest).ok_or(ParseError::BadTarget)?),
    };
    let elb_status_code = match raw(9) {
        b"-" => None,
        s => Some(status(s).ok_or(ParseError::BadElbStatus)?),
    };
    let target_status_code = match raw(10) {
        b"-" => None,
        s => Some(status(s).ok_or(ParseError::BadTargetStatus)?),
    };

    // Disjoint from `rec.fields`, which `fields` borrows: written in place.
    rec.conn_type = ConnType::from_bytes(raw(1));
    rec.target_processing_time = raw(7);
    rec.request = split_request(raw(13));
    rec.user_agent = Escaped(raw(14));
    rec.trace_id = Escaped(raw(18));
    rec.actions_executed = opt_esc(23);
    rec.classification = opt_esc(28);
    rec.time = time;
    rec.client = client;
    rec.target = target;
    rec.elb_status_code = elb_status_code;
    rec.target_status_code = target_status_code;
    rec.field_count = count;
    Ok(())
}

/// A short line whose third field is a duration (`0.019584011`) where an access log has
/// `app/<name>/<id>`: the health-check log (`http <time> <latency> <target> ... PASS 200 -`).
fn looks_like_health_check(fields: &Fields<'_>) -> bool {
    let b = fields.get(3);
    fields.count >= 3
        && fields.quoted_mask & 0b100 == 0
        && b.contains(&b'.')
        && b.iter().all(|&c| c.is_ascii_digit() || c == b'.')
}

fn all_digits(b: &[u8]) -> bool {
    b.iter().all(u8::is_ascii_digit)
}

/// Two ASCII digits as a number, `None` unless both are digits.
fn two_digits(hi: u8, lo: u8) -> Option<u8> {
    (hi.is_ascii_digit() && lo.is_ascii_digit()).then(|| (hi - b'0') * 10 + (lo - b'0'))
}

/// `YYYY-MM-DDTHH:MM:SS[.fraction]Z`, with the ranges of each part checked (day 01-31 whatever
/// the month: the shape, not the calendar).
#[inline]
fn valid_time(t: &[u8]) -> bool {
    match <&[u8; 27]>::try_from(t) {
        Ok(usual) => valid_time_27(usual),
        Err(_) => valid_time_any(t),
    }
}

/// [`valid_time`] for the shape ALB writes, `YYYY-MM-DDTHH:MM:SS.ffffffZ` (27 bytes): the
/// punctuation and the digits are checked in two overlapping 16-byte vectors (SSE2/NEON
/// compares through `wide`), where the pattern match takes a compare and a branch per byte.
/// Then the ranges.
///
/// Why vectors: the earlier version checked four `u64` words (SWAR), but the compiler split
/// each word back into byte loads and shifts around its punctuation (~150 instructions a line
/// under callgrind).
fn valid_time_27(t: &[u8; 27]) -> bool {
    // Bytes 0-15 and 11-26. In each, the lanes of `PUNCT_*` that are not 0 must hold exactly
    // that byte; every other lane must be a digit.
    const PUNCT_LOW: [u8; 16] = *b"\0\0\0\0-\0\0-\0\0T\0\0:\0\0";
    const PUNCT_HIGH: [u8; 16] = *b"\0\0:\0\0:\0\0.\0\0\0\0\0\0Z";
    fn shape(chunk: &[u8; 16], punct: [u8; 16]) -> bool {
        let v = u8x16::new(*chunk);
        let p = u8x16::new(punct);
        let zero = u8x16::splat(0);
        let punct_lanes = !p.simd_eq(zero).to_bitmask() & 0xffff;
        let matching = v.simd_eq(p).to_bitmask();
        let digits = digit_mask(v);
        matching & punct_lanes == punct_lanes && (digits | punct_lanes) == 0xffff
    }
    let (low, high) = (t.first_chunk::<16>(), t.last_chunk::<16>());
    let ok = matches!((low, high), (Some(low), Some(high))
        if shape(low, PUNCT_LOW) & shape(high, PUNCT_HIGH));
    let two = |i: usize| (t[i] - b'0') * 10 + (t[i + 1] - b'0');
    ok && (1..=12).contains(&two(5))
        && (1..=31).contains(&two(8))
        && two(11) <= 23
        && two(14) <= 59
        && two(17) <= 59
}

/// [`valid_time`] for any length: the shape with a fraction of another length, or none.
fn valid_time_any(t: &[u8]) -> bool {
    let [
        y0,
        y1,
        y2,
        y3,
        b'-',
        mo0,
        mo1,
        b'-',
        d0,
        d1,
        b'T',
        h0,
        h1,
        b':',
        mi0,
        mi1,
        b':',
        s0,
        s1,
        ref tail @ ..,
    ] = *t
    else {
        return false;
    };
    let fraction_ok = match tail {
        [b'Z'] => true,
        [b'.', digits @ .., b'Z'] => !digits.is_empty() && all_digits(digits),
        _ => false,
    };
    fraction_ok
        && all_digits(&[y0, y1, y2, y3])
        && matches!(two_digits(mo0, mo1), Some(1..=12))
        && matches!(two_digits(d0, d1), Some(1..=31))
        && matches!(two_digits(h0, h1), Some(0..=23))
        && matches!(two_digits(mi0, mi1), Some(0..=59))
        && matches!(two_digits(s0, s1), Some(0..=59))
}

/// The bytes of a logged IP address: hex digits, `.` and `:`.
const IP_BYTE: [bool; 256] = {
    let mut t = [false; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        t[c] = b.is_ascii_hexdigit() || b == b'.' || b == b':';
        c += 1;
    }
    t
};

/// `ip:port`, split at the last colon (IPv6 is logged without brackets). The address must be
/// non-empty and made of hex digits, `.` and `:`; the port is 1-5 digits up to 65535. `rest`
/// is the line from `b`'s first byte on ([`Fields::get_with_rest`]).
///
/// Inlined, with the rare general path out of line: called out of line, its 24-byte result
/// came back through the stack, written in two parts and read in one, which stalls the load
/// (no store-to-load forwarding), twice a line. Both paths give the colon's place and the port
/// ([`ColonPort`], returned in registers) and the result is built here, after they join: when
/// they returned the whole `HostPort`, the compiler joined them through a stack slot, and the
/// same stall came back on every line (a `perf annotate` put 4-5% of `Worker::line`'s
/// samples on each of the two copies out of it).
#[inline(always)]
fn host_port<'a>(b: &'a [u8], rest: &[u8]) -> Option<HostPort<'a>> {
    let (colon, port) = match host_port_short(b, rest) {
        Some(decided) => decided,
        None => host_port_any(b, rest),
    }?;
    Some(HostPort {
        ip: b.get(..colon as usize)?,
        port,
    })
}

/// Where the last colon of an `ip:port` field is, and the port's value.
type ColonPort = (u32, u16);

/// [`host_port`] for a field of at most 32 bytes with at least 32 bytes of the line from its
/// start (every IPv4 `ip:port` but at a line's very end): `None` when it does not apply.
///
/// Why: the general path takes a backward loop for the colon, a vector loop for the address
/// and a loop for the port, each with exits that depend on the field's length (two fields a
/// line, of varying lengths). Here three masks of two 16-byte vectors (address bytes, colons,
/// digits) decide the whole shape with bit operations; only the port's value is read byte by
/// byte. Not fewer instructions (~180 a field either way under callgrind), but criterion's
/// `parse_lines` ran faster with it in alternating builds: 688, 692, 682 against 710, 693 us.
#[inline(always)]
fn host_port_short(b: &[u8], rest: &[u8]) -> Option<Option<ColonPort>> {
    let len = b.len();
    let (Some(lo), Some(hi)) = (
        rest.first_chunk::<16>(),
        rest.get(16..)?.first_chunk::<16>(),
    ) else {
        return None;
    };
    if len > 32 {
        return None;
    }
    let masks = |chunk: [u8; 16]| {
        let v = u8x16::new(chunk);
        let colon = v.simd_eq(u8x16::splat(b':')).to_bitmask();
        (ip_byte_mask(chunk), colon, digit_mask(v))
    };
    let ((ip_lo, colon_lo, digit_lo), (ip_hi, colon_hi, digit_hi)) = (masks(*lo), masks(*hi));
    let field = (1u64 << len) - 1;
    let ip_bytes = (u64::from(ip_lo) | u64::from(ip_hi) << 16) & field;
    let colons = (u64::from(colon_lo) | u64::from(colon_hi) << 16) & field;
    let digits = (u64::from(digit_lo) | u64::from(digit_hi) << 16) & field;
    // The last colon, which must be in the last 6 bytes (a port has at most 5 digits).
    let Some(colon) = 63usize.checked_sub(colons.leading_zeros() as usize) else {
        return Some(None);
    };
    if colon < len.saturating_sub(6) || colon == 0 {
        return Some(None);
    }
    let before = (1u64 << colon) - 1;
    let port = field & !((2u64 << colon) - 1);
    if ip_bytes & before != before || port == 0 || digits & port != port {
        return Some(None);
    }
    let value = b
        .get(colon + 1..)
        .unwrap_or_default()
        .iter()
        .fold(0u32, |v, &d| v * 10 + u32::from(d - b'0'));
    // The colon is within the first 32 bytes.
    Some(u16::try_from(value).ok().map(|port| (colon as u32, port)))
}

/// [`host_port`] for any field.
#[inline(never)]
fn host_port_any(b: &[u8], rest: &[u8]) -> Option<ColonPort> {
    // A port has at most 5 digits, so the last colon is in the last 6 bytes or the field is
    // bad: a short backward look, not a `memrchr` call (whose set-up costs more).
    let tail = b.len().saturating_sub(6);
    let colon = tail + b.get(tail..)?.iter().rposition(|&c| c == b':')?;
    let (ip, port) = b.split_at(colon);
    let port = port.get(1..)?;
    if ip.is_empty() || !ip_bytes(ip, rest) {
        return None;
    }
    if port.is_empty() || port.len() > 5 {
        return None;
    }
    let mut value: u32 = 0;
    for &c in port {
        if !c.is_ascii_digit() {
            return None;
        }
        value = value * 10 + u32::from(c - b'0');
    }
    Some((u32::try_from(colon).ok()?, u16::try_from(value).ok()?))
}

/// Whether every byte of `ip` is an [`IP_BYTE`]; `rest` starts with `ip`.
///
/// Sixteen bytes at a time, with compares and no branch per byte: the byte-by-byte check cost
/// ~4% of the whole miner (two addresses a line, of varying lengths, so even its loop's exit
/// mispredicted). A vector may run past `ip` into the line's next bytes (masked off); only at
/// the very end of a line, with fewer than 16 bytes left, is it checked byte by byte.
#[inline]
fn ip_bytes(ip: &[u8], rest: &[u8]) -> bool {
    let mut at = 0;
    while at < ip.len() {
        let lanes = (ip.len() - at).min(16);
        let Some(chunk) = rest
            .get(at..at + 16)
            .and_then(|c| <[u8; 16]>::try_from(c).ok())
        else {
            return ip
                .get(at..)
                .is_some_and(|r| r.iter().fold(true, |ok, &c| ok & IP_BYTE[usize::from(c)]));
        };
        let wanted = (1u32 << lanes) - 1;
        if ip_byte_mask(chunk) & wanted != wanted {
            return false;
        }
        at += 16;
    }
    true
}

/// Bit `i` set where lane `i` of `v` is an ASCII digit: `v - '0' <= 9`, unsigned, so bytes below
/// '0' wrap above the range.
#[inline(always)]
fn digit_mask(v: u8x16) -> u32 {
    (v - u8x16::splat(b'0'))
        .saturating_sub(u8x16::splat(9))
        .simd_eq(u8x16::splat(0))
        .to_bitmask()
}

/// Bit `i` set where `chunk[i]` is an [`IP_BYTE`] (SSE2/NEON compares through `wide`).
#[inline(always)]
fn ip_byte_mask(chunk: [u8; 16]) -> u32 {
    let v = u8x16::new(chunk);
    let zero = u8x16::splat(0);
    // '0'..=':' (the digits and the colon) is `v - '0' <= 10`, and 'a'..='f' in either case
    // is `(v | 0x20) - 'a' <= 5`: unsigned, so both wrap below their range.
    let digit_or_colon = (v - u8x16::splat(b'0'))
        .saturating_sub(u8x16::splat(10))
        .simd_eq(zero);
    let hex_letter = ((v | u8x16::splat(0x20)) - u8x16::splat(b'a'))
        .saturating_sub(u8x16::splat(5))
        .simd_eq(zero);
    let dot = v.simd_eq(u8x16::splat(b'.'));
    (digit_or_colon | hex_letter | dot).to_bitmask()
}

/// Exactly three ASCII digits.
fn status(b: &[u8]) -> Option<u16> {
    match *b {
        [a, b, c] if all_digits(&[a, b, c]) => {
            Some(u16::from(a - b'0') * 100 + u16::from(b - b'0') * 10 + u16::from(c - b'0'))
        }
        _ => None,
    }
}

/// Splits field 13 as the format notes say: trim trailing spaces, method up to the first space,
/// protocol after the last space, URL everything in between (raw spaces included).
///
/// Inlined, with the rare general path out of line, for the reason [`host_port`] is: called
/// out of line, its 72-byte result came back through the stack and was copied into the record
/// (loads of stores not yet done: a `perf annotate` put 5% of `Worker::line`'s samples there).
#[inline(always)]
fn split_request(raw: &[u8]) -> Request<'_> {
    let (method, url, protocol, three_parts) = match split_request_short(raw) {
        Some(parts) => parts,
        None => split_request_any(raw),
    };
    let malformed = !three_parts
        || method.is_empty()
        || method == b"-"
        || url.is_empty()
        || protocol.is_empty()
        || protocol == b"-";
    Request {
        raw,
        method,
        url: Escaped(url),
        protocol,
        malformed,
    }
}

/// The method, URL and protocol of a request field, and whether it had all three.
type RequestParts<'a> = (&'a [u8], &'a [u8], &'a [u8], bool);

/// [`split_request_any`] for a field of at least 16 bytes that does not end in a space, whose
/// first space is in its first 16 bytes and whose last space is in its last 16 (what ALB logs
/// for nearly every request: `GET https://host:443/path HTTP/1.1`); `None` for any other field.
///
/// Why: the general path walks to the first space and back from the end to the last one a
/// byte at a time (~160 instructions a line under callgrind); here one compare of each end's
/// 16 bytes gives both places.
#[inline(always)]
fn split_request_short(raw: &[u8]) -> Option<RequestParts<'_>> {
    let (head, tail) = (raw.first_chunk::<16>()?, raw.last_chunk::<16>()?);
    let spaces = |chunk: &[u8; 16]| u8x16::new(*chunk).simd_eq(u8x16::splat(b' ')).to_bitmask();
    let (head, tail) = (spaces(head), spaces(tail));
    if head == 0 || tail == 0 || tail & 0x8000 != 0 {
        return None;
    }
    let first = head.trailing_zeros() as usize;
    let last = raw.len() - 16 + (31 - tail.leading_zeros()) as usize;
    let method = raw.get(..first)?;
    if last == first {
        return Some((method, raw.get(first + 1..)?, b"", false));
    }
    Some((
        method,
        raw.get(first + 1..last)?,
        raw.get(last + 1..)?,
        true,
    ))
}

/// The general way to [`split_request`]'s parts.
#[inline(never)]
fn split_request_any(raw: &[u8]) -> RequestParts<'_> {
    let end = raw.iter().rposition(|&c| c != b' ').map_or(0, |i| i + 1);
    let trimmed = raw.get(..end).unwrap_or_default();
    // The method and the protocol are a few bytes at either end: plain loops beat `memchr`
    // calls' set-up there.
    let (method, after_method) = match trimmed.iter().position(|&c| c == b' ') {
        Some(i) => {
            let (m, rest) = trimmed.split_at(i);
            (m, rest.get(1..).unwrap_or_default())
        }
        None => (trimmed, &b""[..]),
    };
    let (url, protocol, three_parts) = match after_method.iter().rposition(|&c| c == b' ') {
        Some(j) => {
            let (u, rest) = after_method.split_at(j);
            (u, rest.get(1..).unwrap_or_default(), true)
        }
        None => (after_method, &b""[..], false),
    };
    (method, url, protocol, three_parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_names_follow_the_notes() {
        assert_eq!(field_name(1), "type");
        assert_eq!(field_name(9), "elb_status_code");
        assert_eq!(field_name(13), "request");
        assert_eq!(field_name(34), "ip_address");
        assert_eq!(field_name(35), "unknown");
        assert_eq!(field_name(0), "unknown");
    }

    #[test]
    fn quoted_fields_follow_the_notes() {
        let quoted: Vec<usize> = (1..=40).filter(|&n| is_quoted_field(n)).collect();
        assert_eq!(
            quoted,
            [13, 14, 18, 19, 20, 23, 24, 25, 26, 27, 28, 29, 31, 32, 33]
        );
    }

    #[test]
    fn time_shape() {
        for ok in [
            &b"2018-07-02T22:23:00.186641Z"[..],
            b"2018-07-02T22:23:00Z",
            b"2018-07-02T22:23:00.1Z",
            b"2024-12-31T23:59:59.999999999Z",
            b"2024-01-01T00:00:00.000000Z",
        ] {
            assert!(valid_time(ok), "{}", String::from_utf8_lossy(ok));
        }
        for bad in [
            &b""[..],
            b"2018-07-02T22:23:00.186641",
            b"2018-07-02 22:23:00.186641Z",
            b"2018-13-02T22:23:00Z",
            b"2018-00-02T22:23:00Z",
            b"2018-07-00T22:23:00Z",
            b"2018-07-32T22:23:00Z",
            b"2018-07-02T24:23:00Z",
            b"2018-07-02T22:60:00Z",
            b"2018-07-02T22:23:60Z",
            b"2018-07-02T22:23:00.Z",
            b"2018-07-02T22:23:00.12a4Z",
            b"2018-07-02T22:23:00+00:00",
            b"18-07-02T22:23:00Z",
            b"2O18-07-02T22:23:00Z",
            b"2018-07-02T22:23:00ZZ",
        ] {
            assert!(!valid_time(bad), "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn the_vector_time_check_agrees_with_the_pattern_on_every_byte_at_every_place() {
        let good = *b"2026-03-14T09:26:53.589793Z";
        assert!(valid_time_27(&good) && valid_time_any(&good));
        for at in 0..good.len() {
            for b in 0..=255u8 {
                let mut t = good;
                t[at] = b;
                assert_eq!(
                    valid_time_27(&t),
                    valid_time_any(&t),
                    "{}",
                    String::from_utf8_lossy(&t)
                );
            }
        }
        // The ranges, at their edges.
        for (at, two, ok) in [
            (5, *b"00", false),
            (5, *b"13", false),
            (8, *b"00", false),
            (8, *b"32", false),
            (11, *b"24", false),
            (14, *b"60", false),
            (17, *b"60", false),
            (5, *b"12", true),
            (8, *b"31", true),
            (11, *b"23", true),
            (14, *b"59", true),
            (17, *b"59", true),
            (5, *b"01", true),
            (8, *b"01", true),
        ] {
            let mut t = good;
            t[at..at + 2].copy_from_slice(&two);
            let shown = String::from_utf8_lossy(&t);
            assert_eq!(valid_time_27(&t), ok, "{shown}");
            assert_eq!(valid_time_any(&t), ok, "{shown}");
        }
    }

    #[test]
    fn the_vector_ip_check_agrees_with_the_table_on_every_byte_and_length() {
        for b in 0..=255u8 {
            for lane in [0, 7, 15] {
                let mut chunk = [b'1'; 16];
                chunk[lane] = b;
                let mask = ip_byte_mask(chunk);
                assert_eq!(
                    mask >> lane & 1 == 1,
                    IP_BYTE[usize::from(b)],
                    "{b:#04x} {lane}"
                );
                assert_eq!(mask | 1 << lane, 0xffff, "{b:#04x} {lane}");
            }
        }
        // Every length up to three vectors, a bad byte at each place or none, with the line
        // going on past the address (a vector reads into it) or ending right there.
        for len in 0..48 {
            for bad in (0..len).map(Some).chain([None]) {
                let mut ip: Vec<u8> = (0..len)
                    .map(|i| b"0123456789abcdefABCDEF.:"[i % 24])
                    .collect();
                if let Some(at) = bad {
                    ip[at] = [b'g', b' ', b'/', 0xff][at % 4];
                }
                let mut line = ip.clone();
                line.extend_from_slice(b":443 and the line goes on");
                let expected = bad.is_none();
                assert_eq!(ip_bytes(&ip, &line), expected, "{len} {bad:?}");
                assert_eq!(ip_bytes(&ip, &ip), expected, "{len} {bad:?} at the end");
            }
        }
    }

    /// A fixed pseudo-random sequence (xorshift64) for the tests that draw many inputs.
    fn xorshift(mut state: u64) -> impl FnMut() -> u64 {
        move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        }
    }

    #[test]
    fn the_short_host_port_decides_as_the_general_one() {
        // Fields of every length to 34 from an alphabet of address bytes, colons, digits and a
        // few bytes that are none of them, pseudo-random but fixed; the line going on past the
        // field by 0 to 40 bytes (the short path needs 32 from the field's start).
        let alphabet = b"0123456789:::..afAFg -";
        let mut next = xorshift(0x2545_f491_4f6c_dd1d);
        let (mut decided, mut valid) = (0, 0);
        for _ in 0..200_000 {
            let len = (next() % 35) as usize;
            let mut field: Vec<u8> = (0..len)
                .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
                .collect();
            // Often the shape of a real field: an address, a colon and 1-6 digits.
            if next().is_multiple_of(2) && len > 2 {
                let port = 1 + (next() % 6) as usize;
                let at = len.saturating_sub(port + 1);
                field[at] = b':';
                for d in field.iter_mut().skip(at + 1) {
                    *d = b'0' + (next() % 10) as u8;
                }
            }
            let mut line = field.clone();
            line.extend(std::iter::repeat_n(b' ', (next() % 41) as usize));
            if let Some(short) = host_port_short(&field, &line) {
                decided += 1;
                valid += usize::from(short.is_some());
                assert_eq!(
                    short,
                    host_port_any(&field, &line),
                    "{:?}",
                    String::from_utf8_lossy(&field)
                );
            }
            let any = host_port_any(&field, &line);
            assert_eq!(
                host_port(&field, &line),
                any.map(|(colon, port)| HostPort {
                    ip: &field[..colon as usize],
                    port
                })
            );
        }
        assert!(
            decided > 50_000,
            "the short path decided only {decided} fields"
        );
        assert!(valid > 2_000, "only {valid} of the fields were addresses");
    }

    #[test]
    fn the_short_request_split_agrees_with_the_general_one() {
        // Fields of 0 to 60 bytes of spaces, letters and slashes, spaces often placed as in a
        // request, pseudo-random but fixed.
        let alphabet = b"  GET/htp:x-.1H";
        let mut next = xorshift(0x9e37_79b9_7f4a_7c15);
        let mut decided = 0;
        for _ in 0..200_000 {
            let len = (next() % 61) as usize;
            let mut raw: Vec<u8> = (0..len)
                .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
                .collect();
            if len > 20 && next().is_multiple_of(2) {
                raw.iter_mut()
                    .for_each(|b| *b = if *b == b' ' { b'u' } else { *b });
                raw[3] = b' ';
                raw[len - 9] = b' ';
            }
            if let Some(short) = split_request_short(&raw) {
                decided += 1;
                assert_eq!(
                    short,
                    split_request_any(&raw),
                    "{:?}",
                    String::from_utf8_lossy(&raw)
                );
            }
        }
        assert!(
            decided > 50_000,
            "the short path decided only {decided} fields"
        );
    }

    #[test]
    fn host_port_splits_at_last_colon() {
        assert_eq!(
            host_port(b"192.168.131.39:2817", b"192.168.131.39:2817"),
            Some(HostPort {
                ip: b"192.168.131.39",
                port: 2817
            })
        );
        assert_eq!(
            host_port(b"2001:db8::1:443", b"2001:db8::1:443"),
            Some(HostPort {
                ip: b"2001:db8::1",
                port: 443
            })
        );
        assert_eq!(
            host_port(b"::ffff:10.0.0.1:65535", b"::ffff:10.0.0.1:65535"),
            Some(HostPort {
                ip: b"::ffff:10.0.0.1",
                port: 65535
            })
        );
        for bad in [
            &b""[..],
            b"-",
            b"10.0.0.1",
            b":80",
            b"10.0.0.1:",
            b"10.0.0.1:65536",
            b"10.0.0.1:123456",
            b"::1234567",
            b"1:2:3:1234567",
            b"10.0.0.1:8a",
            b"[2001:db8::1]:443",
            b"host.example:80",
        ] {
            assert_eq!(
                host_port(bad, bad),
                None,
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn status_is_three_digits() {
        assert_eq!(status(b"200"), Some(200));
        assert_eq!(status(b"561"), Some(561));
        assert_eq!(status(b"000"), Some(0));
        for bad in [&b""[..], b"-", b"20", b"2000", b"2x0", b"+20"] {
            assert_eq!(status(bad), None);
        }
    }

    #[test]
    fn request_split() {
        let r = split_request(b"GET http://x:80/a b?c=d e HTTP/1.1");
        assert_eq!(r.method, b"GET");
        assert_eq!(r.url.raw(), b"http://x:80/a b?c=d e");
        assert_eq!(r.protocol, b"HTTP/1.1");
        assert!(!r.malformed);

        let r = split_request(b"GET http://x:80/ HTTP/1.0  ");
        assert_eq!(r.raw, b"GET http://x:80/ HTTP/1.0  ");
        assert_eq!(r.url.raw(), b"http://x:80/");
        assert_eq!(r.protocol, b"HTTP/1.0");
        assert!(!r.malformed);

        for bad in [
            &b"- http://host:80- -"[..],
            b"- - -",
            b"-",
            b"",
            b"   ",
            b"GET",
            b"GET /",
            b"GET http://x:80/ -",
            b"- http://x:80/ HTTP/1.1",
            b" GET http://x:80/ HTTP/1.1",
            b"GET  HTTP/1.1",
        ] {
            assert!(
                split_request(bad).malformed,
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
