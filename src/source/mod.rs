//! Where log objects come from: the key layout ALB writes ([`layout`]) and the stores that hold
//! it ([`local`], [`s3`]). A source lists the objects of a day and opens them as byte streams;
//! it never decompresses or parses. [`Scope`] narrows a listing to accounts, regions and load
//! balancers, the same way for every source.

pub mod layout;
pub mod local;
pub mod s3;

use std::collections::BTreeMap;
use std::io::Read;
use std::path::PathBuf;

use crate::s3::{S3Config, S3Error, S3Url};

pub use layout::{AlbLogName, KeyClass, KeyParts, SkipReason, classify_key, parse_key};

/// Where a run's logs are: parsed from `--logs`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogSource {
    /// A local folder laid out like the log bucket.
    Local(PathBuf),
    /// `s3://bucket[/prefix]`: the log bucket, the `AWSLogs` tree at or below `prefix`.
    S3 {
        bucket: String,
        /// Without leading or trailing `/`; may be empty.
        prefix: String,
        /// How to reach S3 (`--s3-endpoint`); the binary sets it after parsing.
        s3: S3Config,
    },
}

impl LogSource {
    /// Parses `--logs` as given on the command line: `s3://bucket[/prefix]` or a folder.
    pub fn parse(s: &str) -> Result<Self, String> {
        if s.is_empty() {
            return Err("an empty path".into());
        }
        if let Some(url) = S3Url::parse(s) {
            let url = url?;
            return Ok(LogSource::S3 {
                bucket: url.bucket,
                prefix: url.key.trim_matches('/').to_owned(),
                s3: S3Config::default(),
            });
        }
        Ok(LogSource::Local(PathBuf::from(s)))
    }

    /// Sets how S3 is reached (no effect on a local source).
    pub fn set_s3_config(&mut self, config: &S3Config) {
        if let LogSource::S3 { s3, .. } = self {
            *s3 = config.clone();
        }
    }

    /// Lists the ALB access-log objects that can hold requests of `day` (UTC).
    pub fn list_day(&self, day: chrono::NaiveDate) -> Result<Listing, SourceError> {
        self.list_day_in(day, &Scope::default())
    }

    /// Like [`LogSource::list_day`], only within `scope`.
    pub fn list_day_in(
        &self,
        day: chrono::NaiveDate,
        scope: &Scope,
    ) -> Result<Listing, SourceError> {
        match self {
            LogSource::Local(root) => local::list_day_in(root, day, scope),
            LogSource::S3 { bucket, prefix, s3 } => s3::list_day(s3, bucket, prefix, day, scope),
        }
    }
}

/// Which accounts, regions and load balancers a run mines (`--account`, `--region`,
/// `--load-balancer`); empty lists mean all. Objects outside the scope are not listed and not
/// counted anywhere.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope {
    pub accounts: Vec<String>,
    pub regions: Vec<String>,
    /// Load balancer names as in the key (`app.<name>.<id>`), e.g. `my-alb`.
    pub load_balancers: Vec<String>,
}

impl Scope {
    pub fn account_ok(&self, account: &str) -> bool {
        self.accounts.is_empty() || self.accounts.iter().any(|a| a == account)
    }
    pub fn region_ok(&self, region: &str) -> bool {
        self.regions.is_empty() || self.regions.iter().any(|r| r == region)
    }
    pub fn load_balancer_ok(&self, name: &str) -> bool {
        self.load_balancers.is_empty() || self.load_balancers.iter().any(|l| l == name)
    }
}

impl std::fmt::Display for LogSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LogSource::Local(p) => write!(f, "{}", p.display()),
            LogSource::S3 { bucket, prefix, .. } if prefix.is_empty() => {
                write!(f, "s3://{bucket}")
            }
            LogSource::S3 { bucket, prefix, .. } => write!(f, "s3://{bucket}/{prefix}"),
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
    /// An object in S3, streamed by [`s3::open`].
    S3 {
        s3: S3Config,
        bucket: String,
        key: String,
    },
}

impl LogObject {
    /// Opens the stored (still compressed) bytes as a stream.
    pub fn open(&self) -> std::io::Result<Box<dyn Read + Send>> {
        match &self.location {
            ObjectLocation::Local(path) => Ok(Box::new(std::fs::File::open(path)?)),
            ObjectLocation::S3 { s3, bucket, key } => s3::open(s3, bucket, key),
        }
    }
}

impl LogObject {
    /// Starts fetching the object whole in the background ([`s3::fetch_whole`]), when it is
    /// in S3 and listed at most `limit` bytes, into `buffer`; `None` for a local object (read
    /// when it is scanned: the page cache is its read-ahead) and for a larger one (streamed).
    pub fn fetch_ahead(&self, limit: u64, buffer: Vec<u8>) -> Option<s3::Fetching> {
        match &self.location {
            ObjectLocation::S3 { s3, bucket, key } if self.size <= limit => {
                let (size, limit) = (self.size as usize, limit as usize);
                Some(s3::fetch_whole(s3, bucket, key, size, limit, buffer))
            }
            _ => None,
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

impl Listing {
    /// Counts an object in a day folder that is skipped by key.
    pub fn count_skip(&mut self, reason: SkipReason) {
        *self.skipped.entry(reason).or_default() += 1;
    }

    /// The one rule, for every store, on an object found in day folder `folder` while listing
    /// `day`: `Some` when it is an ALB access log of a load balancer in `scope` that can hold
    /// the day's requests; otherwise it is counted (skipped by key, or not in the window) or,
    /// for another load balancer, passed over.
    pub fn select(
        &mut self,
        key: &str,
        folder: chrono::NaiveDate,
        day: chrono::NaiveDate,
        scope: &Scope,
    ) -> Option<AlbLogName> {
        let parsed = match classify_key(key) {
            KeyClass::AccessLog(parsed) => parsed,
            KeyClass::Skip(reason) => {
                self.count_skip(reason);
                return None;
            }
        };
        if !scope.load_balancer_ok(&parsed.lb_name) {
            return None;
        }
        if !layout::object_may_hold_day(folder, &parsed, day) {
            self.not_in_window += 1;
            return None;
        }
        Some(parsed)
    }
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
    #[error("{0} holds no AWSLogs/<account>/elasticloadbalancing/<region>/ tree")]
    NoAwsLogsS3(String),
    #[error(transparent)]
    S3(#[from] S3Error),
}
