//! Secrets never leave a run (issue 7, point 6). Logs seeded with credentials in every place a
//! client can put one (query keys, JWTs and AWS key ids in the query, the path and the user
//! agent, `;jsessionid=`, lines the filter or the parser rejects for other reasons) go through
//! the miner and then the tester, both at `GREENLIGHT_LOG=debug`; every output is searched for
//! every seeded secret: the list, the miner's report and state (decompressed), the tester's JSON
//! and JUnit reports, both stderrs, and what the green listener (a recording server on loopback)
//! received. The list is then edited by hand to hold seeded URLs too (the tester reads an
//! untrusted file): they are refused, never sent, and shown only with their query values
//! redacted.
//!
//! Not treated as secrets (documented in SECURITY.md): long hex or base64 ids in paths (content
//! hashes and record ids look the same and are what a replay is for).

mod common;
#[path = "tester_support/mod.rs"]
mod support;

use std::path::Path;
use std::process::Command;

use common::{Line, gzip, object_name, write_object, write_raw};
use support::{Canned, Recorder, tester_bin};

const JWT_HEAD: &str = "eyJhbGciOiJIUzI1NiJ9";

/// Each seeded secret with the URL (or agent) that carries it.
fn seeded() -> Vec<(String, Line)> {
    let url = |u: &str| Line::base().get(&format!("https://www.example.com:443{u}"));
    let jwt = |n: u32| format!("{JWT_HEAD}.eyJzZWVkIjoiand0{n}In0.SEEDjwtsig{n}");
    vec![
        ("SEEDtok1a2b3c".into(), url("/a?token=SEEDtok1a2b3c")),
        (
            "SEEDacc9f8e7".into(),
            url("/a?page=2&access_token=SEEDacc9f8e7"),
        ),
        (
            "SEEDsig0123abcd".into(),
            url("/f?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=SEEDsig0123abcd"),
        ),
        (
            "AKIASEEDSEEDSEED0001".into(),
            url("/f?X-Amz-Credential=AKIASEEDSEEDSEED0001%2F20260302%2Feu-west-1"),
        ),
        (
            "SEEDpw-hunter2".into(),
            url("/login?user=a&password=SEEDpw-hunter2"),
        ),
        ("SEEDjwtsig1".into(), url(&format!("/a?t={}", jwt(1)))),
        ("SEEDjwtsig2".into(), url(&format!("/reset/{}/go", jwt(2)))),
        (
            "AKIASEEDSEEDSEED0002".into(),
            url("/k/AKIASEEDSEEDSEED0002/x"),
        ),
        (
            "AKIASEEDSEEDSEED0003".into(),
            url("/k?id=AKIASEEDSEEDSEED0003"),
        ),
        (
            "SEEDjsess0042".into(),
            url("/cart;jsessionid=SEEDjsess0042"),
        ),
        ("SEEDapikey77".into(), url("/api/v1?api_key=SEEDapikey77")),
        ("SEEDsess88".into(), url("/a?session_id=SEEDsess88")),
        (
            "SEEDjwtsig3".into(),
            url("/agent/1").agent(&format!("Mozilla/5.0 (X11) Bearer {}", jwt(3))),
        ),
        (
            "AKIASEEDSEEDSEED0004".into(),
            url("/agent/2").agent("aws-cli/2.0 AKIASEEDSEEDSEED0004"),
        ),
        // Secrets on lines left out for other reasons must not surface in the report either.
        (
            "SEEDpost1".into(),
            Line::base().request("POST https://www.example.com:443/form?token=SEEDpost1 HTTP/1.1"),
        ),
        (
            "SEEDerr500".into(),
            url("/boom?token=SEEDerr500").status("500", "500"),
        ),
    ]
}

fn grep_secrets(what: &str, text: &str, secrets: &[String]) {
    for s in secrets {
        assert!(
            !text.contains(s.as_str()),
            "{what} holds the secret {s}:\n{text}"
        );
    }
    assert!(
        !text.contains(&format!("{JWT_HEAD}.eyJzZWVk")),
        "{what} holds a seeded JWT:\n{text}"
    );
}

/// Every file under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                dirs.push(p);
            } else {
                files.push(p);
            }
        }
    }
    files
}

fn read(p: &Path) -> String {
    String::from_utf8_lossy(&std::fs::read(p).unwrap()).into_owned()
}

