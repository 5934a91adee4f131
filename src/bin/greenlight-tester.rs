//! `greenlight-tester`: flags (or environment) -> [`greenlight::check::check`] -> reports,
//! release hook -> exit code.
//!
//! Exit codes: 0 the gate passed; 1 the gate failed; 2 could not run (bad flags, unreadable or
//! empty list, a release hook report that failed). Under the Lambda runtime
//! (`AWS_LAMBDA_RUNTIME_API` set) it serves invocations instead; see
//! [`greenlight::check::lambda`].

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use greenlight::check::hooks::{self, CodeDeployHook};
use greenlight::check::lambda::{self, LambdaOptions};
use greenlight::check::probe::{Endpoint, ProbeMethod, ProbeSettings};
use greenlight::check::report::Report;
use greenlight::check::{CheckConfig, DEFAULT_CONCURRENCY, ListSource, check};
use greenlight::s3::S3Config;
use indicatif::{ProgressBar, ProgressStyle};

/// Replay the acceptance list against the green listener, compare with blue, gate the release.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// The list: a file or s3://bucket/key (full format with header, or bare paths). In the
    /// Lambda: `FILEPATH` (with `BUCKET`: s3://BUCKET/FILEPATH).
    #[arg(long, env = "GREENLIGHT_LIST", value_name = "FILE")]
    list: Option<String>,

    /// S3 endpoint for an s3:// list (S3-compatible stores; path-style addressing). Default:
    /// AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL, else AWS's own endpoint.
    #[arg(long, env = "GREENLIGHT_S3_ENDPOINT", value_name = "URL")]
    s3_endpoint: Option<String>,

    /// Green: where requests go, `http://host:port` (each request carries the list's Host).
    /// In the Lambda: `ENDPOINT`.
    #[arg(long, env = "GREENLIGHT_ENDPOINT", value_name = "URL")]
    endpoint: Option<String>,

    /// Blue: the live listener to compare with (asked twice per URL).
    #[arg(long, env = "GREENLIGHT_BASELINE", value_name = "URL")]
    baseline: Option<String>,

    /// Percent of counted URLs that must pass (default 99 with --baseline, 95 without). In the
    /// Lambda: `ACCEPTANCE_THRESHOLD`.
    #[arg(long, env = "GREENLIGHT_THRESHOLD", value_name = "PERCENT")]
    threshold: Option<f64>,

    /// URLs in flight at once (per listener).
    #[arg(long, env = "GREENLIGHT_CONCURRENCY", default_value_t = DEFAULT_CONCURRENCY)]
    concurrency: usize,

    /// Threads that drive the requests, 0 (the default) for one per core. The URLs in flight
    /// are dealt out to the threads, each running its own share of connections (nothing is
    /// handed between threads); one thread keeps tens of thousands of requests a second in
    /// flight, and a second one lets the tester use the other core against a fast server.
    #[arg(long, env = "GREENLIGHT_TESTER_THREADS", default_value_t = 0)]
    threads: u16,

    /// Cap on requests per second over all listeners.
    #[arg(long, env = "GREENLIGHT_RPS")]
    rps: Option<f64>,

    /// Seconds for one request, body included.
    #[arg(long, env = "GREENLIGHT_TIMEOUT", default_value_t = 10.0)]
    timeout: f64,

    /// Seconds for the whole run; URLs not started by then count as failing.
    #[arg(long, env = "GREENLIGHT_DEADLINE", default_value_t = 600.0)]
    deadline: f64,

    /// Extra attempts after a connection error (never after an answer or a timeout).
    #[arg(long, default_value_t = 2)]
    connect_retries: u32,

    /// GET (default) or HEAD.
    #[arg(long, value_enum, default_value_t = ProbeMethod::Get)]
    method: ProbeMethod,

    /// A fixed User-Agent (default: the list's agent column, else a desktop browser's).
    #[arg(long, env = "GREENLIGHT_USER_AGENT")]
    user_agent: Option<String>,

    /// Do not add X-Forwarded-Proto/-Port (when the endpoint is the ALB itself).
    #[arg(long)]
    no_forwarded_headers: bool,

    /// Write the JSON report here (also when the run failed).
    #[arg(long, env = "GREENLIGHT_JSON", value_name = "FILE")]
    json: Option<PathBuf>,

    /// Write a JUnit XML report here (also when the run failed).
    #[arg(long, env = "GREENLIGHT_JUNIT", value_name = "FILE")]
    junit: Option<PathBuf>,

    /// Report the verdict to this CodeDeploy deployment (with --codedeploy-hook-execution-id).
    #[arg(long, requires = "codedeploy_hook_execution_id")]
    codedeploy_deployment_id: Option<String>,

    /// The lifecycle event hook execution id to report to.
    #[arg(long, requires = "codedeploy_deployment_id")]
    codedeploy_hook_execution_id: Option<String>,

    /// CodeDeploy endpoint override (default: the SDK's, or AWS_ENDPOINT_URL_CODEDEPLOY).
    #[arg(long, env = "GREENLIGHT_CODEDEPLOY_ENDPOINT", value_name = "URL")]
    codedeploy_endpoint: Option<String>,
}

