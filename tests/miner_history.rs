//! The retention window and the stratified sampling, end to end through the binary: a URL
//! seen once stays listed while in the window and leaves after; mining a day twice and a range
//! run leave byte-identical state and lists; every route template is covered when the budget
//! allows and the head is always in; a small budget degrades gracefully and says what it left
//! out.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use chrono::{Days, NaiveDate};
use common::{Line, write_object};
use serde_json::Value;

fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

/// Runs the miner; `args` come after `--logs`.
fn miner(logs: &Path, args: &[&str], state: &Path, out: &Path) -> (Output, Value) {
    let report = out.with_extension("json");
    let o = Command::new(env!("CARGO_BIN_EXE_greenlight-miner"))
        .arg("--logs")
        .arg(logs)
        .arg("--state")
        .arg(state)
        .arg("--out")
        .arg(out)
        .arg("--report")
        .arg(&report)
        .args(args)
        .env("GREENLIGHT_QUIET", "1")
        .output()
        .unwrap();
    let r = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    (o, r)
}

fn ok(o: &Output) {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

/// `(path, host) -> row` of a list.
fn rows(list: &Path) -> BTreeMap<(String, String), csv::StringRecord> {
    let mut r = csv::Reader::from_path(list).unwrap();
    let h = r.headers().unwrap().clone();
    let first: Vec<&str> = h.iter().take(4).collect();
    assert_eq!(first, ["path", "host", "expected_status", "hits"]);
    r.records()
        .map(|x| {
            let x = x.unwrap();
            ((x[0].to_owned(), x[1].to_owned()), x)
        })
        .collect()
}

fn col(list: &Path, name: &str) -> usize {
    let mut r = csv::Reader::from_path(list).unwrap();
    r.headers().unwrap().iter().position(|h| h == name).unwrap()
}

/// One object for `day` holding `hits` GETs of each `(host, path)`.
fn write_day(root: &Path, day: NaiveDate, urls: &[(String, String, u64)]) {
    let time = format!("{}T10:00:00.123456Z", day.format("%Y-%m-%d"));
    let mut lines = Vec::new();
    for (host, path, hits) in urls {
        for _ in 0..*hits {
            lines.push(
                Line::base()
                    .get(&format!("https://{host}:443{path}"))
                    .time(&time)
                    .set(22, &time)
                    .text(),
            );
        }
    }
    write_object(
        root,
        &day.format("%Y/%m/%d").to_string(),
        &format!("{}T1005Z", day.format("%Y%m%d")),
        &lines,
    );
}

fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect()
}

#[test]
fn a_url_seen_once_stays_while_in_the_window_and_leaves_after() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    let state = dir.path().join("state");
    let first = date("2026-03-01");
    let www = |p: &str, n| ("www.example.com".to_owned(), p.to_owned(), n);
    for d in 0..31 {
        let day = first + Days::new(d);
        // 20 sections seen every day with more hits than the once-seen URL; a budget of 8
        // cannot cover them all, so only the rare reserve keeps `/once` in.
        let mut urls: Vec<_> = (0..20).map(|k| www(&format!("/sec{k}/page"), 2)).collect();
        urls.push(www("/", 9));
        if d == 0 {
            urls.push(www("/once/old-campaign.html", 1));
        }
        write_day(&logs, day, &urls);
    }
    let once = (
        "/once/old-campaign.html".to_owned(),
        "www.example.com".to_owned(),
    );
    for d in 0..31 {
        let day = first + Days::new(d);
        let out = dir.path().join(format!("list-{day}.csv"));
        let (o, report) = miner(
            &logs,
            &["--date", &day.to_string(), "--max-urls", "8"],
            &state,
            &out,
        );
        ok(&o);
        let list = rows(&out);
        assert_eq!(list.len(), 8);
        let listed = list.get(&once);
        match d {
            // Seen on day 0, then absent: listed every day up to the last day of its 30-day
            // window (10 days later included). (On day 0 every section is as rare as it.)
            1..=29 => {
                let row = listed.unwrap_or_else(|| panic!("{day}: /once missing"));
                assert_eq!(&row[col(&out, "class")], "rare", "{day}");
                assert_eq!(&row[col(&out, "days_seen")], "1");
                assert_eq!(&row[col(&out, "last_seen")], "2026-03-01T10:00:00Z");
                assert!(
                    report["sample"]["left_out_total"].as_u64().unwrap() > 0,
                    "the budget is tight"
                );
            }
            // Day 30: the window is 03-02..=03-31, the day-0 tally has been dropped.
            30 => {
                assert!(listed.is_none(), "{day}: /once outlived the window");
                assert_eq!(
                    report["history"]["expired"],
                    serde_json::json!(["2026-03-01"])
                );
                assert!(!state.join("tally-2026-03-01.glt").exists());
                assert_eq!(report["history"]["days_used"], 30);
            }
            _ => {}
        }
    }
}

