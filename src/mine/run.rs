//! One mining run, end to end: for each day to mine (one, or a `--from` range in order), list
//! the day's objects, scan them, decide whether the day is good enough, write its tally to the
//! state (replacing an earlier one) and drop tallies older than the window; then read the
//! window back, learn route templates, sample the list and write it, and write the report.
//!
//! The list is written only when the run succeeded, and atomically: a failed run leaves the
//! previous list exactly as it was. The report is written in every case, so a scheduler can
//! alarm on it. A range run stops at the first day that fails (the days before it keep their
//! tallies, exactly as nightly runs would have left them).

use std::time::Instant;

use chrono::NaiveDate;

use super::filter::Policy;
use super::report::{DayFigures, ListingFigures, MinedDay, RunReport};
use super::route::{Learner, RouteRules};
use super::scan::scan_objects;
use super::tally::Tally;
use crate::history::{self, StateStore, WINDOW_COPY_BYTES, Window, WindowCopy};
use crate::list::{ListFormat, write_list};
use crate::output::Destination;
use crate::s3::S3Error;
use crate::sample::{Sample, SampleConfig, Sampler};
use crate::source::{LogObject, LogSource, Scope, SourceError};

/// Everything a run needs; the binary fills it from flags.
#[derive(Debug, Clone)]
pub struct MinerConfig {
    /// Where the logs are.
    pub logs: LogSource,
    /// Which accounts, regions and load balancers to mine (default: all).
    pub scope: Scope,
    /// The day to mine (UTC); with `from`, the last day of the range. The list is built as of
    /// this day.
    pub day: NaiveDate,
    /// First day of a range to mine, in order (`--from`); `None`: only `day`.
    pub from: Option<NaiveDate>,
    /// The filter; its `day` is set to each mined day in turn.
    pub policy: Policy,
    /// Where the day tallies live.
    pub state: StateStore,
    /// Days in the retention window (the mined day included).
    pub window_days: u32,
    /// Sampling: budget and shares. `sample.seed` is used only when `seed` is set.
    pub sample: SampleConfig,
    /// The RNG seed; `None`: derived from `day` (`YYYYMMDD`).
    pub seed: Option<u64>,
    /// Route rules from `--routes FILE`.
    pub routes: RouteRules,
    /// A path position with at least this many values becomes `{var}`.
    pub route_min_distinct: usize,
    pub out: Destination,
    pub format: ListFormat,
    /// Where to write the JSON report, if anywhere.
    pub report: Option<Destination>,
    /// The largest share (0.0..=1.0) of objects, or of lines, that may fail before the run is
    /// failed.
    pub max_error_rate: f64,
    /// Worker threads; 0 means one per core.
    pub threads: usize,
    /// A whole run, one shard of a day, or the merge of a day's shards.
    pub mode: Mode,
    /// Most bytes of merged window records kept from the first read of the window for the
    /// second ([`WindowCopy`]); past it, the second read reads the day files again.
    pub window_copy_bytes: usize,
    /// The process exits once the run is over (the binary): the day's tally is left to the
    /// operating system instead of being freed. Why: freeing it is an allocation or three per
    /// distinct URL, 11 ms for the 109 k URLs of the benchmark day, that nothing waits for.
    pub exit_after: bool,
}

/// What a run does with its day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Mine every object of the day(s), write the day tally, publish the list.
    #[default]
    Whole,
    /// `--shard I/N`: mine the objects whose key hashes to shard `index` (see [`shard_of`]),
    /// write the partial tally `partial/YYYY-MM-DD/shard-I-of-N.glt` with the shard's scan
    /// figures, and publish nothing.
    Shard { index: u32, count: u32 },
    /// `merge`: combine the day's `count` partial tallies into its day tally, exactly as a
    /// whole run would have written it, then expire, sample and publish as a whole run does;
    /// delete the partials after success only.
    Merge { count: u32 },
}