fn env_nonempty(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// Flags and environment -> what to run. In the Lambda the original function's variables
/// (`ENDPOINT`, `BUCKET`, `FILEPATH`, `ACCEPTANCE_THRESHOLD`) fill what the flags leave open.
fn settings(args: &Args, legacy_env: bool) -> Result<(CheckConfig, ListSource), String> {
    let legacy = |n| if legacy_env { env_nonempty(n) } else { None };
    let endpoint = args
        .endpoint
        .clone()
        .or_else(|| legacy("ENDPOINT"))
        .ok_or("no endpoint: give --endpoint (or ENDPOINT in the Lambda)")?;
    let list = match args.list.clone() {
        Some(l) => l,
        None => match (legacy("BUCKET"), legacy("FILEPATH")) {
            (Some(b), Some(f)) => format!("s3://{b}/{}", f.trim_start_matches('/')),
            (None, Some(f)) => f,
            _ => return Err("no list: give --list (or FILEPATH [+ BUCKET] in the Lambda)".into()),
        },
    };
    let threshold = match args.threshold {
        Some(t) => Some(t),
        None => legacy("ACCEPTANCE_THRESHOLD")
            .map(|t| {
                t.trim()
                    .trim_end_matches('%')
                    .parse::<f64>()
                    .map_err(|_| format!("ACCEPTANCE_THRESHOLD {t:?} is not a number"))
            })
            .transpose()?,
    };
    let secs = |name: &str, v: f64| {
        if v.is_finite() && v > 0.0 {
            Ok(Duration::from_secs_f64(v))
        } else {
            Err(format!("--{name} must be a positive number of seconds"))
        }
    };
    let mut cfg =
        CheckConfig::new(Endpoint::parse(&endpoint).map_err(|e| format!("endpoint: {e}"))?);
    cfg.baseline = args
        .baseline
        .as_deref()
        .map(Endpoint::parse)
        .transpose()
        .map_err(|e| format!("baseline: {e}"))?;
    cfg.threshold = threshold;
    cfg.concurrency = args.concurrency;
    cfg.threads = match args.threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => usize::from(n),
    };
    cfg.deadline = secs("deadline", args.deadline)?;
    cfg.probe = ProbeSettings {
        timeout: secs("timeout", args.timeout)?,
        connect_retries: args.connect_retries,
        forwarded_headers: !args.no_forwarded_headers,
        user_agent: args.user_agent.clone(),
        method: args.method,
        rps: args.rps,
    };
    let mut source = ListSource::parse(&list)?;
    source.set_s3_config(&S3Config {
        endpoint: args.s3_endpoint.clone().filter(|e| !e.is_empty()),
    });
    Ok((cfg, source))
}

