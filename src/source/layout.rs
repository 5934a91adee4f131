//! The key layout ALB writes its logs under, as pure functions (no I/O), shared by every source:
//!
//! ```text
//! [prefix/]AWSLogs/<account>/elasticloadbalancing/<region>/YYYY/MM/DD/<name>
//! <name> = <account>_elasticloadbalancing_<region>_app.<lb-name>.<lb-hex-id>_<YYYYMMDDTHHMMZ>_<node-ip>_<random>.log.gz
//! ```
//!
//! This module owns three decisions:
//! - **which objects are ALB access logs** ([`classify_key`]): decided by the file name alone,
//!   before anything is opened. The same folders also hold the logging test file, connection
//!   logs, health-check logs (whose lines look like access-log lines), NLB and Classic ELB logs;
//!   each is skipped with a [`SkipReason`].
//! - **which day folders can hold a day's requests** ([`day_folders`], [`object_may_hold_day`]):
//!   `YYYY/MM/DD` is the *delivery* date (UTC), see [`LATE_DELIVERY_MARGIN`].
//! - **how keys are spelled and taken apart** ([`folder_path`], [`day_folder_key`],
//!   [`parse_key`]).

use chrono::{NaiveDate, NaiveDateTime, NaiveTime, TimeDelta};

/// The parts of an ALB access-log object name:
/// `<acct>_elasticloadbalancing_<region>_app.<name>.<hexid>_<YYYYMMDDTHHMMZ>_<ip>_<rand>.log.gz`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlbLogName {
    pub account: String,
    pub region: String,
    pub lb_name: String,
    pub lb_id: String,
    /// End of the 5-minute interval the object covers (UTC).
    pub interval_end: NaiveDateTime,
    /// The ALB node's address as spelled in the name (IPv4, or IPv6 in whatever form AWS uses);
    /// only checked to be non-empty and free of separators and whitespace.
    pub node_ip: String,
}

/// Why an object in a day folder is not read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    /// `ELBAccessLogTestFile`, written when logging is enabled.
    TestFile,
    /// `conn_log_<acct>_elasticloadbalancing_...` (ALB connection logs, TLS handshakes).
    ConnectionLog,
    /// `health_check_log_...`: lines start with `http` too, so only the key tells them apart.
    HealthCheckLog,
    /// `<acct>_elasticloadbalancing_<region>_net.<name>...` (Network Load Balancer).
    NlbLog,
    /// `<acct>_elasticloadbalancing_<region>_<name>_<ts>_<ip>_<rand>.log` (Classic ELB).
    ClassicLog,
    /// Anything else whose name is not an ALB access log (`.DS_Store`, vended JSON, a broken
    /// name, a folder).
    NotAlbLog,
}

impl SkipReason {
    /// Every reason, in report order.
    pub const ALL: [SkipReason; 6] = [
        SkipReason::TestFile,
        SkipReason::ConnectionLog,
        SkipReason::HealthCheckLog,
        SkipReason::NlbLog,
        SkipReason::ClassicLog,
        SkipReason::NotAlbLog,
    ];

    /// The snake_case name, identical to the serde name.
    pub fn as_str(self) -> &'static str {
        match self {
            SkipReason::TestFile => "test_file",
            SkipReason::ConnectionLog => "connection_log",
            SkipReason::HealthCheckLog => "health_check_log",
            SkipReason::NlbLog => "nlb_log",
            SkipReason::ClassicLog => "classic_log",
            SkipReason::NotAlbLog => "not_alb_log",
        }
    }
}

impl std::fmt::Display for SkipReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyClass {
    AccessLog(AlbLogName),
    Skip(SkipReason),
}

/// The name of the folder under the account that ALB, NLB and Classic ELB logs share.
pub const SERVICE_FOLDER: &str = "elasticloadbalancing";
/// The top folder of the layout (after the optional prefix).
pub const AWS_LOGS_FOLDER: &str = "AWSLogs";
const TEST_FILE: &str = "ELBAccessLogTestFile";
const ACCESS_LOG_SUFFIX: &str = ".log.gz";
const CLASSIC_LOG_SUFFIX: &str = ".log";

