//! The miner binary on hand-built log trees: byte-exact lists, bad input, exit codes, and a
//! previous list that survives every failed run.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{Line, gzip, object_name, write_object, write_raw};

const DAY: &str = "2026-03-02";

fn miner(root: &Path, out: &Path, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_greenlight-miner"))
        .arg("--logs")
        .arg(root)
        .arg("--out")
        .arg(out)
        .args(["--date", DAY])
        .arg("--state")
        .arg(root.join("state"))
        .args(extra)
        .env("GREENLIGHT_QUIET", "1")
        .output()
        .expect("run greenlight-miner")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

struct Tree {
    dir: tempfile::TempDir,
}

impl Tree {
    fn new() -> Self {
        Tree {
            dir: tempfile::tempdir().unwrap(),
        }
    }
    fn root(&self) -> &Path {
        self.dir.path()
    }
    fn out(&self) -> PathBuf {
        self.dir.path().join("acceptance_url_list.csv")
    }
    /// A previous good list, which failed runs must leave as it is.
    fn previous_list(&self) -> PathBuf {
        let out = self.out();
        std::fs::write(
            &out,
            "path,host,expected_status,hits\n/previous,www.example.com,200,9\n",
        )
        .unwrap();
        out
    }
    fn assert_previous_list_kept(&self) {
        let text = std::fs::read_to_string(self.out()).unwrap();
        assert!(
            text.contains("/previous"),
            "previous list was clobbered: {text}"
        );
        let stray: Vec<_> = std::fs::read_dir(self.root())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(stray.is_empty(), "temporary files left: {stray:?}");
    }
}

fn good_lines(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            Line::base()
                .get(&format!("https://www.example.com:443/p/{}", i % 7))
                .text()
        })
        .collect()
}

