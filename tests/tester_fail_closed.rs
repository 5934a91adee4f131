//! The gate fails closed (issue 7, point 5), through the real `greenlight-tester` binary: an
//! endpoint nobody listens on, a name that cannot resolve, an `https://` endpoint, a listener
//! that accepts and never answers, an empty list and a list of only refused lines each give a
//! failing verdict with a clear reason on stderr and in the JSON and JUnit reports, a failing
//! exit code, and `Failed` to CodeDeploy. Everything stays on loopback: the unresolvable name
//! has a 70-byte label, which no resolver can put in a DNS query (labels are at most 63 bytes),
//! so the lookup fails on the machine (checked with strace when the test was written).

#[path = "tester_support/mod.rs"]
mod support;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{Value, json};
use support::{Canned, Recorded, Recorder, aws_test_env, tester_bin};

/// A CodeDeploy stand-in that accepts every report.
fn codedeploy() -> Recorder {
    Recorder::start(|r: &Recorded| {
        let id = serde_json::from_slice::<Value>(&r.body)
            .ok()
            .and_then(|v| {
                v["lifecycleEventHookExecutionId"]
                    .as_str()
                    .map(str::to_string)
            })
            .unwrap_or_default();
        Canned::new(
            200,
            json!({ "lifecycleEventHookExecutionId": id }).to_string(),
        )
        .header("content-type", "application/x-amz-json-1.1")
    })
}

struct Run {
    out: Output,
    json: Value,
    junit: String,
    codedeploy: Vec<String>,
}

impl Run {
    fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.out.stderr).into_owned()
    }
}

/// Runs the tester on `list` against `endpoint`, reporting to a CodeDeploy stand-in.
fn run(dir: &Path, list: &Path, endpoint: &str, extra: &[&str]) -> Run {
    let cd = codedeploy();
    let (json_path, junit_path) = (dir.join("r.json"), dir.join("r.xml"));
    let _ = std::fs::remove_file(&json_path);
    let _ = std::fs::remove_file(&junit_path);
    let mut c = Command::new(tester_bin());
    for k in [
        "GREENLIGHT_LIST",
        "GREENLIGHT_ENDPOINT",
        "GREENLIGHT_BASELINE",
        "GREENLIGHT_THRESHOLD",
        "AWS_ENDPOINT_URL",
        "AWS_PROFILE",
        "AWS_LAMBDA_RUNTIME_API",
        "HTTP_PROXY",
        "http_proxy",
    ] {
        c.env_remove(k);
    }
    let out = c
        .envs(aws_test_env())
        .arg("--list")
        .arg(list)
        .args(["--endpoint", endpoint, "--timeout", "2", "--threshold", "0"])
        .args(["--codedeploy-deployment-id", "d-123"])
        .args(["--codedeploy-hook-execution-id", "e-456"])
        .args(["--codedeploy-endpoint", &cd.url()])
        .arg("--json")
        .arg(&json_path)
        .arg("--junit")
        .arg(&junit_path)
        .args(extra)
        .output()
        .expect("run greenlight-tester");
    let json = serde_json::from_slice(&std::fs::read(&json_path).expect("JSON report written"))
        .expect("JSON report");
    let junit = std::fs::read_to_string(&junit_path).expect("JUnit report written");
    let codedeploy = cd
        .take()
        .iter()
        .map(|r| r.json()["status"].as_str().unwrap_or_default().to_string())
        .collect();
    Run {
        out,
        json,
        junit,
        codedeploy,
    }
}

fn list(dir: &Path, text: &str) -> PathBuf {
    let p = dir.join("list.csv");
    std::fs::write(&p, text).unwrap();
    p
}

const LIST: &str = "path,host,expected_status\n/a,www.example.com,200\n/b,www.example.com,200\n";

/// Checks the run failed (with `exit`), said `reason` on stderr and in the JSON report, and
/// told CodeDeploy `Failed`. A threshold of 0 is used throughout: even the most lenient gate
/// must not pass on nothing.
fn assert_failed_closed(r: &Run, exit: i32, reason: &str) {
    let e = r.stderr();
    assert_eq!(r.out.status.code(), Some(exit), "{e}");
    assert!(e.contains("FAILED"), "{e}");
    assert!(e.contains(reason), "stderr does not say {reason:?}: {e}");
    assert_eq!(r.json["passed"], false, "{:#}", r.json);
    assert!(
        r.json.to_string().contains(reason),
        "JSON does not say {reason:?}: {:#}",
        r.json
    );
    assert!(
        r.junit.contains("<failure") || r.junit.contains("<error"),
        "{}",
        r.junit
    );
    assert_eq!(r.codedeploy, ["Failed"]);
}

#[test]
fn unreachable_endpoint_fails() {
    let d = tempfile::tempdir().unwrap();
    let port = support::free_port();
    let r = run(
        d.path(),
        &list(d.path(), LIST),
        &format!("http://127.0.0.1:{port}"),
        &[],
    );
    assert_failed_closed(&r, 1, "Connection refused");
    assert_eq!(r.json["counts"]["error"], 2);
}

