//! Where log objects come from: the key layout ALB writes ([`layout`]) and the stores that hold
//! it ([`local`]; S3 comes later). A source lists the objects of a day and opens them as byte
//! streams; it never decompresses or parses.

pub mod layout;
pub mod local;

use std::collections::BTreeMap;
use std::io::Read;
use std::path::PathBuf;

pub use layout::{AlbLogName, KeyClass, KeyParts, SkipReason, classify_key, parse_key};

/// Where a run's logs are: parsed from `--logs`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogSource {
    /// A local folder laid out like the log bucket.
    Local(PathBuf),
}

impl LogSource {
    /// Parses `--logs` as given on the command line.
    pub fn parse(s: &str) -> Result<Self, String> {
        if s.is_empty() {
            return Err("an empty path".into());
        }
        Ok(LogSource::Local(PathBuf::from(s)))
    }

    /// Lists the ALB access-log objects that can hold requests of `day` (UTC).
    pub fn list_day(&self, day: chrono::NaiveDate) -> Result<Listing, SourceError> {
        match self {
            LogSource::Local(root) => local::list_day(root, day),
        }
    }
}

impl std::fmt::Display for LogSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LogSource::Local(p) => write!(f, "{}", p.display()),
        }
    }
}

impl From<PathBuf> for LogSource {
    fn from(p: PathBuf) -> Self {
        LogSource::Local(p)
    }
}

/// One ALB access-log object selected for a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogObject {
    /// The key relative to the bucket (or to the local root), `/`-separated, e.g.
    /// `AWSLogs/123456789012/elasticloadbalancing/eu-west-1/2026/11/25/...log.gz`.
    pub key: String,
    /// Size in bytes as stored (compressed).
    pub size: u64,
    pub location: ObjectLocation,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ObjectLocation {
    /// A file in a local folder laid out like the bucket.
    Local(PathBuf),
}

impl LogObject {
    /// Opens the stored (still compressed) bytes as a stream.
    pub fn open(&self) -> std::io::Result<Box<dyn Read + Send>> {
        match &self.location {
            ObjectLocation::Local(path) => Ok(Box::new(std::fs::File::open(path)?)),
        }
    }
}

/// The objects of one day, and what was passed over by key.
#[derive(Debug, Clone, Default)]
pub struct Listing {
    /// Sorted by key, so runs are deterministic.
    pub objects: Vec<LogObject>,
    /// Objects seen in the day folders but skipped by key, by reason.
    pub skipped: BTreeMap<SkipReason, u64>,
    /// The day folders that were looked at (relative keys ending in `/`), for the report.
    pub folders: Vec<String>,
    /// Day folders that should have been looked at but do not exist (yet), e.g. the next
    /// day's folder when the run starts before midnight's deliveries land. Not an error.
    pub missing_folders: Vec<String>,
    /// Access logs of the next day's folder that end after the late-delivery margin
    /// ([`layout::LATE_DELIVERY_MARGIN`]), so cannot hold the day's requests; not read.
    pub not_in_window: u64,
}

/// Why a source could not list.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("log folder {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("log folder {0} holds no AWSLogs/<account>/elasticloadbalancing/<region>/ tree")]
    NoAwsLogs(PathBuf),
}
