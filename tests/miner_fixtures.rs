//! The miner on the shipped fixtures, checked against what the generator knows it wrote
//! (`fixtures/alb.truth.json`): exactly the replayable URLs, with the right hosts, byte-exact
//! paths, hits and statuses, and every left-out line counted under the right reason.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use serde_json::Value;

fn truth() -> Value {
    let text = std::fs::read_to_string("fixtures/alb.truth.json").expect("fixtures/alb.truth.json");
    serde_json::from_str(&text).expect("truth JSON")
}

/// Runs the miner on the fixtures with a one-day window (so the list is that day's, as the
/// generator's truth has it) and a state of its own; returns the list rows and the JSON report.
fn mine(day: &str, dir: &Path, extra: &[&str]) -> (Vec<csv::StringRecord>, Value) {
    let out = dir.join(format!("list-{day}.csv"));
    let report = dir.join(format!("report-{day}.json"));
    let o = Command::new(env!("CARGO_BIN_EXE_greenlight-miner"))
        .args([
            "--logs",
            "fixtures/alb",
            "--date",
            day,
            "--window-days",
            "1",
        ])
        .arg("--state")
        .arg(dir.join("state"))
        .arg("--out")
        .arg(&out)
        .arg("--report")
        .arg(&report)
        .args(extra)
        .env("GREENLIGHT_QUIET", "1")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let mut r = csv::Reader::from_path(&out).unwrap();
    assert_eq!(
        r.headers().unwrap(),
        vec![
            "path",
            "host",
            "expected_status",
            "hits",
            "scheme",
            "statuses",
            "mean_target_ms",
            "stratum",
            "class",
            "days_seen",
            "last_seen",
            "p50_ms",
            "agent"
        ]
    );
    let rows = r.records().map(|r| r.unwrap()).collect();
    let report = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    (rows, report)
}

fn as_counts(v: &Value) -> BTreeMap<String, u64> {
    v.as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_u64().unwrap()))
        .collect()
}

#[test]
fn every_fixture_day_gives_exactly_the_expected_list_and_counts() {
    let truth = truth();
    let dir = tempfile::tempdir().unwrap();
    let days = truth["days"].as_object().unwrap();
    assert_eq!(days.len(), 3);
    for (day, want) in days {
        let (rows, report) = mine(day, dir.path(), &[]);

        // Each URL carries a client's agent, sendable as a header; never a health checker's
        // (their requests are filtered out).
        let agents: Vec<&str> = rows.iter().map(|r| &r[12]).collect();
        assert!(agents.iter().filter(|a| !a.is_empty()).count() * 10 > agents.len() * 9);
        for a in &agents {
            assert!(a.bytes().all(|b| (0x20..0x7f).contains(&b)), "{a:?}");
            assert!(
                !a.contains("HealthChecker") && !a.contains("kube-probe"),
                "{a:?}"
            );
        }

        // The list: with a budget (1000) above the day's distinct URLs, exactly the expected
        // URLs, most hit first, ties by host then path.
        assert!(want["list"].as_array().unwrap().len() < 1000);
        let mut expected: Vec<(String, String, String, String)> = want["list"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["path"].as_str().unwrap().to_owned(),
                    e["host"].as_str().unwrap().to_owned(),
                    e["status"].to_string(),
                    e["hits"].to_string(),
                )
            })
            .collect();
        expected.sort_by(|a, b| {
            let hits = |x: &(String, String, String, String)| x.3.parse::<u64>().unwrap();
            hits(b)
                .cmp(&hits(a))
                .then(a.1.cmp(&b.1))
                .then(a.0.cmp(&b.0))
        });
        let got: Vec<(String, String, String, String)> = rows
            .iter()
            .map(|r| {
                (
                    r[0].to_owned(),
                    r[1].to_owned(),
                    r[2].to_owned(),
                    r[3].to_owned(),
                )
            })
            .collect();
        assert_eq!(got.len(), expected.len(), "{day}: list length");
        for (g, e) in got.iter().zip(&expected) {
            assert_eq!(g, e, "{day}");
        }

        // Every left-out request under its reason; other_day aside, as the generator counts
        // whole next-day folders while the miner reads only their first hour.
        let mut filtered = as_counts(&report["requests"]["filtered"]);
        let other_day = filtered.remove("other_day").unwrap_or(0);
        assert_eq!(
            filtered,
            as_counts(&want["rejects"]),
            "{day}: filtered by reason"
        );
        assert_eq!(
            report["requests"]["kept"], want["kept_lines"],
            "{day}: kept"
        );
        assert_eq!(
            as_counts(&report["objects"]["skipped_by_key"]),
            as_counts(&want["skipped"]),
            "{day}: skipped by key"
        );

        // Everything read is accounted for, once.
        let lines = &report["lines"];
        let total = lines["total"].as_u64().unwrap();
        let parse_errors: u64 = as_counts(&lines["rejected"]).values().sum();
        let kept = report["requests"]["kept"].as_u64().unwrap();
        let rejected: u64 = filtered.values().sum();
        assert_eq!(
            kept + rejected + other_day + parse_errors,
            total,
            "{day}: every line once"
        );
        assert!(parse_errors > 0, "{day}: the fixtures hold garbage lines");
        assert!(parse_errors <= want["garbage_lines"].as_u64().unwrap());
        assert!(other_day <= want["other_day"].as_u64().unwrap());
        assert!(
            report["objects"]["read"].as_u64().unwrap() <= want["objects_read"].as_u64().unwrap()
        );
        assert_eq!(report["objects"]["failed"], 0);
        // Lines of every layout were parsed, and the layouts AWS never wrote are flagged.
        let field_counts = as_counts(&lines["field_counts"]);
        for layout in ["20", "24", "25", "27", "29", "30", "33", "34", "35"] {
            assert!(
                field_counts.contains_key(layout),
                "{day}: no {layout}-field line"
            );
        }
        let unusual: u64 = field_counts
            .iter()
            .filter(|(k, _)| {
                !["20", "24", "25", "27", "29", "30", "33", "34"].contains(&k.as_str())
            })
            .map(|(_, v)| v)
            .sum();
        assert_eq!(lines["unusual_field_counts"].as_u64().unwrap(), unusual);
        assert!(unusual > 0);
        let trailing: u64 = field_counts
            .iter()
            .filter(|(k, _)| k.as_str() > "34")
            .map(|(_, v)| v)
            .sum();
        assert!(trailing > 0);
        assert_eq!(
            lines["with_unknown_trailing_fields"].as_u64().unwrap(),
            trailing
        );
    }
}