/// The shard (0-based, of `count`) that mines the object `key`: 64-bit FNV-1a of the key's
/// bytes (as listed: relative to the bucket or the local root), modulo `count`. Stable across
/// machines and versions.
pub fn shard_of(key: &str, count: u32) -> u32 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in key.as_bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    (h % u64::from(count.max(1))) as u32
}

impl MinerConfig {
    /// The documented defaults for mining `day` from `logs`.
    pub fn new(logs: impl Into<LogSource>, day: NaiveDate) -> Self {
        MinerConfig {
            logs: logs.into(),
            scope: Scope::default(),
            day,
            from: None,
            policy: Policy::for_day(day),
            state: StateStore::Dir("greenlight-state".into()),
            window_days: 30,
            sample: SampleConfig::new(1000, 0),
            seed: None,
            routes: RouteRules::default(),
            route_min_distinct: 10,
            out: Destination::File("acceptance_url_list.csv".into()),
            format: ListFormat::Full,
            report: None,
            max_error_rate: 0.01,
            threads: 0,
            mode: Mode::Whole,
            window_copy_bytes: WINDOW_COPY_BYTES,
            exit_after: false,
        }
    }
}

/// Why a run did not publish a list. [`MinerError::exit_code`] is the binary's exit code.
#[derive(Debug, thiserror::Error)]
pub enum MinerError {
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error("no ALB access-log objects for {day} in {folders}")]
    NoObjects { day: NaiveDate, folders: String },
    #[error("no replayable request on {day}: {why}")]
    NothingReplayable { day: NaiveDate, why: String },
    #[error("too many errors: {what} (more than the allowed {allowed:.2}%)")]
    TooManyErrors { what: String, allowed: f64 },
    #[error("cannot write {path}: {source}")]
    Write {
        path: Destination,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot start worker threads: {0}")]
    Threads(String),
    #[error("state {store}: {what}")]
    State { store: String, what: String },
    #[error("--from {from} is after the last day {to}")]
    BadRange { from: NaiveDate, to: NaiveDate },
    #[error("--from cannot be used with --shard or merge: shard and merge one day at a time")]
    RangeWithShards,
    #[error("cannot merge the shards of {day}: {what}")]
    Shards { day: NaiveDate, what: String },
}

impl MinerError {
    /// 1: could not write an output; 2: bad configuration or unreadable log folder or bucket
    /// (also an S3 output refused for a configuration reason: no such bucket, access denied,
    /// no or bad credentials, wrong region); 3: nothing to mine (no objects, or no replayable
    /// request); 4: too many corrupt objects or lines; 5: merge found partial tallies missing
    /// (named in the error), unreadable, or from shards that listed different objects. (clap's
    /// own usage errors also exit with 2.)
    pub fn exit_code(&self) -> i32 {
        match self {
            MinerError::Write { source, .. }
                if source
                    .get_ref()
                    .and_then(|e| e.downcast_ref::<S3Error>())
                    .is_some_and(S3Error::is_configuration) =>
            {
                2
            }
            MinerError::Write { .. } | MinerError::Threads(_) | MinerError::State { .. } => 1,
            MinerError::Source(_) | MinerError::BadRange { .. } | MinerError::RangeWithShards => 2,
            MinerError::NoObjects { .. } | MinerError::NothingReplayable { .. } => 3,
            MinerError::TooManyErrors { .. } => 4,
            MinerError::Shards { .. } => 5,
        }
    }
}

/// Hooks for showing progress; every method has a do-nothing default.
pub trait Progress: Sync {
    /// The objects to read are known.
    fn start(&self, _objects: &[LogObject]) {}
    /// One object has been read to its end (or failed).
    fn object_done(&self, _object: &LogObject) {}
    /// The scan is over.
    fn finish(&self) {}
}

/// No progress display.
pub struct NoProgress;
impl Progress for NoProgress {}

