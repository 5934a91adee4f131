//! `acceptance_url_list.csv`: the list the miner writes and the tester reads.
//!
//! Full format (the default), with a header row; the first four columns are fixed, later ones
//! may be added over time (readers must look columns up by name):
//!
//! | column | meaning |
//! |---|---|
//! | `path` | request-target to replay: path and query, as the client sent them |
//! | `host` | `Host` to send: lower-case, with `:port` unless it is the scheme's default |
//! | `expected_status` | the status the live site answered most often |
//! | `hits` | requests seen |
//! | `scheme` | `http` or `https`, what most clients used (for `X-Forwarded-Proto`) |
//! | `statuses` | every status seen with its count, `200:95 304:5` |
//! | `mean_target_ms` | mean target processing time, empty when none was logged |
//! | `stratum` | the route template the URL stands for (`/news/{year}/{slug}`) |
//! | `class` | why it is listed: `head`, `cover`, `rare`, `variant` or `fill` |
//! | `days_seen` | days of the retention window it was requested on |
//! | `last_seen` | when it was last requested, `YYYY-MM-DDTHH:MM:SSZ` |
//! | `p50_ms` | median target processing time (histogram estimate), empty when none |
//! | `agent` | a client's user agent, drawn in proportion to hits (mostly the commonest) |
//!
//! `hits`, `statuses` and the latencies are summed over the retention window.
//!
//! `paths` format: only the path column and no header, exactly what the original release-hook
//! Lambda read (`csv.reader`, first column appended to the endpoint).
//!
//! The list is untrusted when read back (anyone with write access to its file or object can
//! edit it): the reader refuses any target that is not origin-form, any target that looks like
//! it carries a credential (the miner's rules, [`crate::mine::normalize`]) and any agent shaped
//! like a secret, and shows refused values with their query values redacted (credential
//! targets not at all). Every cell the miner writes starts with a byte a
//! spreadsheet does not run as a formula (`=`, `+`, `-`, `@`): paths start with `/`, hosts and
//! strata with a letter, digit or `_`, numbers are unsigned, and agents are filtered when counted.
//!
//! The list is built in memory (it is small) and handed whole to an
//! [`crate::output::Destination`], which replaces the previous one atomically.

use std::fmt::Write as _;
use std::io::Write;

use crate::sample::Pick;

/// Which columns to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ListFormat {
    /// Header row and every column.
    #[default]
    Full,
    /// Only the path column, no header (the original Lambda's format).
    Paths,
}

/// The header of the full format.
pub const HEADER: [&str; 13] = [
    "path",
    "host",
    "expected_status",
    "hits",
    "scheme",
    "statuses",
    "mean_target_ms",
    "stratum",
    "class",
    "days_seen",
    "last_seen",
    "p50_ms",
    "agent",
];

