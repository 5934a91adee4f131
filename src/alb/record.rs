//! `AlbRecord`: the fields of one ALB access-log line, borrowed from the line.
//!
//! Nothing here allocates. Quoted fields are kept exactly as written (still `\xHH`-escaped, see
//! [`Escaped`]); callers decode only the values they use. Cheap, always-needed values (type,
//! status codes, the request split) are typed by the parser; the rest stay raw byte slices with
//! accessors, so a line that is dropped early costs no number parsing.

use std::borrow::Cow;

use super::split::Fields;

/// Field 1, `type`: the kind of connection that carried the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnType<'a> {
    Http,
    Https,
    H2,
    Grpcs,
    Ws,
    Wss,
    /// A value this version does not know. The line parses; the filter skips and counts it.
    Unknown(&'a [u8]),
}

impl<'a> ConnType<'a> {
    /// Inlined: out of line, its 24-byte result came back through the stack, and the parse
    /// waited on reading it (4-6% of `Worker::line`'s samples in a `perf annotate`).
    #[inline(always)]
    pub fn from_bytes(b: &'a [u8]) -> Self {
        match b {
            b"http" => ConnType::Http,
            b"https" => ConnType::Https,
            b"h2" => ConnType::H2,
            b"grpcs" => ConnType::Grpcs,
            b"ws" => ConnType::Ws,
            b"wss" => ConnType::Wss,
            other => ConnType::Unknown(other),
        }
    }
}

/// An `address:port` field (client, target). IPv6 addresses are logged without brackets, so the
/// parser splits at the **last** colon.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostPort<'a> {
    pub ip: &'a [u8],
    pub port: u16,
}

/// A quoted field's content, exactly as logged: every `\` starts a `\xHH` escape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Escaped<'a>(pub &'a [u8]);

impl<'a> Escaped<'a> {
    /// The raw, still-escaped bytes.
    pub fn raw(&self) -> &'a [u8] {
        self.0
    }

    /// `true` when the field is the ALB's "no value" marker `-`.
    pub fn is_dash(&self) -> bool {
        self.0 == b"-"
    }

    /// Decodes `\xHH` escapes (hex in either case) to bytes. Borrowed when there is nothing to
    /// decode. A malformed escape (a `\` not followed by `x` and two hex digits) is kept
    /// literally, byte for byte: the ALB never writes one, so it is data, not an escape.
    pub fn decode(&self) -> Cow<'a, [u8]> {
        decode_escapes(self.0)
    }
}

/// See [`Escaped::decode`].
pub fn decode_escapes(raw: &[u8]) -> Cow<'_, [u8]> {
    let Some(first) = memchr::memchr(b'\\', raw) else {
        return Cow::Borrowed(raw);
    };
    let mut out = Vec::with_capacity(raw.len());
    out.extend_from_slice(&raw[..first]);
    let mut i = first;
    while i < raw.len() {
        let b = raw[i];
        if b == b'\\'
            && i + 3 < raw.len()
            && raw[i + 1] == b'x'
            && let (Some(h), Some(l)) = (hex_val(raw[i + 2]), hex_val(raw[i + 3]))
        {
            out.push(h << 4 | l);
            i += 4;
            continue;
        }
        out.push(b);
        i += 1;
    }
    Cow::Owned(out)
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Field 13, `request`, split as the format notes say: method up to the first space, protocol
/// after the last space (after trimming trailing spaces), URL everything in between (it may hold
/// raw spaces). All three are still escaped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request<'a> {
    /// The whole field content, as logged.
    pub raw: &'a [u8],
    pub method: &'a [u8],
    pub url: Escaped<'a>,
    pub protocol: &'a [u8],
    /// The ALB's marker for a request it could not parse (`"- http://host:80- -"`, `"- - -"`),
    /// or a field that does not have the three parts. Never replayed.
    pub malformed: bool,
}

impl Request<'_> {
    /// No request: what a record holds before its request field is split.
    pub(crate) const EMPTY: Request<'static> = Request {
        raw: b"",
        method: b"",
        url: Escaped(b""),
        protocol: b"",
        malformed: true,
    };
}

