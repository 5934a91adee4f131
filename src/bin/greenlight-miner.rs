//! `greenlight-miner`: flags -> [`greenlight::mine::run`] -> exit code. Holds no logic beyond
//! reading flags (and the `--routes` file) into a [`MinerConfig`].
//!
//! Exit codes: 0 list written; 1 could not write an output; 2 bad flags, unreadable log
//! folder or bucket, or an S3 configuration/access problem (no such bucket, access denied, no or
//! refused credentials, wrong region); 3 nothing to mine (no objects for the day, or no replayable request); 4 too many
//! corrupt objects or lines; 5 (`merge`) partial tallies missing, unreadable or from shards that
//! listed different objects. On any non-zero exit the previous list is left untouched.
//!
//! Sharding: `--shard I/N` (or `AWS_BATCH_JOB_ARRAY_INDEX` with `GREENLIGHT_SHARDS` or
//! `AWS_BATCH_JOB_ARRAY_SIZE`) mines one shard of the day; `greenlight-miner merge --shards N`
//! (or `--merge`) merges them (see [`greenlight::mine::run::Mode`]).

use std::io::IsTerminal;
use std::process::ExitCode;

use chrono::{NaiveDate, Utc};
use clap::Parser;
use greenlight::history::StateStore;
use greenlight::list::ListFormat;
use greenlight::mine::filter::{HostPattern, StatusSet};
use greenlight::mine::route::RouteRules;
use greenlight::mine::run::{MinerConfig, Mode, NoProgress, Progress, run};
use greenlight::output::Destination;
use greenlight::s3::S3Config;
use greenlight::sample::SampleConfig;
use greenlight::source::layout::{is_account, is_region};
use greenlight::source::{LogObject, LogSource, Scope};
use indicatif::{ProgressBar, ProgressStyle};