/// Writes the list as CSV to `out`.
pub fn write_list<W: Write>(out: W, entries: &[Pick], format: ListFormat) -> csv::Result<()> {
    let mut w = csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(out);
    if format == ListFormat::Full {
        w.write_record(HEADER)?;
    }
    let mut statuses = String::new();
    for p in entries {
        let e = &p.url;
        match format {
            ListFormat::Paths => w.write_record([e.target()])?,
            ListFormat::Full => {
                statuses.clear();
                for (i, (code, n)) in e.stats.statuses.iter().enumerate() {
                    let sep = if i == 0 { "" } else { " " };
                    let _ = write!(statuses, "{sep}{code}:{n}");
                }
                let mean = e
                    .stats
                    .mean_target_ms()
                    .map(|ms| format!("{ms:.1}"))
                    .unwrap_or_default();
                let p50 = e
                    .stats
                    .p50_ms()
                    .map(|ms| format!("{ms:.1}"))
                    .unwrap_or_default();
                w.write_record([
                    e.target(),
                    e.host(),
                    e.stats.expected_status().to_string().as_bytes(),
                    e.stats.hits.to_string().as_bytes(),
                    e.stats.scheme().as_str().as_bytes(),
                    statuses.as_bytes(),
                    mean.as_bytes(),
                    p.stratum.as_bytes(),
                    p.class.as_str().as_bytes(),
                    e.days_seen.to_string().as_bytes(),
                    e.last_seen().as_bytes(),
                    p50.as_bytes(),
                    e.stats
                        .agent
                        .as_ref()
                        .map(|a| &a.agent[..])
                        .filter(|a| !crate::mine::normalize::looks_like_secret(a))
                        .unwrap_or_default(),
                ])?;
            }
        }
    }
    w.flush()?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Reading (the tester)
// ---------------------------------------------------------------------------------------------

/// One URL of the list as the tester replays it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListEntry {
    /// 1-based line number in the list (for reports).
    pub line: u64,
    /// The request-target, byte for byte as listed (checked to be origin-form ASCII).
    pub target: String,
    /// `Host` to send; `None` in the `paths` format (the endpoint's own authority is sent).
    pub host: Option<String>,
    /// The status production answered; `None` when the list has no such column.
    pub expected_status: Option<u16>,
    /// `http` or `https` as the clients used it; `None` when not listed.
    pub scheme: Option<String>,
    /// The most common user agent, when a later miner lists it (column `agent` or
    /// `user_agent`).
    pub agent: Option<String>,
    /// Requests seen, when listed.
    pub hits: Option<u64>,
}

/// A list line the tester refuses to replay.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RejectedLine {
    /// 1-based line number.
    pub line: u64,
    /// Why it was refused.
    pub reason: &'static str,
    /// The offending value, with non-printable bytes escaped (`\xHH`), cut to 200 bytes.
    pub value: String,
}

/// The list as read: the URLs to replay and the lines refused.
#[derive(Debug, Clone, Default)]
pub struct ReadList {
    /// Which format was recognised.
    pub format: Option<ListFormat>,
    /// URLs to replay, in list order.
    pub entries: Vec<ListEntry>,
    /// Lines refused (not origin-form, bad host, bad status ...).
    pub rejected: Vec<RejectedLine>,
}

/// Why a list could not be read at all.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The CSV itself is broken (or the bytes could not be read).
    #[error("the list is not readable CSV: {0}")]
    Csv(#[from] csv::Error),
    /// A header row without a `path` column.
    #[error("the list's header has no `path` column")]
    NoPathColumn,
}

/// Reads a list in either format. The full format is recognised by a header row holding a
/// `path` column (columns are looked up by name; unknown columns are ignored); otherwise every
/// line's first field is a path (`paths` format, no header).
pub fn read_list<R: std::io::Read>(input: R) -> Result<ReadList, ReadError> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(input);
    let mut out = ReadList::default();
    let mut cols: Option<Columns> = None;
    let mut record = csv::ByteRecord::new();
    let mut first = true;
    let mut credentials = CredentialCheck::default();
    while rdr.read_byte_record(&mut record)? {
        let line = record.position().map(|p| p.line()).unwrap_or(0);
        if first {
            first = false;
            // A UTF-8 byte order mark (spreadsheet exports) is not part of the first name.
            if record
                .get(0)
                .is_some_and(|f| f.starts_with(b"\xef\xbb\xbf"))
            {
                let fields: Vec<Vec<u8>> = record
                    .iter()
                    .enumerate()
                    .map(|(i, f)| if i == 0 { f[3..].to_vec() } else { f.to_vec() })
                    .collect();
                record = csv::ByteRecord::from(fields);
            }
            if record.iter().any(|f| f == b"path") {
                cols = Some(Columns::from_header(&record)?);
                out.format = Some(ListFormat::Full);
                continue;
            }
            out.format = Some(ListFormat::Paths);
        }
        if record.len() == 1 && record.get(0).is_some_and(|f| f.is_empty()) {
            continue; // a blank line
        }
        match parse_entry(&record, cols.as_ref(), line, &mut credentials) {
            Ok(e) => out.entries.push(e),
            Err(r) => out.rejected.push(r),
        }
    }
    Ok(out)
}

