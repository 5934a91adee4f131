//! Storage faults, for real: the miner reads its logs from moto AND writes its state, list and
//! report to moto through the fault-injecting proxy (`tests/fault_proxy`), which throttles
//! (`503 SlowDown`), fails (`500 InternalError`), resets connections mid-body, truncates
//! bodies and slows answers on a deterministic schedule.
//!
//! - Transient faults: the run succeeds, and its list and every state object are
//!   byte-identical to a clean run's (same logs, no proxy), with the same report figures
//!   (every object and line counted exactly once; broken bodies are resumed with `Range`).
//! - Faults that do not stop (always 503, always reset, no answer at all): the run fails with
//!   its exit code and a message naming the bucket and key, the previous list is still there
//!   unchanged, and no state is written for the failed day.

mod fault_proxy;
mod moto;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;
use std::time::Duration;

use fault_proxy::{Fault, FaultProxy, Request};
use moto::{Moto, moto};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/alb")
}

/// The miner over `s3://logs` for `days` (`--date D` or `--from D1 --to D2`), with its state,
/// list and report under `s3://out/prefix`, through `endpoint`.
fn miner(
    m: &Moto,
    endpoint: &str,
    logs: &str,
    out: &str,
    prefix: &str,
    days: &[&str],
    env: &[(&str, &str)],
) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_greenlight-miner"));
    m.miner_env(&mut cmd);
    cmd.args(["--logs", &format!("s3://{logs}")])
        .args(days)
        .args(["--state", &format!("s3://{out}/{prefix}state")])
        .args(["--out", &format!("s3://{out}/{prefix}list.csv")])
        .args(["--report", &format!("s3://{out}/{prefix}report.json")])
        .args(["--s3-endpoint", endpoint])
        // Short waits: the schedule, not the clock, decides how many attempts fail.
        .env("GREENLIGHT_S3_BACKOFF_MS", "10")
        .env("GREENLIGHT_LOG", "warn");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run greenlight-miner")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The state objects under `prefix`, by name, with their bytes.
fn state_objects(m: &Moto, bucket: &str, prefix: &str) -> Vec<(String, Vec<u8>)> {
    let client = greenlight::s3::S3Config {
        endpoint: Some(m.endpoint.clone()),
    }
    .client();
    client
        .list(bucket, prefix)
        .expect("list the state")
        .into_iter()
        .map(|o| {
            let bytes = m.get(bucket, &o.key).expect("state object");
            (o.key[prefix.len()..].to_owned(), bytes)
        })
        .collect()
}

fn figures(json: &[u8]) -> Vec<serde_json::Value> {
    let mut v: serde_json::Value = serde_json::from_slice(json).expect("report is JSON");
    // Where the state is differs between the two runs, by design.
    v["history"]["state"] = serde_json::Value::Null;
    ["objects", "bytes", "lines", "requests", "urls", "history"]
        .iter()
        .map(|k| v[k].clone())
        .collect()
}

fn is_log_object(r: &Request) -> bool {
    r.is_get() && r.path().ends_with(".log.gz")
}

/// Every kind of transient fault, each request kind several times before it goes through.
fn transient(r: &Request) -> Fault {
    if r.is_list() {
        return match r.nth {
            0 => Fault::SlowDown,
            1 => Fault::TruncateBody,
            2 => Fault::ResetMidBody,
            _ => Fault::Pass,
        };
    }
    if is_log_object(r) {
        // Five throttles and a 500 in a row: more than the SDK's default 3 attempts, and over
        // all objects more retries than the SDK's default retry quota allows.
        return match r.nth {
            0..=4 => Fault::SlowDown,
            5 => Fault::InternalError,
            // The first answer breaks off mid-body, the resumed one is truncated, the next slow.
            6 => Fault::ResetMidBody,
            7 => Fault::TruncateBody,
            8 => Fault::Delay(Duration::from_millis(150)),
            _ => Fault::Pass,
        };
    }
    if r.is_get() && r.path().ends_with(".glt") {
        return match r.nth {
            0 => Fault::TruncateBody,
            1 => Fault::ResetMidBody,
            2 => Fault::SlowDown,
            _ => Fault::Pass,
        };
    }
    if r.is_put() {
        // A reset after the server stored the object (the client must PUT it again), and one
        // before it got there.
        return match r.nth {
            0 => Fault::InternalError,
            1 => Fault::ResetMidBody,
            2 => Fault::SlowDown,
            3 => Fault::ResetUnsent,
            _ => Fault::Pass,
        };
    }
    if r.global.is_multiple_of(3) {
        Fault::Delay(Duration::from_millis(50))
    } else {
        Fault::Pass
    }
}