#[test]
fn the_same_day_twice_and_a_range_run_equal_nightly_runs() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    let cfg = greenlight::synth::SynthConfig {
        days: 4,
        seed: 11,
        ..Default::default()
    };
    greenlight::synth::write_tree(&logs, &cfg).unwrap();
    let days: Vec<String> = cfg
        .first_day
        .iter_days()
        .take(4)
        .map(|d| d.to_string())
        .collect();
    let flags = ["--max-urls", "40", "--window-days", "3"];

    // Nightly runs, one per day.
    let nightly = dir.path().join("nightly");
    let nightly_list = dir.path().join("nightly.csv");
    for (i, d) in days.iter().enumerate() {
        let mut args = vec!["--date", d.as_str()];
        args.extend(flags);
        let (o, report) = miner(&logs, &args, &nightly, &nightly_list);
        ok(&o);
        // The first night's window is the day just mined, in memory: nothing to copy.
        assert_eq!(report["history"]["second_read_from_copy"], i > 0, "{d}");
    }
    let state_after = files(&nightly);
    let list_after = std::fs::read(&nightly_list).unwrap();
    assert_eq!(
        state_after.keys().cloned().collect::<Vec<_>>(),
        [
            "tally-2026-03-02.glt",
            "tally-2026-03-03.glt",
            "tally-2026-03-04.glt"
        ]
    );

    // The last day again: the same bytes.
    let mut args = vec!["--date", days[3].as_str()];
    args.extend(flags);
    let (o, report) = miner(&logs, &args, &nightly, &nightly_list);
    ok(&o);
    assert_eq!(files(&nightly), state_after, "rerun changed the state");
    assert_eq!(std::fs::read(&nightly_list).unwrap(), list_after);
    assert_eq!(report["history"]["second_read_from_copy"], true);

    // And with no memory for the window between its two reads, which then reads the day
    // files twice: the same list.
    let no_copy = dir.path().join("no-copy.csv");
    args.extend(["--window-memory-mb", "0"]);
    let (o, report) = miner(&logs, &args, &nightly, &no_copy);
    ok(&o);
    assert_eq!(report["history"]["second_read_from_copy"], false);
    assert_eq!(std::fs::read(&no_copy).unwrap(), list_after);
    assert_eq!(files(&nightly), state_after);

    // A middle day again, then the last: still the same (its tally was replaced, not added).
    let mut args = vec!["--date", days[2].as_str()];
    args.extend(flags);
    ok(&miner(&logs, &args, &nightly, &dir.path().join("mid.csv")).0);
    let mut args = vec!["--date", days[3].as_str()];
    args.extend(flags);
    ok(&miner(&logs, &args, &nightly, &nightly_list).0);
    assert_eq!(files(&nightly), state_after);
    assert_eq!(std::fs::read(&nightly_list).unwrap(), list_after);

    // One range run over the same days.
    let range = dir.path().join("range");
    let range_list = dir.path().join("range.csv");
    let mut args = vec!["--from", days[0].as_str(), "--to", days[3].as_str()];
    args.extend(flags);
    let (o, report) = miner(&logs, &args, &range, &range_list);
    ok(&o);
    assert_eq!(report["history"]["mined"].as_array().unwrap().len(), 4);
    assert_eq!(
        files(&range),
        state_after,
        "range state differs from nightly"
    );
    assert_eq!(std::fs::read(&range_list).unwrap(), list_after);
    // Days are summed over the window: a popular URL was seen on all 3 days.
    let list = rows(&range_list);
    let days_seen = col(&range_list, "days_seen");
    assert!(list.values().any(|r| &r[days_seen] == "3"));
}

/// `(host, path, hits)`.
type Urls = Vec<(String, String, u64)>;

