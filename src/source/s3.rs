//! The ALB log bucket itself (`--logs s3://bucket[/prefix]`): lists the day folders
//! [`layout::day_folders`] names, with the same key rules as the local folder, and streams the
//! objects to the scan.
//!
//! **Listing** walks the bucket with delimiter `/` listings, exactly as [`super::local`] walks
//! folders: the `AWSLogs` trees at the prefix (or up to [`super::local::MAX_PREFIX_DEPTH`]
//! folders below it), then the 12-digit accounts, the regions under `elasticloadbalancing`,
//! and only the day folders of the run, every page (a day folder holds thousands of objects).
//! Each key goes through [`layout::classify_key`] and [`layout::object_may_hold_day`]; a
//! "sub-folder" inside a day folder is skipped as [`SkipReason::NotAlbLog`], like a local one.
//! So the same tree gives the same [`Listing`] locally and in a bucket.
//!
//! **Streaming** ([`open`]): one tokio task per opened object fetches it and hands the body,
//! chunk by chunk, to a blocking [`Read`] through a bounded channel. Bytes in flight (fetched but
//! not yet consumed by the scan) are bounded for the whole process by [`MAX_BYTES_IN_FLIGHT`]
//! and concurrent GETs by [`MAX_CONCURRENT_GETS`]; a streamed object is never held whole, and
//! each object has its own task and channel, so a slow object only occupies its own scan thread.
//!
//! **Whole fetches** ([`fetch_whole`]): objects up to the scan's limit (16 MiB compressed) are
//! fetched by the same pump into a buffer of their own, started ahead of their turn; the scan
//! bounds how many are ahead.
//!
//! **Retries**: the SDK retries throttling, 5xx, timeouts and connection failures of each
//! request (standard mode, 10 attempts, see [`crate::s3`]). A body that breaks off mid-stream is **resumed** with
//! `Range: bytes=<consumed>-` and `If-Match: <ETag of the first response>` (up to
//! [`MAX_RESUMES`] times, with backoff): bytes already handed to the scan are never fetched
//! again, so every line is counted exactly once, and an object replaced in the meantime fails
//! (`PreconditionFailed`) instead of being spliced from two versions.

use std::io::{self, Read};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use aws_sdk_s3::primitives::ByteStream;
use bytes::Bytes;
use chrono::NaiveDate;
use tokio::sync::{Semaphore, mpsc, oneshot};

use super::layout::{self, AWS_LOGS_FOLDER, SERVICE_FOLDER, SkipReason};
use super::local::MAX_PREFIX_DEPTH;
use super::{Listing, LogObject, ObjectLocation, Scope, SourceError};
use crate::s3::{S3Client, S3Config, S3Error, runtime};

/// Largest number of bytes fetched from S3 but not yet consumed by the scan, over all objects.
pub const MAX_BYTES_IN_FLIGHT: usize = 64 << 20;
/// Largest number of GetObject bodies open at once.
pub const MAX_CONCURRENT_GETS: usize = 32;
/// How often one object's body may be resumed after breaking off.
pub const MAX_RESUMES: u32 = 5;
/// First backoff before resuming a broken body (doubled each time).
const BACKOFF_MS: u64 = if cfg!(test) { 1 } else { 100 };
/// Chunks queued per object (each at most what one body read returned).
const CHANNEL_CHUNKS: usize = 16;