/// One access-log line. Fields 1-20 are present in every layout greenlight accepts; later fields
/// are `None` on lines written before AWS added them.
///
/// The fields the miner reads on every line are cut and typed by the parser; the others are cut
/// from the line when asked for (the methods named after them): a line has up to 34 fields
/// and the miner reads about a dozen, and cutting the rest was a measurable share of the parse.
///
/// Two records are equal when every field they hold has the same value (as the fields were
/// when all were cut by the parser), whatever the lines they were cut from.
#[derive(Debug, Clone)]
pub struct AlbRecord<'a> {
    /// 1
    pub conn_type: ConnType<'a>,
    /// 2, response time, `YYYY-MM-DDTHH:MM:SS.ffffffZ` (validated by the parser).
    pub time: &'a [u8],
    /// 4
    pub client: HostPort<'a>,
    /// 5, `None` for `-` (WAF block, redirect, fixed response, Lambda, malformed request).
    pub target: Option<HostPort<'a>>,
    /// 7, seconds as logged (`-1` when not available); see [`AlbRecord::target_us`].
    pub target_processing_time: &'a [u8],
    /// 9, `None` for `-`.
    pub elb_status_code: Option<u16>,
    /// 10, `None` for `-` (the target did not answer).
    pub target_status_code: Option<u16>,
    /// 13
    pub request: Request<'a>,
    /// 14, `-` when absent.
    pub user_agent: Escaped<'a>,
    /// 18
    pub trace_id: Escaped<'a>,
    /// 23, comma list; see [`AlbRecord::has_action`].
    pub actions_executed: Option<Escaped<'a>>,
    /// 28
    pub classification: Option<Escaped<'a>>,
    /// How many fields the line had in all (20 or more).
    pub field_count: usize,
    /// Where every known field is, for the methods that cut the others.
    pub(super) fields: Fields<'a>,
}

impl<'a> AlbRecord<'a> {
    /// A record of nothing yet, for [`crate::alb::parse_into`] to fill from `line`.
    pub fn empty(line: &'a [u8]) -> Self {
        AlbRecord {
            conn_type: ConnType::Http,
            time: b"",
            client: HostPort { ip: b"", port: 0 },
            target: None,
            target_processing_time: b"",
            elb_status_code: None,
            target_status_code: None,
            request: Request::EMPTY,
            user_agent: Escaped(b""),
            trace_id: Escaped(b""),
            actions_executed: None,
            classification: None,
            field_count: 0,
            fields: Fields::new(line),
        }
    }
}

impl PartialEq for AlbRecord<'_> {
    fn eq(&self, other: &Self) -> bool {
        let known = self.field_count.min(KNOWN_FIELDS);
        self.conn_type == other.conn_type
            && self.time == other.time
            && self.client == other.client
            && self.target == other.target
            && self.target_processing_time == other.target_processing_time
            && self.elb_status_code == other.elb_status_code
            && self.target_status_code == other.target_status_code
            && self.request == other.request
            && self.user_agent == other.user_agent
            && self.trace_id == other.trace_id
            && self.actions_executed == other.actions_executed
            && self.classification == other.classification
            && self.field_count == other.field_count
            && (1..=known)
                .filter(|n| CUT_ON_DEMAND >> (n - 1) & 1 == 1)
                .all(|n| self.fields.get(n) == other.fields.get(n))
    }
}

/// Bit `n - 1` set for each known field `n` that [`AlbRecord`] cuts only when asked for (by
/// the method named after it); the others are struct fields, typed or cut by the parser.
const CUT_ON_DEMAND: u64 = field_mask(&[
    3, 6, 8, 11, 12, 15, 16, 17, 19, 20, 21, 22, 24, 25, 26, 27, 29, 30, 31, 32, 33, 34,
]);

/// Bit `n - 1` set for each (1-based) field number `n` in `fields`.
pub(crate) const fn field_mask(fields: &[usize]) -> u64 {
    let mut mask = 0u64;
    let mut i = 0;
    while i < fields.len() {
        mask |= 1 << (fields[i] - 1);
        i += 1;
    }
    mask
}

