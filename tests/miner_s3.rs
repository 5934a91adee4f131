//! The miner against a real S3-compatible server (moto, see `tests/moto/mod.rs`): the fixture
//! tree in a bucket gives byte-identical lists and the same report figures as the local folder;
//! listing across pages; narrowing by account/region/load balancer; the list and report round
//! trip through S3, a failed run leaving the previous S3 list untouched; a missing bucket,
//! missing, refused credentials and access denied (moto with IAM auth on) as one-line errors
//! with exit code 2; endpoints from the environment; an object
//! deleted between listing and reading reported with its key.

mod common;
mod moto;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use chrono::NaiveDate;
use common::{Line, gzip};
use greenlight::mine::run::{MinerConfig, Progress, run};
use greenlight::output::Destination;
use greenlight::s3::S3Config;
use greenlight::source::{LogObject, LogSource};
use moto::{Moto, moto};

const ACCT: &str = "123456789012";
const REGION: &str = "eu-west-1";

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/alb")
}

fn miner_cmd(m: &Moto, logs: &str, out: &str, date: &str, extra: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_greenlight-miner"));
    m.miner_env(&mut cmd);
    cmd.args([
        "--logs",
        logs,
        "--out",
        out,
        "--date",
        date,
        "--s3-endpoint",
    ])
    .arg(&m.endpoint)
    .args(extra);
    cmd
}

fn run_cmd(mut cmd: Command) -> Output {
    cmd.output().expect("run greenlight-miner")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn local_run(date: &str, out: &Path, report: &Path, state: &Path) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_greenlight-miner"));
    moto::no_aws_env(&mut cmd);
    cmd.arg("--logs")
        .arg(fixtures())
        .arg("--out")
        .arg(out)
        .arg("--report")
        .arg(report)
        .arg("--state")
        .arg(state)
        .args(["--date", date]);
    run_cmd(cmd)
}

/// The report without what legitimately differs between a local and an S3 run.
fn comparable_report(json: &[u8]) -> serde_json::Value {
    let mut v: serde_json::Value = serde_json::from_slice(json).expect("report is JSON");
    let obj = v.as_object_mut().expect("report is an object");
    for k in [
        "logs",
        "list",
        "elapsed_seconds",
        "uncompressed_mb_per_second",
        "lines_per_second",
    ] {
        obj.remove(k);
    }
    if let Some(h) = obj.get_mut("history").and_then(|h| h.as_object_mut()) {
        h.remove("state");
    }
    v
}