#[derive(Debug)]
struct Columns {
    path: usize,
    host: Option<usize>,
    expected_status: Option<usize>,
    scheme: Option<usize>,
    agent: Option<usize>,
    hits: Option<usize>,
}

impl Columns {
    fn from_header(h: &csv::ByteRecord) -> Result<Self, ReadError> {
        let find = |name: &[u8]| h.iter().position(|f| f == name);
        Ok(Columns {
            path: find(b"path").ok_or(ReadError::NoPathColumn)?,
            host: find(b"host"),
            expected_status: find(b"expected_status"),
            scheme: find(b"scheme"),
            agent: find(b"agent").or_else(|| find(b"user_agent")),
            hits: find(b"hits"),
        })
    }
}

fn parse_entry(
    r: &csv::ByteRecord,
    cols: Option<&Columns>,
    line: u64,
    credentials: &mut CredentialCheck,
) -> Result<ListEntry, RejectedLine> {
    let reject = |reason: &'static str, value: &[u8]| RejectedLine {
        line,
        reason,
        // A credential may sit in the path too (`;jsessionid=`, a JWT): such a value is not
        // shown at all (the line number finds it); others lose their query values.
        value: if reason == "credential" || crate::mine::normalize::looks_like_secret(value) {
            "REDACTED".to_owned()
        } else {
            escape_bytes(&redact_query_values(value))
        },
    };
    let field = |i: Option<usize>| i.and_then(|i| r.get(i)).filter(|f| !f.is_empty());
    let path_idx = cols.map_or(0, |c| c.path);
    let raw = r.get(path_idx).unwrap_or_default();
    let target = check_origin_form(raw).map_err(|why| reject(why, raw))?;
    if credentials.target_has_credential(target.as_bytes()) {
        return Err(reject("credential", raw));
    }
    let mut entry = ListEntry {
        line,
        target,
        host: None,
        expected_status: None,
        scheme: None,
        agent: None,
        hits: None,
    };
    let Some(c) = cols else { return Ok(entry) };
    if let Some(h) = field(c.host) {
        entry.host = Some(check_host(h).map_err(|why| reject(why, h))?);
    }
    if let Some(s) = field(c.expected_status) {
        let code = std::str::from_utf8(s)
            .ok()
            .and_then(|s| s.trim().parse::<u16>().ok())
            .filter(|c| (100..=599).contains(c))
            .ok_or_else(|| reject("bad_expected_status", s))?;
        entry.expected_status = Some(code);
    }
    if let Some(s) = field(c.scheme) {
        match s {
            b"http" | b"https" => entry.scheme = Some(String::from_utf8_lossy(s).into_owned()),
            _ => return Err(reject("bad_scheme", s)),
        }
    }
    if let Some(a) = field(c.agent) {
        // An agent goes into a header: printable ASCII only and nothing shaped like a secret,
        // else it is left out.
        if a.iter().all(|&b| (0x20..0x7f).contains(&b))
            && !crate::mine::normalize::looks_like_secret(a)
        {
            entry.agent = Some(String::from_utf8_lossy(a).into_owned());
        }
    }
    entry.hits = field(c.hits)
        .and_then(|h| std::str::from_utf8(h).ok())
        .and_then(|h| h.trim().parse().ok());
    Ok(entry)
}

