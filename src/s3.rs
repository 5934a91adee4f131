//! The S3 client layer: one place that owns how greenlight talks to S3 (or an S3-compatible
//! store), for the log source ([`crate::source::s3`]), the outputs ([`crate::output`]) and,
//! later, the history state.
//!
//! It owns:
//! - **building the client** ([`S3Config::client`]): `aws-config`'s standard chains for
//!   credentials (environment, profile, web identity, ECS task role, IMDS) and region
//!   (`AWS_REGION`, profile, IMDS; `us-east-1` when none is found), the endpoint override
//!   (`--s3-endpoint`, else `AWS_ENDPOINT_URL_S3` / `AWS_ENDPOINT_URL` as read by `aws-config`)
//!   and path-style addressing whenever an endpoint is overridden (MinIO, Garage, Ceph, moto);
//! - **retries and timeouts** ([`RetryTuning`]): the SDK's standard retry mode (throttling
//!   `503 SlowDown`, 5xx, timeouts and connection errors, exponential backoff with jitter) with
//!   [`DEFAULT_MAX_ATTEMPTS`] attempts instead of the SDK's 3: a nightly job that meets a
//!   throttled prefix should wait it out (up to ~2 min of backoff per request), not fail the
//!   release list; and without the SDK's client-wide retry quota, which a burst of faults
//!   over many objects drains (then nothing is retried any more). A connect timeout and a read timeout (time to the response head) bound
//!   every attempt, so a connection that stalls cannot hang the job; a body that stalls
//!   mid-stream is cut by the SDK's stalled-stream protection (on by default). The body of a
//!   whole-object [`S3Client::get`] that breaks off is fetched again (the SDK retries only up
//!   to the response head);
//! - **the runtime**: one process-wide tokio runtime for network I/O only ([`runtime`]); the
//!   blocking helpers below may be called from any thread that is *not* a runtime thread
//!   (the main thread, rayon workers);
//! - **errors** ([`S3Error`]): one line naming the bucket and key, with the cases an operator
//!   can act on told apart (no such bucket / key, access denied, no or invalid credentials,
//!   wrong region);
//! - **small blocking helpers** for whole objects ([`S3Client::get`], [`S3Client::put`],
//!   [`S3Client::list`], [`S3Client::list_folder`], [`S3Client::delete`]), which the state
//!   store can use as they are; streaming reads of big objects are in [`crate::source::s3`].
//!
//! A PUT is atomic in S3: readers see the previous object or the new one, never a part.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::config::retry::{RetryPartition, TokenBucket};
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;

/// The region used when the chain finds none (S3 answers a wrong region with a redirect that
/// names the right one, which [`S3Error::WrongRegion`] reports).
pub const FALLBACK_REGION: &str = "us-east-1";

/// How to reach S3: everything that is not in the bucket/key. Cheap to clone and compare.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct S3Config {
    /// Endpoint override (`--s3-endpoint`), e.g. `http://127.0.0.1:9000`. Path-style
    /// addressing is used whenever an endpoint is set here or in `AWS_ENDPOINT_URL(_S3)`.
    pub endpoint: Option<String>,
}

impl S3Config {
    /// The client for this configuration, built once per process and configuration.
    pub fn client(&self) -> S3Client {
        static CLIENTS: OnceLock<Mutex<HashMap<S3Config, aws_sdk_s3::Client>>> = OnceLock::new();
        let clients = CLIENTS.get_or_init(Default::default);
        let mut map = clients.lock().unwrap_or_else(|p| p.into_inner());
        let client = map
            .entry(self.clone())
            .or_insert_with(|| runtime().block_on(build_client(self)))
            .clone();
        S3Client { inner: client }
    }
}

/// Attempts per S3 request, the first included (`GREENLIGHT_S3_MAX_ATTEMPTS`).
pub const DEFAULT_MAX_ATTEMPTS: u32 = 10;
/// The first retry waits up to this long, doubled per attempt (with full jitter) up to
/// [`MAX_BACKOFF`] (`GREENLIGHT_S3_BACKOFF_MS`).
pub const DEFAULT_INITIAL_BACKOFF: Duration = Duration::from_millis(500);
/// The longest wait between two attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(20);
/// Time to open a TCP (and TLS) connection.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Time from sending a request to the response head (`GREENLIGHT_S3_READ_TIMEOUT_MS`).
/// S3 answers in milliseconds; a PUT of a list or tally (a few MB) is well within it.
pub const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Retry and timeout settings of the S3 client: the defaults above, each overridable from the
/// environment for operators (and for the fault tests, which want short waits). A value that
/// is not a positive integer is refused with a warning and the default is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryTuning {
    pub max_attempts: u32,
    pub initial_backoff: Duration,
    pub read_timeout: Duration,
}