#[test]
fn transient_faults_are_retried_and_the_outputs_match_a_clean_run() {
    let m = moto();
    let logs = m.bucket("fault-logs");
    m.upload_tree(&logs, &fixtures(), "");
    let out = m.bucket("fault-out");
    let days = ["--from", "2026-03-01", "--to", "2026-03-03"];

    let clean = miner(m, &m.endpoint, &logs, &out, "clean/", &days, &[]);
    assert!(clean.status.success(), "clean run: {}", stderr(&clean));

    let proxy = FaultProxy::start(m.port, Arc::new(transient));
    let faulty = miner(m, &proxy.endpoint(), &logs, &out, "faulty/", &days, &[]);
    assert!(
        faulty.status.success(),
        "the run under transient faults failed: {}",
        stderr(&faulty)
    );

    // Every kind of fault was met (so the run above proves something).
    for fault in [
        Fault::SlowDown,
        Fault::InternalError,
        Fault::ResetMidBody,
        Fault::ResetUnsent,
        Fault::TruncateBody,
        Fault::Delay(Duration::ZERO),
    ] {
        assert!(proxy.count(fault) > 0, "no {fault:?} injected");
    }
    let seen = proxy.seen();
    let log_gets: Vec<_> = seen.iter().filter(|s| is_log_object(&s.request)).collect();
    let objects: std::collections::BTreeSet<_> =
        log_gets.iter().map(|s| s.request.target.clone()).collect();
    assert!(objects.len() >= 20, "{} log objects", objects.len());
    for object in &objects {
        let gets: Vec<_> = log_gets
            .iter()
            .filter(|s| &s.request.target == object)
            .collect();
        // 6 refused, 1 reset mid-body, 1 truncated, then 1 slow resume that completed. Every
        // resume is conditional on the first answer's ETag; the one after the truncated body
        // starts where the scan had got to (after the reset, the bytes in flight may all
        // have been dropped by the client's kernel, so that resume may start at 0).
        // An object delivered just after midnight is read for both days (a 10th GET, whole).
        assert!(gets.len() == 9 || gets.len() == 10, "{object}: {gets:#?}");
        if let Some(again) = gets.get(9) {
            let head = again.head.to_ascii_lowercase();
            assert!(!head.contains("range:"), "{object}: {head}");
        }
        for resumed in &gets[7..9] {
            let head = resumed.head.to_ascii_lowercase();
            assert!(head.contains("if-match:"), "{object}: {head}");
        }
        let last = gets[8].head.to_ascii_lowercase();
        assert!(last.contains("range: bytes="), "{object}: {last}");
    }
    let puts = seen.iter().filter(|s| s.request.is_put()).count();
    assert!(
        puts >= 5 * 5,
        "{puts} PUTs (3 tallies, list, report; 5 each)"
    );

    assert!(
        m.get(&out, "faulty/list.csv").expect("faulty list")
            == m.get(&out, "clean/list.csv").expect("clean list"),
        "the list under faults differs from the clean run's"
    );
    let (clean_state, faulty_state) = (
        state_objects(m, &out, "clean/state/"),
        state_objects(m, &out, "faulty/state/"),
    );
    assert_eq!(clean_state.len(), 3);
    assert!(
        clean_state == faulty_state,
        "the state under faults differs from the clean run's"
    );
    assert_eq!(
        figures(&m.get(&out, "faulty/report.json").unwrap()),
        figures(&m.get(&out, "clean/report.json").unwrap()),
        "objects, lines or requests were counted differently under faults"
    );
}

/// A previous run's list and tally, so a failed run can be seen to leave them alone.
fn publish_previous(m: &Moto, out: &str, prefix: &str) -> Vec<u8> {
    let previous = b"host,path\nwww.example.com,/previous\n".to_vec();
    m.put(out, &format!("{prefix}list.csv"), previous.clone());
    previous
}