fn write_outputs(args: &Args, report: &Report) -> bool {
    let mut ok = true;
    // A report is rendered only when asked for: for a long list the JSON and JUnit texts cost
    // as much CPU as a few thousand requests.
    let mut put = |path: &Option<PathBuf>, render: &dyn Fn() -> String| {
        if let Some(p) = path
            && let Err(e) = greenlight::output::write_file_atomically(p, |w| {
                std::io::Write::write_all(w, render().as_bytes())
            })
        {
            eprintln!("greenlight-tester: cannot write {}: {e}", p.display());
            ok = false;
        }
    };
    put(&args.json, &|| report.to_json());
    put(&args.junit, &|| report.to_junit());
    ok
}

async fn run_cli(args: Args) -> u8 {
    let settings = settings(&args, false);
    let report = match &settings {
        Err(e) => Report::failed(
            e.clone(),
            args.list.as_deref().unwrap_or(""),
            args.endpoint.as_deref().unwrap_or(""),
        ),
        Ok((cfg, source)) => {
            let bar = std::io::stderr().is_terminal().then(|| {
                ProgressBar::new(0).with_style(
                    ProgressStyle::with_template("{bar:40} {pos}/{len} URLs {per_sec} {eta}")
                        .unwrap_or_else(|_| ProgressStyle::default_bar()),
                )
            });
            let mut progress = |done: usize, total: usize| {
                if let Some(b) = &bar {
                    b.set_length(total as u64);
                    b.set_position(done as u64);
                }
            };
            let r = check(cfg, source, &mut progress).await;
            if let Some(b) = &bar {
                b.finish_and_clear();
            }
            r.unwrap_or_else(|e| {
                Report::failed(
                    e.to_string(),
                    &source.to_string(),
                    &cfg.endpoint.to_string(),
                )
            })
        }
    };
    if greenlight::log_format_is_json() {
        let gate = report.gate.as_ref();
        tracing::info!(
            passed = report.passed,
            error = report.error.as_deref().unwrap_or(""),
            share_percent = gate.map_or(0.0, |g| g.share_percent),
            threshold_percent = gate.map_or(0.0, |g| g.threshold_percent),
            counted = gate.map_or(0, |g| g.counted),
            counts = %serde_json::to_string(&report.counts).unwrap_or_default(),
            duration_s = report.duration_s,
            summary = %report.one_line(),
            "greenlight-tester finished"
        );
    } else {
        eprint!("{}", report.summary());
    }
    let mut code = if report.error.is_some() {
        2
    } else if report.passed {
        0
    } else {
        1
    };
    if !write_outputs(&args, &report) {
        code = 2;
    }
    if let (Some(d), Some(e)) = (
        &args.codedeploy_deployment_id,
        &args.codedeploy_hook_execution_id,
    ) {
        let hook = CodeDeployHook {
            deployment_id: d.clone(),
            execution_id: e.clone(),
        };
        let client = hooks::codedeploy_client(args.codedeploy_endpoint.as_deref()).await;
        match hooks::report_codedeploy(&client, &hook, &report).await {
            Ok(()) => eprintln!(
                "greenlight-tester: reported {} to CodeDeploy",
                report.status_word()
            ),
            Err(e) => {
                eprintln!("greenlight-tester: {e}");
                code = 2;
            }
        }
    }
    // The process ends here: freeing every URL's result one by one would only cost time
    // (~560 instructions a URL, callgrind over 5,000 URLs).
    std::mem::forget(report);
    code
}

fn main() -> ExitCode {
    greenlight::init_logging();
    let args = Args::parse();
    // One thread here; with `--threads N` the check adds N - 1 of its own (CheckConfig::threads).
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("greenlight-tester: cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let code = match env_nonempty("AWS_LAMBDA_RUNTIME_API") {
        Some(api) => {
            let opts = LambdaOptions {
                codedeploy_endpoint: args.codedeploy_endpoint.clone(),
                json: args.json.clone(),
            };
            let s = settings(&args, true);
            rt.block_on(lambda::run(&api, &s, &opts))
        }
        None => rt.block_on(run_cli(args)),
    };
    ExitCode::from(code)
}