impl Default for RetryTuning {
    fn default() -> Self {
        RetryTuning {
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            initial_backoff: DEFAULT_INITIAL_BACKOFF,
            read_timeout: DEFAULT_READ_TIMEOUT,
        }
    }
}

impl RetryTuning {
    /// The defaults, overridden by `GREENLIGHT_S3_MAX_ATTEMPTS`, `GREENLIGHT_S3_BACKOFF_MS`
    /// and `GREENLIGHT_S3_READ_TIMEOUT_MS`.
    pub fn from_env() -> Self {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Self {
        let mut t = RetryTuning::default();
        let num = |name: &str| -> Option<u64> {
            let v = get(name)?;
            match v.trim().parse::<u64>() {
                Ok(n) if n > 0 => Some(n),
                _ => {
                    tracing::warn!("{name}={v:?} is not a positive integer; using the default");
                    None
                }
            }
        };
        if let Some(n) = num("GREENLIGHT_S3_MAX_ATTEMPTS") {
            t.max_attempts = u32::try_from(n).unwrap_or(u32::MAX);
        }
        if let Some(ms) = num("GREENLIGHT_S3_BACKOFF_MS") {
            t.initial_backoff = Duration::from_millis(ms);
        }
        if let Some(ms) = num("GREENLIGHT_S3_READ_TIMEOUT_MS") {
            t.read_timeout = Duration::from_millis(ms);
        }
        t
    }

    fn retry_config(&self) -> RetryConfig {
        RetryConfig::standard()
            .with_max_attempts(self.max_attempts)
            .with_initial_backoff(self.initial_backoff)
            .with_max_backoff(MAX_BACKOFF.max(self.initial_backoff))
    }

    fn timeout_config(&self) -> TimeoutConfig {
        TimeoutConfig::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .read_timeout(self.read_timeout)
            .build()
    }

    /// The wait before re-reading a whole object whose body broke off (attempt 1, 2, ...).
    fn body_backoff(&self, attempt: u32) -> Duration {
        self.initial_backoff
            .saturating_mul(1 << attempt.min(6))
            .min(MAX_BACKOFF)
    }
}

async fn build_client(cfg: &S3Config) -> aws_sdk_s3::Client {
    let tuning = RetryTuning::from_env();
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .retry_config(tuning.retry_config())
        .timeout_config(tuning.timeout_config());
    if let Some(endpoint) = &cfg.endpoint {
        loader = loader.endpoint_url(endpoint);
    }
    let shared = loader.load().await;
    let mut builder = aws_sdk_s3::config::Builder::from(&shared);
    if shared.region().is_none() {
        builder = builder.region(aws_sdk_s3::config::Region::new(FALLBACK_REGION));
    }
    // No client-wide retry quota: the SDK's token bucket (500 tokens, 5-14 per retry, a token
    // back per success) is made for services that must not amplify an outage; a batch job
    // reading thousands of objects through a throttled prefix drained it in one night's
    // burst, after which every error failed its object at once. Attempts per request and
    // the backoff above already bound the load (see tests/s3_faults.rs).
    builder = builder.retry_partition(
        RetryPartition::custom("greenlight-s3")
            .token_bucket(TokenBucket::unlimited())
            .build(),
    );
    let endpoint_overridden = cfg.endpoint.is_some()
        || shared.endpoint_url().is_some()
        || std::env::var_os("AWS_ENDPOINT_URL_S3").is_some();
    if endpoint_overridden {
        builder = builder.force_path_style(true);
    }
    aws_sdk_s3::Client::from_conf(builder.build())
}

/// The process-wide runtime for S3 network I/O (2 worker threads: the work is waiting on
/// sockets; decompression and parsing stay on rayon).
pub fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("greenlight-s3")
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("cannot start the S3 I/O runtime: {e}"))
    })
}

/// `s3://bucket[/key-or-prefix]` taken apart.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct S3Url {
    pub bucket: String,
    /// Everything after `bucket/`, possibly empty; never starts with `/`.
    pub key: String,
}