#[test]
fn the_fixture_tree_in_a_bucket_gives_the_same_list_state_and_report_as_the_folder() {
    let m = moto();
    let tmp = tempfile::tempdir().unwrap();
    for (i, (prefix, logs_suffix)) in [("", ""), ("elb/logs/", "/elb/logs")]
        .into_iter()
        .enumerate()
    {
        // (`replace("")` below is a no-op for the empty prefix.)
        let bucket = m.bucket("fixtures");
        let files = m.upload_tree(&bucket, &fixtures(), prefix);
        assert!(files > 30, "{files} fixture files");
        // Nightly runs over the three days, each keeping its state: locally in a folder, and in
        // the bucket under `state/`.
        let local_state = tmp.path().join(format!("state-{i}"));
        for date in ["2026-03-01", "2026-03-02", "2026-03-03"] {
            let local_out = tmp.path().join(format!("local-{date}.csv"));
            let local_report = tmp.path().join(format!("local-{date}.json"));
            let o = local_run(date, &local_out, &local_report, &local_state);
            assert!(o.status.success(), "local run {date}: {}", stderr(&o));

            let out_key = format!("out/{date}/acceptance_url_list.csv");
            let report_key = format!("out/{date}/report.json");
            let state = format!("s3://{bucket}/state");
            let o = run_cmd(miner_cmd(
                m,
                &format!("s3://{bucket}{logs_suffix}"),
                &format!("s3://{bucket}/{out_key}"),
                date,
                &[
                    "--report",
                    &format!("s3://{bucket}/{report_key}"),
                    "--state",
                    &state,
                ],
            ));
            assert!(o.status.success(), "S3 run {date}: {}", stderr(&o));

            // The state: the same day files, byte for byte.
            let mut local_files: Vec<_> = std::fs::read_dir(&local_state)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            local_files.sort();
            assert!(!local_files.is_empty());
            for name in &local_files {
                let s3_bytes = m
                    .get(&bucket, &format!("state/{name}"))
                    .unwrap_or_else(|| panic!("{date}: state/{name} not in the bucket"));
                assert!(
                    s3_bytes == std::fs::read(local_state.join(name)).unwrap(),
                    "{date}: state file {name} differs between S3 and the folder"
                );
            }
            let client = greenlight::s3::S3Config {
                endpoint: Some(m.endpoint.clone()),
            }
            .client();
            let s3_files: Vec<String> = client
                .list(&bucket, "state/")
                .expect("list state")
                .into_iter()
                .map(|o| o.key.trim_start_matches("state/").to_owned())
                .collect();
            assert_eq!(s3_files, local_files, "{date}: the same state objects");

            let s3_list = m.get(&bucket, &out_key).expect("list uploaded");
            let local_list = std::fs::read(&local_out).unwrap();
            assert!(!local_list.is_empty());
            assert!(
                s3_list == local_list,
                "{date} (prefix {prefix:?}): the list from S3 differs from the local list"
            );
            let s3_report = m.get(&bucket, &report_key).expect("report uploaded");
            let local_report = std::fs::read(&local_report).unwrap();
            let (s3_report, local_report) = (
                comparable_report(&s3_report),
                comparable_report(&local_report),
            );
            // Keys and folders in the bucket carry the prefix; nothing else may differ.
            let s3_report: serde_json::Value =
                serde_json::from_str(&s3_report.to_string().replace(prefix, "")).unwrap();
            assert_eq!(
                s3_report, local_report,
                "{date} (prefix {prefix:?}): reports differ"
            );
        }
    }
}

/// An access-log object name.
fn object_name(acct: &str, region: &str, lb: &str, stamp: &str, node: &str, rand: &str) -> String {
    format!(
        "{acct}_elasticloadbalancing_{region}_app.{lb}.50dc6c495c0c9188_{stamp}_{node}_{rand}.log.gz"
    )
}

/// One small access-log object in the folder of 2026-03-02 with `lines` good lines.
fn small_object(i: usize, lb: &str) -> (String, Vec<u8>) {
    let name = object_name(
        ACCT,
        REGION,
        lb,
        "20260302T1200Z",
        &format!("10.0.{}.{}", i / 250, i % 250),
        &format!("r{i}"),
    );
    let key = format!("AWSLogs/{ACCT}/elasticloadbalancing/{REGION}/2026/03/02/{name}");
    let line = Line::base()
        .get(&format!("https://www.example.com:443/page/{}", i % 13))
        .text();
    (key, gzip(format!("{line}\n").as_bytes()))
}

#[test]
fn a_day_folder_of_more_than_a_thousand_objects_is_listed_across_pages() {
    let m = moto();
    let bucket = m.bucket("pages");
    const N: usize = 1205;
    for i in 0..N {
        let (key, body) = small_object(i, "my-alb");
        m.put(&bucket, &key, body);
    }
    // Objects to skip in the same folder, and a sub-folder.
    let folder = format!("AWSLogs/{ACCT}/elasticloadbalancing/{REGION}/2026/03/02/");
    m.put(
        &bucket,
        &format!("{folder}ELBAccessLogTestFile"),
        b"x".to_vec(),
    );
    m.put(
        &bucket,
        &format!(
            "{folder}nested/{}",
            small_object(0, "my-alb").0.rsplit('/').next().unwrap()
        ),
        b"x".to_vec(),
    );

    let tmp = tempfile::tempdir().unwrap();
    let report = tmp.path().join("report.json");
    let out = tmp.path().join("list.csv");
    let o = run_cmd(miner_cmd(
        m,
        &format!("s3://{bucket}"),
        out.to_str().unwrap(),
        "2026-03-02",
        &["--report", report.to_str().unwrap()],
    ));
    assert!(o.status.success(), "{}", stderr(&o));
    let r: serde_json::Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    assert_eq!(r["objects"]["read"], N as u64, "{r:#}");
    assert_eq!(r["objects"]["skipped_by_key"]["test_file"], 1);
    assert_eq!(
        r["objects"]["skipped_by_key"]["not_alb_log"], 1,
        "the sub-folder"
    );
    assert_eq!(r["requests"]["kept"], N as u64);
    let list = std::fs::read_to_string(&out).unwrap();
    assert_eq!(list.lines().count(), 1 + 13, "{list}");
}

