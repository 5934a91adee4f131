//! Release hooks, end to end with the real binary: the CodeDeploy report (official SDK, endpoint
//! pointed at a recording server on loopback), the ECS lifecycle hook answer and the Lambda
//! entry point (a fake Lambda Runtime API on loopback). Everything fails closed: an error
//! anywhere reports Failed and exits non-zero. Never contacts AWS (static credentials, region,
//! endpoint overrides, IMDS off).

#[path = "tester_support/mod.rs"]
mod support;

use std::process::{Command, Output};

use serde_json::{Value, json};
use support::{
    Canned, Nginx, Recorded, Recorder, aws_test_env, blue_site, blue_with, fixtures, runtime_api,
    tester_bin,
};

const TARGET: &str = "CodeDeploy_20141006.PutLifecycleEventHookExecutionStatus";

/// A CodeDeploy stand-in that answers like the service (or with `status`).
fn codedeploy(status: u16) -> Recorder {
    Recorder::start(move |r: &Recorded| {
        let id = serde_json::from_slice::<Value>(&r.body)
            .ok()
            .and_then(|v| {
                v["lifecycleEventHookExecutionId"]
                    .as_str()
                    .map(str::to_string)
            })
            .unwrap_or_default();
        let body = if status == 200 {
            json!({ "lifecycleEventHookExecutionId": id }).to_string()
        } else {
            json!({ "__type": "InternalFailure", "message": "boom" }).to_string()
        };
        Canned::new(status, body).header("content-type", "application/x-amz-json-1.1")
    })
}

fn tester() -> Command {
    let mut c = Command::new(tester_bin());
    for k in [
        "GREENLIGHT_LIST",
        "GREENLIGHT_ENDPOINT",
        "GREENLIGHT_BASELINE",
        "GREENLIGHT_THRESHOLD",
        "AWS_ENDPOINT_URL",
        "AWS_PROFILE",
        "AWS_SESSION_TOKEN",
        "ENDPOINT",
        "BUCKET",
        "FILEPATH",
        "ACCEPTANCE_THRESHOLD",
        "AWS_LAMBDA_RUNTIME_API",
    ] {
        c.env_remove(k);
    }
    c.envs(aws_test_env());
    c
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The single CodeDeploy call recorded, checked for shape; returns its status.
fn codedeploy_status(cd: &Recorder) -> String {
    let calls = cd.take();
    assert_eq!(calls.len(), 1, "{calls:?}");
    let c = &calls[0];
    assert_eq!(c.method, "POST");
    assert_eq!(c.header("x-amz-target"), Some(TARGET));
    assert!(
        c.header("authorization")
            .is_some_and(|a| a.contains("AKIDTESTTESTTEST"))
    );
    let body = c.json();
    assert_eq!(body["deploymentId"], "d-123");
    assert_eq!(body["lifecycleEventHookExecutionId"], "e-456");
    body["status"].as_str().unwrap_or_default().to_string()
}

fn cli_codedeploy(green: &Nginx, cd: &Recorder) -> Output {
    tester()
        .arg("--list")
        .arg(fixtures().join("list.csv"))
        .args(["--endpoint", &green.endpoint()])
        .args(["--codedeploy-deployment-id", "d-123"])
        .args(["--codedeploy-hook-execution-id", "e-456"])
        .args(["--codedeploy-endpoint", &cd.url()])
        .output()
        .unwrap()
}

#[test]
fn cli_reports_to_codedeploy() {
    let cd = codedeploy(200);
    let good = Nginx::start(&blue_site());
    let out = cli_codedeploy(&good, &cd);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(codedeploy_status(&cd), "Succeeded");

    let bad = Nginx::start(&blue_with("return 200 \"shop front\\n\";", "return 500;"));
    let out = cli_codedeploy(&bad, &cd);
    // 15 of 16 = 93.75% < 95.
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(codedeploy_status(&cd), "Failed");

    // A report that does not go through is an error (exit 2), never a silent pass.
    let broken = codedeploy(500);
    let out = cli_codedeploy(&good, &broken);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("CodeDeploy"), "{}", stderr(&out));
}

/// Runs the binary as a Lambda function against a fake Runtime API serving `events`.
fn lambda(events: Vec<Value>, env: &[(&str, String)]) -> (Output, Vec<Recorded>) {
    let api = runtime_api(events);
    let out = tester()
        .env("AWS_LAMBDA_RUNTIME_API", api.addr.to_string())
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .unwrap();
    let posted: Vec<Recorded> = api
        .take()
        .into_iter()
        .filter(|r| r.method == "POST")
        .collect();
    (out, posted)
}

fn legacy_env(green: &Nginx, list: &str, cd: &Recorder) -> Vec<(&'static str, String)> {
    vec![
        ("ENDPOINT", green.endpoint()),
        ("FILEPATH", list.to_string()),
        ("ACCEPTANCE_THRESHOLD", "95".into()),
        ("AWS_ENDPOINT_URL_CODEDEPLOY", cd.url()),
    ]
}

fn codedeploy_event() -> Value {
    json!({"DeploymentId": "d-123", "LifecycleEventHookExecutionId": "e-456"})
}