/// 5 hosts x 8 route families; returns the URLs with their hits and the expected
/// `(host, template)` strata.
fn many_routes() -> (Urls, BTreeSet<(String, String)>) {
    let mut urls = Vec::new();
    let mut templates = BTreeSet::new();
    for h in 0..5u64 {
        let host = format!("h{h}.example.com");
        let w = 5 - h;
        let mut add = |path: String, hits: u64, template: &str| {
            urls.push((host.clone(), path, hits));
            templates.insert((host.clone(), template.to_owned()));
        };
        add("/".into(), 40 * w + 7, "/");
        add("/static/app.js".into(), 30 * w + 3, "/static/app.js");
        add("/about".into(), 3 * w, "/about");
        add("/feed.xml".into(), 1, "/feed.xml");
        for i in 0..12 {
            add(
                format!("/news/{}/story-{i}-text", 2014 + i % 10),
                2,
                "/news/{year}/{slug}",
            );
            add(format!("/product/{}", 1000 + i), 1 + i % 3, "/product/{n}");
            add(format!("/u/user{i}x/profile"), 1, "/u/{var}/profile");
        }
        for i in 0..3 {
            add(
                format!("/files/123e4567-e89b-12d3-a456-42661417400{i}"),
                1,
                "/files/{uuid}",
            );
        }
    }
    (urls, templates)
}

fn mine_many(dir: &Path, max_urls: u32) -> (PathBuf, Value, String) {
    let logs = dir.join("logs");
    if !logs.exists() {
        write_day(&logs, date("2026-03-02"), &many_routes().0);
    }
    let out = dir.join(format!("list-{max_urls}.csv"));
    let (o, report) = miner(
        &logs,
        &["--date", "2026-03-02", "--max-urls", &max_urls.to_string()],
        &dir.join(format!("state-{max_urls}")),
        &out,
    );
    ok(&o);
    (out, report, String::from_utf8_lossy(&o.stderr).into_owned())
}

/// The `n` most hit URLs, ties by host then path.
fn head(urls: &[(String, String, u64)], n: usize) -> Vec<(String, String)> {
    let mut v = urls.to_vec();
    v.sort_by(|a, b| b.2.cmp(&a.2).then(a.0.cmp(&b.0)).then(a.1.cmp(&b.1)));
    v.into_iter().take(n).map(|(h, p, _)| (p, h)).collect()
}

#[test]
fn every_template_is_covered_when_the_budget_allows_and_the_head_is_in() {
    let dir = tempfile::tempdir().unwrap();
    let (urls, templates) = many_routes();
    assert_eq!(templates.len(), 40);

    // Budget = number of templates: every template, each exactly once.
    let (out, report, _) = mine_many(dir.path(), 40);
    let list = rows(&out);
    assert_eq!(list.len(), 40);
    let stratum = col(&out, "stratum");
    let covered: BTreeSet<(String, String)> = list
        .iter()
        .map(|((_, host), r)| (host.clone(), r[stratum].to_owned()))
        .collect();
    assert_eq!(
        covered, templates,
        "the learned templates are the expected ones"
    );
    assert_eq!(report["sample"]["strata_seen"], 40);
    assert_eq!(report["sample"]["strata_covered"], 40);
    assert_eq!(report["sample"]["left_out_total"], 0);
    // The most hit URL is always in, as head.
    let top = &head(&urls, 1)[0];
    assert_eq!(&list[top][col(&out, "class")], "head");

    // A budget with room to spare: the whole head (25% of 80 = 20 URLs) and every template.
    let (out, report, _) = mine_many(dir.path(), 80);
    let list = rows(&out);
    assert_eq!(list.len(), 80);
    for url in head(&urls, 20) {
        let row = list
            .get(&url)
            .unwrap_or_else(|| panic!("head URL {url:?} missing"));
        assert_eq!(&row[col(&out, "class")], "head");
    }
    assert_eq!(report["sample"]["strata_covered"], 40);
    assert_eq!(report["sample"]["head_yielded"], 0);
    // Within a stratum, variants: the remaining budget prefers other variants, so the list
    // has more than one URL of some strata.
    let per_stratum = list.values().fold(BTreeMap::new(), |mut m, r| {
        *m.entry((r[1].to_owned(), r[stratum].to_owned()))
            .or_insert(0) += 1;
        m
    });
    assert!(per_stratum.values().any(|&n| n > 1));
}