#[test]
fn faults_that_do_not_stop_fail_clearly_and_publish_nothing() {
    let m = moto();
    let logs = m.bucket("stuck-logs");
    m.upload_tree(&logs, &fixtures(), "");
    let out = m.bucket("stuck-out");
    let day = ["--date", "2026-03-02"];
    let victim = std::fs::read_dir(
        fixtures().join("AWSLogs/123456789012/elasticloadbalancing/eu-west-1/2026/03/02"),
    )
    .unwrap()
    .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
    .filter(|n| n.contains("_app.") && n.ends_with(".log.gz"))
    .min()
    .unwrap();
    let attempts = [("GREENLIGHT_S3_MAX_ATTEMPTS", "4")];

    // 1. One log object always throttled: the object fails by name, the day is not good
    //    enough (exit 4), no tally and no list are written.
    let previous = publish_previous(m, &out, "a/");
    let v = victim.clone();
    let proxy = FaultProxy::start(
        m.port,
        Arc::new(move |r: &Request| {
            if r.is_get() && r.path().ends_with(&v) {
                Fault::SlowDown
            } else {
                Fault::Pass
            }
        }),
    );
    let o = miner(m, &proxy.endpoint(), &logs, &out, "a/", &day, &attempts);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(4), "{err}");
    assert!(err.contains(&victim), "the object is not named: {err}");
    assert!(err.contains("SlowDown") || err.contains("reduce"), "{err}");
    let tries = proxy
        .seen()
        .iter()
        .filter(|s| s.request.path().ends_with(&victim))
        .count();
    assert_eq!(tries, 4, "the SDK's attempts at the throttled object");
    assert!(
        m.get(&out, "a/list.csv").unwrap() == previous,
        "the previous list was replaced"
    );
    assert!(state_objects(m, &out, "a/state/").is_empty());

    // 2. The list's PUT always reset before it reached the server: exit 1 naming the list's bucket and key; the previous
    //    list is unchanged (S3 keeps the old object until a PUT completes).
    let previous = publish_previous(m, &out, "b/");
    let proxy = FaultProxy::start(
        m.port,
        Arc::new(|r: &Request| {
            if r.is_put() && r.path().ends_with("b/list.csv") {
                Fault::ResetUnsent
            } else {
                Fault::Pass
            }
        }),
    );
    let o = miner(m, &proxy.endpoint(), &logs, &out, "b/", &day, &attempts);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains(&format!("s3://{out}/b/list.csv")), "{err}");
    let tries = proxy
        .seen()
        .iter()
        .filter(|s| s.request.is_put() && s.request.path().ends_with("b/list.csv"))
        .count();
    assert_eq!(tries, 4, "the SDK's attempts at the list's PUT");
    assert!(
        m.get(&out, "b/list.csv").unwrap() == previous,
        "the previous list was replaced"
    );
    let report: serde_json::Value =
        serde_json::from_slice(&m.get(&out, "b/report.json").expect("the report")).unwrap();
    assert_eq!(report["outcome"], "failed", "{report}");

    // 3. The listing always throttled: exit 2 naming the log bucket; nothing written.
    let previous = publish_previous(m, &out, "c/");
    let l = logs.clone();
    let proxy = FaultProxy::start(
        m.port,
        Arc::new(move |r: &Request| {
            if r.is_list() && r.path().trim_matches('/') == l {
                Fault::SlowDown
            } else {
                Fault::Pass
            }
        }),
    );
    let o = miner(m, &proxy.endpoint(), &logs, &out, "c/", &day, &attempts);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains(&format!("s3://{logs}")), "{err}");
    assert!(
        m.get(&out, "c/list.csv").unwrap() == previous,
        "the previous list was replaced"
    );
    assert!(state_objects(m, &out, "c/state/").is_empty());

    // 4. The tally's PUT never answered: the read timeout ends each attempt, so the job
    //    cannot hang; exit 1 naming the state; the list is not published.
    let previous = publish_previous(m, &out, "d/");
    let proxy = FaultProxy::start(
        m.port,
        Arc::new(|r: &Request| {
            if r.is_put() && r.path().contains("/d/state/") {
                Fault::Stall
            } else {
                Fault::Pass
            }
        }),
    );
    let o = miner(
        m,
        &proxy.endpoint(),
        &logs,
        &out,
        "d/",
        &day,
        &[
            ("GREENLIGHT_S3_MAX_ATTEMPTS", "2"),
            ("GREENLIGHT_S3_READ_TIMEOUT_MS", "1000"),
        ],
    );
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!("s3://{out}/d/state/tally-2026-03-02.glt")),
        "{err}"
    );
    assert!(
        m.get(&out, "d/list.csv").unwrap() == previous,
        "the previous list was replaced"
    );
    assert!(state_objects(m, &out, "d/state/").is_empty());
}