#[test]
fn writes_byte_exact_paths_and_hosts() {
    let t = Tree::new();
    let lines = vec![
        Line::base()
            .get("https://WWW.Example.com:443/a?b=1&utm_source=x")
            .text(),
        Line::base().get("https://www.example.com:443/a?b=1").text(),
        Line::base()
            .get("http://www.example.com:80/a?b=1")
            .status("304", "304")
            .text(),
        // An agent that is not printable ASCII once decoded is not listed.
        Line::base()
            .get(r"https://shop.example.com:8443/caf\xc3\xa9/%zz//x/../y?q=a+b")
            .agent(r"Caf\xc3\xa9Browser/1.0")
            .text(),
        Line::base()
            .get("https://www.example.com:443/login?token=secret")
            .text(),
        Line::base()
            .get("https://www.example.com:443/")
            .status("404", "404")
            .text(),
    ];
    write_object(t.root(), "2026/03/02", "20260302T1005Z", &lines);
    let o = miner(t.root(), &t.out(), &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let list = std::fs::read_to_string(t.out()).unwrap();
    let rows: Vec<&str> = list.lines().collect();
    assert_eq!(
        rows[0],
        "path,host,expected_status,hits,scheme,statuses,mean_target_ms,\
         stratum,class,days_seen,last_seen,p50_ms,agent"
    );
    // p50 comes from a log-scale histogram: 48 ms falls in the 45.1 ms bucket.
    assert_eq!(
        rows[1],
        "/a?b=1,www.example.com,200,3,https,200:2 304:1,48.0,/a,head,1,2026-03-02T10:00:00Z,45.1,\
         Mozilla/5.0 (X11; Linux x86_64)"
    );
    assert_eq!(
        rows[2],
        "/caf%C3%A9/%zz//x/../y?q=a+b,shop.example.com:8443,200,1,https,200:1,48.0,\
         /caf%C3%A9/%zz/x/../y,head,1,2026-03-02T10:00:00Z,45.1,"
    );
    assert_eq!(rows.len(), 3, "{list}");
    assert!(!list.contains("secret"));
    let e = stderr(&o);
    assert!(e.contains("credential 1"), "{e}");
    assert!(e.contains("status 1"), "{e}");
    assert!(e.contains("tracking parameters removed from 1"), "{e}");
}

#[test]
fn paths_format_is_what_the_original_lambda_read() {
    let t = Tree::new();
    write_object(t.root(), "2026/03/02", "20260302T1005Z", &good_lines(10));
    let o = miner(
        t.root(),
        &t.out(),
        // All head: the two most hit URLs, as the original top-N list had them.
        &[
            "--format",
            "paths",
            "--max-urls",
            "2",
            "--head-share",
            "100",
            "--rare-share",
            "0",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(t.out()).unwrap(), "/p/0\n/p/1\n");
}

#[test]
fn reads_the_next_days_folder_for_requests_from_before_midnight() {
    let t = Tree::new();
    let late = Line::base()
        .time("2026-03-02T23:58:00.000000Z")
        .get("https://www.example.com:443/late")
        .text();
    let early_next = Line::base()
        .time("2026-03-03T00:01:00.000000Z")
        .get("https://www.example.com:443/next-day")
        .text();
    write_object(
        t.root(),
        "2026/03/03",
        "20260303T0000Z",
        std::slice::from_ref(&late),
    );
    write_object(t.root(), "2026/03/03", "20260303T0005Z", &[early_next]);
    write_object(t.root(), "2026/03/03", "20260303T1200Z", &[late]);
    let o = miner(t.root(), &t.out(), &["--format", "paths"]);
    assert!(o.status.success(), "{}", stderr(&o));
    // The noon object of the next day is not read at all; the late line counts once.
    assert_eq!(std::fs::read_to_string(t.out()).unwrap(), "/late\n");
    assert!(stderr(&o).contains("other_day 1"), "{}", stderr(&o));
}

#[test]
fn multi_member_gzip_crlf_and_a_last_line_without_newline() {
    let t = Tree::new();
    let mut bytes = gzip(
        format!(
            "{}\r\n",
            Line::base().get("https://a.example.com:443/1").text()
        )
        .as_bytes(),
    );
    bytes.extend(gzip(
        Line::base()
            .get("https://a.example.com:443/2")
            .text()
            .as_bytes(),
    ));
    write_raw(
        t.root(),
        "2026/03/02",
        &object_name("20260302T1005Z", "10.0.1.5"),
        &bytes,
    );
    let o = miner(t.root(), &t.out(), &["--format", "paths"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(t.out()).unwrap(), "/1\n/2\n");
}

#[test]
fn skips_other_objects_by_key_and_counts_them() {
    let t = Tree::new();
    write_object(t.root(), "2026/03/02", "20260302T1005Z", &good_lines(3));
    let junk = gzip(b"not a log\n");
    for name in [
        "ELBAccessLogTestFile",
        "123456789012_elasticloadbalancing_eu-west-1_net.my-nlb.0123456789abcdef_20260302T1005Z_10.0.0.1_abcd.log.gz",
        "conn_log_123456789012_elasticloadbalancing_eu-west-1_app.my-alb.50dc6c495c0c9188_20260302T1005Z_10.0.0.1_abcd.log.gz",
    ] {
        write_raw(t.root(), "2026/03/02", name, &junk);
    }
    let o = miner(t.root(), &t.out(), &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("3 skipped by key"), "{}", stderr(&o));
}

#[test]
fn a_corrupt_object_is_named_and_fails_the_run_past_the_error_rate() {
    let t = Tree::new();
    t.previous_list();
    write_object(t.root(), "2026/03/02", "20260302T1005Z", &good_lines(20));
    let bad = object_name("20260302T1010Z", "10.0.1.6");
    write_raw(
        t.root(),
        "2026/03/02",
        &bad,
        b"\x1f\x8b\x08\x00garbage that is not deflate at all",
    );
    let o = miner(t.root(), &t.out(), &[]);
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(e.contains(&bad) && e.contains("gzip"), "{e}");
    assert!(e.contains("1 of 2 objects"), "{e}");
    t.assert_previous_list_kept();

    // Allowing more errors: the run goes on and still names the object.
    let report = t.root().join("report.json");
    let o = miner(
        t.root(),
        &t.out(),
        &[
            "--max-error-rate",
            "50",
            "--report",
            report.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(json["objects"]["failed"], 1);
    assert!(
        json["objects"]["failures"][0]["key"]
            .as_str()
            .unwrap()
            .ends_with(&bad)
    );
    assert_eq!(json["outcome"], "ok");
}

#[test]
fn a_truncated_object_keeps_the_lines_before_the_cut() {
    let t = Tree::new();
    let lines: Vec<String> = (0..2000)
        .map(|i| {
            Line::base()
                .get(&format!("https://www.example.com:443/t/{i}"))
                .text()
        })
        .collect();
    let whole = gzip(format!("{}\n", lines.join("\n")).as_bytes());
    let cut = &whole[..whole.len() * 2 / 3];
    let name = object_name("20260302T1005Z", "10.0.1.5");
    write_raw(t.root(), "2026/03/02", &name, cut);
    let report = t.root().join("report.json");
    let o = miner(
        t.root(),
        &t.out(),
        &[
            "--max-error-rate",
            "100",
            "--report",
            report.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("truncated"), "{}", stderr(&o));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let before = json["objects"]["failures"][0]["lines_before"]
        .as_u64()
        .unwrap();
    assert!(before > 100 && before < 2000, "{before}");
    assert_eq!(json["requests"]["kept"].as_u64().unwrap(), before);
    assert_eq!(
        json["lines"]["rejected"].as_object().unwrap().len(),
        0,
        "no half line parsed"
    );
}

#[test]
fn garbage_lines_past_the_error_rate_fail_the_run() {
    let t = Tree::new();
    t.previous_list();
    let mut lines = good_lines(50);
    lines.push("\u{1}\u{2} binary junk".into());
    lines.push("http 2026-03-02T10:00:00.000000Z too few fields".into());
    write_object(t.root(), "2026/03/02", "20260302T1005Z", &lines);
    let o = miner(t.root(), &t.out(), &[]);
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(e.contains("2 of 52 lines"), "{e}");
    assert!(e.contains("line 51"), "names the object line: {e}");
    t.assert_previous_list_kept();
    let o = miner(t.root(), &t.out(), &["--max-error-rate", "5"]);
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn an_empty_day_exits_3_and_keeps_the_list() {
    let t = Tree::new();
    t.previous_list();
    write_object(t.root(), "2026/02/20", "20260220T1005Z", &good_lines(3));
    let o = miner(t.root(), &t.out(), &[]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("no ALB access-log objects for 2026-03-02"),
        "{}",
        stderr(&o)
    );
    t.assert_previous_list_kept();
}

#[test]
fn a_day_without_replayable_requests_exits_3() {
    let t = Tree::new();
    t.previous_list();
    let lines = vec![
        Line::base()
            .request("POST https://www.example.com:443/form HTTP/1.1")
            .text(),
    ];
    write_object(t.root(), "2026/03/02", "20260302T1005Z", &lines);
    let o = miner(t.root(), &t.out(), &[]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("no replayable request"),
        "{}",
        stderr(&o)
    );
    t.assert_previous_list_kept();
}

#[test]
fn a_json_object_is_refused_with_its_key() {
    let t = Tree::new();
    write_object(t.root(), "2026/03/02", "20260302T1005Z", &good_lines(5));
    let name = object_name("20260302T1010Z", "10.0.1.6");
    write_raw(
        t.root(),
        "2026/03/02",
        &name,
        &gzip(b"{\"type\":\"https\",\"time\":\"x\"}\n"),
    );
    let o = miner(t.root(), &t.out(), &["--max-error-rate", "60"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(e.contains(&name) && e.contains("JSON"), "{e}");
}

#[test]
fn bad_flags_and_missing_folders_exit_2() {
    let t = Tree::new();
    let o = miner(&t.root().join("missing"), &t.out(), &[]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("missing"), "{}", stderr(&o));
    for flags in [
        &["--method", "POST"][..],
        &["--status", "7xx"],
        &["--host", "bad host"],
        &["--max-error-rate", "150"],
    ] {
        let o = miner(t.root(), &t.out(), flags);
        assert_eq!(o.status.code(), Some(2), "{flags:?}: {}", stderr(&o));
    }
}

#[test]
fn an_unwritable_destination_exits_1_and_reports_the_path() {
    let t = Tree::new();
    write_object(t.root(), "2026/03/02", "20260302T1005Z", &good_lines(3));
    let out = t.root().join("no/such/folder/list.csv");
    let o = miner(t.root(), &out, &[]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("no/such/folder/list.csv"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn an_overlong_line_is_counted_and_skipped() {
    let t = Tree::new();
    let mut lines = good_lines(200);
    lines.insert(100, format!("https {}", "x".repeat(3 << 20)));
    write_object(t.root(), "2026/03/02", "20260302T1005Z", &lines);
    let o = miner(t.root(), &t.out(), &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(
        e.contains("line_too_long 1") && e.contains("201 read"),
        "{e}"
    );
    assert!(e.contains("200 kept"), "{e}");
}
