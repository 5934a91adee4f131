//! Sharded mining (`--shard I/N`, or `AWS_BATCH_JOB_ARRAY_INDEX` with the array size) plus
//! `merge` equals one run, byte for byte: on the fixture days, nightly, with N = 1, 3 and 8,
//! the list, the day tallies in the state and the report's figures are those of whole runs;
//! once with the state in S3 (moto). A merge with a shard missing fails with exit 5, names the
//! missing shard, publishes nothing and keeps the partials; shards that listed different
//! objects do not merge.

mod moto;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use moto::{Moto, moto};
use serde_json::Value;

const DAYS: [&str; 3] = ["2026-03-01", "2026-03-02", "2026-03-03"];

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/alb")
}

/// A miner process on the fixtures for `day`, writing `out`/`report`, with `state`.
fn miner(day: &str, state: &str, out: &Path, m: Option<&Moto>) -> Command {
    miner_on(&fixtures(), day, state, out, m)
}

/// The same on the logs in `logs`.
fn miner_on(logs: &Path, day: &str, state: &str, out: &Path, m: Option<&Moto>) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_greenlight-miner"));
    match m {
        Some(m) => {
            m.miner_env(&mut cmd);
            cmd.arg("--s3-endpoint").arg(&m.endpoint);
        }
        None => moto::no_aws_env(&mut cmd),
    }
    cmd.env("GREENLIGHT_QUIET", "1")
        .arg("--logs")
        .arg(logs)
        .args(["--date", day, "--state", state])
        .arg("--out")
        .arg(out)
        .arg("--report")
        .arg(out.with_extension("json"));
    cmd
}

fn run(mut cmd: Command) -> Output {
    cmd.output().expect("run greenlight-miner")
}

fn ok(o: &Output, what: &str) {
    assert!(
        o.status.success(),
        "{what}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// The report without what differs between any two runs (timings, paths).
fn figures(report: &Path) -> Value {
    let mut v: Value = serde_json::from_slice(&std::fs::read(report).unwrap()).unwrap();
    let obj = v.as_object_mut().unwrap();
    for k in [
        "list",
        "elapsed_seconds",
        "uncompressed_mb_per_second",
        "lines_per_second",
    ] {
        obj.remove(k);
    }
    let history = obj["history"].as_object_mut().unwrap();
    history.remove("state");
    // How the run read its window, not what it found: a merge reads the day from its file
    // (and keeps a copy for the second read), one run has it in memory already.
    history.remove("second_read_from_copy");
    v
}

/// The files of a local state folder (day tallies and partials), by relative path.
fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
                files.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    files
}

/// Nightly whole runs over the fixture days into `dir/whole-state`; returns, per day, the
/// list, the report figures and the state files after that day.
#[allow(clippy::type_complexity)]
fn whole_runs(dir: &Path) -> Vec<(Vec<u8>, Value, BTreeMap<String, Vec<u8>>)> {
    let state = dir.join("whole-state");
    DAYS.iter()
        .map(|day| {
            let out = dir.join(format!("whole-{day}.csv"));
            ok(
                &run(miner(day, state.to_str().unwrap(), &out, None)),
                "whole run",
            );
            (
                std::fs::read(&out).unwrap(),
                figures(&out.with_extension("json")),
                tree(&state),
            )
        })
        .collect()
}

#[test]
fn shards_and_merge_equal_one_run_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let whole = whole_runs(dir.path());
    for n in [1u32, 3, 8] {
        let state = dir.path().join(format!("state-{n}"));
        let s = state.to_str().unwrap();
        for (day, (list, report, files)) in DAYS.iter().zip(&whole) {
            let mut shard_objects = 0;
            for i in 0..n {
                let out = dir.path().join(format!("shard-{n}-{i}-{day}.csv"));
                let mut cmd = miner(day, s, &out, None);
                if n == 3 {
                    // As an AWS Batch array job: the index from Batch, the size from ours.
                    cmd.env("AWS_BATCH_JOB_ARRAY_INDEX", i.to_string())
                        .env("GREENLIGHT_SHARDS", "3");
                } else {
                    cmd.arg("--shard").arg(format!("{i}/{n}"));
                }
                ok(&run(cmd), &format!("shard {i}/{n} of {day}"));
                assert!(!out.exists(), "a shard publishes no list");
                let r = figures(&out.with_extension("json"));
                assert_eq!(r["shard"], format!("{i}/{n}"));
                shard_objects += r["objects"]["read"].as_u64().unwrap();
                let partial = state.join(format!("partial/{day}/shard-{i}-of-{n}.glt"));
                assert!(partial.is_file(), "{}", partial.display());
            }
            assert_eq!(
                shard_objects,
                report["objects"]["read"].as_u64().unwrap(),
                "{day}: the shards read every object once"
            );
            let out = dir.path().join(format!("merged-{n}-{day}.csv"));
            let mut cmd = miner(day, s, &out, None);
            if n == 8 {
                cmd.args(["merge", "--shards", "8"]);
            } else {
                cmd.arg("--merge")
                    .env("AWS_BATCH_JOB_ARRAY_SIZE", n.to_string());
            }
            ok(&run(cmd), &format!("merge of {n} shards of {day}"));
            assert!(
                std::fs::read(&out).unwrap() == *list,
                "N={n} {day}: the list differs from one run's"
            );
            assert_eq!(
                figures(&out.with_extension("json")),
                *report,
                "N={n} {day}: report"
            );
            // The day tallies, byte for byte, and no partial left.
            let got = tree(&state);
            assert_eq!(
                got.keys().collect::<Vec<_>>(),
                files.keys().collect::<Vec<_>>(),
                "N={n} {day}: state files"
            );
            for (name, bytes) in files {
                assert!(got[name] == *bytes, "N={n} {day}: {name} differs");
            }
        }
    }
}