impl S3Url {
    /// Parses `s3://bucket[/rest]`; `None` when `s` does not start with `s3://`.
    /// `Some(Err)` for an `s3://` URL without a valid bucket name.
    pub fn parse(s: &str) -> Option<Result<S3Url, String>> {
        let rest = s.strip_prefix("s3://")?;
        let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
        let valid = (3..=63).contains(&bucket.len())
            && bucket
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-._".contains(&b));
        if !valid {
            return Some(Err(format!(
                "{s}: '{bucket}' is not a bucket name (3-63 lowercase letters, digits, '-', '.')"
            )));
        }
        Some(Ok(S3Url {
            bucket: bucket.to_owned(),
            key: key.trim_start_matches('/').to_owned(),
        }))
    }
}

impl fmt::Display for S3Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.key)
    }
}

/// An S3 failure, in one line naming the bucket and key (or prefix).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum S3Error {
    #[error("s3://{bucket}: no such bucket")]
    NoSuchBucket { bucket: String },
    #[error("s3://{bucket}/{key}: no such key")]
    NoSuchKey { bucket: String, key: String },
    #[error("s3://{bucket}/{key}: access denied ({message}); see README, IAM permissions")]
    AccessDenied {
        bucket: String,
        key: String,
        message: String,
    },
    #[error(
        "s3://{bucket}/{key}: no AWS credentials found (environment, profile, web identity, \
         ECS task role, instance profile were tried): {message}"
    )]
    NoCredentials {
        bucket: String,
        key: String,
        message: String,
    },
    #[error("s3://{bucket}/{key}: credentials refused ({code}): {message}")]
    BadCredentials {
        bucket: String,
        key: String,
        code: String,
        message: String,
    },
    #[error("s3://{bucket}/{key}: wrong region ({message}); set AWS_REGION to the bucket's region")]
    WrongRegion {
        bucket: String,
        key: String,
        message: String,
    },
    #[error("s3://{bucket}/{key}: {message}")]
    Other {
        bucket: String,
        key: String,
        message: String,
    },
}

impl S3Error {
    /// A configuration or access problem an operator must fix (bucket, credentials,
    /// permissions, region), as opposed to a transient or unknown failure.
    pub fn is_configuration(&self) -> bool {
        !matches!(self, S3Error::Other { .. } | S3Error::NoSuchKey { .. })
    }

    /// Classifies an SDK error of any operation on `bucket`/`key`.
    pub fn from_sdk<E>(bucket: &str, key: &str, err: &SdkError<E, HttpResponse>) -> S3Error
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        let (bucket, key) = (bucket.to_owned(), key.to_owned());
        let full = DisplayErrorContext(err).to_string();
        let status = err.raw_response().map(|r| r.status().as_u16());
        let code = err.code().unwrap_or_default().to_owned();
        let message = err
            .message()
            .map(str::to_owned)
            .unwrap_or_else(|| match status {
                Some(s) => format!("HTTP {s}"),
                None => full.clone(),
            });
        let lower = full.to_ascii_lowercase();
        match code.as_str() {
            "NoSuchBucket" => return S3Error::NoSuchBucket { bucket },
            "NoSuchKey" => return S3Error::NoSuchKey { bucket, key },
            "AccessDenied" | "AllAccessDisabled" | "AccountProblem" => {
                return S3Error::AccessDenied {
                    bucket,
                    key,
                    message,
                };
            }
            "InvalidAccessKeyId"
            | "SignatureDoesNotMatch"
            | "ExpiredToken"
            | "InvalidToken"
            | "TokenRefreshRequired" => {
                return S3Error::BadCredentials {
                    bucket,
                    key,
                    code,
                    message,
                };
            }
            "PermanentRedirect"
            | "AuthorizationHeaderMalformed"
            | "IllegalLocationConstraintException" => {
                return S3Error::WrongRegion {
                    bucket,
                    key,
                    message,
                };
            }
            _ => {}
        }
        if !matches!(err, SdkError::ServiceError(_))
            && (lower.contains("no credentials")
                || lower.contains("credentials provider")
                || lower.contains("identity"))
        {
            return S3Error::NoCredentials {
                bucket,
                key,
                message: full,
            };
        }
        match status {
            Some(301) => S3Error::WrongRegion {
                bucket,
                key,
                message: "HTTP 301, the bucket is in another region".into(),
            },
            Some(403) => S3Error::AccessDenied {
                bucket,
                key,
                message,
            },
            _ => S3Error::Other {
                bucket,
                key,
                message: full,
            },
        }
    }
}

/// An object as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    pub key: String,
    pub size: u64,
}

