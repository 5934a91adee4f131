//! The tester reads its list from S3 (a real S3-compatible server on loopback, moto): by flag,
//! and in the Lambda from the original function's `BUCKET` + `FILEPATH`.

#[path = "tester_support/mod.rs"]
mod support;

mod moto;

use std::process::Command;

use serde_json::json;
use support::{Nginx, aws_test_env, blue_site, fixtures, runtime_api, tester_bin};

fn tester(m: &moto::Moto) -> Command {
    let mut c = Command::new(tester_bin());
    moto::no_aws_env(&mut c);
    for k in [
        "GREENLIGHT_LIST",
        "ENDPOINT",
        "BUCKET",
        "FILEPATH",
        "ACCEPTANCE_THRESHOLD",
    ] {
        c.env_remove(k);
    }
    c.envs(aws_test_env())
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ENDPOINT_URL_S3", &m.endpoint);
    c
}

#[test]
fn the_list_comes_from_s3_by_flag() {
    let m = moto::moto();
    let bucket = m.bucket("tester-list");
    let list = std::fs::read(fixtures().join("list.csv")).unwrap();
    m.put(&bucket, "lists/acceptance_url_list.csv", list);
    let green = Nginx::start(&blue_site());
    let out = tester(m)
        .args([
            "--list",
            &format!("s3://{bucket}/lists/acceptance_url_list.csv"),
        ])
        .args(["--endpoint", &green.endpoint()])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");

    // A key that is not there: could not run (2), naming the object.
    let out = tester(m)
        .args(["--list", &format!("s3://{bucket}/lists/missing.csv")])
        .args(["--endpoint", &green.endpoint()])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!("s3://{bucket}/lists/missing.csv")),
        "{err}"
    );
}

#[test]
fn the_lambda_reads_bucket_and_filepath() {
    let m = moto::moto();
    let bucket = m.bucket("tester-lambda");
    let list = std::fs::read(fixtures().join("list.csv")).unwrap();
    m.put(&bucket, "acceptance_url_list.csv", list);
    let green = Nginx::start(&blue_site());
    let api = runtime_api(vec![json!({
        "executionDetails": {"serviceArn": "arn:aws:ecs:eu-west-1:123456789012:service/c/s"},
        "executionId": "x-1",
        "lifecycleStage": "POST_TEST_TRAFFIC_SHIFT"
    })]);
    let out = tester(m)
        .env("AWS_LAMBDA_RUNTIME_API", api.addr.to_string())
        .env("ENDPOINT", green.endpoint())
        .env("BUCKET", &bucket)
        .env("FILEPATH", "/acceptance_url_list.csv")
        .env("ACCEPTANCE_THRESHOLD", "95")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let posted = api.take();
    let answer = posted
        .iter()
        .find(|r| r.path.ends_with("/response"))
        .unwrap_or_else(|| panic!("no response posted: {err}"));
    assert_eq!(answer.json()["hookStatus"], "SUCCEEDED", "{err}");
}
