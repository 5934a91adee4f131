//! The tester: replays the acceptance list against the green listener (and the blue one when a
//! baseline is given), judges every URL and applies the release gate.
//!
//! ```text
//! ListSource -> list::read_list -> bounded concurrent probes (probe) -> per-URL verdict (verdict)
//!            -> gate (threshold) -> Report (report) -> release hook status (hooks) -> exit code
//! ```
//!
//! [`check`] is the whole run as a library call; `greenlight-tester` only parses flags and calls
//! it. Any error before the gate (list unreadable, empty, bad settings) is a [`CheckError`];
//! callers turn it into a failed report ([`report::Report::failed`]) so release hooks fail
//! closed.

pub mod hooks;
pub mod lambda;
pub mod probe;
pub mod report;
pub mod verdict;

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use crate::list::{ListEntry, ReadList, read_list};
use crate::s3::{S3Config, S3Url};
use probe::{Answer, Connection, Endpoint, ProbeError, ProbeSettings, Prober};
use report::{Report, UrlResult};
use verdict::{LocationContext, Outcome, UrlVerdict};

/// Default `--concurrency`: requests in flight per listener. Modest, because the green tasks
/// are production-sized and blue is serving real traffic at the same time.
pub const DEFAULT_CONCURRENCY: usize = 16;

/// Where the list comes from: a local file, or an S3 object read with the crate's shared S3
/// client ([`crate::s3`]: the standard credential and region chain, `AWS_ENDPOINT_URL(_S3)` or
/// [`ListSource::set_s3_config`] for S3-compatible stores). The Lambda entry point maps the
/// original function's `BUCKET` + `FILEPATH` to `s3://BUCKET/FILEPATH`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListSource {
    /// A local file (either list format).
    File(PathBuf),
    /// An object in S3, `s3://bucket/key`.
    S3 { url: S3Url, config: S3Config },
}

impl ListSource {
    /// Parses `--list`: a file path or `s3://bucket/key`.
    pub fn parse(s: &str) -> Result<Self, String> {
        if s.is_empty() {
            return Err("an empty list path".into());
        }
        if let Some(url) = S3Url::parse(s) {
            let url = url?;
            if url.key.is_empty() || url.key.ends_with('/') {
                return Err(format!("{s}: names no object (s3://bucket/key)"));
            }
            return Ok(ListSource::S3 {
                url,
                config: S3Config::default(),
            });
        }
        Ok(ListSource::File(PathBuf::from(s)))
    }

    /// How to reach S3 (endpoint override), for an `s3://` list.
    pub fn set_s3_config(&mut self, cfg: &S3Config) {
        if let ListSource::S3 { config, .. } = self {
            *config = cfg.clone();
        }
    }

    /// Reads and parses the list.
    pub async fn load(&self) -> Result<ReadList, CheckError> {
        match self {
            ListSource::File(path) => {
                let bytes = tokio::fs::read(path).await.map_err(|e| CheckError::List {
                    location: self.to_string(),
                    reason: e.to_string(),
                })?;
                read_list(bytes.as_slice()).map_err(|e| CheckError::List {
                    location: self.to_string(),
                    reason: e.to_string(),
                })
            }
            ListSource::S3 { url, config } => {
                let fail = |reason: String| CheckError::List {
                    location: self.to_string(),
                    reason,
                };
                // The S3 layer blocks on its own runtime: keep it off this one's workers.
                let (u, c) = (url.clone(), config.clone());
                let got = tokio::task::spawn_blocking(move || c.client().get(&u.bucket, &u.key))
                    .await
                    .map_err(|e| fail(e.to_string()))?;
                let bytes = got
                    .map_err(|e| fail(e.to_string()))?
                    .ok_or_else(|| fail("no such key".into()))?;
                read_list(bytes.as_slice()).map_err(|e| fail(e.to_string()))
            }
        }
    }
}

