//! How the image runs the binaries: settings from environment variables only (as the ECS task
//! definition and the Lambda set them) and `GREENLIGHT_LOG_FORMAT=json` log lines whose
//! `... finished` event carries the exit code the alarms read (docs/operations.md); the tester
//! under Lambda logs the failing URLs of a failed gate (the only record once the release rolled
//! back). nginx and the fake Lambda Runtime API run on loopback (tests/tester_support).

#[path = "tester_support/mod.rs"]
mod support;

use std::path::Path;
use std::process::{Command, Output};

const DAY: &str = "2026-03-02";
const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/alb");

/// A binary with a clean environment: no GREENLIGHT_* from the caller, no AWS.
fn command(bin: &str) -> Command {
    let mut c = Command::new(bin);
    for (k, _) in std::env::vars() {
        if k.starts_with("GREENLIGHT_") || k.starts_with("AWS_") {
            c.env_remove(k);
        }
    }
    c.env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .env("GREENLIGHT_QUIET", "1");
    c
}

/// The miner configured as the task definition configures it: environment only.
fn miner_from_env(dir: &Path, extra_env: &[(&str, &str)]) -> Output {
    let mut c = command(env!("CARGO_BIN_EXE_greenlight-miner"));
    c.env("GREENLIGHT_LOGS", FIXTURES)
        .env("GREENLIGHT_DATE", DAY)
        .env("GREENLIGHT_STATE", dir.join("state"))
        .env("GREENLIGHT_OUT", dir.join("list.csv"))
        .env("GREENLIGHT_REPORT", dir.join("report.json"));
    for (k, v) in extra_env {
        c.env(k, v);
    }
    c.output().expect("run greenlight-miner")
}

fn json_lines(o: &Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&o.stderr)
        .lines()
        .map(|l| {
            serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON log line ({e}): {l}"))
        })
        .collect()
}

fn finished<'a>(events: &'a [serde_json::Value], message: &str) -> &'a serde_json::Value {
    let done: Vec<_> = events.iter().filter(|e| e["message"] == message).collect();
    assert_eq!(done.len(), 1, "one '{message}' event in {events:?}");
    done[0]
}

#[test]
fn settings_from_environment_give_the_same_list_as_flags() {
    let env_dir = tempfile::tempdir().unwrap();
    let o = miner_from_env(
        env_dir.path(),
        &[
            ("GREENLIGHT_ACCOUNT", "123456789012"),
            ("GREENLIGHT_REGION", "eu-west-1"),
            ("GREENLIGHT_LOAD_BALANCER", "my-alb,another-alb"),
            ("GREENLIGHT_MAX_URLS", "100"),
            ("GREENLIGHT_WINDOW_DAYS", "7"),
        ],
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );

    let flag_dir = tempfile::tempdir().unwrap();
    let f = command(env!("CARGO_BIN_EXE_greenlight-miner"))
        .args(["--logs", FIXTURES, "--date", DAY, "--max-urls", "100"])
        .args(["--window-days", "7", "--account", "123456789012"])
        .args(["--region", "eu-west-1", "--load-balancer", "my-alb"])
        .arg("--state")
        .arg(flag_dir.path().join("state"))
        .arg("--out")
        .arg(flag_dir.path().join("list.csv"))
        .output()
        .unwrap();
    assert_eq!(
        f.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&f.stderr)
    );
    let from_env = std::fs::read(env_dir.path().join("list.csv")).unwrap();
    let from_flags = std::fs::read(flag_dir.path().join("list.csv")).unwrap();
    assert!(from_env.len() > 100, "a list was written");
    assert_eq!(from_env, from_flags);
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(env_dir.path().join("report.json")).unwrap())
            .unwrap();
    assert_eq!(report["history"]["window_days"], 7);
    assert_eq!(report["urls"]["max_urls"], 100);
}

/// The sharded run's jobs start minutes or hours apart; all get the state machine's start time
/// (`$$.Execution.StartTime`, millisecond RFC 3339) and mine the day before it, whatever the
/// clock says when each job starts.
#[test]
fn without_a_date_the_day_before_the_run_time_is_mined() {
    for (run_time, day) in [
        ("2026-03-03T00:05:00.123Z", DAY),
        ("2026-03-02T23:59:59.999Z", "2026-03-01"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let o = command(env!("CARGO_BIN_EXE_greenlight-miner"))
            .env("GREENLIGHT_LOGS", FIXTURES)
            .env("GREENLIGHT_RUN_TIME", run_time)
            .env("GREENLIGHT_STATE", dir.path().join("state"))
            .env("GREENLIGHT_OUT", dir.path().join("list.csv"))
            .env("GREENLIGHT_LOG_FORMAT", "json")
            .output()
            .unwrap();
        let events = json_lines(&o);
        let done = finished(&events, "greenlight-miner finished");
        assert_eq!(done["day"], day, "{run_time}: {events:?}");
    }
}

#[test]
fn the_environment_narrows_and_an_empty_variable_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let other = miner_from_env(dir.path(), &[("GREENLIGHT_LOAD_BALANCER", "another-alb")]);
    assert_eq!(
        other.status.code(),
        Some(3),
        "no object of that load balancer"
    );
    let empty = miner_from_env(
        dir.path(),
        &[("GREENLIGHT_LOAD_BALANCER", ""), ("GREENLIGHT_ACCOUNT", "")],
    );
    assert_eq!(
        empty.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&empty.stderr)
    );
}