#[test]
fn account_region_and_load_balancer_narrow_the_listing() {
    let m = moto();
    let bucket = m.bucket("scope");
    for i in 0..4 {
        let (key, body) = small_object(i, if i % 2 == 0 { "alb-a" } else { "alb-b" });
        m.put(&bucket, &key, body);
    }
    let tmp = tempfile::tempdir().unwrap();
    let report = tmp.path().join("report.json");
    let out = tmp.path().join("list.csv");
    let mine = |extra: &[&str]| {
        let mut args = vec!["--report", report.to_str().unwrap()];
        args.extend_from_slice(extra);
        run_cmd(miner_cmd(
            m,
            &format!("s3://{bucket}"),
            out.to_str().unwrap(),
            "2026-03-02",
            &args,
        ))
    };
    let read = || -> u64 {
        let r: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
        r["objects"]["read"].as_u64().unwrap()
    };
    let o = mine(&[
        "--load-balancer",
        "alb-a",
        "--account",
        ACCT,
        "--region",
        REGION,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(read(), 2);
    let o = mine(&["--account", "999999999999"]);
    assert_eq!(o.status.code(), Some(2), "no tree in scope: {}", stderr(&o));
    let o = mine(&["--load-balancer", "alb-c"]);
    assert_eq!(o.status.code(), Some(3), "no objects: {}", stderr(&o));
}

#[test]
fn a_failed_run_leaves_the_previous_s3_list_and_still_writes_the_report() {
    let m = moto();
    let bucket = m.bucket("roundtrip");
    m.upload_tree(&bucket, &fixtures(), "");
    let list_url = format!("s3://{bucket}/published/acceptance_url_list.csv");
    let report_url = format!("s3://{bucket}/published/report.json");
    m.put(
        &bucket,
        "published/acceptance_url_list.csv",
        b"path,host,expected_status,hits\n/previous,www.example.com,200,9\n".to_vec(),
    );

    // No objects for this day: exit 3, list untouched, report written with the failure.
    let o = run_cmd(miner_cmd(
        m,
        &format!("s3://{bucket}"),
        &list_url,
        "2026-02-01",
        &["--report", &report_url],
    ));
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let list = m.get(&bucket, "published/acceptance_url_list.csv").unwrap();
    assert!(String::from_utf8_lossy(&list).contains("/previous"));
    let r: serde_json::Value =
        serde_json::from_slice(&m.get(&bucket, "published/report.json").unwrap()).unwrap();
    assert_eq!(r["outcome"], "failed");
    assert_eq!(r["exit_code"], 3);

    // Too many corrupt objects: exit 4, list untouched.
    m.put(
        &bucket,
        &format!(
            "AWSLogs/{ACCT}/elasticloadbalancing/{REGION}/2026/03/02/{}",
            object_name(
                ACCT,
                REGION,
                "my-alb",
                "20260302T1210Z",
                "10.9.9.9",
                "corrupt"
            )
        ),
        b"\x1f\x8b\x08\x00garbage".to_vec(),
    );
    let o = run_cmd(miner_cmd(
        m,
        &format!("s3://{bucket}"),
        &list_url,
        "2026-03-02",
        &["--report", &report_url],
    ));
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    let list = m.get(&bucket, "published/acceptance_url_list.csv").unwrap();
    assert!(String::from_utf8_lossy(&list).contains("/previous"));

    // A good run replaces it.
    let o = run_cmd(miner_cmd(
        m,
        &format!("s3://{bucket}"),
        &list_url,
        "2026-03-02",
        &["--max-error-rate", "50"],
    ));
    assert!(o.status.success(), "{}", stderr(&o));
    let list = m.get(&bucket, "published/acceptance_url_list.csv").unwrap();
    assert!(!String::from_utf8_lossy(&list).contains("/previous"));
    assert!(list.starts_with(b"path,host,"));
}

#[test]
fn a_missing_bucket_is_one_line_naming_it_and_exit_2() {
    let m = moto();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("list.csv");
    std::fs::write(&out, "previous\n").unwrap();
    let o = run_cmd(miner_cmd(
        m,
        "s3://no-such-bucket-here/logs",
        out.to_str().unwrap(),
        "2026-03-02",
        &[],
    ));
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("s3://no-such-bucket-here: no such bucket"),
        "{}",
        stderr(&o)
    );
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "previous\n");

    // As a destination: logs are fine, the output bucket is missing.
    let bucket = m.bucket("dest");
    m.upload_tree(&bucket, &fixtures(), "");
    let o = run_cmd(miner_cmd(
        m,
        &format!("s3://{bucket}"),
        "s3://no-such-out-bucket/list.csv",
        "2026-03-02",
        &[],
    ));
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("s3://no-such-out-bucket: no such bucket"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn missing_credentials_are_one_line_and_exit_2() {
    let m = moto();
    let bucket = m.bucket("nocreds");
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("list.csv");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_greenlight-miner"));
    // No keys, no profile files, no container credentials, IMDS off: the chain finds nothing.
    moto::no_aws_env(&mut cmd);
    cmd.env("AWS_REGION", "us-east-1")
        .args([
            "--logs",
            &format!("s3://{bucket}/x"),
            "--date",
            "2026-03-02",
            "--s3-endpoint",
            &m.endpoint,
        ])
        .arg("--out")
        .arg(&out);
    let o = run_cmd(cmd);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains(&format!("s3://{bucket}/x")) && err.contains("no AWS credentials found"),
        "{err}"
    );
    assert!(!out.exists());
}

/// Creates, on a server with IAM auth on after 3 actions, a user without any policy and a
/// bucket; returns the user's access key and secret (boto3 from the moto venv).
fn user_without_permissions(strict: &Moto) -> (String, String) {
    const SETUP: &str = r#"
import sys, boto3
ep = "http://127.0.0.1:" + sys.argv[1]
iam = boto3.client("iam", endpoint_url=ep, region_name="us-east-1")
iam.create_user(UserName="reader")
k = iam.create_access_key(UserName="reader")["AccessKey"]
boto3.client("s3", endpoint_url=ep, region_name="us-east-1").create_bucket(Bucket="denied")
print(k["AccessKeyId"], k["SecretAccessKey"])
"#;
    let mut cmd = Command::new(moto::venv_python());
    moto::no_aws_env(&mut cmd);
    cmd.env("AWS_ACCESS_KEY_ID", "setup")
        .env("AWS_SECRET_ACCESS_KEY", "setup")
        .args(["-c", SETUP, &strict.port.to_string()]);
    let o = run_cmd(cmd);
    assert!(o.status.success(), "IAM setup: {}", stderr(&o));
    let text = String::from_utf8(o.stdout).unwrap();
    let mut parts = text.split_whitespace();
    (
        parts.next().unwrap().to_owned(),
        parts.next().unwrap().to_owned(),
    )
}

#[test]
fn refused_credentials_and_access_denied_are_one_line_and_exit_2() {
    moto(); // sets up this process's environment first
    // A second server with its IAM auth switched on after the 3 setup actions.
    let strict = moto::start(&[("INITIAL_NO_AUTH_ACTION_COUNT", "3")]);
    let (key_id, secret) = user_without_permissions(&strict);
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("list.csv");
    let mine = |key_id: &str, secret: &str| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_greenlight-miner"));
        moto::no_aws_env(&mut cmd);
        cmd.env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", key_id)
            .env("AWS_SECRET_ACCESS_KEY", secret)
            .args(["--logs", "s3://denied", "--date", "2026-03-02"])
            .args(["--s3-endpoint", &strict.endpoint])
            .arg("--out")
            .arg(&out);
        run_cmd(cmd)
    };

    // An access key the server does not know.
    let o = mine("AKIAUNKNOWNKEY000000", "wrong");
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("s3://denied/: credentials refused (InvalidAccessKeyId)"),
        "{err}"
    );

    // A known user whom no policy allows s3:ListBucket.
    let o = mine(&key_id, &secret);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("s3://denied/: access denied"), "{err}");
    assert!(!out.exists());
}