impl std::fmt::Display for ListSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ListSource::File(p) => write!(f, "{}", p.display()),
            ListSource::S3 { url, .. } => write!(f, "{url}"),
        }
    }
}

/// Why the tester could not run (exit 2, and a Failed hook report).
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// The list is missing or unreadable.
    #[error("cannot read the list {location}: {reason}")]
    List {
        /// Where it was read from.
        location: String,
        /// What went wrong.
        reason: String,
    },
    /// Settings that cannot work.
    #[error("bad settings: {0}")]
    Settings(String),
}

/// Everything a run needs besides the list.
#[derive(Debug, Clone)]
pub struct CheckConfig {
    /// Green: where requests go.
    pub endpoint: Endpoint,
    /// Blue: the live listener to compare with, if any.
    pub baseline: Option<Endpoint>,
    /// How requests are made.
    pub probe: ProbeSettings,
    /// URLs in flight at once (each listener sees at most this many requests at a time).
    pub concurrency: usize,
    /// The whole run stops starting new URLs after this long; the rest are `not_run`.
    pub deadline: Duration,
    /// Percent of counted URLs that must pass; `None`: 99 with a baseline, 95 without.
    pub threshold: Option<f64>,
    /// Threads that drive the requests. The workers (one per URL in flight) are dealt out to
    /// this many single-threaded runtimes, the caller's and `threads - 1` of their own, each
    /// driving its own workers' connections: no task and no socket is ever handed from one
    /// thread to another (a work-stealing runtime shares one I/O driver and wakes its other
    /// threads: `strace -f -c` over 20,000 URLs on 2 threads counted 2,197 futex calls against
    /// 10 this way; see docs/performance.md, the tester's session 20).
    pub threads: usize,
}

impl CheckConfig {
    /// A configuration with defaults for everything but the endpoint.
    pub fn new(endpoint: Endpoint) -> Self {
        CheckConfig {
            endpoint,
            baseline: None,
            probe: ProbeSettings::default(),
            concurrency: DEFAULT_CONCURRENCY,
            deadline: Duration::from_secs(600),
            threshold: None,
            threads: 1,
        }
    }

    /// The threshold in force.
    pub fn threshold(&self) -> f64 {
        self.threshold
            .unwrap_or(if self.baseline.is_some() { 99.0 } else { 95.0 })
    }

    fn validate(&self) -> Result<(), CheckError> {
        let t = self.threshold();
        if !(0.0..=100.0).contains(&t) || t.is_nan() {
            return Err(CheckError::Settings(format!(
                "threshold {t} is not a percentage"
            )));
        }
        if self.concurrency == 0 {
            return Err(CheckError::Settings(
                "concurrency must be at least 1".into(),
            ));
        }
        if self.threads == 0 {
            return Err(CheckError::Settings("threads must be at least 1".into()));
        }
        if self.probe.rps.is_some_and(|r| r.is_nan() || r <= 0.0) {
            return Err(CheckError::Settings("rps must be above 0".into()));
        }
        Ok(())
    }
}

/// Progress callback: `(urls done, urls total)`, called from the task running [`check`].
pub type ProgressFn<'a> = &'a mut (dyn FnMut(usize, usize) + Send);

/// Reads the list from `source` and runs [`check_list`].
pub async fn check(
    cfg: &CheckConfig,
    source: &ListSource,
    progress: ProgressFn<'_>,
) -> Result<Report, CheckError> {
    cfg.validate()?;
    let list = source.load().await?;
    let mut report = check_list(cfg, list, progress).await?;
    report.list = source.to_string();
    Ok(report)
}