/// Mine a day of ALB access logs into the list of URLs a release gate replays.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// `merge`: the same as --merge.
    #[arg(value_name = "COMMAND", value_parser = ["merge"])]
    command: Option<String>,

    /// The ALB log bucket, `s3://bucket[/prefix]`, or a folder laid out like it:
    /// [PREFIX/]AWSLogs/ACCOUNT/elasticloadbalancing/REGION/YYYY/MM/DD/OBJECT.
    #[arg(long, env = "GREENLIGHT_LOGS", value_name = "DIR|s3://BUCKET[/PREFIX]", value_parser = LogSource::parse)]
    logs: LogSource,

    /// Mine only this AWS account's logs (12 digits; repeatable). Default: every account found.
    #[arg(
        long = "account",
        env = "GREENLIGHT_ACCOUNT",
        value_name = "ID",
        value_delimiter = ','
    )]
    accounts: Vec<String>,

    /// Mine only the logs of load balancers in this region (repeatable), e.g. eu-west-1.
    /// Default: every region found. (The S3 client's own region comes from AWS_REGION.)
    #[arg(
        long = "region",
        env = "GREENLIGHT_REGION",
        value_name = "REGION",
        value_delimiter = ','
    )]
    regions: Vec<String>,

    /// Mine only this load balancer's logs (its name, as in `app/<name>/<id>`; repeatable).
    #[arg(
        long = "load-balancer",
        env = "GREENLIGHT_LOAD_BALANCER",
        value_name = "NAME",
        value_delimiter = ','
    )]
    load_balancers: Vec<String>,

    /// S3 endpoint for an S3-compatible store (MinIO, Garage, Ceph, R2, moto), e.g.
    /// http://127.0.0.1:9000; path-style addressing is used. Default: AWS_ENDPOINT_URL_S3,
    /// AWS_ENDPOINT_URL, else AWS's own endpoint.
    #[arg(long, env = "GREENLIGHT_S3_ENDPOINT", value_name = "URL")]
    s3_endpoint: Option<String>,

    /// Day to mine (UTC); the list is built as of this day. Default: yesterday (UTC).
    #[arg(
        long,
        env = "GREENLIGHT_DATE",
        value_name = "YYYY-MM-DD",
        conflicts_with = "to"
    )]
    date: Option<NaiveDate>,

    /// The run's reference instant (RFC 3339, e.g. 2026-03-03T00:05:00Z): without --date, the
    /// day mined is the one before it (UTC). For jobs of one run that start at different
    /// times: the shards and the merge of a sharded run all get the state machine's start time,
    /// so a run that crosses midnight still mines one day. Default: now.
    #[arg(long, env = "GREENLIGHT_RUN_TIME", value_name = "RFC3339")]
    run_time: Option<chrono::DateTime<Utc>>,

    /// Mine every day from this one to --to (or --date) in order, each as its nightly run
    /// would, and build the list as of the last.
    #[arg(long, value_name = "YYYY-MM-DD")]
    from: Option<NaiveDate>,

    /// Last day of a --from range (same as --date).
    #[arg(long, value_name = "YYYY-MM-DD")]
    to: Option<NaiveDate>,

    /// Where one tally per mined day is kept: a folder or s3://bucket[/prefix].
    #[arg(
        long,
        env = "GREENLIGHT_STATE",
        value_name = "DIR|s3://BUCKET[/PREFIX]",
        default_value = "greenlight-state",
        value_parser = StateStore::parse
    )]
    state: StateStore,

    /// Days of history the list is built from (the mined day included); older tallies are
    /// deleted.
    #[arg(long, env = "GREENLIGHT_WINDOW_DAYS", default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..=3660))]
    window_days: u32,

    /// Most memory (MB) the window's merged URLs may take between the two reads of the window
    /// (route learning, then sampling); past it, the second read reads the day files again:
    /// slower, flat memory. 0: always read them again.
    #[arg(
        long,
        env = "GREENLIGHT_WINDOW_MEMORY_MB",
        value_name = "MB",
        default_value_t = (greenlight::history::WINDOW_COPY_BYTES >> 20) as u32
    )]
    window_memory_mb: u32,

    /// Seed of the sampling RNG. Default: the date as YYYYMMDD.
    #[arg(long)]
    seed: Option<u64>,

    /// Estimated test time allowed (seconds), from the logged median latency of each URL plus
    /// 20 ms, at --concurrency. The head is listed even past it.
    #[arg(long, env = "GREENLIGHT_TIME_BUDGET", value_name = "SECONDS", value_parser = parse_seconds)]
    time_budget: Option<f64>,

    /// Requests the tester runs at once (for --time-budget and the estimate in the report).
    #[arg(long, env = "GREENLIGHT_CONCURRENCY", default_value_t = 8, value_parser = clap::value_parser!(u64).range(1..))]
    concurrency: u64,

    /// Percentage of --max-urls for the most-hit URLs (always listed).
    #[arg(long, default_value = "25", value_name = "PERCENT", value_parser = parse_percent)]
    head_share: f64,

    /// Percentage of --max-urls reserved for rare strata and rare URLs.
    #[arg(long, default_value = "15", value_name = "PERCENT", value_parser = parse_percent)]
    rare_share: f64,

    /// A URL is rare when seen on at most this many days of the window...
    #[arg(long, default_value_t = 1)]
    rare_days: u32,

    /// ...and with at most this many hits in the window.
    #[arg(long, default_value_t = 2)]
    rare_hits: u64,

    /// Distinct variants (query keys, extension, trailing slash) kept per stratum.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..=64))]
    variants_per_stratum: u64,

    /// Route rules (`HOST PATTERN` lines, see the README) applied before the learned ones.
    #[arg(long, value_name = "FILE")]
    routes: Option<std::path::PathBuf>,

    /// A path position with at least this many distinct values becomes `{var}`.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(2..))]
    route_min_distinct: u64,

    /// Where to write the list (atomically): a file or s3://bucket/key.
    #[arg(
        long,
        env = "GREENLIGHT_OUT",
        default_value = "acceptance_url_list.csv",
        value_parser = Destination::parse
    )]
    out: Destination,

    /// List format: `full` (header and all columns) or `paths` (path column only, no header,
    /// as the original Lambda read it).
    #[arg(long, value_enum, default_value_t = ListFormat::Full)]
    format: ListFormat,

    /// Also write the run report as JSON to this file or s3://bucket/key.
    #[arg(long, env = "GREENLIGHT_REPORT", value_name = "FILE|s3://BUCKET/KEY", value_parser = Destination::parse)]
    report: Option<Destination>,

    /// Largest number of URLs in the list.
    #[arg(long, env = "GREENLIGHT_MAX_URLS", default_value_t = 1000)]
    max_urls: usize,

    /// Methods to replay (repeatable). Only the safe GET and HEAD are accepted. Default: GET.
    #[arg(long = "method", value_name = "METHOD")]
    methods: Vec<String>,

    /// ELB status classes or codes to keep (repeatable or comma-separated: 2xx,3xx,404).
    /// Default: 2xx,3xx.
    #[arg(long = "status", value_name = "SPEC")]
    statuses: Vec<String>,

    /// Hosts to keep (repeatable): `www.example.com` or `*.example.com`. Default: every host
    /// that is a DNS name (never IP literals or the ALB's own *.elb.amazonaws.com name).
    #[arg(
        long = "host",
        env = "GREENLIGHT_HOST",
        value_name = "PATTERN",
        value_delimiter = ','
    )]
    hosts: Vec<String>,

    /// User-agent substrings to leave out (repeatable, case-insensitive), added to the built-in
    /// list of health checkers and monitors.
    #[arg(long = "exclude-agent", value_name = "PATTERN")]
    exclude_agents: Vec<String>,

    /// Do not use the built-in list of health-checker and monitor agents.
    #[arg(long)]
    no_default_agent_excludes: bool,

    /// Keep tracking parameters (utm_*, gclid, fbclid, ...) in the listed URLs.
    #[arg(long)]
    keep_tracking_params: bool,

    /// Fail the run (no list written) when more than this percentage of objects, or of lines,
    /// cannot be read.
    #[arg(long, env = "GREENLIGHT_MAX_ERROR_RATE", default_value = "1", value_name = "PERCENT", value_parser = parse_percent)]
    max_error_rate: f64,

    /// Worker threads (default: one per core).
    #[arg(long, env = "GREENLIGHT_THREADS", default_value_t = 0)]
    threads: usize,

    /// Mine only shard I (0-based) of N of the day's objects (by a hash of the object key)
    /// and write a partial tally to the state; no list. Default under an AWS Batch array job:
    /// I from AWS_BATCH_JOB_ARRAY_INDEX, N from --shards.
    #[arg(long, value_name = "I/N", value_parser = parse_shard, conflicts_with_all = ["from", "merge"])]
    shard: Option<(u32, u32)>,

    /// Merge the day's N partial tallies (`greenlight-miner merge` is the same), then write the
    /// day tally, the list and the report as one run would. N from --shards.
    #[arg(long, conflicts_with = "from")]
    merge: bool,

    /// The number of shards, for `merge` and for an AWS Batch array job. Default:
    /// AWS_BATCH_JOB_ARRAY_SIZE.
    #[arg(long, env = "GREENLIGHT_SHARDS", value_name = "N", value_parser = clap::value_parser!(u32).range(1..=10_000))]
    shards: Option<u32>,
}