#[test]
fn no_seeded_secret_reaches_a_list_a_report_a_log_or_the_wire() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    let seeds = seeded();
    let secrets: Vec<String> = seeds.iter().map(|(s, _)| s.clone()).collect();
    let mut lines: Vec<String> = seeds.iter().map(|(_, l)| l.text()).collect();
    for i in 0..20 {
        lines.push(
            Line::base()
                .get(&format!("https://www.example.com:443/ok/{}", i % 5))
                .text(),
        );
    }
    write_object(root, "2026/03/02", "20260302T1005Z", &lines);
    // A line the parser refuses, holding a token: parse errors are reported without content.
    write_raw(
        root,
        "2026/03/02",
        &object_name("20260302T1010Z", "10.0.1.6"),
        &gzip(b"https 2026-03-02T10:00:00Z broken \"GET https://www.example.com:443/x?token=SEEDparse9 HTTP/1.1\"\n"),
    );
    let mut secrets = secrets;
    secrets.push("SEEDparse9".into());

    let (list, report) = (root.join("list.csv"), root.join("report.json"));
    let miner = Command::new(env!("CARGO_BIN_EXE_greenlight-miner"))
        .arg("--logs")
        .arg(root)
        .arg("--out")
        .arg(&list)
        .arg("--report")
        .arg(&report)
        .args(["--date", "2026-03-02", "--max-error-rate", "100"])
        .arg("--state")
        .arg(root.join("state"))
        .env("GREENLIGHT_LOG", "debug")
        .env_remove("GREENLIGHT_QUIET")
        .output()
        .expect("run greenlight-miner");
    let miner_err = String::from_utf8_lossy(&miner.stderr).into_owned();
    assert!(miner.status.success(), "{miner_err}");
    assert!(
        miner_err.contains("object done"),
        "debug logging is on: {miner_err}"
    );
    let r: serde_json::Value = serde_json::from_str(&read(&report)).unwrap();
    // The 12 URL credentials were filtered as such; the agents' URLs were listed without them.
    assert_eq!(r["requests"]["filtered"]["credential"], 12, "{r:#}");
    grep_secrets("the miner's stderr", &miner_err, &secrets);
    grep_secrets("the miner's report", &read(&report), &secrets);
    let list_text = read(&list);
    grep_secrets("the list", &list_text, &secrets);
    assert!(list_text.contains("/agent/1") && list_text.contains("/agent/2"));
    // The state (day files, gzip) holds no seeded secret either: it is kept for weeks and
    // read by whoever can read the bucket.
    let mut state_files = 0;
    for file in files_under(&root.join("state")) {
        let bytes = std::fs::read(&file).unwrap();
        // A day file is a text header line, then a gzip body.
        let gz = bytes.windows(3).position(|w| w == [0x1f, 0x8b, 0x08]);
        let text = match gz {
            Some(at) => {
                let mut out = bytes[..at].to_vec();
                let mut body = flate2::read::MultiGzDecoder::new(&bytes[at..]);
                std::io::Read::read_to_end(&mut body, &mut out).unwrap();
                out
            }
            None => bytes,
        };
        grep_secrets(
            &format!("the state file {}", file.display()),
            &String::from_utf8_lossy(&text),
            &secrets,
        );
        state_files += 1;
    }
    assert!(state_files > 0, "the run wrote its state");

    // The tester on the miner's list, then on a hand-edited copy holding seeded URLs.
    let green = Recorder::start(|_| Canned::new(200, "ok"));
    let edited = root.join("edited.csv");
    let mut text = list_text.clone();
    for (s, l) in seeds.iter().take(12) {
        let url = l.text();
        let target = url
            .split("https://www.example.com:443")
            .nth(1)
            .and_then(|rest| rest.split(' ').next())
            .unwrap_or_else(|| panic!("no target for {s}"));
        text.push_str(&format!("{target},www.example.com,200\n"));
    }
    // And an agent shaped like a secret, in the agent column (the 13th).
    text.push_str("/edited-agent,www.example.com,200,,,,,,,,,,aws-cli/2.0 AKIASEEDSEEDSEED0005\n");
    secrets.push("AKIASEEDSEEDSEED0005".into());
    std::fs::write(&edited, text).unwrap();
    for (name, l) in [("list", &list), ("edited", &edited)] {
        let (json, junit) = (
            root.join(format!("{name}.json")),
            root.join(format!("{name}.xml")),
        );
        let tester = Command::new(tester_bin())
            .arg("--list")
            .arg(l)
            .args(["--endpoint", &green.url()])
            .arg("--json")
            .arg(&json)
            .arg("--junit")
            .arg(&junit)
            .env("GREENLIGHT_LOG", "debug")
            .output()
            .expect("run greenlight-tester");
        let tester_err = String::from_utf8_lossy(&tester.stderr).into_owned();
        assert!(tester.status.code().is_some(), "{tester_err}");
        grep_secrets(
            &format!("the tester's stderr ({name})"),
            &tester_err,
            &secrets,
        );
        grep_secrets(&format!("the JSON report ({name})"), &read(&json), &secrets);
        grep_secrets(
            &format!("the JUnit report ({name})"),
            &read(&junit),
            &secrets,
        );
        let sent = green.take();
        assert!(!sent.is_empty());
        for req in sent {
            grep_secrets(
                &format!("a request sent ({name})"),
                &format!("{} {:?}", req.path, req.headers),
                &secrets,
            );
        }
        if name == "edited" {
            assert!(tester_err.contains("credential"), "{tester_err}");
            assert!(tester_err.contains("REDACTED"), "{tester_err}");
        }
    }
}