/// Checks that `raw` is an origin-form request-target (`/path[?query]`) the tester may send as
/// it is: starts with `/`, only visible ASCII (no control bytes, space, DEL, bytes >= 0x80),
/// no `#`, nothing the HTTP stack would have to re-encode (`<`, `>`, ...). Returns the reason
/// when it is not. Absolute URLs (`http://...`), `*` and anything
/// else not starting with `/` are refused here, so a list can never send the tester elsewhere.
pub fn check_origin_form(raw: &[u8]) -> Result<String, &'static str> {
    if raw.is_empty() {
        return Err("empty_path");
    }
    if raw[0] != b'/' {
        return Err(if raw.windows(3).any(|w| w == b"://") {
            "absolute_url"
        } else {
            "not_origin_form"
        });
    }
    if raw.len() > 8192 {
        return Err("too_long");
    }
    if let Some(&b) = raw.iter().find(|&&b| !(0x21..0x7f).contains(&b)) {
        return Err(if b < 0x20 || b == 0x7f {
            "control_byte"
        } else {
            "non_ascii_or_space"
        });
    }
    if raw.contains(&b'#') {
        return Err("fragment");
    }
    // What the HTTP stack cannot put in a request line as it is (`<`, `>`, and a backtick in
    // the path; `"`, `<`, `>` in the query): refused rather than silently re-encoded.
    if http::uri::PathAndQuery::try_from(raw).is_err() {
        return Err("not_sendable");
    }
    // Only visible ASCII is left, so this cannot fail.
    String::from_utf8(raw.to_vec()).map_err(|_| "non_ascii_or_space")
}

/// Whether an origin-form target carries something that looks like a credential, by the
/// miner's own rules (query keys, `;jsessionid=`, JWTs, AWS key ids): such a URL is never
/// replayed nor shown, whoever wrote the list.
pub fn target_has_credential(target: &str) -> bool {
    CredentialCheck::default().target_has_credential(target.as_bytes())
}

/// [`target_has_credential`] with its buffers kept from one line to the next (the list reader
/// checks every line: two allocations a line less).
#[derive(Default)]
struct CredentialCheck {
    url: Vec<u8>,
    scratch: Vec<u8>,
}

impl CredentialCheck {
    fn target_has_credential(&mut self, target: &[u8]) -> bool {
        // Joined by hand, not with `format!` (callgrind, 5,000 lines: 16.9 M -> 11.6 M
        // instructions in this check), into buffers kept from line to line (~1.6 M less).
        self.url.clear();
        self.url.extend_from_slice(b"http://list.invalid");
        self.url.extend_from_slice(target);
        let opts = crate::mine::normalize::NormalizeOptions {
            keep_tracking: true,
        };
        crate::mine::normalize::normalize(&self.url, &opts, &mut self.scratch)
            .is_ok_and(|n| n.has_credential)
    }
}

/// `raw` with every query value replaced by `REDACTED` (`/a?token=REDACTED&b`), for messages
/// and reports about values the tester refused.
pub fn redact_query_values(raw: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    let Some(q) = memchr::memchr(b'?', raw) else {
        return raw.into();
    };
    let mut out = raw[..=q].to_vec();
    for (i, param) in raw[q + 1..].split(|&b| b == b'&').enumerate() {
        if i > 0 {
            out.push(b'&');
        }
        match memchr::memchr(b'=', param) {
            Some(eq) => {
                out.extend_from_slice(&param[..=eq]);
                out.extend_from_slice(b"REDACTED");
            }
            None => out.extend_from_slice(param),
        }
    }
    out.into()
}

fn check_host(raw: &[u8]) -> Result<String, &'static str> {
    let ok = raw.len() <= 300
        && raw.iter().all(|&b| {
            b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b':' | b'[' | b']')
        });
    if !ok {
        return Err("bad_host");
    }
    Ok(String::from_utf8_lossy(raw).to_ascii_lowercase())
}

/// Escapes bytes that are not printable ASCII as `\xHH`, cut to 200 input bytes.
pub fn escape_bytes(raw: &[u8]) -> String {
    let mut s = String::new();
    for &b in raw.iter().take(200) {
        if (0x20..0x7f).contains(&b) && b != b'\\' {
            s.push(b as char);
        } else {
            let _ = write!(s, "\\x{b:02x}");
        }
    }
    if raw.len() > 200 {
        s.push_str("...");
    }
    s
}

#[cfg(test)]
mod read_tests {
    use super::*;