#[test]
fn json_log_lines_end_with_the_outcome() {
    let dir = tempfile::tempdir().unwrap();
    let ok = miner_from_env(dir.path(), &[("GREENLIGHT_LOG_FORMAT", "json")]);
    assert_eq!(ok.status.code(), Some(0));
    let events = json_lines(&ok);
    let done = finished(&events, "greenlight-miner finished");
    assert_eq!(done["exit_code"], 0);
    assert_eq!(done["outcome"], "ok");
    assert_eq!(done["day"], DAY);
    assert!(done["urls_listed"].as_u64().unwrap() > 0);
    assert_eq!(done["objects_failed"], 0);

    let nothing = miner_from_env(
        dir.path(),
        &[
            ("GREENLIGHT_LOG_FORMAT", "json"),
            ("GREENLIGHT_DATE", "2020-01-01"),
        ],
    );
    assert_eq!(nothing.status.code(), Some(3));
    let events = json_lines(&nothing);
    let done = finished(&events, "greenlight-miner finished");
    assert_eq!(done["exit_code"], 3);
    assert_eq!(done["outcome"], "failed");
    assert!(done["error"].as_str().unwrap().contains("2020-01-01"));

    let bad = miner_from_env(
        dir.path(),
        &[
            ("GREENLIGHT_LOG_FORMAT", "json"),
            ("GREENLIGHT_ACCOUNT", "12"),
        ],
    );
    assert_eq!(bad.status.code(), Some(2));
    let events = json_lines(&bad);
    let done = finished(&events, "greenlight-miner finished");
    assert_eq!(done["exit_code"], 2);
    assert_eq!(done["level"], "ERROR");
    assert!(done["error"].as_str().unwrap().contains("--account 12"));
}

#[test]
fn tester_json_line_carries_the_verdict() {
    let dir = tempfile::tempdir().unwrap();
    let o = command(env!("CARGO_BIN_EXE_greenlight-tester"))
        .env("GREENLIGHT_LOG_FORMAT", "json")
        .env("GREENLIGHT_LIST", dir.path().join("missing.csv"))
        .env("GREENLIGHT_ENDPOINT", "http://127.0.0.1:9")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let events = json_lines(&o);
    let done = finished(&events, "greenlight-tester finished");
    assert_eq!(done["passed"], false);
    assert!(done["error"].as_str().unwrap().contains("missing.csv"));
}

#[test]
fn lambda_logs_the_failing_urls_of_a_failed_gate() {
    let green = support::Nginx::start(&support::blue_site());
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("list.csv");
    std::fs::write(
        &list,
        "path,host,expected_status,hits\n\
         /,www.example.com,200,9\n\
         /gone-in-green-release,www.example.com,200,5\n",
    )
    .unwrap();
    let api = support::runtime_api(vec![serde_json::json!({
        "executionDetails": {"serviceArn": "arn:aws:ecs:eu-west-1:123456789012:service/c/s"},
        "lifecycleStage": "POST_TEST_TRAFFIC_SHIFT"
    })]);
    let out = command(support::tester_bin())
        .envs(support::aws_test_env())
        .env("AWS_LAMBDA_RUNTIME_API", api.addr.to_string())
        .env("GREENLIGHT_LOG_FORMAT", "json")
        .env("ENDPOINT", green.endpoint())
        .env("FILEPATH", &list)
        .env("ACCEPTANCE_THRESHOLD", "100")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "the gate failed");
    let events = json_lines(&out);
    let verdict = events
        .iter()
        .find(|e| {
            e["level"] == "INFO"
                && e["message"]
                    .as_str()
                    .is_some_and(|m| m.starts_with("FAILED"))
        })
        .unwrap_or_else(|| {
            panic!("a FAILED verdict line (the GateFailures metric filter) in {events:?}")
        });
    assert!(
        verdict["message"].as_str().unwrap().contains("fail 1"),
        "{verdict}"
    );
    let details = events
        .iter()
        .find(|e| e["level"] == "WARN")
        .unwrap_or_else(|| panic!("a line naming the failing URLs in {events:?}"));
    let text = details["message"].as_str().unwrap();
    assert!(text.contains("/gone-in-green-release"), "{text}");
}