/// Replays an already-read list and judges it. An empty list is an error (the gate cannot pass
/// on nothing); rejected lines are part of the report and count as failing.
pub async fn check_list(
    cfg: &CheckConfig,
    list: ReadList,
    progress: ProgressFn<'_>,
) -> Result<Report, CheckError> {
    cfg.validate()?;
    if list.entries.is_empty() && list.rejected.is_empty() {
        return Err(CheckError::List {
            location: "list".into(),
            reason: "it holds no URL".into(),
        });
    }
    let started = Instant::now();
    let total = list.entries.len();
    let prober = Prober::new(cfg.probe.clone());
    let entries: Arc<Vec<ListEntry>> = Arc::new(list.entries);
    let next = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let deadline = started + cfg.deadline;
    // Each worker writes what it found into its URLs' slots (below), and progress is read from
    // a shared counter ten times a second. (A channel to the collecting task cost a
    // cross-thread wake-up, a futex call, for every URL: `strace -f -c` counted 28,920 futex
    // calls for 20,000 URLs before, 2,844 after.)
    let n_workers = cfg.concurrency.min(total.max(1));
    let shards = cfg.threads.clamp(1, n_workers);
    // The other threads' runtimes, made before any request starts: a failure is an error.
    let runtimes = (1..shards)
        .map(|_| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| CheckError::Settings(format!("cannot start a thread's runtime: {e}")))?;
    // The results are put together with their entries once the run is over, moving the
    // entries' strings instead of copying them. (Each worker keeping its own results and
    // handing them over at the end kept them in memory twice: ~1.1 KB a URL, whose first
    // touches cost ~5% of the run's CPU in page faults; now ~0.8 KB.)
    let slots: Arc<Vec<OnceLock<Probed>>> = Arc::new((0..total).map(|_| OnceLock::new()).collect());
    // Nothing is sent on it: it closes once every worker has dropped its sender, finished (or
    // died).
    let (finished, mut finished_rx) = tokio::sync::mpsc::unbounded_channel::<()>();
    // Should this future be dropped midway, the other threads' workers take no further URL.
    let _stop = StopOnDrop {
        next: next.clone(),
        total,
    };
    let mut local = tokio::task::JoinSet::new();
    let mut dealt: Vec<Vec<_>> = (1..shards).map(|_| Vec::new()).collect();
    for w in 0..n_workers {
        let (entries, slots, next, done, finished) = (
            entries.clone(),
            slots.clone(),
            next.clone(),
            done.clone(),
            finished.clone(),
        );
        // The worker's own connections, one per listener, kept alive across its URLs and driven
        // in its task (probe::Connection). Against hyper-util's pooled client, measured A/B with
        // `bash benches/tester.sh` (100,000 static URLs, tester/wrk): 0.54-0.75 at concurrency
        // 16 and 0.55-0.59 at 64, against 0.44 and 0.43 for the pooled client in between.
        // Nothing is opened before the first request, so each is opened on its worker's thread.
        let mut green = prober.connection(&cfg.endpoint);
        let mut blue = cfg.baseline.as_ref().map(|b| prober.connection(b));
        let worker = async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let (Some(entry), Some(slot)) = (entries.get(i), slots.get(i)) else {
                    break;
                };
                let probed = if Instant::now() >= deadline {
                    Probed::not_run("deadline reached")
                } else {
                    probe_one(&mut green, blue.as_mut(), entry).await
                };
                // Each index is taken by one worker only, so the slot is empty.
                let _ = slot.set(probed);
                done.fetch_add(1, Ordering::Relaxed);
            }
            // The shared list and slots first: once the last sender is gone, the collector
            // takes them back whole.
            drop((entries, slots));
            drop(finished);
        };
        match w % shards {
            0 => {
                local.spawn(worker);
            }
            k => dealt[k - 1].push(worker),
        }
    }
    for (k, (rt, workers)) in runtimes.into_iter().zip(dealt).enumerate() {
        let spawned = std::thread::Builder::new()
            .name(format!("greenlight-probe-{}", k + 1))
            .spawn(move || {
                rt.block_on(async move {
                    let mut set = tokio::task::JoinSet::new();
                    for worker in workers {
                        set.spawn(worker);
                    }
                    while set.join_next().await.is_some() {}
                });
            });
        // Not joined: the thread ends once its workers have finished. A thread that could not
        // start leaves its share of the list to the other workers, which take URLs from the
        // same counter.
        if let Err(e) = spawned {
            tracing::warn!("a probe thread did not start ({e}); the others carry on");
        }
    }
    drop(finished);
    progress(0, total);
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            // Every worker has finished or died (a dead worker's URL stays unset, so not run,
            // below).
            None = finished_rx.recv() => break,
            _ = tick.tick() => progress(done.load(Ordering::Relaxed), total),
        }
    }
    drop(local);
    progress(done.load(Ordering::Relaxed), total);
    // Every worker has let go of both by now; were one still holding them, copies do as well.
    let entries = Arc::unwrap_or_clone(entries);
    let slots = Arc::try_unwrap(slots).unwrap_or_else(|shared| {
        shared
            .iter()
            .map(|s| s.get().cloned().map_or_else(OnceLock::new, OnceLock::from))
            .collect()
    });
    let results = entries
        .into_iter()
        .zip(slots)
        .map(|(entry, slot)| {
            // A worker that died (it cannot, short of a panic) leaves its URL as not run: fail
            // closed.
            let probed = slot
                .into_inner()
                .unwrap_or_else(|| Probed::not_run("worker failed"));
            let mut result = UrlResult::from_entry(entry, probed.verdict);
            result.green = probed.green;
            result.baseline = probed.baseline;
            result
        })
        .collect();
    Ok(Report::build(
        cfg,
        results,
        list.rejected,
        started.elapsed(),
    ))
}

