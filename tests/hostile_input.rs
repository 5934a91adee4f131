//! Hostile log objects through the miner binary (issue 7, point 2): a gzip bomb, a line of
//! megabytes with memory measured, binary garbage inside and instead of gzip, empty and corrupt
//! gzip members, malformed `\xHH` escapes, URLs that try to leave the origin (miner and tester
//! end to end, against recording servers on loopback), and list cells a spreadsheet would run.
//!
//! What other tests already prove is not repeated here; SECURITY.md maps each defence to its
//! test (truncated objects, CRLF, a last line without newline, host rules, ...).

mod common;
#[path = "tester_support/mod.rs"]
mod support;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output};

use common::{Line, gzip, object_name, write_object, write_raw};
use flate2::Compression;
use flate2::write::GzEncoder;
use support::{Canned, Recorder, tester_bin};

const DAY: &str = "2026-03-02";

fn miner(root: &Path, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_greenlight-miner"))
        .arg("--logs")
        .arg(root)
        .arg("--out")
        .arg(root.join("list.csv"))
        .arg("--report")
        .arg(root.join("report.json"))
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

fn report(root: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(root.join("report.json")).unwrap()).unwrap()
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

/// Deterministic pseudo-random bytes (xorshift), for garbage.
fn noise(len: usize, mut seed: u64) -> Vec<u8> {
    (0..len)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed >> 24) as u8
        })
        .collect()
}