/// Deletes one object after the listing, before the scan opens it.
struct DeleteOnStart<'a> {
    moto: &'a Moto,
    bucket: String,
    key: String,
}

impl Progress for DeleteOnStart<'_> {
    fn start(&self, objects: &[LogObject]) {
        assert!(objects.iter().any(|o| o.key == self.key));
        self.moto.delete(&self.bucket, &self.key);
    }
}

#[test]
fn an_object_deleted_between_list_and_get_fails_with_its_key_and_the_run_goes_on() {
    let m = moto();
    let bucket = m.bucket("vanish");
    m.upload_tree(&bucket, &fixtures(), "");
    let s3 = S3Config {
        endpoint: Some(m.endpoint.clone()),
    };
    let day = NaiveDate::from_ymd_opt(2026, 3, 2).unwrap();
    let mut logs = LogSource::parse(&format!("s3://{bucket}")).unwrap();
    logs.set_s3_config(&s3);
    let listing = logs.list_day(day).unwrap();
    let victim = listing.objects[1].key.clone();
    let n = listing.objects.len();

    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("list.csv");
    let mut cfg = MinerConfig::new(logs, day);
    cfg.out = Destination::File(out.clone());
    // 1 of n objects failing is within a 100/n+ % error rate: the run goes on and succeeds.
    cfg.max_error_rate = 1.0 / (n as f64 - 1.0);
    let (report, result) = run(
        &cfg,
        &DeleteOnStart {
            moto: m,
            bucket: bucket.clone(),
            key: victim.clone(),
        },
    );
    result.expect("one vanished object is within the error rate");
    let json = serde_json::to_value(&report).unwrap();
    let failures = json["objects"]["failures"].as_array().unwrap();
    assert_eq!(failures.len(), 1, "{json:#}");
    assert_eq!(failures[0]["key"], victim.as_str());
    let msg = failures[0]["error"].as_str().unwrap();
    assert!(
        msg.contains(&format!("s3://{bucket}/{victim}: no such key")),
        "{msg}"
    );
    assert_eq!(json["objects"]["read"], n as u64);
    assert!(out.exists());

    // Under the default 1% rule the same loss fails the run, and the list is left alone.
    m.upload_tree(&bucket, &fixtures(), "");
    std::fs::write(&out, "previous\n").unwrap();
    cfg.max_error_rate = 0.01;
    let (_, result) = run(
        &cfg,
        &DeleteOnStart {
            moto: m,
            bucket: bucket.clone(),
            key: victim,
        },
    );
    let err = result.expect_err("1 of n objects is more than 1%");
    assert_eq!(err.exit_code(), 4);
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "previous\n");
}

#[test]
fn the_endpoint_can_come_from_aws_endpoint_url_s3_or_aws_endpoint_url() {
    let m = moto();
    let bucket = m.bucket("envendpoint");
    m.upload_tree(&bucket, &fixtures(), "");
    let tmp = tempfile::tempdir().unwrap();
    for var in ["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"] {
        let out = tmp.path().join(format!("{var}.csv"));
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_greenlight-miner"));
        m.miner_env(&mut cmd);
        cmd.env(var, &m.endpoint)
            .args(["--logs", &format!("s3://{bucket}"), "--date", "2026-03-02"])
            .arg("--out")
            .arg(&out);
        let o = run_cmd(cmd);
        assert!(o.status.success(), "{var}: {}", stderr(&o));
        assert!(std::fs::read(&out).unwrap().starts_with(b"path,host,"));
    }
}