/// Runs the miner. Returns the report in every case, and whether the run succeeded; the report
/// file (if asked for) is written in both cases, the list only on success.
pub fn run(cfg: &MinerConfig, progress: &dyn Progress) -> (RunReport, Result<(), MinerError>) {
    let started = Instant::now();
    let mut report = RunReport::new(
        &cfg.day.to_string(),
        &cfg.logs.to_string(),
        cfg.sample.max_urls,
    );
    if let Mode::Shard { index, count } = cfg.mode {
        report.shard = Some(format!("{index}/{count}"));
    }
    let mut result = mine(cfg, progress, &mut report);
    report.set_elapsed(started.elapsed().as_secs_f64());
    if let Err(e) = &result {
        report.outcome = "failed";
        report.error = Some(e.to_string());
        report.exit_code = e.exit_code();
        report.list = None;
    }
    if let Some(path) = &cfg.report {
        let written = serde_json::to_vec_pretty(&report)
            .map_err(std::io::Error::other)
            .and_then(|mut json| {
                json.push(b'\n');
                path.write(&json)
            });
        if let Err(source) = written
            && result.is_ok()
        {
            let e = MinerError::Write {
                path: path.clone(),
                source,
            };
            report.outcome = "failed";
            report.error = Some(e.to_string());
            report.exit_code = e.exit_code();
            result = Err(e);
        }
    }
    (report, result)
}

/// The seed of the list built as of `day` when none is given: `YYYYMMDD`.
pub fn default_seed(day: NaiveDate) -> u64 {
    day.format("%Y%m%d").to_string().parse().unwrap_or_default()
}

fn mine(
    cfg: &MinerConfig,
    progress: &dyn Progress,
    report: &mut RunReport,
) -> Result<(), MinerError> {
    let first = cfg.from.unwrap_or(cfg.day);
    if first > cfg.day {
        return Err(MinerError::BadRange {
            from: first,
            to: cfg.day,
        });
    }
    if cfg.from.is_some() && cfg.mode != Mode::Whole {
        return Err(MinerError::RangeWithShards);
    }
    let state_err = |what: String| MinerError::State {
        store: cfg.state.to_string(),
        what,
    };
    report.history.state = cfg.state.to_string();
    report.history.window_days = cfg.window_days;
    // The last day's tally, when this run mined it: the window reads it from memory.
    let mut last_day: Option<Tally> = None;
    match cfg.mode {
        Mode::Whole => {
            for day in first.iter_days().take_while(|d| *d <= cfg.day) {
                let tally = mine_day(cfg, day, None, progress, report)?;
                if day < cfg.day {
                    store_day(cfg, day, &tally)?;
                    note_kept_day(cfg, day, tally.len() as u64, report)?;
                } else {
                    last_day = Some(tally);
                }
            }
        }
        Mode::Shard { index, count } => {
            let (tally, figures) = mine_shard(cfg, index, count, progress, report)?;
            let json = serde_json::to_vec(&figures).map_err(std::io::Error::other);
            let name = history::partial_name(cfg.day, index, count);
            json.and_then(|json| history::encode_partial(cfg.day, index, count, &json, &tally))
                .and_then(|file| cfg.state.put(&name, &file))
                .map_err(|e| state_err(format!("cannot write {name}: {e}")))?;
            return Ok(());
        }
        Mode::Merge { count } => {
            let (file, distinct) = merge_shards(cfg, count, report)?;
            put_day(cfg, cfg.day, &file)?;
            note_kept_day(cfg, cfg.day, distinct, report)?;
        }
    }

    let sample = match &last_day {
        None => sample_window(cfg, None, report)?,
        Some(tally) => {
            let (stored, sampled) =
                store_beside(cfg, tally, || sample_window(cfg, Some(tally), report));
            stored?;
            note_kept_day(cfg, cfg.day, tally.len() as u64, report)?;
            match sampled {
                Some(sample) => sample?,
                None => sample_window(cfg, Some(tally), report)?,
            }
        }
    };

    let mut list = Vec::new();
    write_list(&mut list, &sample.picks, cfg.format)
        .map_err(std::io::Error::other)
        .and_then(|()| cfg.out.write(&list))
        .map_err(|source| MinerError::Write {
            path: cfg.out.clone(),
            source,
        })?;
    report.urls.listed = sample.picks.len() as u64;
    report.list = Some(cfg.out.to_string());
    if let Mode::Merge { count } = cfg.mode {
        for index in 0..count {
            let name = history::partial_name(cfg.day, index, count);
            cfg.state
                .delete(&name)
                .map_err(|e| state_err(format!("cannot delete {name}: {e}")))?;
        }
    }
    // Freeing a day's tally takes a few milliseconds (4-5 for 30 k URLs, an allocation or
    // three per URL, and as much again for the entries its threads' merge left over) that the
    // run need not wait for: not at all when the process exits next, and on a second core
    // otherwise. (When no thread can be started, the tally is freed here.)
    if let Some(tally) = last_day {
        if cfg.exit_after {
            std::mem::forget(tally);
        } else if threads_of(cfg) >= 2 {
            let _ = std::thread::Builder::new().spawn(move || drop(tally));
        }
    }
    Ok(())
}