#[test]
fn a_gzip_bomb_fails_its_object_by_key_and_is_not_inflated_to_the_end() {
    let t = tempfile::tempdir().unwrap();
    write_object(t.path(), "2026/03/02", "20260302T1005Z", &good_lines(50));
    // 2 GiB of zeros in 2,048 members of 1 MiB (about 1 KiB each): 2 MiB on disk.
    let mut e = GzEncoder::new(Vec::new(), Compression::best());
    e.write_all(&vec![0u8; 1 << 20]).unwrap();
    let member = e.finish().unwrap();
    let bomb: Vec<u8> = member.repeat(2048);
    assert!(bomb.len() < 4 << 20, "{}", bomb.len());
    let name = object_name("20260302T1010Z", "10.0.1.9");
    write_raw(t.path(), "2026/03/02", &name, &bomb);

    let o = miner(t.path(), &[]);
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(e.contains(&name) && e.contains("gzip bomb"), "{e}");
    let r = report(t.path());
    assert_eq!(r["objects"]["failed"], 1, "{r:#}");
    let failure = &r["objects"]["failures"][0];
    assert!(failure["key"].as_str().unwrap().ends_with(&name), "{r:#}");
    assert!(failure["error"].as_str().unwrap().contains("gzip bomb"));
    // Stopped near the free allowance, far from the 2 GiB it would inflate to.
    let inflated = r["bytes"]["uncompressed"].as_u64().unwrap();
    assert!(inflated < 128 << 20, "inflated {inflated} bytes");

    // Past the error rate rule, the good object's requests are still counted and listed.
    let o = miner(t.path(), &["--max-error-rate", "50"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(report(t.path())["requests"]["kept"], 50);
}

#[test]
fn a_line_of_megabytes_is_counted_and_memory_stays_flat() {
    let t = tempfile::tempdir().unwrap();
    let mut lines = good_lines(100);
    // 48 MiB without a newline (below the bomb allowance, so only the line rule applies).
    lines.insert(50, format!("https {}", "x".repeat(48 << 20)));
    write_object(t.path(), "2026/03/02", "20260302T1005Z", &lines);
    let rss_file = t.path().join("rss");
    let o = Command::new("/usr/bin/time")
        .arg("-f")
        .arg("%M")
        .arg("-o")
        .arg(&rss_file)
        .arg(env!("CARGO_BIN_EXE_greenlight-miner"))
        .arg("--logs")
        .arg(t.path())
        .arg("--out")
        .arg(t.path().join("list.csv"))
        .arg("--report")
        .arg(t.path().join("report.json"))
        .args(["--date", DAY, "--threads", "1"])
        .arg("--state")
        .arg(t.path().join("state"))
        .env("GREENLIGHT_QUIET", "1")
        .output()
        .expect("run the miner under /usr/bin/time");
    assert!(o.status.success(), "{}", stderr(&o));
    let r = report(t.path());
    assert_eq!(r["lines"]["rejected"]["line_too_long"], 1, "{r:#}");
    assert_eq!(r["requests"]["kept"], 100, "{r:#}");
    let rss_kib: u64 = std::fs::read_to_string(&rss_file)
        .unwrap()
        .trim()
        .lines()
        .last()
        .unwrap()
        .parse()
        .expect("max RSS in KiB");
    eprintln!("48 MiB line: peak RSS {} MiB", rss_kib >> 10);
    // The scan buffer is 1 MiB; holding the line would take 48 MiB at least.
    assert!(rss_kib < 40 << 10, "peak RSS {rss_kib} KiB");
}

#[test]
fn binary_garbage_in_and_instead_of_gzip() {
    let t = tempfile::tempdir().unwrap();
    write_object(t.path(), "2026/03/02", "20260302T1005Z", &good_lines(40));
    // Not gzip at all.
    let not_gzip = object_name("20260302T1010Z", "10.0.1.6");
    write_raw(t.path(), "2026/03/02", &not_gzip, &noise(64 << 10, 7));
    // Valid gzip holding binary garbage (NUL, 0xFF, CR, quotes, lone newlines ...).
    let garbage = object_name("20260302T1015Z", "10.0.1.7");
    // (Starting with NUL: a first line starting with `{` would refuse the object as JSON.)
    let mut text = vec![0u8];
    text.extend(noise(256 << 10, 11));
    text.extend_from_slice(b"\n");
    text.extend_from_slice(good_lines(1)[0].as_bytes());
    text.extend_from_slice(b"\n");
    write_raw(t.path(), "2026/03/02", &garbage, &gzip(&text));
    // A zero-byte object.
    let empty = object_name("20260302T1020Z", "10.0.1.8");
    write_raw(t.path(), "2026/03/02", &empty, b"");

    let o = miner(t.path(), &["--max-error-rate", "100"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let r = report(t.path());
    let failures = r["objects"]["failures"].as_array().unwrap();
    let failed = |name: &str| {
        failures
            .iter()
            .find(|f| f["key"].as_str().unwrap().ends_with(name))
            .map(|f| f["error"].as_str().unwrap().to_string())
    };
    let why = failed(&not_gzip).expect("the non-gzip object is a failed object");
    assert!(why.contains("gzip"), "{why}");
    assert_eq!(failed(&garbage), None, "garbage lines are lines: {r:#}");
    // An ALB never writes a zero-byte object: it is a failed object, not an empty one.
    let why = failed(&empty).expect("the zero-byte object is a failed object");
    assert!(why.contains("truncated gzip"), "{why}");
    // The garbage lines are counted as parse errors, each example naming object and line.
    let parse_errors: u64 = r["lines"]["rejected"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert!(parse_errors > 100, "{r:#}");
    assert!(
        r["lines"]["rejected_examples"]
            .as_array()
            .unwrap()
            .iter()
            .all(|x| x["key"].as_str().unwrap().ends_with(&garbage) && x["line"].as_u64() > Some(0))
    );
    // The good line after the garbage, and the good object, are counted.
    assert_eq!(r["requests"]["kept"], 41, "{r:#}");
    let e = stderr(&o);
    assert!(e.contains(&not_gzip), "{e}");
}

#[test]
fn empty_and_corrupt_gzip_members() {
    let t = tempfile::tempdir().unwrap();
    let line = |p: &str| {
        Line::base()
            .get(&format!("https://www.example.com:443/{p}"))
            .text()
    };
    // Valid but empty members around real ones, and an object that is one empty member.
    let mut bytes = gzip(b"");
    bytes.extend(gzip(format!("{}\n", line("a")).as_bytes()));
    bytes.extend(gzip(b""));
    bytes.extend(gzip(line("b").as_bytes()));
    bytes.extend(gzip(b""));
    write_raw(
        t.path(),
        "2026/03/02",
        &object_name("20260302T1005Z", "10.0.1.5"),
        &bytes,
    );
    write_raw(
        t.path(),
        "2026/03/02",
        &object_name("20260302T1010Z", "10.0.1.5"),
        &gzip(b""),
    );
    // A good member, then one whose checksum is wrong, then one that is never reached.
    let mut bad = gzip(format!("{}\n{}\n", line("c"), line("d")).as_bytes());
    let mut second = gzip(format!("{}\n", line("e")).as_bytes());
    let n = second.len();
    second[n - 8] ^= 0xff; // CRC32 of the member
    bad.extend(second);
    bad.extend(gzip(format!("{}\n", line("f")).as_bytes()));
    let bad_name = object_name("20260302T1015Z", "10.0.1.5");
    write_raw(t.path(), "2026/03/02", &bad_name, &bad);

    let o = miner(t.path(), &["--max-error-rate", "100", "--format", "paths"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let r = report(t.path());
    assert_eq!(r["objects"]["read"], 3, "{r:#}");
    assert_eq!(r["objects"]["failed"], 1, "{r:#}");
    let f = &r["objects"]["failures"][0];
    assert!(f["key"].as_str().unwrap().ends_with(&bad_name));
    assert!(f["error"].as_str().unwrap().contains("corrupt gzip"), "{f}");
    // `e` (line 3) reached the scan before its member's checksum was checked.
    assert_eq!(f["lines_before"], 3, "{f}");
    let list = std::fs::read_to_string(t.path().join("list.csv")).unwrap();
    let mut paths: Vec<&str> = list.lines().collect();
    paths.sort();
    // `/e` reached the scan before its checksum was checked: a complete line, kept.
    assert_eq!(paths, ["/a", "/b", "/c", "/d", "/e"]);
}

#[test]
fn malformed_hex_escapes_are_kept_as_bytes_or_refused_never_a_panic() {
    let t = tempfile::tempdir().unwrap();
    let urls = [
        r"https://www.example.com:443/a\x",
        r"https://www.example.com:443/b\x4",
        r"https://www.example.com:443/c\xZZ",
        r"https://www.example.com:443/d\x4g?q=\x",
        r"https://www.example.com:443/e\\x41",
        r"https://www.example.com:443/f\x00\x0d\x0a\xff",
        r"https://www.example.com:443/g\",
        r"https://www.ex\xZZample.com:443/h",
        r"https://www.example.com:4\x34x/i",
        r"https://www.example.com\x3a443/j",
    ];
    let lines: Vec<String> = urls.iter().map(|u| Line::base().get(u).text()).collect();
    write_object(t.path(), "2026/03/02", "20260302T1005Z", &lines);
    let o = miner(t.path(), &["--format", "paths"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let list = std::fs::read_to_string(t.path().join("list.csv")).unwrap();
    let paths: Vec<&str> = list.lines().collect();
    // Bytes that are not a complete escape stay as they are; decoded control bytes and bytes
    // >= 0x80 are percent-encoded (`\\x41` is a backslash, then an escaped `A`); a decoded
    // `:` in the authority is a `:`; the bad host and the bad port are not listed.
    for want in [
        r"/a\x",
        r"/b\x4",
        r"/c\xZZ",
        r"/d\x4g?q=\x",
        r"/e\A",
        "/f%00%0D%0A%FF",
        r"/g\",
        "/j",
    ] {
        assert!(paths.contains(&want), "{want} not in {paths:?}");
    }
    assert_eq!(paths.len(), 8, "{paths:?}");
    assert_eq!(report(t.path())["requests"]["filtered"]["bad_url"], 2);
}

/// URLs that try to send a replay somewhere else. The miner keeps path and query byte for
/// byte (they are what the client asked the site for) or refuses the URL; the tester only ever
/// connects to its endpoint, sends the target unchanged as a request-target with the listed
/// `Host`, and never follows a redirect. A second recording server stands for "elsewhere".
#[test]
fn urls_that_try_to_leave_the_origin_never_do() {
    let elsewhere = Recorder::start(|_| Canned::new(200, "should never be asked"));
    let evil = elsewhere.addr.to_string();
    let t = tempfile::tempdir().unwrap();
    let urls = [
        format!("https://www.example.com:443//{evil}/x"),
        format!("https://www.example.com:443/http://{evil}/y"),
        format!("https://www.example.com:443/go?next=http://{evil}/z"),
        format!(r"https://www.example.com:443/\\{evil}/w"),
        "https://www.example.com:443/split%0d%0aSet-Cookie:%20a=1".into(),
        r"https://www.example.com:443/raw\x0d\x0aX-Injected:\x201".into(),
        format!("https://{evil}@www.example.com:443/userinfo"),
        format!("https://www.example.com:443@{evil}/userinfo2"),
        format!(r"https://www.example.com\x5c@{evil}/backslash-host"),
        format!("http://{evil}/ip-host"),
    ];
    let lines: Vec<String> = urls.iter().map(|u| Line::base().get(u).text()).collect();
    write_object(t.path(), "2026/03/02", "20260302T1005Z", &lines);
    let o = miner(t.path(), &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let r = report(t.path());
    assert_eq!(r["requests"]["filtered"]["bad_url"], 3, "{r:#}");
    assert_eq!(r["requests"]["filtered"]["host_ip_literal"], 1, "{r:#}");

    let mut listed: Vec<String> = csv::Reader::from_path(t.path().join("list.csv"))
        .unwrap()
        .records()
        .map(|rec| rec.unwrap()[0].to_string())
        .collect();
    listed.sort();
    let mut expected = vec![
        format!("//{evil}/x"),
        format!("/http://{evil}/y"),
        format!("/go?next=http://{evil}/z"),
        format!(r"/\\{evil}/w"),
        "/split%0d%0aSet-Cookie:%20a=1".to_string(),
        "/raw%0D%0AX-Injected:%201".to_string(),
    ];
    expected.sort();
    assert_eq!(listed, expected);

    // The green listener answers every URL with a redirect to elsewhere.
    let to = format!("http://{evil}/landing");
    let green = Recorder::start(move |_| Canned::new(302, "").header("location", &to));
    let o = Command::new(tester_bin())
        .arg("--list")
        .arg(t.path().join("list.csv"))
        .args(["--endpoint", &green.url(), "--timeout", "5"])
        .output()
        .unwrap();
    // Expected 200, got 302: the gate fails, but what matters is where requests went.
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let got = green.take();
    let mut sent: Vec<String> = got.iter().map(|r| r.path.clone()).collect();
    sent.sort();
    assert_eq!(sent, expected, "targets go on the wire byte for byte");
    for r in &got {
        assert_eq!(r.header("host"), Some("www.example.com"));
        assert!(r.header("set-cookie").is_none() && r.header("x-injected").is_none());
    }
    assert!(elsewhere.take().is_empty(), "a request left the origin");
}

/// Every cell of every column of the full list, over lines whose attacker-chosen parts start
/// with `=`, `+`, `-`, `@`, tab or CR: no cell starts with one of them.
#[test]
fn no_list_cell_starts_like_a_spreadsheet_formula() {
    let t = tempfile::tempdir().unwrap();
    let mut lines = Vec::new();
    let agents = [
        "=HYPERLINK(\\x22http://evil\\x22)",
        "+1+cmd",
        "-2+cmd",
        "@SUM(A1)",
        "\\x09=1+1",
        "\\x0d=1+1",
        "Mozilla/5.0 (ok)",
    ];
    let hosts = [
        "-evil.example.com",
        "=evil.example.com",
        "+evil.example.com",
        "@evil.example.com",
        "_ok.example.com",
        "www.example.com",
    ];
    for (i, host) in hosts.iter().enumerate() {
        for (j, agent) in agents.iter().enumerate() {
            let path = ["=cmd", "+cmd", "-cmd", "@cmd", "%3Dcmd"][(i + j) % 5];
            lines.push(
                Line::base()
                    .get(&format!("https://{host}:443/{path}/{j}?-x=@y"))
                    .agent(agent)
                    .text(),
            );
        }
    }
    write_object(t.path(), "2026/03/02", "20260302T1005Z", &lines);
    let o = miner(t.path(), &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let mut rdr = csv::Reader::from_path(t.path().join("list.csv")).unwrap();
    let header = rdr.headers().unwrap().clone();
    assert_eq!(header.len(), 13);
    let mut rows = 0;
    let mut agents_listed = 0;
    for rec in rdr.records() {
        let rec = rec.unwrap();
        rows += 1;
        for (name, cell) in header.iter().zip(rec.iter()) {
            assert!(
                !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                "column {name}: {cell:?}"
            );
            if name == "agent" && !cell.is_empty() {
                agents_listed += 1;
                assert_eq!(cell, "Mozilla/5.0 (ok)");
            }
        }
    }
    assert_eq!(rows, 14, "every URL of the two good hosts");
    assert_eq!(report(t.path())["requests"]["kept"], 14);
    assert!(agents_listed > 0);
}