/// Lists the ALB access-log objects under `s3://bucket/prefix` that can hold requests of `day`.
///
/// Errors: any S3 failure ([`SourceError::S3`], naming bucket and prefix); no
/// `AWSLogs/<account>/elasticloadbalancing/<region>/` under the prefix →
/// [`SourceError::NoAwsLogsS3`].
pub fn list_day(
    s3: &S3Config,
    bucket: &str,
    prefix: &str,
    day: NaiveDate,
    scope: &Scope,
) -> Result<Listing, SourceError> {
    let client = s3.client();
    let location = format!("s3://{bucket}/{prefix}");
    let trees = find_aws_logs(&client, bucket, prefix)?;
    if trees.is_empty() {
        return Err(SourceError::NoAwsLogsS3(location));
    }
    let mut listing = Listing::default();
    let mut regions_seen = 0usize;
    for tree in &trees {
        // tree = "[prefix/]AWSLogs/"
        let tree_prefix = tree
            .strip_suffix(&format!("{AWS_LOGS_FOLDER}/"))
            .unwrap_or("")
            .trim_end_matches('/')
            .to_owned();
        for account_dir in client.list_folder(bucket, tree)?.folders {
            let account = last_segment(&account_dir);
            if !layout::is_account(account) || !scope.account_ok(account) {
                continue;
            }
            let service = format!("{account_dir}{SERVICE_FOLDER}/");
            for region_dir in client.list_folder(bucket, &service)?.folders {
                let region = last_segment(&region_dir);
                if !layout::is_region(region) || !scope.region_ok(region) {
                    continue;
                }
                regions_seen += 1;
                for folder in layout::day_folders(day) {
                    let folder_key = layout::day_folder_key(&tree_prefix, account, region, folder);
                    let level = client.list_folder(bucket, &folder_key)?;
                    if level.folders.is_empty() && level.objects.is_empty() {
                        listing.missing_folders.push(folder_key);
                        continue;
                    }
                    for _ in &level.folders {
                        listing.count_skip(SkipReason::NotAlbLog);
                    }
                    for obj in level.objects {
                        if listing.select(&obj.key, folder, day, scope).is_none() {
                            continue;
                        }
                        listing.objects.push(LogObject {
                            key: obj.key.clone(),
                            size: obj.size,
                            location: ObjectLocation::S3 {
                                s3: s3.clone(),
                                bucket: bucket.to_owned(),
                                key: obj.key,
                            },
                        });
                    }
                    listing.folders.push(folder_key);
                }
            }
        }
    }
    if regions_seen == 0 {
        return Err(SourceError::NoAwsLogsS3(location));
    }
    listing.objects.sort_by(|a, b| a.key.cmp(&b.key));
    listing.folders.sort();
    listing.missing_folders.sort();
    Ok(listing)
}

/// The `AWSLogs/` folders (full prefixes ending in `AWSLogs/`) at or under `prefix`, sorted.
fn find_aws_logs(client: &S3Client, bucket: &str, prefix: &str) -> Result<Vec<String>, S3Error> {
    let prefix = prefix.trim_matches('/');
    if last_segment(prefix) == AWS_LOGS_FOLDER {
        return Ok(vec![format!("{prefix}/")]);
    }
    let start = if prefix.is_empty() {
        String::new()
    } else {
        format!("{prefix}/")
    };
    let mut found = Vec::new();
    let mut level = vec![start];
    for depth in 0..=MAX_PREFIX_DEPTH {
        let mut next = Vec::new();
        for dir in level {
            for sub in client.list_folder(bucket, &dir)?.folders {
                if last_segment(&sub) == AWS_LOGS_FOLDER {
                    found.push(sub);
                } else if depth < MAX_PREFIX_DEPTH {
                    next.push(sub);
                }
            }
        }
        level = next;
    }
    found.sort();
    Ok(found)
}

/// `a/b/c/` → `c`; `a/b/c` → `c`.
fn last_segment(p: &str) -> &str {
    let p = p.trim_end_matches('/');
    p.rsplit_once('/').map_or(p, |(_, last)| last)
}

/// The process-wide limits on bytes in flight and open GETs.
fn limits() -> &'static (Arc<Semaphore>, Arc<Semaphore>) {
    static LIMITS: OnceLock<(Arc<Semaphore>, Arc<Semaphore>)> = OnceLock::new();
    LIMITS.get_or_init(|| {
        (
            Arc::new(Semaphore::new(MAX_BYTES_IN_FLIGHT)),
            Arc::new(Semaphore::new(MAX_CONCURRENT_GETS)),
        )
    })
}

/// Opens `s3://bucket/key` as a stream of its stored bytes. Blocks until S3 answered the
/// first GET, so a missing object (deleted between listing and reading) or a refused one
/// fails here with its key. Call from a thread outside the runtime (a rayon worker).
pub fn open(s3: &S3Config, bucket: &str, key: &str) -> io::Result<Box<dyn Read + Send>> {
    let client = s3.client();
    let (bytes_budget, gets) = limits().clone();
    let (tx, rx) = mpsc::channel(CHANNEL_CHUNKS);
    let (first_tx, first_rx) = oneshot::channel();
    let fetch = S3Fetch {
        client: client.sdk().clone(),
        bucket: bucket.to_owned(),
        key: key.to_owned(),
    };
    runtime().spawn(pump(fetch, tx, first_tx, bytes_budget.clone(), gets));
    match first_rx.blocking_recv() {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(io::Error::other(e.to_string())),
        Err(_) => {
            return Err(io::Error::other(format!(
                "s3://{bucket}/{key}: fetch task ended"
            )));
        }
    }
    Ok(Box::new(ChannelReader {
        rx,
        current: Bytes::new(),
        held: 0,
        budget: bytes_budget,
    }))
}