/// The sample of the window that ends on the run's day, its learned routes and its figures
/// in the report; `last_day` is that day's tally when the run holds it
/// ([`Window::with_last_day`]). Two passes over the day files: the first (route learning)
/// also checks them, the second samples with the learned routes.
fn sample_window(
    cfg: &MinerConfig,
    last_day: Option<&Tally>,
    report: &mut RunReport,
) -> Result<Sample, MinerError> {
    let state_err = |what: String| MinerError::State {
        store: cfg.state.to_string(),
        what,
    };
    let mut window = Window::open(&cfg.state, cfg.day, cfg.window_days)
        .map_err(|e| state_err(format!("cannot list the state: {e}")))?;
    if let Some(tally) = last_day {
        window = window.with_last_day(tally);
    }
    // The first read also keeps the merged records, when they fit, for the second; not when
    // the window reads no file (its one day is in memory already): budget 0.
    let budget = if window.reads_files() {
        cfg.window_copy_bytes
    } else {
        0
    };
    let (learner, copy) = window.read_checked(
        || {
            (
                Learner::new(cfg.route_min_distinct),
                WindowCopy::new(budget),
            )
        },
        |(learner, copy), u| {
            learner.see(u.host(), u.target());
            copy.keep(u);
        },
    );
    report.add_window(&window);
    let untracked = learner.untracked();
    let router = learner.finish(cfg.routes.clone());
    let mut sample_cfg = cfg.sample.clone();
    sample_cfg.seed = cfg.seed.unwrap_or_else(|| default_seed(cfg.day));
    let mut sampler = Sampler::new(sample_cfg.clone(), &router);
    match copy.records() {
        Some(records) => records.iter().for_each(|u| sampler.add(u)),
        None => window
            .for_each(|u| sampler.add(u))
            .map_err(|e| state_err(format!("reading the window: {e}")))?,
    }
    report.history.second_read_from_copy = copy.records().is_some();
    drop(copy);
    let sample = sampler.finish();
    report.add_sample(&sample, &sample_cfg, untracked);
    Ok(sample)
}

/// Encodes and stores the run's day ([`store_day`]) on a thread of its own while `meanwhile`
/// runs, when the run has a second core: encoding the day file takes ~20 ms for 1 GiB of logs,
/// and reading the window (which takes the day from memory) need not wait for it. With one
/// thread, or when no thread can be started, it only stores the day and returns `None`, leaving
/// `meanwhile` to the caller.
fn store_beside<T>(
    cfg: &MinerConfig,
    tally: &Tally,
    meanwhile: impl FnOnce() -> T,
) -> (Result<(), MinerError>, Option<T>) {
    if threads_of(cfg) < 2 {
        return (store_day(cfg, cfg.day, tally), None);
    }
    std::thread::scope(|s| {
        match std::thread::Builder::new().spawn_scoped(s, || store_day(cfg, cfg.day, tally)) {
            Ok(storing) => {
                let done = meanwhile();
                let stored = storing
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
                (stored, Some(done))
            }
            Err(_) => (store_day(cfg, cfg.day, tally), None),
        }
    })
}