fn parse_shard(s: &str) -> Result<(u32, u32), String> {
    let (i, n) = s
        .split_once('/')
        .ok_or_else(|| format!("'{s}': expected I/N, e.g. 0/8"))?;
    let i: u32 = i.parse().map_err(|_| format!("'{s}': I is not a number"))?;
    let n: u32 = n.parse().map_err(|_| format!("'{s}': N is not a number"))?;
    if n == 0 || n > 10_000 || i >= n {
        return Err(format!("'{s}': expected 0 <= I < N <= 10000"));
    }
    Ok((i, n))
}

/// The run's mode from the flags and, under AWS Batch, the array job's environment.
fn mode(args: &Args, env: impl Fn(&str) -> Option<String>) -> Result<Mode, String> {
    let shards = || -> Result<u32, String> {
        if let Some(n) = args.shards {
            return Ok(n);
        }
        match env("AWS_BATCH_JOB_ARRAY_SIZE") {
            Some(n) => n
                .parse()
                .ok()
                .filter(|n| (1..=10_000).contains(n))
                .ok_or_else(|| format!("AWS_BATCH_JOB_ARRAY_SIZE={n}: not a shard count")),
            None => Err("the number of shards: give --shards N (or GREENLIGHT_SHARDS)".into()),
        }
    };
    if args.merge || args.command.is_some() {
        if args.shard.is_some() {
            return Err("--shard and merge: a run is one or the other".into());
        }
        if args.from.is_some() {
            return Err("--from cannot be used with merge (one day at a time)".into());
        }
        return Ok(Mode::Merge { count: shards()? });
    }
    if let Some((index, count)) = args.shard {
        return Ok(Mode::Shard { index, count });
    }
    if let Some(i) = env("AWS_BATCH_JOB_ARRAY_INDEX") {
        let count = shards()?;
        let index: u32 =
            i.parse().ok().filter(|i| *i < count).ok_or_else(|| {
                format!("AWS_BATCH_JOB_ARRAY_INDEX={i}: not a shard below {count}")
            })?;
        if args.from.is_some() {
            return Err(
                "--from cannot be used in an AWS Batch array job (one day per shard)".into(),
            );
        }
        return Ok(Mode::Shard { index, count });
    }
    Ok(Mode::Whole)
}