/// An object being fetched whole in the background ([`fetch_whole`]); [`Fetching::wait`]
/// takes what came. Dropped before that, the fetch stops.
pub struct Fetching {
    done: oneshot::Receiver<Fetched>,
}

/// What [`fetch_whole`] fetched.
pub enum Fetched {
    /// S3 refused the first GET (the object is missing, access is denied, ...), as [`open`]
    /// fails.
    NotOpened(io::Error),
    /// The object's stored bytes: all of them, unless `rest` or `error` says otherwise.
    Body {
        bytes: Vec<u8>,
        /// The object is larger than the limit (it grew since it was listed): the bytes after
        /// `bytes`, as a stream like [`open`]'s.
        rest: Option<Box<dyn Read + Send>>,
        /// The body broke off for good after `bytes` (resumes exhausted), as a read from
        /// [`open`]'s stream would fail there.
        error: Option<io::Error>,
    },
}

impl Fetching {
    /// Waits for the fetch to end. Call from a thread outside the runtime (a rayon worker).
    pub fn wait(self) -> Fetched {
        self.done
            .blocking_recv()
            .unwrap_or_else(|_| Fetched::NotOpened(io::Error::other("the fetch task ended")))
    }
}

/// Starts fetching `s3://bucket/key` whole, up to `limit` bytes, on the I/O runtime, and
/// returns at once: the scan asks for the next objects while it reads the current one, so
/// their downloads (and the wait for S3's first byte) overlap the scan. The same GETs as
/// [`open`], with the same resumes, and within the same limits on open GETs and bytes in
/// flight: the bytes leave the budget as they are copied out of the channel, so an object
/// fetched ahead never holds budget that the objects being read need.
///
/// `size` is the listed size; the bytes go into `buffer` (cleared first), so that a caller
/// can reuse its buffers: a fresh one costs a page fault per 4 KiB. Memory: up to `limit`
/// bytes per fetch; the caller bounds how many it starts.
pub fn fetch_whole(
    s3: &S3Config,
    bucket: &str,
    key: &str,
    size: usize,
    limit: usize,
    buffer: Vec<u8>,
) -> Fetching {
    let fetch = S3Fetch {
        client: s3.client().sdk().clone(),
        bucket: bucket.to_owned(),
        key: key.to_owned(),
    };
    let (bytes_budget, gets) = limits().clone();
    start_whole(fetch, bytes_budget, gets, size, limit, buffer)
}

/// [`fetch_whole`] from any [`RangeFetch`] (tests: bodies that break), within `budget` and
/// `gets`.
fn start_whole<F: RangeFetch>(
    fetch: F,
    budget: Arc<Semaphore>,
    gets: Arc<Semaphore>,
    size: usize,
    limit: usize,
    mut bytes: Vec<u8>,
) -> Fetching {
    let (tx, rx) = mpsc::channel(CHANNEL_CHUNKS);
    let (first_tx, first_rx) = oneshot::channel();
    let (mut done_tx, done) = oneshot::channel();
    let name = fetch.name();
    let rt = runtime();
    rt.spawn(pump(fetch, tx, first_tx, budget.clone(), gets));
    rt.spawn(async move {
        bytes.clear();
        bytes.reserve(size.min(limit));
        let fetched = collect(name, rx, first_rx, budget, bytes, limit, &mut done_tx).await;
        let _ = done_tx.send(fetched);
    });
    Fetching { done }
}

/// The collecting end of [`fetch_whole`]: copies the pumped chunks out of the channel (and
/// out of the budget) into `bytes` until the body ends, breaks off for good, or passes
/// `limit`. Stops early when the [`Fetching`] was dropped.
async fn collect(
    name: String,
    rx: mpsc::Receiver<io::Result<Bytes>>,
    first: oneshot::Receiver<Result<(), S3Error>>,
    budget: Arc<Semaphore>,
    mut bytes: Vec<u8>,
    limit: usize,
    done: &mut oneshot::Sender<Fetched>,
) -> Fetched {
    match first.await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Fetched::NotOpened(io::Error::other(e.to_string())),
        Err(_) => return Fetched::NotOpened(io::Error::other(format!("{name}: fetch task ended"))),
    }
    // Dropped on an early end, the reader gives back the budget of what is still queued.
    let mut reader = ChannelReader {
        rx,
        current: Bytes::new(),
        held: 0,
        budget,
    };
    let mut error = None;
    let mut rest = None;
    loop {
        let next = tokio::select! {
            biased;
            () = done.closed() => break,
            next = reader.rx.recv() => next,
        };
        match next {
            None => break,
            Some(Err(e)) => {
                error = Some(e);
                break;
            }
            Some(Ok(chunk)) => {
                let held = chunk.len().min(MAX_BYTES_IN_FLIGHT);
                if bytes.len() + chunk.len() > limit {
                    // The reader goes on from this chunk, which keeps its budget.
                    reader.current = chunk;
                    reader.held = held;
                    rest = Some(Box::new(reader) as Box<dyn Read + Send>);
                    break;
                }
                bytes.extend_from_slice(&chunk);
                reader.budget.add_permits(held);
            }
        }
    }
    Fetched::Body { bytes, rest, error }
}