/// The threads the scan runs on (`--threads`, 0 meaning one per core).
fn threads_of(cfg: &MinerConfig) -> usize {
    match cfg.threads {
        0 => std::thread::available_parallelism().map_or(1, usize::from),
        n => n,
    }
}

/// Encodes a good day's tally and writes it to the state ([`put_day`]).
fn store_day(cfg: &MinerConfig, day: NaiveDate, tally: &Tally) -> Result<(), MinerError> {
    let file = history::encode_day(day, tally).map_err(|e| MinerError::State {
        store: cfg.state.to_string(),
        what: format!("cannot encode the tally of {day}: {e}"),
    })?;
    put_day(cfg, day, &file)
}

/// Writes a good day's tally file to the state, replacing an earlier one.
fn put_day(cfg: &MinerConfig, day: NaiveDate, file: &[u8]) -> Result<(), MinerError> {
    cfg.state
        .put(&history::day_name(day), file)
        .map_err(|e| MinerError::State {
            store: cfg.state.to_string(),
            what: format!("cannot write the tally of {day}: {e}"),
        })
}

/// After a good day's tally is stored: drops the tallies older than the window and notes the
/// day in the report.
fn note_kept_day(
    cfg: &MinerConfig,
    day: NaiveDate,
    distinct_urls: u64,
    report: &mut RunReport,
) -> Result<(), MinerError> {
    let state_err = |what: String| MinerError::State {
        store: cfg.state.to_string(),
        what,
    };
    let expired = history::expire(&cfg.state, day, cfg.window_days)
        .map_err(|e| state_err(format!("cannot drop old tallies: {e}")))?;
    report
        .history
        .expired
        .extend(expired.iter().map(|d| d.to_string()));
    report.history.mined.push(MinedDay {
        day: day.to_string(),
        objects_read: report.objects.read,
        lines: report.lines.total,
        kept: report.requests.kept,
        distinct_urls,
    });
    Ok(())
}

/// Lists the day and, when it has objects, scans those of `shard` (all when `None`).
fn scan_day(
    cfg: &MinerConfig,
    day: NaiveDate,
    shard: Option<(u32, u32)>,
    progress: &dyn Progress,
    report: &mut RunReport,
) -> Result<(Tally, DayFigures), MinerError> {
    let mut policy = cfg.policy.clone();
    policy.set_day(day);
    report.day = day.to_string();
    let listing = cfg.logs.list_day_in(day, &cfg.scope)?;
    let listed = ListingFigures::new(&listing);
    report.add_listing(&listed);
    if listing.objects.is_empty() {
        return Err(MinerError::NoObjects {
            day,
            folders: if listing.folders.is_empty() {
                cfg.logs.to_string()
            } else {
                listing.folders.join(", ")
            },
        });
    }
    let mine: Vec<LogObject> = match shard {
        None => listing.objects,
        Some((index, count)) => listing
            .objects
            .into_iter()
            .filter(|o| shard_of(&o.key, count) == index)
            .collect(),
    };

    progress.start(&mine);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(cfg.threads)
        .build()
        .map_err(|e| MinerError::Threads(e.to_string()))?;
    let (tally, stats) =
        pool.install(|| scan_objects(&mine, &policy, &|obj| progress.object_done(obj)));
    progress.finish();
    let figures = DayFigures::new(listed, &stats);
    report.add_scan(&figures, tally.len() as u64);
    Ok((tally, figures))
}

/// One shard of the day: its tally and figures, which the merge checks as a whole.
fn mine_shard(
    cfg: &MinerConfig,
    index: u32,
    count: u32,
    progress: &dyn Progress,
    report: &mut RunReport,
) -> Result<(Tally, DayFigures), MinerError> {
    scan_day(cfg, cfg.day, Some((index, count)), progress, report)
}