/// Accessors for fields the parser does not cut: `$n` is the 1-based field number, and a field
/// from 21 on is `None` on lines that end before it.
macro_rules! raw_fields {
    ($($(#[$doc:meta])* $name:ident: $n:literal;)*) => {
        $($(#[$doc])* pub fn $name(&self) -> &'a [u8] {
            self.fields.get($n)
        })*
    };
}
macro_rules! optional_fields {
    ($($(#[$doc:meta])* $name:ident: $n:literal -> $ty:ident;)*) => {
        $($(#[$doc])* pub fn $name(&self) -> Option<optional_fields!(@ty $ty)> {
            (self.field_count >= $n).then(|| optional_fields!(@wrap $ty, self.fields.get($n)))
        })*
    };
    (@ty Raw) => { &'a [u8] };
    (@ty Escaped) => { Escaped<'a> };
    (@wrap Raw, $v:expr) => { $v };
    (@wrap Escaped, $v:expr) => { Escaped($v) };
}

impl<'a> AlbRecord<'a> {
    raw_fields! {
        /// 3, `app/<name>/<id>`
        elb: 3;
        /// 6, seconds as logged (`-1` when not available).
        request_processing_time: 6;
        /// 8, seconds as logged (`-1` when not available).
        response_processing_time: 8;
        /// 11, as logged.
        received_bytes: 11;
        /// 12, as logged.
        sent_bytes: 12;
        /// 15
        ssl_cipher: 15;
        /// 16
        ssl_protocol: 16;
        /// 17
        target_group_arn: 17;
    }

    /// 19, SNI
    pub fn domain_name(&self) -> Escaped<'a> {
        Escaped(self.fields.get(19))
    }

    /// 20
    pub fn chosen_cert_arn(&self) -> Escaped<'a> {
        Escaped(self.fields.get(20))
    }

    optional_fields! {
        /// 21
        matched_rule_priority: 21 -> Raw;
        /// 22
        request_creation_time: 22 -> Raw;
        /// 24
        redirect_url: 24 -> Escaped;
        /// 25
        error_reason: 25 -> Escaped;
        /// 26
        target_port_list: 26 -> Escaped;
        /// 27
        target_status_code_list: 27 -> Escaped;
        /// 29
        classification_reason: 29 -> Escaped;
        /// 30
        conn_trace_id: 30 -> Raw;
        /// 31
        transformed_host: 31 -> Escaped;
        /// 32
        transformed_uri: 32 -> Escaped;
        /// 33
        request_transform_status: 33 -> Escaped;
        /// 34, the ALB node's IP.
        ip_address: 34 -> Raw;
    }
}

/// The number of fields greenlight knows; fields after these are ignored and counted.
pub const KNOWN_FIELDS: usize = 34;
/// The fewest fields of a line greenlight accepts (the 2017 layout).
pub const MIN_FIELDS: usize = 20;
/// Field counts that AWS has actually written as a whole layout; any other count is reported as
/// unusual, so a format change shows up as a figure rather than silent loss.
pub const KNOWN_LAYOUTS: [usize; 8] = [20, 24, 25, 27, 29, 30, 33, 34];

impl<'a> AlbRecord<'a> {
    /// The `YYYY-MM-DD` part of `time`, for day selection without parsing a date.
    #[inline]
    pub fn date_bytes(&self) -> &'a [u8] {
        &self.time[..10.min(self.time.len())]
    }

    /// Whether `actions_executed` contains `action` (an exact item of the comma list).
    /// Lines from before the field existed executed `forward` only.
    pub fn has_action(&self, action: &[u8]) -> bool {
        match &self.actions_executed {
            None => action == b"forward",
            Some(list) => list.raw().split(|&b| b == b',').any(|a| a == action),
        }
    }

    /// Whether the request went to a target and only there: `actions_executed` holds
    /// `forward` and neither `redirect` nor `fixed-response` (what [`AlbRecord::has_action`]
    /// three times would say, in one pass over the list).
    #[inline]
    pub fn forwarded_only(&self) -> bool {
        let Some(list) = &self.actions_executed else {
            return true;
        };
        // Nearly every line: a compare instead of a walk of the comma list.
        if list.raw() == b"forward" {
            return true;
        }
        let mut forward = false;
        for action in list.raw().split(|&b| b == b',') {
            match action {
                b"forward" => forward = true,
                b"redirect" | b"fixed-response" => return false,
                _ => {}
            }
        }
        forward
    }

    /// The target's processing time in microseconds; `None` when logged as `-1` or unreadable.
    pub fn target_us(&self) -> Option<u64> {
        seconds_to_us(self.target_processing_time)
    }

    /// The second of the day (UTC) of `time`.
    pub fn second_of_day(&self) -> u32 {
        second_of_day(self.time)
    }

    /// Number of fields after the last known one.
    pub fn unknown_trailing_fields(&self) -> usize {
        self.field_count.saturating_sub(KNOWN_FIELDS)
    }

    /// `classification` is `Severe` (desync mitigation).
    #[inline]
    pub fn is_severe(&self) -> bool {
        matches!(&self.classification, Some(c) if c.raw() == b"Severe")
    }
}

/// Parses a logged duration in seconds (`0.048`, `12.5`, `-1`) into microseconds, without
/// floating point (so sums are exact). `None` for `-1` and anything unreadable.
pub fn seconds_to_us(raw: &[u8]) -> Option<u64> {
    // What ALB writes nearly always: one digit, a point and three (milliseconds). Checked and
    // read at once, where the general path below takes a loop per part (~90 instructions).
    if let &[s, b'.', a, b, c] = raw {
        let digits = [s, a, b, c];
        if digits.iter().all(u8::is_ascii_digit) {
            let [s, a, b, c] = digits.map(|d| u64::from(d - b'0'));
            return Some(s * 1_000_000 + a * 100_000 + b * 10_000 + c * 1_000);
        }
    }
    seconds_to_us_any(raw)
}

/// [`seconds_to_us`] for any shape.
fn seconds_to_us_any(raw: &[u8]) -> Option<u64> {
    // A dozen bytes at most: a plain loop beats a `memchr` call's set-up.
    let (int, frac) = match raw.iter().position(|&c| c == b'.') {
        Some(i) => (&raw[..i], &raw[i + 1..]),
        None => (raw, &b""[..]),
    };
    if int.is_empty() || int.len() > 9 || !int.iter().all(u8::is_ascii_digit) {
        return None;
    }
    if !frac.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let secs = int.iter().fold(0u64, |a, &d| a * 10 + u64::from(d - b'0'));
    let mut micros = 0u64;
    for i in 0..6 {
        micros = micros * 10 + frac.get(i).map_or(0, |&d| u64::from(d - b'0'));
    }
    Some(secs * 1_000_000 + micros)
}

/// The second of the day (0..86400) of an ALB `time` field (`YYYY-MM-DDTHH:MM:SS...`); 0 when
/// it cannot be read (the parser validates the field, so that does not happen on parsed lines).
pub fn second_of_day(time: &[u8]) -> u32 {
    let digits = |r: std::ops::Range<usize>| -> Option<u32> {
        let b = time.get(r)?;
        b.iter().try_fold(0u32, |a, &d| {
            d.is_ascii_digit().then(|| a * 10 + u32::from(d - b'0'))
        })
    };
    match (digits(11..13), digits(14..16), digits(17..19)) {
        (Some(h), Some(m), Some(s)) if h < 24 && m < 60 && s < 61 => {
            (h * 3600 + m * 60 + s).min(86_399)
        }
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_hex_escapes_in_both_cases_to_bytes() {
        assert_eq!(
            &*decode_escapes(br"a\x22b\x5Cc\xe2\x82\xac"),
            b"a\"b\\c\xe2\x82\xac"
        );
    }

    #[test]
    fn seconds_parse_exactly() {
        assert_eq!(seconds_to_us(b"0.048"), Some(48_000));
        assert_eq!(seconds_to_us(b"9.999"), Some(9_999_000));
        assert_eq!(seconds_to_us(b"12.5"), Some(12_500_000));
        assert_eq!(seconds_to_us(b"3"), Some(3_000_000));
        assert_eq!(seconds_to_us(b"0.0000019"), Some(1));
        assert_eq!(seconds_to_us(b"-1"), None);
        assert_eq!(seconds_to_us(b"-"), None);
        assert_eq!(seconds_to_us(b".5"), None);
        assert_eq!(seconds_to_us(b"1.x"), None);
        assert_eq!(seconds_to_us(b"99999999999"), None);
    }

    #[test]
    fn the_millisecond_shape_reads_as_the_general_path_does() {
        // Every 5-byte `x.yyy` with x and the first two y a digit or one of a few bytes that
        // are not, and the last y one of 0, 7, 9 or two non-digits (the three loops over the
        // whole alphabet cover each position's cases; a fourth would add only time).
        let bytes = b"0123456789-a. ";
        for &s in bytes {
            for &a in bytes {
                for &b in bytes {
                    for &c in [b'0', b'7', b'9', b'x', b'.'].iter() {
                        let raw = [s, b'.', a, b, c];
                        assert_eq!(seconds_to_us(&raw), seconds_to_us_any(&raw), "{raw:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn second_of_day_reads_the_time_field() {
        assert_eq!(second_of_day(b"2026-03-02T10:00:01.123456Z"), 36_001);
        assert_eq!(second_of_day(b"2026-03-02T00:00:00.000000Z"), 0);
        assert_eq!(second_of_day(b"garbage"), 0);
    }

    #[test]
    fn borrows_when_nothing_to_decode() {
        assert!(matches!(decode_escapes(b"/plain?x=1"), Cow::Borrowed(_)));
    }

    #[test]
    fn keeps_malformed_escapes_literally() {
        assert_eq!(&*decode_escapes(br"a\x2"), br"a\x2");
        assert_eq!(&*decode_escapes(br"a\xzz\"), br"a\xzz\");
        assert_eq!(&*decode_escapes(br"\y41"), br"\y41");
    }
}