    #[test]
    fn full_format_by_column_name_with_extra_columns() {
        let csv = "host,path,stratum,expected_status,hits,scheme\n\
                   WWW.example.com,/a//b/../c?x=%zz,hot,301,5,https\n\
                   shop.example.com:8443,/,cold,,,\n";
        let l = read_list(csv.as_bytes()).unwrap();
        assert_eq!(l.format, Some(ListFormat::Full));
        assert!(l.rejected.is_empty(), "{:?}", l.rejected);
        assert_eq!(l.entries[0].target, "/a//b/../c?x=%zz");
        assert_eq!(l.entries[0].host.as_deref(), Some("www.example.com"));
        assert_eq!(l.entries[0].expected_status, Some(301));
        assert_eq!(l.entries[0].scheme.as_deref(), Some("https"));
        assert_eq!(l.entries[0].hits, Some(5));
        assert_eq!(l.entries[1].host.as_deref(), Some("shop.example.com:8443"));
        assert_eq!(l.entries[1].expected_status, None);
    }

    #[test]
    fn paths_format_and_rejections() {
        let csv = "/ok\nhttp://evil.example/x\nrelative\n\"/ctl\x01\"\n/frag#x\n*\n\n/sp ace\n";
        let l = read_list(csv.as_bytes()).unwrap();
        assert_eq!(l.format, Some(ListFormat::Paths));
        assert_eq!(l.entries.len(), 1);
        let reasons: Vec<_> = l.rejected.iter().map(|r| r.reason).collect();
        assert_eq!(
            reasons,
            [
                "absolute_url",
                "not_origin_form",
                "control_byte",
                "fragment",
                "not_origin_form",
                "non_ascii_or_space"
            ]
        );
        assert_eq!(l.rejected[2].value, "/ctl\\x01");
        assert_eq!(l.rejected[0].line, 2);
    }

    #[test]
    fn writer_output_reads_back() {
        let csv = format!("{}\n/x,a.example,200,3,http,200:3,1.0\n", HEADER.join(","));
        let l = read_list(csv.as_bytes()).unwrap();
        assert_eq!(l.entries.len(), 1);
        assert_eq!(l.entries[0].expected_status, Some(200));
    }

    #[test]
    fn unsendable_targets_are_rejected() {
        assert_eq!(check_origin_form(b"/q?a=<script>"), Err("not_sendable"));
        assert_eq!(check_origin_form(b"/a`b"), Err("not_sendable"));
        assert!(check_origin_form(b"/a{b}|c^d\\e[f]?g=`{}").is_ok());
    }

    #[test]
    fn a_byte_order_mark_before_the_header_is_ignored() {
        let l = read_list("\u{feff}path,host\n/x,a.example\n".as_bytes()).unwrap();
        assert_eq!(l.format, Some(ListFormat::Full));
        assert_eq!(l.entries[0].host.as_deref(), Some("a.example"));
        let l = read_list("\u{feff}/x\n".as_bytes()).unwrap();
        assert_eq!(l.entries[0].target, "/x");
    }

    #[test]
    fn credential_targets_are_refused_and_never_shown() {
        let csv = "/ok?page=2\n/a?access_token=s3cr3t&x=1\n/r/eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln\n\
                   http://evil.example/?password=hunter2\n";
        let l = read_list(csv.as_bytes()).unwrap();
        assert_eq!(l.entries.len(), 1);
        let reasons: Vec<_> = l.rejected.iter().map(|r| r.reason).collect();
        assert_eq!(reasons, ["credential", "credential", "absolute_url"]);
        assert_eq!(l.rejected[0].value, "REDACTED");
        assert_eq!(l.rejected[1].value, "REDACTED");
        assert_eq!(
            l.rejected[2].value,
            "http://evil.example/?password=REDACTED"
        );
    }

    #[test]
    fn bad_host_is_rejected() {
        let l = read_list("path,host\n/x,evil/x@y\n".as_bytes()).unwrap();
        assert_eq!(l.rejected[0].reason, "bad_host");
    }
}