/// One level of a listing with delimiter `/`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Folder {
    /// The "sub-folders": common prefixes, each ending in `/`, sorted.
    pub folders: Vec<String>,
    /// The objects directly at this level, sorted by key.
    pub objects: Vec<ObjectInfo>,
}

/// A handle on an S3 client; cheap to clone. Get one with [`S3Config::client`].
#[derive(Debug, Clone)]
pub struct S3Client {
    inner: aws_sdk_s3::Client,
}

impl S3Client {
    /// The SDK client, for async callers running on [`runtime`].
    pub fn sdk(&self) -> &aws_sdk_s3::Client {
        &self.inner
    }

    /// The whole object, or `None` when the key does not exist (the bucket must).
    /// For small objects (state, lists); big ones are streamed by the log source. The SDK
    /// retries up to the response head; a body that breaks off after it is fetched again, up
    /// to the configured attempts, conditional on the first answer's ETag (an object replaced
    /// meanwhile fails instead of mixing versions).
    pub fn get(&self, bucket: &str, key: &str) -> Result<Option<Vec<u8>>, S3Error> {
        let tuning = RetryTuning::from_env();
        runtime().block_on(async {
            let mut etag: Option<String> = None;
            let mut attempt = 1u32;
            loop {
                let mut req = self.inner.get_object().bucket(bucket).key(key);
                if let Some(etag) = &etag {
                    req = req.if_match(etag);
                }
                let out = match req.send().await {
                    Ok(out) => out,
                    Err(e) => {
                        return match S3Error::from_sdk(bucket, key, &e) {
                            S3Error::NoSuchKey { .. } => Ok(None),
                            other => Err(other),
                        };
                    }
                };
                if etag.is_none() {
                    etag = out.e_tag.clone();
                }
                match out.body.collect().await {
                    Ok(bytes) => return Ok(Some(bytes.to_vec())),
                    Err(e) if attempt < tuning.max_attempts => {
                        tracing::warn!(object = %format!("s3://{bucket}/{key}"), attempt, error = %e,
                            "body broke off; reading the object again");
                        tokio::time::sleep(tuning.body_backoff(attempt)).await;
                        attempt += 1;
                    }
                    Err(e) => {
                        return Err(S3Error::Other {
                            bucket: bucket.to_owned(),
                            key: key.to_owned(),
                            message: format!("reading the body ({attempt} attempts): {e}"),
                        });
                    }
                }
            }
        })
    }