/// Where the pump gets (ranges of) one object from.
trait RangeFetch: Send + Sync + 'static {
    /// GET from byte `offset` to the end, conditional on `etag` when given. Returns the body,
    /// the ETag and the total object size (when known).
    fn fetch(
        &self,
        offset: u64,
        etag: Option<&str>,
    ) -> impl Future<Output = Result<(Body, Option<String>), S3Error>> + Send;
    fn name(&self) -> String;
}

/// A body: the next chunk, or an error (the connection broke).
enum Body {
    Sdk(ByteStream),
    #[cfg(test)]
    Test(std::collections::VecDeque<Result<Bytes, String>>),
}

impl Body {
    async fn next(&mut self) -> Option<Result<Bytes, String>> {
        match self {
            Body::Sdk(s) => s.next().await.map(|r| r.map_err(|e| e.to_string())),
            #[cfg(test)]
            Body::Test(q) => q.pop_front(),
        }
    }
}

struct S3Fetch {
    client: aws_sdk_s3::Client,
    bucket: String,
    key: String,
}

impl RangeFetch for S3Fetch {
    async fn fetch(
        &self,
        offset: u64,
        etag: Option<&str>,
    ) -> Result<(Body, Option<String>), S3Error> {
        let mut req = self.client.get_object().bucket(&self.bucket).key(&self.key);
        if offset > 0 {
            req = req.range(format!("bytes={offset}-"));
        }
        if let Some(etag) = etag {
            req = req.if_match(etag);
        }
        match req.send().await {
            Ok(out) => Ok((Body::Sdk(out.body), out.e_tag)),
            Err(e) => Err(S3Error::from_sdk(&self.bucket, &self.key, &e)),
        }
    }
    fn name(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.key)
    }
}

/// Fetches one object into `tx`, resuming a broken body at the first byte not yet sent.
async fn pump<F: RangeFetch>(
    fetch: F,
    tx: mpsc::Sender<io::Result<Bytes>>,
    first: oneshot::Sender<Result<(), S3Error>>,
    budget: Arc<Semaphore>,
    gets: Arc<Semaphore>,
) {
    let Ok(_get_permit) = gets.acquire_owned().await else {
        return;
    };
    let mut first = Some(first);
    let mut sent: u64 = 0;
    let mut etag: Option<String> = None;
    let mut resumes = 0u32;
    loop {
        let (mut body, tag) = match fetch.fetch(sent, etag.as_deref()).await {
            Ok(ok) => ok,
            Err(e) => {
                match first.take() {
                    Some(first) => {
                        let _ = first.send(Err(e));
                    }
                    None => {
                        let _ = tx
                            .send(Err(io::Error::other(format!("resuming: {e}"))))
                            .await;
                    }
                }
                return;
            }
        };
        if let Some(first) = first.take() {
            let _ = first.send(Ok(()));
        }
        if etag.is_none() {
            etag = tag;
        }
        let broke = loop {
            match body.next().await {
                None => return,
                Some(Ok(chunk)) => {
                    if chunk.is_empty() {
                        continue;
                    }
                    let want = chunk.len().min(MAX_BYTES_IN_FLIGHT);
                    let Ok(permits) = budget.acquire_many(want as u32).await else {
                        return;
                    };
                    permits.forget();
                    let len = chunk.len() as u64;
                    if tx.send(Ok(chunk)).await.is_err() {
                        // The reader is gone (it failed or was dropped); it drains and
                        // releases what it had queued.
                        budget.add_permits(want);
                        return;
                    }
                    sent += len;
                }
                Some(Err(e)) => break e,
            }
        };
        resumes += 1;
        if resumes > MAX_RESUMES {
            let _ = tx
                .send(Err(io::Error::other(format!(
                    "{}: body broke off {resumes} times, last at byte {sent}: {broke}",
                    fetch.name()
                ))))
                .await;
            return;
        }
        tracing::warn!(object = %fetch.name(), at_byte = sent, error = %broke, "body broke off; resuming");
        tokio::time::sleep(Duration::from_millis(BACKOFF_MS << resumes.min(6))).await;
    }
}