fn parse_percent(s: &str) -> Result<f64, String> {
    let v: f64 = s
        .trim_end_matches('%')
        .parse()
        .map_err(|_| format!("'{s}' is not a percentage"))?;
    if !(0.0..=100.0).contains(&v) {
        return Err(format!("{v} is not between 0 and 100"));
    }
    Ok(v / 100.0)
}

fn parse_seconds(s: &str) -> Result<f64, String> {
    let v: f64 = s
        .parse()
        .map_err(|_| format!("'{s}' is not a number of seconds"))?;
    if !(v > 0.0 && v.is_finite()) {
        return Err(format!("{v} is not a positive number of seconds"));
    }
    Ok(v)
}

fn config(mut args: Args) -> Result<MinerConfig, String> {
    // An empty environment variable (GREENLIGHT_LOAD_BALANCER= ...) narrows nothing.
    for list in [
        &mut args.accounts,
        &mut args.regions,
        &mut args.load_balancers,
        &mut args.hosts,
    ] {
        list.retain(|v| !v.trim().is_empty());
    }
    let mode = mode(&args, |k| std::env::var(k).ok())?;
    let day = args.to.or(args.date).unwrap_or_else(|| {
        args.run_time.unwrap_or_else(Utc::now).date_naive() - chrono::Days::new(1)
    });
    if let Some(from) = args.from
        && from > day
    {
        return Err(format!("--from {from} is after the last day {day}"));
    }
    let s3 = S3Config {
        endpoint: args.s3_endpoint.filter(|e| !e.is_empty()),
    };
    if let Some(e) = &s3.endpoint
        && !(e.starts_with("http://") || e.starts_with("https://"))
    {
        return Err(format!(
            "--s3-endpoint {e}: expected http://host[:port] or https://..."
        ));
    }
    if let Some(a) = args.accounts.iter().find(|a| !is_account(a)) {
        return Err(format!("--account {a}: expected a 12-digit AWS account id"));
    }
    if let Some(r) = args.regions.iter().find(|r| !is_region(r)) {
        return Err(format!("--region {r}: expected a region such as eu-west-1"));
    }
    let mut logs = args.logs;
    logs.set_s3_config(&s3);
    let mut cfg = MinerConfig::new(logs, day);
    cfg.from = args.from;
    let mut state = args.state;
    state.set_s3_config(&s3);
    cfg.state = state;
    cfg.scope = Scope {
        accounts: args.accounts,
        regions: args.regions,
        load_balancers: args.load_balancers,
    };
    cfg.window_days = args.window_days;
    cfg.window_copy_bytes = (args.window_memory_mb as usize) << 20;
    cfg.exit_after = true;
    cfg.seed = args.seed;
    let mut sample = SampleConfig::new(args.max_urls, 0);
    sample.time_budget = args.time_budget;
    sample.concurrency = args.concurrency as usize;
    sample.head_share = args.head_share;
    sample.rare_share = args.rare_share;
    if args.head_share + args.rare_share > 1.0 {
        return Err("--head-share and --rare-share add up to more than 100%".into());
    }
    sample.rare_days = args.rare_days;
    sample.rare_hits = args.rare_hits;
    sample.variants_per_stratum = args.variants_per_stratum as usize;
    cfg.sample = sample;
    cfg.route_min_distinct = args.route_min_distinct as usize;
    if let Some(path) = &args.routes {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("--routes {}: {e}", path.display()))?;
        cfg.routes =
            RouteRules::parse(&text).map_err(|e| format!("--routes {}: {e}", path.display()))?;
    }
    cfg.out = args.out;
    cfg.out.set_s3_config(&s3);
    cfg.format = args.format;
    cfg.report = args.report.map(|mut r| {
        r.set_s3_config(&s3);
        r
    });
    cfg.max_error_rate = args.max_error_rate;
    cfg.threads = args.threads;
    cfg.mode = mode;
    let p = &mut cfg.policy;
    if !args.methods.is_empty() {
        p.methods.clear();
        for m in args.methods {
            let m = m.to_ascii_uppercase();
            if m != "GET" && m != "HEAD" {
                return Err(format!(
                    "--method {m}: only GET and HEAD can be replayed without side effects"
                ));
            }
            p.methods.push(m.into_bytes());
        }
    }
    if !args.statuses.is_empty() {
        p.statuses = StatusSet::empty();
        for spec in &args.statuses {
            p.statuses
                .add_spec(spec)
                .map_err(|e| format!("--status: {e}"))?;
        }
    }
    for h in &args.hosts {
        p.hosts
            .push(HostPattern::parse(h).map_err(|e| format!("--host: {e}"))?);
    }
    if args.no_default_agent_excludes {
        p.clear_excluded_agents();
    }
    if args.exclude_agents.iter().any(String::is_empty) {
        return Err("--exclude-agent: an empty pattern would exclude everything".into());
    }
    p.exclude_agents(args.exclude_agents.iter().map(String::as_str));
    p.normalize.keep_tracking = args.keep_tracking_params;
    Ok(cfg)
}

