//! The queue's last object is shared out in pieces among the threads that have run out of
//! objects (`mine::scan`): the list, the day's tally and every figure of the report, parse
//! errors' line numbers included, are what one thread gives.

mod common;

use std::path::Path;
use std::process::Command;

use common::{Line, write_object};
use serde_json::Value;

/// `n` replayable lines on 2026-03-02 over `urls` URLs, with a parse error (a line of 19
/// fields) at each 1-based line number of `bad`.
fn lines(n: usize, urls: usize, tag: &str, bad: &[usize]) -> Vec<String> {
    (1..=n)
        .map(|i| {
            if bad.contains(&i) {
                Line::base().layout(19).text()
            } else {
                Line::base()
                    .get(&format!(
                        "https://www.example.com:443/{tag}/{}?q={i}",
                        i % urls
                    ))
                    .time(&format!(
                        "2026-03-02T{:02}:{:02}:{:02}.000000Z",
                        i / 3600 % 24,
                        i / 60 % 60,
                        i % 60
                    ))
                    .text()
            }
        })
        .collect()
}

fn mine(logs: &Path, dir: &Path, threads: &str) -> (String, Vec<u8>, Value) {
    let out = dir.join("list.csv");
    let report = dir.join("report.json");
    let o = Command::new(env!("CARGO_BIN_EXE_greenlight-miner"))
        .arg("--logs")
        .arg(logs)
        .args([
            "--date",
            "2026-03-02",
            "--window-days",
            "1",
            "--threads",
            threads,
        ])
        .arg("--state")
        .arg(dir.join("state"))
        .arg("--out")
        .arg(&out)
        .arg("--report")
        .arg(&report)
        .env("GREENLIGHT_QUIET", "1")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let report: Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    (
        std::fs::read_to_string(&out).unwrap(),
        std::fs::read(dir.join("state/tally-2026-03-02.glt")).unwrap(),
        report,
    )
}

#[test]
fn the_last_object_shared_out_gives_what_one_thread_gives() {
    let logs = tempfile::tempdir().unwrap();
    // Two large objects first, then the smallest, the queue's last: ~3.6 MB of lines, more
    // than two pieces of 1 MiB, with parse errors in its first, second and last pieces.
    let bad = [10, 3_000, 5_500, 8_999];
    write_object(
        logs.path(),
        "2026/03/02",
        "20260302T1005Z",
        &lines(16_000, 700, "a", &[]),
    );
    write_object(
        logs.path(),
        "2026/03/02",
        "20260302T1010Z",
        &lines(16_000, 700, "b", &[]),
    );
    let last = write_object(
        logs.path(),
        "2026/03/02",
        "20260302T1015Z",
        &lines(9_000, 300, "c", &bad),
    );
    let inflated: usize = lines(9_000, 300, "c", &bad)
        .iter()
        .map(|l| l.len() + 1)
        .sum();
    assert!(inflated > 3 << 20, "{inflated}");

    let runs: Vec<_> = ["1", "2", "3"]
        .iter()
        .map(|threads| {
            let dir = tempfile::tempdir().unwrap();
            let run = mine(logs.path(), dir.path(), threads);
            (threads, run)
        })
        .collect();
    let (_, (list, tally, report)) = &runs[0];
    let key = last.file_name().unwrap().to_str().unwrap();
    let examples: Vec<u64> = report["lines"]["rejected_examples"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["key"].as_str().unwrap().ends_with(key))
        .map(|e| e["line"].as_u64().unwrap())
        .collect();
    assert_eq!(examples, bad.map(|b| b as u64));
    assert_eq!(report["lines"]["total"], 41_000);
    for (threads, (l, t, r)) in &runs[1..] {
        assert_eq!(l, list, "list, {threads} threads");
        assert_eq!(t, tally, "day tally, {threads} threads");
        for part in ["objects", "bytes", "lines", "requests", "urls"] {
            assert_eq!(r[part], report[part], "{part}, {threads} threads");
        }
    }
}