/// The blocking end of an object's channel.
struct ChannelReader {
    rx: mpsc::Receiver<io::Result<Bytes>>,
    current: Bytes,
    /// Budget permits held for `current`.
    held: usize,
    budget: Arc<Semaphore>,
}

impl ChannelReader {
    fn release(&mut self) {
        if self.held > 0 {
            self.budget.add_permits(self.held);
            self.held = 0;
        }
    }
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        while self.current.is_empty() {
            self.release();
            match self.rx.blocking_recv() {
                None => return Ok(0),
                Some(Err(e)) => return Err(e),
                Some(Ok(chunk)) => {
                    self.held = chunk.len().min(MAX_BYTES_IN_FLIGHT);
                    self.current = chunk;
                }
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current[..n]);
        let _ = self.current.split_to(n);
        Ok(n)
    }
}

impl Drop for ChannelReader {
    fn drop(&mut self) {
        self.release();
        self.rx.close();
        while let Ok(item) = self.rx.try_recv() {
            if let Ok(chunk) = item {
                self.budget
                    .add_permits(chunk.len().min(MAX_BYTES_IN_FLIGHT));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;
    use std::sync::Mutex;

    /// Serves `data` in 7-byte chunks; the first `breaks` fetches break off after 3 chunks.
    struct Flaky {
        data: Vec<u8>,
        breaks: Mutex<u32>,
        offsets: Mutex<Vec<(u64, Option<String>)>>,
    }

    impl RangeFetch for Arc<Flaky> {
        async fn fetch(
            &self,
            offset: u64,
            etag: Option<&str>,
        ) -> Result<(Body, Option<String>), S3Error> {
            self.offsets
                .lock()
                .unwrap()
                .push((offset, etag.map(str::to_owned)));
            let rest = &self.data[offset as usize..];
            let mut q: VecDeque<Result<Bytes, String>> = rest
                .chunks(7)
                .map(|c| Ok(Bytes::copy_from_slice(c)))
                .collect();
            let mut breaks = self.breaks.lock().unwrap();
            if *breaks > 0 {
                *breaks -= 1;
                q.truncate(3);
                q.push_back(Err("connection reset".into()));
            }
            Ok((Body::Test(q), Some("\"etag1\"".into())))
        }
        fn name(&self) -> String {
            "test".into()
        }
    }

    fn read_through(flaky: Arc<Flaky>) -> (io::Result<Vec<u8>>, Arc<Semaphore>) {
        let budget = Arc::new(Semaphore::new(64));
        let gets = Arc::new(Semaphore::new(1));
        let (tx, rx) = mpsc::channel(2);
        let (first_tx, first_rx) = oneshot::channel();
        runtime().spawn(pump(flaky, tx, first_tx, budget.clone(), gets));
        first_rx.blocking_recv().unwrap().unwrap();
        let mut reader = ChannelReader {
            rx,
            current: Bytes::new(),
            held: 0,
            budget: budget.clone(),
        };
        let mut out = Vec::new();
        let r = reader.read_to_end(&mut out).map(|_| out);
        drop(reader);
        (r, budget)
    }

    #[test]
    fn a_broken_body_resumes_where_it_stopped_and_yields_every_byte_once() {
        let data: Vec<u8> = (0..1000u32).map(|i| (i % 251) as u8).collect();
        let flaky = Arc::new(Flaky {
            data: data.clone(),
            breaks: Mutex::new(3),
            offsets: Mutex::new(Vec::new()),
        });
        let (out, budget) = read_through(flaky.clone());
        assert_eq!(out.unwrap(), data);
        let offsets = flaky.offsets.lock().unwrap().clone();
        assert_eq!(
            offsets,
            vec![
                (0, None),
                (21, Some("\"etag1\"".into())),
                (42, Some("\"etag1\"".into())),
                (63, Some("\"etag1\"".into())),
            ]
        );
        assert_eq!(budget.available_permits(), 64, "every budget byte is back");
    }

    fn flaky(len: u32, breaks: u32) -> Arc<Flaky> {
        Arc::new(Flaky {
            data: (0..len).map(|i| (i % 251) as u8).collect(),
            breaks: Mutex::new(breaks),
            offsets: Mutex::new(Vec::new()),
        })
    }

    /// Budget permits are given back by the tasks a moment after they end.
    fn wait_for_permits(budget: &Semaphore, want: usize) {
        let start = std::time::Instant::now();
        while budget.available_permits() != want && start.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(
            budget.available_permits(),
            want,
            "every budget byte is back"
        );
    }

    /// `flaky` fetched whole up to `limit` bytes within a budget of 64 bytes and one GET.
    fn fetch_with_budget(flaky: &Arc<Flaky>, limit: usize) -> (Fetched, Arc<Semaphore>) {
        let budget = Arc::new(Semaphore::new(64));
        let gets = Arc::new(Semaphore::new(1));
        let size = flaky.data.len();
        let fetching = start_whole(flaky.clone(), budget.clone(), gets, size, limit, Vec::new());
        (fetching.wait(), budget)
    }

    #[test]
    fn a_whole_fetch_resumes_a_broken_body_and_holds_every_byte_once() {
        let flaky = flaky(1000, 3);
        let (fetched, budget) = fetch_with_budget(&flaky, 4096);
        let Fetched::Body { bytes, rest, error } = fetched else {
            panic!("not opened")
        };
        assert!(rest.is_none() && error.is_none());
        assert_eq!(bytes, flaky.data);
        assert_eq!(flaky.offsets.lock().unwrap().len(), 4, "three resumes");
        wait_for_permits(&budget, 64);
    }

    #[test]
    fn a_whole_fetch_of_a_body_that_keeps_breaking_keeps_the_bytes_before_the_break() {
        let flaky = flaky(1000, 100);
        let (fetched, budget) = fetch_with_budget(&flaky, 4096);
        let Fetched::Body { bytes, rest, error } = fetched else {
            panic!("not opened")
        };
        assert!(rest.is_none());
        let err = error.expect("the break").to_string();
        assert!(err.contains("broke off"), "{err}");
        // Three chunks of 7 bytes per fetch: the first and every resume's.
        assert_eq!(bytes, flaky.data[..21 * (MAX_RESUMES as usize + 1)]);
        wait_for_permits(&budget, 64);
    }

    #[test]
    fn an_object_past_the_limit_is_handed_on_as_a_stream_of_the_rest() {
        let flaky = flaky(1000, 1);
        let (fetched, budget) = fetch_with_budget(&flaky, 100);
        let Fetched::Body {
            mut bytes,
            rest: Some(mut rest),
            error: None,
        } = fetched
        else {
            panic!("not handed on")
        };
        assert!(bytes.len() <= 100 && bytes.len() > 90, "{}", bytes.len());
        rest.read_to_end(&mut bytes).unwrap();
        assert_eq!(bytes, flaky.data);
        drop(rest);
        wait_for_permits(&budget, 64);
    }

    #[test]
    fn a_whole_fetch_dropped_midway_gives_its_budget_back() {
        // 4 MB in 7-byte chunks through a budget of 64 bytes: long enough to drop it midway.
        let big = flaky(4 << 20, 0);
        let budget = Arc::new(Semaphore::new(64));
        let gets = Arc::new(Semaphore::new(1));
        let fetching = start_whole(
            big,
            budget.clone(),
            gets.clone(),
            4 << 20,
            8 << 20,
            Vec::new(),
        );
        let start = std::time::Instant::now();
        while budget.available_permits() == 64 && start.elapsed() < Duration::from_secs(5) {
            std::thread::yield_now();
        }
        assert!(budget.available_permits() < 64, "the fetch holds budget");
        drop(fetching);
        wait_for_permits(&budget, 64);
        // The GET was given up too: another fetch gets it.
        let small = flaky(1000, 0);
        let again = start_whole(small, budget.clone(), gets, 1000, 4096, Vec::new()).wait();
        assert!(matches!(again, Fetched::Body { ref bytes, .. } if bytes.len() == 1000));
        wait_for_permits(&budget, 64);
    }

    #[test]
    fn a_body_that_keeps_breaking_fails_the_object() {
        let flaky = Arc::new(Flaky {
            data: vec![b'x'; 1000],
            breaks: Mutex::new(100),
            offsets: Mutex::new(Vec::new()),
        });
        let (out, budget) = read_through(flaky);
        let err = out.unwrap_err().to_string();
        assert!(err.contains("broke off"), "{err}");
        assert_eq!(budget.available_permits(), 64);
    }
}