#[test]
fn a_missing_shard_fails_the_merge_naming_it_and_keeps_the_partials() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let s = state.to_str().unwrap();
    let day = DAYS[0];
    for i in [0, 2] {
        let out = dir.path().join(format!("shard-{i}.csv"));
        let mut cmd = miner(day, s, &out, None);
        cmd.args(["--shard", &format!("{i}/4")]);
        ok(&run(cmd), "shard");
    }
    let out = dir.path().join("list.csv");
    std::fs::write(&out, "previous list\n").unwrap();
    let mut cmd = miner(day, s, &out, None);
    cmd.args(["merge", "--shards", "4"]);
    let o = run(cmd);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(5), "{err}");
    assert!(
        err.contains("2 of 4 partial tallies missing") && err.contains("shards 1, 3"),
        "{err}"
    );
    assert_eq!(std::fs::read(&out).unwrap(), b"previous list\n");
    let r = figures(&out.with_extension("json"));
    assert_eq!(r["exit_code"], 5);
    let files: Vec<String> = tree(&state).into_keys().collect();
    assert_eq!(
        files,
        [
            format!("partial/{day}/shard-0-of-4.glt"),
            format!("partial/{day}/shard-2-of-4.glt")
        ],
        "no day tally written, the partials kept"
    );
}

#[test]
fn shards_that_listed_different_objects_do_not_merge() {
    let dir = tempfile::tempdir().unwrap();
    // A copy of the fixtures, so an object can arrive between the two shards' runs.
    let logs = dir.path().join("logs");
    let copy = Command::new("cp")
        .arg("-r")
        .arg(fixtures())
        .arg(&logs)
        .status()
        .unwrap();
    assert!(copy.success());
    let state = dir.path().join("state");
    let day = DAYS[0];
    let shard = |i: u32| {
        let out = dir.path().join(format!("shard-{i}.csv"));
        let mut cmd = miner_on(&logs, day, state.to_str().unwrap(), &out, None);
        cmd.args(["--shard", &format!("{i}/2")]);
        ok(&run(cmd), "shard");
    };
    shard(0);
    let folder = logs.join("AWSLogs/123456789012/elasticloadbalancing/eu-west-1/2026/03/01");
    let late = std::fs::read_dir(&folder)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().contains("T0005Z_10.1.0.97"))
        .unwrap();
    std::fs::copy(
        &late,
        folder.join(
            late.file_name()
                .unwrap()
                .to_string_lossy()
                .replace("T0005Z", "T0010Z"),
        ),
    )
    .unwrap();
    shard(1);
    let out = dir.path().join("list.csv");
    let mut cmd = miner_on(&logs, day, state.to_str().unwrap(), &out, None);
    cmd.args(["merge", "--shards", "2"]);
    let o = run(cmd);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(5), "{err}");
    assert!(err.contains("listed different objects"), "{err}");
    assert!(!out.exists());
}

#[test]
fn shards_and_merge_with_the_state_in_s3_equal_one_run() {
    let m = moto();
    let dir = tempfile::tempdir().unwrap();
    let whole = whole_runs(dir.path());
    let bucket = m.bucket("shards");
    let state = format!("s3://{bucket}/state");
    let n = 3;
    for (day, (list, report, files)) in DAYS.iter().zip(&whole) {
        for i in 0..n {
            let out = dir.path().join(format!("shard-{i}-{day}.csv"));
            let mut cmd = miner(day, &state, &out, Some(m));
            cmd.args(["--shard", &format!("{i}/{n}")]);
            ok(&run(cmd), "shard on S3 state");
            assert!(
                m.get(
                    &bucket,
                    &format!("state/partial/{day}/shard-{i}-of-{n}.glt")
                )
                .is_some()
            );
        }
        let out = dir.path().join(format!("merged-{day}.csv"));
        let mut cmd = miner(day, &state, &out, Some(m));
        cmd.args(["merge", "--shards", &n.to_string()]);
        ok(&run(cmd), "merge on S3 state");
        assert!(std::fs::read(&out).unwrap() == *list, "{day}: list");
        assert_eq!(figures(&out.with_extension("json")), *report, "{day}");
        for (name, bytes) in files {
            let got = m
                .get(&bucket, &format!("state/{name}"))
                .unwrap_or_else(|| panic!("{day}: state/{name} not in the bucket"));
            assert!(got == *bytes, "{day}: {name} differs from one run's");
        }
        for i in 0..n {
            assert!(
                m.get(
                    &bucket,
                    &format!("state/partial/{day}/shard-{i}-of-{n}.glt")
                )
                .is_none(),
                "{day}: partial {i} deleted after the merge"
            );
        }
    }
}