#[test]
fn a_name_that_does_not_resolve_fails() {
    let d = tempfile::tempdir().unwrap();
    let name = format!("greenlight-nonexistent-{}.invalid", "x".repeat(70));
    let r = run(
        d.path(),
        &list(d.path(), LIST),
        &format!("http://{name}:8080"),
        &[],
    );
    assert_failed_closed(&r, 1, "dns error");
    assert_eq!(r.json["counts"]["error"], 2);
}

#[test]
fn an_https_endpoint_is_refused_with_the_reason() {
    let d = tempfile::tempdir().unwrap();
    // A plain-HTTP listener on loopback that would answer 200 to anything.
    let plain = Recorder::start(|_| Canned::new(200, "ok"));
    let r = run(
        d.path(),
        &list(d.path(), LIST),
        &format!("https://{}", plain.addr),
        &[],
    );
    assert_failed_closed(&r, 2, "only http:// endpoints are supported");
    assert!(plain.take().is_empty(), "nothing was sent");
}

#[test]
fn a_listener_that_never_answers_fails_on_timeouts() {
    let d = tempfile::tempdir().unwrap();
    // Accepts connections (the kernel completes the handshake) and never reads or answers.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = silent.local_addr().unwrap();
    let r = run(
        d.path(),
        &list(d.path(), LIST),
        &format!("http://{addr}"),
        &[],
    );
    assert_failed_closed(&r, 1, "timed out");
    assert_eq!(r.json["counts"]["error"], 2);
    drop(silent);
}

#[test]
fn an_empty_list_fails() {
    let d = tempfile::tempdir().unwrap();
    let green = Recorder::start(|_| Canned::new(200, "ok"));
    for text in ["", "path,host,expected_status\n", "\n\n"] {
        let r = run(d.path(), &list(d.path(), text), &green.url(), &[]);
        assert_failed_closed(&r, 2, "holds no URL");
    }
    assert!(green.take().is_empty());
}

#[test]
fn a_list_of_only_refused_lines_fails() {
    let d = tempfile::tempdir().unwrap();
    let green = Recorder::start(|_| Canned::new(200, "ok"));
    let text = "path,host,expected_status\n\
                http://evil.example/,www.example.com,200\n\
                relative,www.example.com,200\n\
                /a,evil/host,200\n\
                /login?token=abc,www.example.com,200\n";
    let r = run(d.path(), &list(d.path(), text), &green.url(), &[]);
    assert_failed_closed(&r, 1, "absolute_url");
    assert_eq!(r.json["counts"]["rejected"], 4, "{:#}", r.json);
    for reason in ["not_origin_form", "bad_host", "credential"] {
        assert!(r.stderr().contains(reason), "{reason}: {}", r.stderr());
    }
    assert!(green.take().is_empty(), "a refused line was sent");
}

/// The same through the Lambda entry point answering an ECS lifecycle hook (a fake Runtime API
/// on loopback): an unreachable endpoint and an empty list each answer `FAILED`.
#[test]
fn the_ecs_hook_answers_failed() {
    let d = tempfile::tempdir().unwrap();
    let ecs_event = json!({
        "executionDetails": {
            "serviceArn": "arn:aws:ecs:eu-west-1:123456789012:service/c/s",
            "targetServiceRevisionArn": "arn:aws:ecs:eu-west-1:123456789012:service-revision/c/s/1",
            "testTrafficWeights": {},
            "productionTrafficWeights": {}
        },
        "executionId": "x-1",
        "lifecycleStage": "POST_TEST_TRAFFIC_SHIFT"
    });
    let closed = format!("http://127.0.0.1:{}", support::free_port());
    let full = list(d.path(), LIST);
    let empty = d.path().join("empty.csv");
    std::fs::write(&empty, "path,host\n").unwrap();
    for (endpoint, list, exit) in [(&closed, &full, 1), (&closed, &empty, 2)] {
        let api = support::runtime_api(vec![ecs_event.clone()]);
        let out = Command::new(tester_bin())
            .env_remove("GREENLIGHT_LIST")
            .env_remove("GREENLIGHT_ENDPOINT")
            .envs(aws_test_env())
            .env("AWS_LAMBDA_RUNTIME_API", api.addr.to_string())
            .env("ENDPOINT", endpoint)
            .env("FILEPATH", list)
            .env("ACCEPTANCE_THRESHOLD", "0")
            .output()
            .unwrap();
        let e = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(exit), "{e}");
        let posted: Vec<Recorded> = api
            .take()
            .into_iter()
            .filter(|r| r.method == "POST")
            .collect();
        assert_eq!(posted.len(), 1, "{e}");
        assert_eq!(posted[0].json()["hookStatus"], "FAILED", "{e}");
    }
}