/// The file-name part of a key: everything after the last `/` (the whole key if none).
pub fn file_name(key: &str) -> &str {
    key.rsplit_once('/').map_or(key, |(_, name)| name)
}

/// Classifies an object by its key (the file name part decides).
///
/// Strict on everything but the node address: a 12-digit account, a plausible region, `app.`,
/// an lb name of letters, digits and inner dashes, a hex id, a valid `YYYYMMDDTHHMMZ`, an
/// alphanumeric random part and `.log.gz`. A name that is almost right is [`SkipReason::NotAlbLog`]:
/// reading it could only mis-parse.
pub fn classify_key(key: &str) -> KeyClass {
    let name = file_name(key);
    // Markers first: they cannot occur in a valid access-log name (lb names and regions hold no
    // `_`), and checking them first keeps e.g. a connection log out of the access logs even if
    // its name were otherwise shaped like one.
    let reason = if name.starts_with(TEST_FILE) {
        SkipReason::TestFile
    } else if name.contains("conn_log") {
        SkipReason::ConnectionLog
    } else if name.contains("health_check_log") {
        SkipReason::HealthCheckLog
    } else if let Some(parsed) = parse_access_log_name(name) {
        return KeyClass::AccessLog(parsed);
    } else if name.contains("_net.") {
        SkipReason::NlbLog
    } else if is_classic_log_name(name) {
        SkipReason::ClassicLog
    } else {
        SkipReason::NotAlbLog
    };
    KeyClass::Skip(reason)
}

/// Splits `<account>_elasticloadbalancing_<region>_<rest>`, checking the three first parts.
fn split_common_head(name: &str) -> Option<(&str, &str, &str)> {
    let (account, rest) = name.split_once('_')?;
    let (service, rest) = rest.split_once('_')?;
    let (region, rest) = rest.split_once('_')?;
    (is_account(account) && service == SERVICE_FOLDER && is_region(region))
        .then_some((account, region, rest))
}

fn parse_access_log_name(name: &str) -> Option<AlbLogName> {
    let stem = name.strip_suffix(ACCESS_LOG_SUFFIX)?;
    let (account, region, rest) = split_common_head(stem)?;
    // rest = app.<lb-name>.<hex-id>_<YYYYMMDDTHHMMZ>_<ip>_<random>
    let (lb, rest) = rest.strip_prefix("app.")?.split_once('_')?;
    let (lb_name, lb_id) = lb.rsplit_once('.')?;
    if !is_lb_name(lb_name) || !is_hex_id(lb_id) {
        return None;
    }
    let (rest, random) = rest.rsplit_once('_')?;
    if random.is_empty() || !random.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return None;
    }
    // The timestamp has a fixed width; whatever sits between it and the random part is the
    // node address (lenient: IPv6 spellings vary, so only separators and blanks are refused).
    let (ts, node_ip) = rest.split_once('_')?;
    let interval_end = parse_interval_end(ts)?;
    if node_ip.is_empty()
        || node_ip
            .chars()
            .any(|c| c == '/' || c == '\\' || c.is_whitespace() || c.is_control())
    {
        return None;
    }
    Some(AlbLogName {
        account: account.to_owned(),
        region: region.to_owned(),
        lb_name: lb_name.to_owned(),
        lb_id: lb_id.to_owned(),
        interval_end,
        node_ip: node_ip.to_owned(),
    })
}

/// `<account>_elasticloadbalancing_<region>_<name>_<YYYYMMDDTHHMMZ>_<ip>_<random>.log`.
fn is_classic_log_name(name: &str) -> bool {
    let Some(stem) = name.strip_suffix(CLASSIC_LOG_SUFFIX) else {
        return false;
    };
    let Some((_, _, rest)) = split_common_head(stem) else {
        return false;
    };
    let Some((lb_name, rest)) = rest.split_once('_') else {
        return false;
    };
    let Some((ts, rest)) = rest.split_once('_') else {
        return false;
    };
    is_lb_name(lb_name) && parse_interval_end(ts).is_some() && rest.contains('_')
}