/// A progress bar over compressed bytes, on a terminal.
struct Bar(ProgressBar);

impl Progress for Bar {
    fn start(&self, objects: &[LogObject]) {
        self.0.set_length(objects.iter().map(|o| o.size).sum());
    }
    fn object_done(&self, object: &LogObject) {
        self.0.inc(object.size);
    }
    fn finish(&self) {
        self.0.finish_and_clear();
    }
}

/// Plain log lines off a terminal.
struct Lines;

impl Progress for Lines {
    fn start(&self, objects: &[LogObject]) {
        let bytes: u64 = objects.iter().map(|o| o.size).sum();
        tracing::info!(
            objects = objects.len(),
            compressed_bytes = bytes,
            "scanning"
        );
    }
    fn object_done(&self, object: &LogObject) {
        tracing::debug!(key = %object.key, "object done");
    }
}

/// The run's outcome as one log event (`GREENLIGHT_LOG_FORMAT=json`: one JSON line with the
/// figures to alarm on; the whole report goes to `--report`).
fn log_outcome(report: &greenlight::mine::report::RunReport) {
    let sample = &report.sample;
    tracing::info!(
        outcome = report.outcome,
        exit_code = report.exit_code,
        error = report.error.as_deref().unwrap_or(""),
        day = %report.day,
        list = report.list.as_deref().unwrap_or(""),
        objects_selected = report.objects.selected,
        objects_read = report.objects.read,
        objects_failed = report.objects.failed,
        missing_folders = report.objects.missing_folders.len(),
        lines = report.lines.total,
        lines_rejected = report.lines.total - report.lines.parsed,
        unusual_field_counts = report.lines.unusual_field_counts,
        requests_kept = report.requests.kept,
        urls_distinct = report.urls.distinct,
        urls_listed = report.urls.listed,
        history_days_used = report.history.days_used,
        history_problems = report.history.problems.len(),
        strata_seen = sample.strata_seen,
        strata_left_out = sample.left_out_total,
        traffic_covered = sample.traffic_covered,
        est_test_seconds = sample.est_test_seconds,
        elapsed_seconds = report.elapsed_seconds,
        "greenlight-miner finished"
    );
}

fn main() -> ExitCode {
    greenlight::init_logging();
    let cfg = match config(Args::parse()) {
        Ok(cfg) => cfg,
        Err(e) => {
            if greenlight::log_format_is_json() {
                tracing::error!(
                    outcome = "failed",
                    exit_code = 2,
                    error = %e,
                    "greenlight-miner finished"
                );
            } else {
                eprintln!("greenlight-miner: {e}");
            }
            return ExitCode::from(2);
        }
    };
    let terminal = std::io::stderr().is_terminal();
    let bar;
    let progress: &dyn Progress = if terminal {
        bar = Bar(ProgressBar::new(0).with_style(
            ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {bytes_per_sec} {eta}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        ));
        &bar
    } else if std::env::var_os("GREENLIGHT_QUIET").is_some() {
        &NoProgress
    } else {
        &Lines
    };
    let (report, result) = run(&cfg, progress);
    if greenlight::log_format_is_json() {
        log_outcome(&report);
    } else {
        eprint!("{}", report.summary());
    }
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(1)),
    }
}