#[test]
fn the_list_does_not_depend_on_the_thread_count() {
    let dir = tempfile::tempdir().unwrap();
    let one = dir.path().join("one");
    let two = dir.path().join("two");
    std::fs::create_dir_all(&one).unwrap();
    std::fs::create_dir_all(&two).unwrap();
    let (a, _) = mine("2026-03-01", &one, &["--threads", "1"]);
    let (b, _) = mine("2026-03-01", &two, &["--threads", "3"]);
    assert_eq!(a, b);
    // The day's tally in the state too, byte for byte.
    let tally = |d: &Path| std::fs::read(d.join("state/tally-2026-03-01.glt")).unwrap();
    assert_eq!(tally(&one), tally(&two));
}

#[test]
fn max_urls_keeps_the_head_and_the_budget() {
    let dir = tempfile::tempdir().unwrap();
    let (all, _) = mine("2026-03-02", dir.path(), &[]);
    let (some, report) = mine("2026-03-02", dir.path(), &["--max-urls", "10"]);
    assert_eq!(some.len(), 10);
    assert_eq!(report["urls"]["listed"], 10);
    assert_eq!(
        report["urls"]["distinct"].as_u64().unwrap(),
        all.len() as u64
    );
    // The head (25% of 10, rounded up: 3) is the 3 most hit URLs, listed first.
    assert_eq!(some[..3], all[..3]);
    for row in &some[..3] {
        assert_eq!(&row[8], "head");
    }
    // Every listed URL is one of the day's, with the same figures.
    for row in &some {
        assert!(
            all.iter().any(|a| (0..7).all(|i| a[i] == row[i])),
            "{row:?}"
        );
    }
    // With the whole budget for the head, the head URLs are the top 10 but for those that
    // yield their slot so that more strata get one URL each (the report counts them).
    let (top, report) = mine(
        "2026-03-02",
        dir.path(),
        &[
            "--max-urls",
            "10",
            "--head-share",
            "100",
            "--rare-share",
            "0",
        ],
    );
    let yielded = report["sample"]["head_yielded"].as_u64().unwrap() as usize;
    let heads: Vec<_> = top.iter().filter(|r| &r[8] == "head").collect();
    assert_eq!(heads.len() + yielded, 10);
    for h in &heads {
        assert!(all[..10].contains(h), "{h:?}");
    }
    assert!(top.iter().all(|r| &r[8] == "head" || &r[8] == "cover"));
}