/// `YYYYMMDDTHHMMZ`, exactly 14 characters, a real date and time.
pub fn parse_interval_end(ts: &str) -> Option<NaiveDateTime> {
    let b = ts.as_bytes();
    if b.len() != 14 || b[8] != b'T' || b[13] != b'Z' {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> Option<u32> {
        let digits = b.get(range)?;
        digits.iter().try_fold(0u32, |acc, &d| {
            d.is_ascii_digit().then(|| acc * 10 + u32::from(d - b'0'))
        })
    };
    let year = i32::try_from(num(0..4)?).ok()?;
    let date = NaiveDate::from_ymd_opt(year, num(4..6)?, num(6..8)?)?;
    let time = NaiveTime::from_hms_opt(num(9..11)?, num(11..13)?, 0)?;
    Some(date.and_time(time))
}

/// A 12-digit AWS account id.
pub fn is_account(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

/// `us-east-1`, `eu-central-2`, `us-gov-west-1`, `cn-north-1`, `ap-southeast-7`...: lowercase
/// letters, digits and dashes, starting with a letter, ending with a digit, at least one dash.
pub fn is_region(s: &str) -> bool {
    let b = s.as_bytes();
    matches!(b.first(), Some(c) if c.is_ascii_lowercase())
        && matches!(b.last(), Some(c) if c.is_ascii_digit())
        && s.contains('-')
        && !s.contains("--")
        && b.iter()
            .all(|&c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
}

/// Load balancer names: 1 to 32 letters, digits and dashes, not starting or ending with a dash.
fn is_lb_name(s: &str) -> bool {
    (1..=32).contains(&s.len())
        && !s.starts_with('-')
        && !s.ends_with('-')
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

fn is_hex_id(s: &str) -> bool {
    (1..=32).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// How long after midnight an object in the next day's folder may still hold the previous
/// day's requests.
///
/// An object covers the 5 minutes ending at its name's `interval_end` and is delivered after
/// that, so in theory only the D+1 objects ending by D+1 00:05 hold lines of day D. The name's
/// timestamp is, however, when the node closed the file, not a promise about every line's
/// `time` (the response time): nodes buffer, busy nodes write several files per interval, and
/// delivery is eventually consistent. One hour (12 intervals, ~1/24 of the D+1 folder) is a
/// cheap margin against such lag; it is a choice, not an AWS guarantee. Lines are still kept
/// or dropped by their own `time` downstream, so a wider margin costs reading, never accuracy.
pub const LATE_DELIVERY_MARGIN: TimeDelta = TimeDelta::hours(1);

/// The delivery-date folders that can hold requests of `day` (UTC): `[day, day + 1]`.
///
/// The folder of `day - 1` is never needed: its objects were delivered on `day - 1`, after
/// their interval ended, so every line in them is from before `day` 00:00.
/// (At the very end of chrono's calendar only `day` is returned.)
pub fn day_folders(day: NaiveDate) -> Vec<NaiveDate> {
    std::iter::once(day).chain(day.succ_opt()).collect()
}

/// `YYYY/MM/DD`, the folder part of a key for delivery date `date`.
pub fn folder_path(date: NaiveDate) -> String {
    date.format("%Y/%m/%d").to_string()
}

/// Whether an access-log object found in delivery folder `folder` may hold requests of `day`:
/// every object of `day`'s own folder, and the objects of the next folder whose interval ended
/// at most [`LATE_DELIVERY_MARGIN`] after midnight. Nothing from any other folder.
pub fn object_may_hold_day(folder: NaiveDate, name: &AlbLogName, day: NaiveDate) -> bool {
    if folder == day {
        return true;
    }
    match day.succ_opt() {
        Some(next) if folder == next => {
            name.interval_end <= next.and_time(NaiveTime::MIN) + LATE_DELIVERY_MARGIN
        }
        _ => false,
    }
}

/// The key of a day folder, ending in `/`: `[prefix/]AWSLogs/<account>/elasticloadbalancing/
/// <region>/YYYY/MM/DD/`. `prefix` may be empty, with or without a trailing `/`.
pub fn day_folder_key(prefix: &str, account: &str, region: &str, date: NaiveDate) -> String {
    let prefix = prefix.trim_end_matches('/');
    let sep = if prefix.is_empty() { "" } else { "/" };
    format!(
        "{prefix}{sep}{AWS_LOGS_FOLDER}/{account}/{SERVICE_FOLDER}/{region}/{}/",
        folder_path(date)
    )
}

/// A full key taken apart by [`parse_key`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyParts {
    /// Everything before `AWSLogs/`, without the trailing `/`; empty when there is no prefix.
    pub prefix: String,
    pub account: String,
    pub region: String,
    /// The delivery date of the `YYYY/MM/DD` folder.
    pub folder: NaiveDate,
    /// The file-name part.
    pub name: String,
}

/// Takes apart `[prefix/]AWSLogs/<account>/elasticloadbalancing/<region>/YYYY/MM/DD/<name>`.
/// `None` when the key does not end with exactly that shape (a 12-digit account, a plausible
/// region, a real date written with 4/2/2 digits, a non-empty name).
pub fn parse_key(key: &str) -> Option<KeyParts> {
    let mut parts = key.rsplitn(9, '/');
    let name = parts.next()?;
    let dd = parts.next()?;
    let mm = parts.next()?;
    let yyyy = parts.next()?;
    let region = parts.next()?;
    let service = parts.next()?;
    let account = parts.next()?;
    let aws_logs = parts.next()?;
    let prefix = parts.next().unwrap_or("");
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    if name.is_empty()
        || aws_logs != AWS_LOGS_FOLDER
        || service != SERVICE_FOLDER
        || !is_account(account)
        || !is_region(region)
        || !(digits(yyyy, 4) && digits(mm, 2) && digits(dd, 2))
    {
        return None;
    }
    let folder = NaiveDate::from_ymd_opt(yyyy.parse().ok()?, mm.parse().ok()?, dd.parse().ok()?)?;
    Some(KeyParts {
        prefix: prefix.trim_end_matches('/').to_owned(),
        account: account.to_owned(),
        region: region.to_owned(),
        folder,
        name: name.to_owned(),
    })
}

/// Parses a `YYYY/MM/DD` folder path (as produced by [`folder_path`]).
pub fn parse_folder_path(path: &str) -> Option<NaiveDate> {
    let mut it = path.trim_end_matches('/').split('/');
    let (y, m, d) = (it.next()?, it.next()?, it.next()?);
    if it.next().is_some() || y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return None;
    }
    NaiveDate::from_ymd_opt(y.parse().ok()?, m.parse().ok()?, d.parse().ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ACCT: &str = "123456789012";

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("valid test date")
    }

    fn at(y: i32, m: u32, d: u32, h: u32, min: u32) -> NaiveDateTime {
        date(y, m, d)
            .and_hms_opt(h, min, 0)
            .expect("valid test time")
    }

    fn alb_name(region: &str, lb: &str, ts: &str, ip: &str) -> String {
        format!(
            "{ACCT}_elasticloadbalancing_{region}_app.{lb}.50dc6c495c0c9188_{ts}_{ip}_2b2pjb6b.log.gz"
        )
    }

    fn access(key: &str) -> AlbLogName {
        match classify_key(key) {
            KeyClass::AccessLog(name) => name,
            other => panic!("{key} should be an access log, got {other:?}"),
        }
    }

    fn skip(key: &str) -> SkipReason {
        match classify_key(key) {
            KeyClass::Skip(reason) => reason,
            other => panic!("{key} should be skipped, got {other:?}"),
        }
    }

    fn name_ending(interval_end: NaiveDateTime) -> AlbLogName {
        AlbLogName {
            account: ACCT.into(),
            region: "eu-west-1".into(),
            lb_name: "web".into(),
            lb_id: "50dc6c495c0c9188".into(),
            interval_end,
            node_ip: "10.0.0.1".into(),
        }
    }

    #[test]
    fn parses_a_documented_access_log_name() {
        let key = format!(
            "AWSLogs/{ACCT}/elasticloadbalancing/us-east-2/2018/07/02/{}",
            alb_name(
                "us-east-2",
                "my-loadbalancer",
                "20180702T2225Z",
                "192.168.131.39"
            )
        );
        assert_eq!(
            access(&key),
            AlbLogName {
                account: ACCT.into(),
                region: "us-east-2".into(),
                lb_name: "my-loadbalancer".into(),
                lb_id: "50dc6c495c0c9188".into(),
                interval_end: at(2018, 7, 2, 22, 25),
                node_ip: "192.168.131.39".into(),
            }
        );
    }

    #[test]
    fn parses_names_across_regions_lb_names_and_ips() {
        let cases = [
            ("eu-west-1", "web", "10.0.0.1"),
            ("us-gov-west-1", "prod-www-frontend-2", "172.31.20.97"),
            ("cn-north-1", "a", "52.1.2.3"),
            ("ap-southeast-7", "Legacy-Site-01", "2001:db8::1"),
            (
                "eu-central-2",
                "x-y-z",
                "2600:1f18:4a3:6902:1d1f:1c5:1f6:2c1d",
            ),
            (
                "us-east-1",
                "abcdefghijklmnopqrstuvwxyz012345",
                "2001-db8--1",
            ),
        ];
        for (region, lb, ip) in cases {
            let parsed = access(&alb_name(region, lb, "20261125T0005Z", ip));
            assert_eq!(parsed.region, region);
            assert_eq!(parsed.lb_name, lb);
            assert_eq!(parsed.node_ip, ip);
            assert_eq!(parsed.interval_end, at(2026, 11, 25, 0, 5));
        }
    }

    #[test]
    fn the_file_name_decides_not_the_folders() {
        let name = alb_name("eu-west-1", "web", "20261125T2355Z", "10.0.0.1");
        assert_eq!(access(&name), access(&format!("any/where/{name}")));
        assert_eq!(skip(&format!("{name}/.DS_Store")), SkipReason::NotAlbLog);
    }

    #[test]
    fn skips_the_test_file() {
        assert_eq!(skip("ELBAccessLogTestFile"), SkipReason::TestFile);
        assert_eq!(
            skip(&format!("logs/AWSLogs/{ACCT}/ELBAccessLogTestFile")),
            SkipReason::TestFile
        );
    }

    #[test]
    fn skips_connection_logs() {
        let key = format!(
            "AWSLogs/{ACCT}/elasticloadbalancing/eu-central-1/2024/02/07/conn_log_{ACCT}_elasticloadbalancing_eu-central-1_app.my-alb.5ede558f4b0e97a9_20240207T0955Z_10.43.1.2_b38hdhc6.log.gz"
        );
        assert_eq!(skip(&key), SkipReason::ConnectionLog);
        // The documented spelling uses a dot after the marker.
        let dotted = format!(
            "conn_log.{ACCT}_elasticloadbalancing_eu-central-1_app.my-alb.5ede558f4b0e97a9_20240207T0955Z_10.43.1.2_b38hdhc6.log.gz"
        );
        assert_eq!(skip(&dotted), SkipReason::ConnectionLog);
    }

    #[test]
    fn skips_health_check_logs() {
        let key = format!(
            "health_check_log_{ACCT}_elasticloadbalancing_us-east-1_app.my-alb.5ede558f4b0e97a9_20251031T1245Z_172.31.20.97_abcd1234.log.gz"
        );
        assert_eq!(skip(&key), SkipReason::HealthCheckLog);
    }

    #[test]
    fn skips_nlb_logs() {
        let key = format!(
            "{ACCT}_elasticloadbalancing_us-east-2_net.my-nlb.1234567890abcdef_20181108T2225Z_3b2e59e8.log.gz"
        );
        assert_eq!(skip(&key), SkipReason::NlbLog);
    }

    #[test]
    fn skips_classic_elb_logs() {
        let key = format!(
            "{ACCT}_elasticloadbalancing_us-west-2_my-loadbalancer_20140215T2340Z_172.160.001.192_20sg8hgm.log"
        );
        assert_eq!(skip(&key), SkipReason::ClassicLog);
    }

    #[test]
    fn skips_everything_else() {
        let good = alb_name("eu-west-1", "web", "20261125T0005Z", "10.0.0.1");
        let not_alb = [
            ".DS_Store".to_owned(),
            "".to_owned(),
            "AWSLogs/".to_owned(),
            "part-00000-1b2c.json.gz".to_owned(),
            "vended/2026/11/25/access.log.json".to_owned(),
            good.replace(".log.gz", ".log"), // not gzip, but ALB-shaped
            good.replace(".log.gz", ".log.gz.tmp"), // partial download
            good.replace(ACCT, "12345678901"), // 11-digit account
            good.replace("_app.", "_gwy."),  // other load balancer kind
            good.replace("20261125T0005Z", "20261125T0005"), // no Z
            good.replace("20261125T0005Z", "20261132T0005Z"), // no such day
            good.replace("20261125T0005Z", "20261125T2460Z"), // no such time
            good.replace(".50dc6c495c0c9188", ".50dc6c495c0c918g"), // id not hex
            good.replace("app.web.", "app.-web."), // dash at start of lb name
            good.replace("app.web.", "app.we_b."), // underscore in lb name
            good.replace("eu-west-1", "EU-WEST-1"), // region casing
            good.replace("elasticloadbalancing", "elb"),
            good.replace("_10.0.0.1_", "__"), // empty node ip
            good.replace("_10.0.0.1_", "_10.0.0.1 _"), // blank in node ip
            good.replace("_2b2pjb6b.", "_."), // empty random part
            good.replace("_2b2pjb6b.", "_2b2p-jb6b."), // random part not alphanumeric
        ];
        for key in not_alb {
            assert_eq!(skip(&key), SkipReason::NotAlbLog, "{key}");
        }
    }

    #[test]
    fn skip_reason_names_match_serde() {
        for reason in SkipReason::ALL {
            let json = serde_json::to_string(&reason).expect("serialize");
            assert_eq!(json, format!("\"{}\"", reason.as_str()));
            assert_eq!(reason.to_string(), reason.as_str());
        }
    }

    #[test]
    fn day_folders_are_the_day_and_the_next() {
        assert_eq!(
            day_folders(date(2026, 11, 25)),
            [date(2026, 11, 25), date(2026, 11, 26)]
        );
        assert_eq!(
            day_folders(date(2025, 12, 31)),
            [date(2025, 12, 31), date(2026, 1, 1)]
        );
        assert_eq!(
            day_folders(date(2028, 2, 28)),
            [date(2028, 2, 28), date(2028, 2, 29)]
        );
        assert_eq!(
            day_folders(date(2027, 2, 28)),
            [date(2027, 2, 28), date(2027, 3, 1)]
        );
        assert_eq!(day_folders(NaiveDate::MAX), [NaiveDate::MAX]);
    }

    #[test]
    fn folder_paths_are_zero_padded() {
        assert_eq!(folder_path(date(2026, 1, 5)), "2026/01/05");
        assert_eq!(folder_path(date(2028, 2, 29)), "2028/02/29");
        assert_eq!(parse_folder_path("2028/02/29"), Some(date(2028, 2, 29)));
        assert_eq!(parse_folder_path("2027/02/29"), None);
        assert_eq!(parse_folder_path("2027/2/28"), None);
    }

    #[test]
    fn every_object_of_the_day_folder_counts() {
        let day = date(2026, 11, 25);
        for end in [
            at(2026, 11, 25, 0, 0),
            at(2026, 11, 25, 0, 5),
            at(2026, 11, 25, 23, 55),
        ] {
            assert!(object_may_hold_day(day, &name_ending(end), day), "{end}");
        }
    }

    #[test]
    fn next_folder_counts_only_within_the_margin() {
        let day = date(2026, 11, 25);
        let next = date(2026, 11, 26);
        assert!(object_may_hold_day(
            next,
            &name_ending(at(2026, 11, 25, 23, 55)),
            day
        ));
        assert!(object_may_hold_day(
            next,
            &name_ending(at(2026, 11, 26, 0, 5)),
            day
        ));
        assert!(object_may_hold_day(
            next,
            &name_ending(at(2026, 11, 26, 1, 0)),
            day
        ));
        assert!(!object_may_hold_day(
            next,
            &name_ending(at(2026, 11, 26, 1, 5)),
            day
        ));
        assert!(!object_may_hold_day(
            next,
            &name_ending(at(2026, 11, 26, 23, 55)),
            day
        ));
    }

    #[test]
    fn other_folders_never_count() {
        let day = date(2026, 11, 25);
        let end = name_ending(at(2026, 11, 25, 0, 5));
        assert!(!object_may_hold_day(date(2026, 11, 24), &end, day));
        assert!(!object_may_hold_day(date(2026, 11, 27), &end, day));
    }

    #[test]
    fn window_crosses_year_and_leap_day() {
        let eve = date(2025, 12, 31);
        assert!(object_may_hold_day(
            date(2026, 1, 1),
            &name_ending(at(2026, 1, 1, 0, 55)),
            eve
        ));
        assert!(!object_may_hold_day(
            date(2026, 1, 1),
            &name_ending(at(2026, 1, 1, 1, 5)),
            eve
        ));
        let leap = date(2028, 2, 29);
        assert!(object_may_hold_day(
            date(2028, 3, 1),
            &name_ending(at(2028, 3, 1, 0, 10)),
            leap
        ));
        assert!(!object_may_hold_day(
            date(2028, 2, 28),
            &name_ending(at(2028, 2, 28, 23, 0)),
            leap
        ));
        let before_leap = date(2028, 2, 28);
        assert!(object_may_hold_day(
            date(2028, 2, 29),
            &name_ending(at(2028, 2, 29, 0, 5)),
            before_leap
        ));
        assert!(!object_may_hold_day(
            date(2028, 3, 1),
            &name_ending(at(2028, 3, 1, 0, 5)),
            before_leap
        ));
    }

    #[test]
    fn day_folder_keys_with_and_without_prefix() {
        let d = date(2026, 3, 1);
        assert_eq!(
            day_folder_key("", ACCT, "eu-west-1", d),
            format!("AWSLogs/{ACCT}/elasticloadbalancing/eu-west-1/2026/03/01/")
        );
        assert_eq!(
            day_folder_key("a/b/", ACCT, "eu-west-1", d),
            format!("a/b/AWSLogs/{ACCT}/elasticloadbalancing/eu-west-1/2026/03/01/")
        );
        assert_eq!(
            day_folder_key("a", ACCT, "eu-west-1", d),
            format!("a/AWSLogs/{ACCT}/elasticloadbalancing/eu-west-1/2026/03/01/")
        );
    }

    #[test]
    fn parse_key_round_trips_day_folder_key() {
        let d = date(2028, 2, 29);
        for prefix in ["", "logs", "team/prod/alb"] {
            let key = format!(
                "{}x.log.gz",
                day_folder_key(prefix, ACCT, "us-gov-west-1", d)
            );
            let parts = parse_key(&key).expect(&key);
            assert_eq!(
                parts,
                KeyParts {
                    prefix: prefix.into(),
                    account: ACCT.into(),
                    region: "us-gov-west-1".into(),
                    folder: d,
                    name: "x.log.gz".into(),
                }
            );
        }
    }

    #[test]
    fn parse_key_refuses_other_shapes() {
        let bad = [
            format!("AWSLogs/{ACCT}/ELBAccessLogTestFile"),
            format!("AWSLogs/{ACCT}/elasticloadbalancing/eu-west-1/2026/11/25/"),
            format!("AWSLogs/{ACCT}/elasticloadbalancing/eu-west-1/2026/11/31/x"),
            format!("AWSLogs/{ACCT}/elasticloadbalancing/eu-west-1/2026/1/05/x"),
            format!("AWSLogs/{ACCT}/cloudtrail/eu-west-1/2026/11/25/x"),
            format!("awslogs/{ACCT}/elasticloadbalancing/eu-west-1/2026/11/25/x"),
            "AWSLogs/1234/elasticloadbalancing/eu-west-1/2026/11/25/x".to_owned(),
            format!("AWSLogs/{ACCT}/elasticloadbalancing/eu-west-1/2026/11/25/x/y"),
        ];
        for key in bad {
            assert_eq!(parse_key(&key), None, "{key}");
        }
    }
}