#[test]
fn a_budget_below_the_templates_degrades_gracefully_and_says_what_was_left_out() {
    let dir = tempfile::tempdir().unwrap();
    let (urls, _) = many_routes();
    let (out, report, stderr) = mine_many(dir.path(), 10);
    let list = rows(&out);
    assert_eq!(list.len(), 10);
    // Each of the 10 URLs covers another stratum; the 30 others are named in the report.
    let s = &report["sample"];
    assert_eq!(s["strata_covered"], 10);
    assert_eq!(s["left_out_total"], 30);
    assert_eq!(s["left_out"].as_array().unwrap().len(), 30);
    assert!(stderr.contains("LEFT OUT: 30 strata"), "{stderr}");
    // The most hit strata come first: the 8 (10 minus the 15% rare reserve) most hit are in.
    let strata = s["strata"].as_array().unwrap();
    for row in &strata[..8] {
        assert_eq!(row["covered"], true, "{row}");
    }
    // The most hit URL is in.
    assert!(list.contains_key(&head(&urls, 1)[0]));
    // The estimated test time is there.
    assert!(s["est_test_seconds"].as_f64().unwrap() > 0.0);
}

#[test]
fn a_routes_file_overrides_the_learned_templates() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    write_day(&logs, date("2026-03-02"), &many_routes().0);
    let routes = dir.path().join("routes.txt");
    std::fs::write(
        &routes,
        "# the legacy user pages are one route\n*.example.com /u/**\n",
    )
    .unwrap();
    let out = dir.path().join("list.csv");
    let (o, report) = miner(
        &logs,
        &[
            "--date",
            "2026-03-02",
            "--max-urls",
            "100",
            "--routes",
            routes.to_str().unwrap(),
        ],
        &dir.path().join("state"),
        &out,
    );
    ok(&o);
    let list = rows(&out);
    let stratum = col(&out, "stratum");
    assert!(list.values().any(|r| &r[stratum] == "/u/**"));
    assert!(!list.values().any(|r| &r[stratum] == "/u/{var}/profile"));
    assert_eq!(report["sample"]["strata_seen"], 40);
}

#[test]
fn a_corrupt_day_is_reported_and_the_run_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    let state = dir.path().join("state");
    let out = dir.path().join("list.csv");
    let first = date("2026-03-01");
    for d in 0..3 {
        let day = first + Days::new(d);
        write_day(
            &logs,
            day,
            &[("www.example.com".into(), format!("/day{d}/page"), 1 + d)],
        );
    }
    let (o, _) = miner(
        &logs,
        &["--from", "2026-03-01", "--to", "2026-03-03"],
        &state,
        &out,
    );
    ok(&o);
    assert_eq!(rows(&out).len(), 3);
    // Damage day 2's tally (past the header), then mine day 3 again.
    let f = state.join("tally-2026-03-02.glt");
    let mut bytes = std::fs::read(&f).unwrap();
    let n = bytes.len();
    bytes[n - 10] ^= 0xff;
    std::fs::write(&f, bytes).unwrap();
    let (o, report) = miner(&logs, &["--date", "2026-03-03"], &state, &out);
    ok(&o);
    let problems = report["history"]["problems"].as_array().unwrap();
    assert!(
        problems
            .iter()
            .any(|p| p["day"] == "2026-03-02" && p["problem"] == "corrupt"),
        "{problems:?}"
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("corrupt 2026-03-02"));
    let list = rows(&out);
    assert_eq!(list.len(), 2, "day 2's URL is gone with its tally");
    assert!(!list.contains_key(&("/day1/page".to_owned(), "www.example.com".to_owned())));
}

#[test]
fn bad_state_and_range_flags_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    write_day(
        &logs,
        date("2026-03-02"),
        &[("www.example.com".into(), "/".into(), 1)],
    );
    for args in [
        &[
            "--date",
            "2026-03-02",
            "--state",
            "s3://Not_A_Bucket/prefix",
        ][..],
        &["--from", "2026-03-03", "--to", "2026-03-02"][..],
        &["--date", "2026-03-02", "--window-days", "0"][..],
        &[
            "--date",
            "2026-03-02",
            "--head-share",
            "90",
            "--rare-share",
            "20",
        ][..],
    ] {
        let o = Command::new(env!("CARGO_BIN_EXE_greenlight-miner"))
            .arg("--logs")
            .arg(&logs)
            .arg("--out")
            .arg(dir.path().join("list.csv"))
            .args(args)
            .env("GREENLIGHT_QUIET", "1")
            .env("GREENLIGHT_STATE", dir.path().join("state"))
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert!(!dir.path().join("list.csv").exists());
    }
}