    /// Writes `bytes` to `key` in one PUT: the object is replaced only when the upload
    /// completed (atomic for readers).
    pub fn put(&self, bucket: &str, key: &str, bytes: &[u8]) -> Result<(), S3Error> {
        let body = ByteStream::from(bytes.to_vec());
        runtime().block_on(async {
            self.inner
                .put_object()
                .bucket(bucket)
                .key(key)
                .body(body)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| S3Error::from_sdk(bucket, key, &e))
        })
    }

    /// Deletes `key` (no error when it is already gone).
    pub fn delete(&self, bucket: &str, key: &str) -> Result<(), S3Error> {
        runtime().block_on(async {
            self.inner
                .delete_object()
                .bucket(bucket)
                .key(key)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| S3Error::from_sdk(bucket, key, &e))
        })
    }

    /// Every object whose key starts with `prefix`, all pages, sorted by key.
    pub fn list(&self, bucket: &str, prefix: &str) -> Result<Vec<ObjectInfo>, S3Error> {
        Ok(self.list_inner(bucket, prefix, None)?.objects)
    }

    /// One level under `prefix` (which should end in `/`, or be empty): sub-folders and
    /// objects, all pages.
    pub fn list_folder(&self, bucket: &str, prefix: &str) -> Result<Folder, S3Error> {
        self.list_inner(bucket, prefix, Some("/"))
    }

    fn list_inner(
        &self,
        bucket: &str,
        prefix: &str,
        delimiter: Option<&str>,
    ) -> Result<Folder, S3Error> {
        runtime().block_on(async {
            let mut folder = Folder::default();
            let mut pages = self
                .inner
                .list_objects_v2()
                .bucket(bucket)
                .prefix(prefix)
                .set_delimiter(delimiter.map(str::to_owned))
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| S3Error::from_sdk(bucket, prefix, &e))?;
                for p in page.common_prefixes() {
                    if let Some(p) = p.prefix() {
                        folder.folders.push(p.to_owned());
                    }
                }
                for o in page.contents() {
                    if let Some(key) = o.key() {
                        folder.objects.push(ObjectInfo {
                            key: key.to_owned(),
                            size: o.size().and_then(|s| u64::try_from(s).ok()).unwrap_or(0),
                        });
                    }
                }
            }
            folder.folders.sort();
            folder.objects.sort_by(|a, b| a.key.cmp(&b.key));
            Ok(folder)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_s3_urls() {
        assert_eq!(S3Url::parse("/tmp/x"), None);
        assert_eq!(
            S3Url::parse("s3://my-bucket/logs/x").unwrap().unwrap(),
            S3Url {
                bucket: "my-bucket".into(),
                key: "logs/x".into()
            }
        );
        assert_eq!(
            S3Url::parse("s3://my-bucket").unwrap().unwrap().key,
            String::new()
        );
        assert!(S3Url::parse("s3://").unwrap().is_err());
        assert!(S3Url::parse("s3://My_Bucket/x").unwrap().is_err());
    }

    fn service_error(
        status: u16,
        code: Option<&str>,
    ) -> SdkError<aws_sdk_s3::operation::get_object::GetObjectError, HttpResponse> {
        let mut meta = aws_sdk_s3::error::ErrorMetadata::builder().message("from the test");
        if let Some(code) = code {
            meta = meta.code(code);
        }
        let err = aws_sdk_s3::operation::get_object::GetObjectError::generic(meta.build());
        let raw = HttpResponse::new(
            status.try_into().unwrap(),
            aws_sdk_s3::primitives::SdkBody::empty(),
        );
        SdkError::service_error(err, raw)
    }

    /// The cases moto cannot produce (wrong region) and the others, by code and status.
    #[test]
    fn classifies_service_errors_by_code_and_status() {
        let classify = |status, code| S3Error::from_sdk("b", "k", &service_error(status, code));
        assert!(matches!(
            classify(301, Some("PermanentRedirect")),
            S3Error::WrongRegion { .. }
        ));
        assert!(matches!(
            classify(400, Some("AuthorizationHeaderMalformed")),
            S3Error::WrongRegion { .. }
        ));
        assert!(matches!(classify(301, None), S3Error::WrongRegion { .. }));
        assert!(matches!(
            classify(403, Some("AccessDenied")),
            S3Error::AccessDenied { .. }
        ));
        assert!(matches!(classify(403, None), S3Error::AccessDenied { .. }));
        assert!(matches!(
            classify(403, Some("InvalidAccessKeyId")),
            S3Error::BadCredentials { .. }
        ));
        assert!(matches!(
            classify(404, Some("NoSuchKey")),
            S3Error::NoSuchKey { .. }
        ));
        assert!(matches!(
            classify(404, Some("NoSuchBucket")),
            S3Error::NoSuchBucket { .. }
        ));
        assert!(matches!(
            classify(503, Some("SlowDown")),
            S3Error::Other { .. }
        ));
        let wrong = classify(301, Some("PermanentRedirect")).to_string();
        assert!(wrong.starts_with("s3://b/k: wrong region"), "{wrong}");
        assert!(wrong.contains("AWS_REGION"));
        assert!(!classify(503, None).is_configuration());
        assert!(classify(403, None).is_configuration());
    }

    #[test]
    fn retry_tuning_reads_the_environment_and_refuses_nonsense() {
        let t = RetryTuning::from_lookup(|_| None);
        assert_eq!(t, RetryTuning::default());
        assert_eq!(t.max_attempts, DEFAULT_MAX_ATTEMPTS);
        let t = RetryTuning::from_lookup(|k| match k {
            "GREENLIGHT_S3_MAX_ATTEMPTS" => Some("4".into()),
            "GREENLIGHT_S3_BACKOFF_MS" => Some("20".into()),
            "GREENLIGHT_S3_READ_TIMEOUT_MS" => Some("1500".into()),
            _ => None,
        });
        assert_eq!(t.max_attempts, 4);
        assert_eq!(t.initial_backoff, Duration::from_millis(20));
        assert_eq!(t.read_timeout, Duration::from_millis(1500));
        let t = RetryTuning::from_lookup(|_| Some("0".into()));
        assert_eq!(t, RetryTuning::default());
        let t = RetryTuning::from_lookup(|_| Some("soon".into()));
        assert_eq!(t, RetryTuning::default());
        assert_eq!(t.body_backoff(1), Duration::from_millis(1000));
        assert_eq!(t.body_backoff(30), MAX_BACKOFF);
    }
}
