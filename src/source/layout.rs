//! The S3 key layout of ALB logs: `[prefix/]AWSLogs/<account>/elasticloadbalancing/<region>/
//! YYYY/MM/DD/<name>`, which names are ALB access logs, and which day folders can hold a day's
//! requests. (Contract stub: being implemented.)

use chrono::{NaiveDate, NaiveDateTime};

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
    pub node_ip: String,
}

/// Why an object in a day folder is not read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    TestFile,
    ConnectionLog,
    HealthCheckLog,
    NlbLog,
    ClassicLog,
    /// Anything else whose name is not an ALB access log.
    NotAlbLog,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyClass {
    AccessLog(AlbLogName),
    Skip(SkipReason),
}

/// Classifies an object by its key (the file name part decides).
pub fn classify_key(_key: &str) -> KeyClass {
    KeyClass::Skip(SkipReason::NotAlbLog)
}

#[allow(dead_code)]
fn _uses(_: NaiveDate) {}

impl SkipReason {
    /// Temporary until the layout module lands.
    pub fn as_str(self) -> &'static str {
        "skipped"
    }
}