fn ecs_event() -> Value {
    json!({
        "executionDetails": {
            "serviceArn": "arn:aws:ecs:eu-west-1:123456789012:service/c/s",
            "targetServiceRevisionArn": "arn:aws:ecs:eu-west-1:123456789012:service-revision/c/s/1",
            "testTrafficWeights": {},
            "productionTrafficWeights": {}
        },
        "executionId": "x-1",
        "lifecycleStage": "POST_TEST_TRAFFIC_SHIFT"
    })
}

#[test]
fn lambda_codedeploy_hook_with_the_original_variables() {
    let cd = codedeploy(200);
    let green = Nginx::start(&blue_site());
    let list = fixtures().join("list.csv").display().to_string();
    let (out, posted) = lambda(vec![codedeploy_event()], &legacy_env(&green, &list, &cd));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(codedeploy_status(&cd), "Succeeded");
    assert_eq!(posted.len(), 1);
    assert!(
        posted[0].path.ends_with("/invocation/req-0/response"),
        "{}",
        posted[0].path
    );
    assert_eq!(posted[0].json()["status"], "Succeeded");
    // It really replayed the list against ENDPOINT.
    assert!(
        green
            .access_log_with("GET /v1/legacy")
            .contains("GET /v1/legacy")
    );
}

#[test]
fn lambda_ecs_hook_answers_hook_status() {
    let cd = codedeploy(200);
    let good = Nginx::start(&blue_site());
    let bad = Nginx::start(&blue_with("return 200 \"shop front\\n\";", "return 500;"));
    let list = fixtures().join("list.csv").display().to_string();
    let (out, posted) = lambda(vec![ecs_event()], &legacy_env(&good, &list, &cd));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(posted.len(), 1);
    assert!(posted[0].path.ends_with("/invocation/req-0/response"));
    assert_eq!(posted[0].json()["hookStatus"], "SUCCEEDED");

    let (out, posted) = lambda(vec![ecs_event()], &legacy_env(&bad, &list, &cd));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(posted[0].json()["hookStatus"], "FAILED");
    assert!(cd.take().is_empty(), "an ECS hook does not call CodeDeploy");
}

#[test]
fn lambda_fails_closed_on_any_error() {
    let cd = codedeploy(200);
    let green = Nginx::start(&blue_site());
    let good_list = fixtures().join("list.csv").display().to_string();

    // A list that does not exist: CodeDeploy hears Failed, ECS gets FAILED, exit 2.
    let env = legacy_env(&green, "/nonexistent/list.csv", &cd);
    let (out, posted) = lambda(vec![codedeploy_event(), ecs_event()], &env);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_eq!(codedeploy_status(&cd), "Failed");
    assert_eq!(posted.len(), 2);
    assert_eq!(posted[0].json()["status"], "Failed");
    assert_eq!(posted[1].json()["hookStatus"], "FAILED");

    // A list in S3 (BUCKET set) that cannot be read (nothing listens at the S3 endpoint):
    // Failed, not a pass. (tests/tester_s3.rs reads one that can.)
    let mut env = legacy_env(&green, "lists/acceptance_url_list.csv", &cd);
    env.push(("BUCKET", "my-bucket".into()));
    env.push((
        "AWS_ENDPOINT_URL_S3",
        format!("http://127.0.0.1:{}", support::free_port()),
    ));
    let (out, posted) = lambda(vec![ecs_event()], &env);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_eq!(posted[0].json()["hookStatus"], "FAILED");
    assert!(
        posted[0].json()["hookDetails"]["greenlight"]
            .as_str()
            .unwrap()
            .contains("s3://my-bucket/lists/acceptance_url_list.csv")
    );

    // No ENDPOINT at all, and a threshold that is not a number.
    let env = vec![
        ("FILEPATH", good_list.clone()),
        ("AWS_ENDPOINT_URL_CODEDEPLOY", cd.url()),
    ];
    let (out, _) = lambda(vec![codedeploy_event()], &env);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(codedeploy_status(&cd), "Failed");
    let mut env = legacy_env(&green, &good_list, &cd);
    env[2].1 = "ninety".into();
    let (out, posted) = lambda(vec![ecs_event()], &env);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(posted[0].json()["hookStatus"], "FAILED");

    // CodeDeploy refuses the report: the invocation itself fails.
    let broken = codedeploy(500);
    let env = legacy_env(&green, &good_list, &broken);
    let (out, posted) = lambda(vec![codedeploy_event()], &env);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        posted[0].path.ends_with("/invocation/req-0/error"),
        "{}",
        posted[0].path
    );

    // A plain invocation with a failing gate is an invocation error too; not JSON as well.
    let bad = Nginx::start(&blue_with("return 200 \"shop front\\n\";", "return 500;"));
    let (out, posted) = lambda(vec![json!({})], &legacy_env(&bad, &good_list, &cd));
    assert_eq!(out.status.code(), Some(1));
    assert!(posted[0].path.ends_with("/error"));
    assert!(
        posted[0].json()["errorMessage"]
            .as_str()
            .unwrap()
            .contains("FAILED")
    );

    // No Runtime API reachable at all: exit 2.
    let out = tester()
        .env(
            "AWS_LAMBDA_RUNTIME_API",
            format!("127.0.0.1:{}", support::free_port()),
        )
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}