/// Reads the day's `count` partial tallies, checks them and merges them into the day file.
/// Returns the file and its URL count.
fn merge_shards(
    cfg: &MinerConfig,
    count: u32,
    report: &mut RunReport,
) -> Result<(Vec<u8>, u64), MinerError> {
    let day = cfg.day;
    report.day = day.to_string();
    let shards_err = |what: String| MinerError::Shards { day, what };
    let mut readers = Vec::with_capacity(count as usize);
    let mut figures: Option<DayFigures> = None;
    let mut missing = Vec::new();
    for index in 0..count {
        let name = history::partial_name(day, index, count);
        let opened = history::open_partial(&cfg.state, day, index, count)
            .map_err(|e| shards_err(format!("{}: {e}", cfg.state_object(&name))))?;
        let Some((reader, json)) = opened else {
            missing.push(index.to_string());
            continue;
        };
        let f: DayFigures = serde_json::from_slice(&json).map_err(|e| {
            shards_err(format!(
                "{}: unreadable scan figures: {e}",
                cfg.state_object(&name)
            ))
        })?;
        match &mut figures {
            None => figures = Some(f),
            Some(all) => all
                .add_shard(f)
                .map_err(|e| shards_err(format!("{}: {e}", cfg.state_object(&name))))?,
        }
        readers.push(reader);
    }
    if !missing.is_empty() {
        return Err(shards_err(format!(
            "{} of {count} partial tallies missing in {}: shard{} {}",
            missing.len(),
            cfg.state,
            if missing.len() == 1 { "" } else { "s" },
            missing.join(", ")
        )));
    }
    let Some(figures) = figures else {
        return Err(shards_err("no shards".into()));
    };
    report.add_listing(&figures.listing);
    if figures.listing.selected == 0 {
        return Err(MinerError::NoObjects {
            day,
            folders: if figures.listing.folders.is_empty() {
                cfg.logs.to_string()
            } else {
                figures.listing.folders.join(", ")
            },
        });
    }
    let (file, distinct) = history::merge_partials(day, readers).map_err(|(i, e)| {
        shards_err(format!(
            "{}: {e}",
            cfg.state_object(&history::partial_name(day, i as u32, count))
        ))
    })?;
    report.add_scan(&figures, distinct);
    check_day(cfg, day, &figures, distinct)?;
    Ok((file, distinct))
}

/// Scans one day into its tally, or says why the day cannot be used.
fn mine_day(
    cfg: &MinerConfig,
    day: NaiveDate,
    shard: Option<(u32, u32)>,
    progress: &dyn Progress,
    report: &mut RunReport,
) -> Result<Tally, MinerError> {
    let (tally, figures) = scan_day(cfg, day, shard, progress, report)?;
    check_day(cfg, day, &figures, tally.len() as u64)?;
    Ok(tally)
}

/// Whether a scanned day is good enough to keep: few enough unreadable objects and lines, and
/// at least one replayable request.
fn check_day(
    cfg: &MinerConfig,
    day: NaiveDate,
    f: &DayFigures,
    distinct_urls: u64,
) -> Result<(), MinerError> {
    let allowed = cfg.max_error_rate;
    let failed_share = f.objects_failed as f64 / f.objects_read.max(1) as f64;
    if failed_share > allowed {
        return Err(MinerError::TooManyErrors {
            what: format!(
                "{} of {} objects could not be read",
                f.objects_failed, f.objects_read
            ),
            allowed: allowed * 100.0,
        });
    }
    let bad_lines = f.parse_error_lines();
    if bad_lines as f64 / f.lines.max(1) as f64 > allowed {
        return Err(MinerError::TooManyErrors {
            what: format!("{bad_lines} of {} lines are not access-log lines", f.lines),
            allowed: allowed * 100.0,
        });
    }
    if distinct_urls == 0 {
        return Err(MinerError::NothingReplayable {
            day,
            why: format!(
                "{} lines read, {} parsed, none passed the filter",
                f.lines,
                f.lines.saturating_sub(bad_lines)
            ),
        });
    }
    Ok(())
}

impl MinerConfig {
    /// How to name an object of the state in an error.
    fn state_object(&self, name: &str) -> String {
        match &self.state {
            StateStore::Dir(d) => d.join(name).display().to_string(),
            s => format!("{s}{name}"),
        }
    }
}