/// Ends the list for every worker when dropped (each takes no further URL).
struct StopOnDrop {
    next: Arc<AtomicUsize>,
    total: usize,
}

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.next.fetch_max(self.total, Ordering::Relaxed);
    }
}

/// What a worker found for one URL (the list entry joins it in the report).
#[derive(Clone)]
struct Probed {
    verdict: UrlVerdict,
    green: Option<Answer>,
    baseline: Vec<Option<Answer>>,
}

impl Probed {
    fn not_run(why: &str) -> Self {
        Probed {
            verdict: UrlVerdict {
                outcome: Outcome::NotRun,
                mismatches: Vec::new(),
                ignored: Vec::new(),
                detail: Some(why.into()),
            },
            green: None,
            baseline: Vec::new(),
        }
    }
}

async fn probe_one(
    green: &mut Connection,
    blue: Option<&mut Connection>,
    entry: &ListEntry,
) -> Probed {
    match blue {
        None => {
            let green = green.probe(entry).await;
            let verdict = verdict::judge_expected(entry.expected_status, &green);
            Probed {
                verdict,
                green: green.ok(),
                baseline: Vec::new(),
            }
        }
        Some(blue) => {
            // The contexts `Location`s are compared in: only a comparison needs them.
            let green_listener = green.endpoint().authority.to_string();
            let host = entry.host.clone().unwrap_or_else(|| green_listener.clone());
            let green_ctx = LocationContext {
                host: &host,
                listener: &green_listener,
            };
            // Green once, blue twice in a row (each listener sees one request of this URL at a
            // time); green and blue in parallel, each on the worker's connection to it.
            let blue_listener = blue.endpoint().authority.to_string();
            let blue_host = entry.host.clone().unwrap_or_else(|| blue_listener.clone());
            let blue_ctx = LocationContext {
                host: &blue_host,
                listener: &blue_listener,
            };
            let (green, blue): (Result<Answer, ProbeError>, [Result<Answer, ProbeError>; 2]) =
                tokio::join!(green.probe(entry), async {
                    let b1 = blue.probe(entry).await;
                    let b2 = blue.probe(entry).await;
                    [b1, b2]
                });
            let verdict =
                verdict::judge_differential(&green, &green_ctx, [&blue[0], &blue[1]], &blue_ctx);
            Probed {
                verdict,
                green: green.ok(),
                baseline: blue.into_iter().map(Result::ok).collect(),
            }
        }
    }
}
