//! greenlight-tester against real nginx instances on loopback: blue (the live config) and green
//! (blue with one injected regression, or a harmless rewrite), several virtual hosts,
//! redirects and a timestamped page (the unstable-status case uses a deterministic stand-in for
//! blue). nginx is required: when it is missing
//! these tests fail and say to run `bash .ci/test`.

#[path = "tester_support/mod.rs"]
mod support;

use std::process::Command;

use greenlight::check::probe::Endpoint;
use greenlight::check::report::Report;
use greenlight::check::verdict::Outcome;
use greenlight::check::{CheckConfig, ListSource, check};
use support::{Nginx, blue_site, blue_with, fixtures, tester_bin};

fn config(green: &Nginx, blue: Option<&Nginx>) -> CheckConfig {
    let mut cfg = CheckConfig::new(Endpoint::parse(&green.endpoint()).unwrap());
    cfg.baseline = blue.map(|b| Endpoint::parse(&b.endpoint()).unwrap());
    cfg
}

fn run(cfg: &CheckConfig, list: &std::path::Path) -> Report {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(check(
        cfg,
        &ListSource::File(list.to_path_buf()),
        &mut |_, _| {},
    ))
    .expect("the check runs")
}

fn list() -> std::path::PathBuf {
    fixtures().join("list.csv")
}

/// The failing URLs as `(host, target, aspects)`.
fn failing(r: &Report) -> Vec<(String, String, Vec<&'static str>)> {
    r.urls
        .iter()
        .filter(|u| u.verdict.outcome != Outcome::Pass)
        .map(|u| {
            (
                u.host.clone().unwrap_or_default(),
                u.target.clone(),
                u.verdict.mismatches.iter().map(|m| m.aspect).collect(),
            )
        })
        .collect()
}

#[test]
fn identical_config_passes_repeatedly() {
    let blue = Nginx::start(&blue_site());
    let green = Nginx::start(&blue_site());
    for round in 0..3 {
        let r = run(&config(&green, Some(&blue)), &list());
        assert!(r.passed, "round {round}: {}", r.summary());
        assert_eq!(r.counts["pass"], 16, "{}", r.summary());
        // The timestamped page passes because its body differs between the two blue answers.
        let now = r.urls.iter().find(|u| u.target == "/now").unwrap();
        assert_eq!(now.verdict.ignored, ["body"]);
    }
}

#[test]
fn harmless_change_passes_repeatedly() {
    let blue = Nginx::start(&blue_site());
    let harmless = std::fs::read_to_string(fixtures().join("green-harmless.conf")).unwrap();
    let green = Nginx::start(&harmless);
    for round in 0..3 {
        let r = run(&config(&green, Some(&blue)), &list());
        assert!(r.passed, "round {round}: {}", r.summary());
        assert!(failing(&r).is_empty());
    }
}

/// Each regression changes one listed URL on one virtual host; the gate fails and names it.
#[test]
fn regressions_fail_the_gate_and_are_named() {
    let blue = Nginx::start(&blue_site());
    let cases: [(&str, &str, &str, &str, &str); 4] = [
        // status, on shop.example.com
        (
            "location /p/ {",
            "location = /p/42 { return 500; }\n    location /p/ {",
            "shop.example.com",
            "/p/42",
            "status",
        ),
        // redirect target, on www.example.com
        (
            "location = /old-page { return 301 /new-page; }",
            "location = /old-page { return 301 /new-page/; }",
            "www.example.com",
            "/old-page",
            "location",
        ),
        // stable body, on api.example.com
        (
            r#"return 200 '{"ok":true}';"#,
            r#"return 200 '{"ok":false}';"#,
            "api.example.com",
            "/v1/status",
            "body",
        ),
        // redirect to another host, on shop.example.com
        (
            "return 302 https://shop.example.com/login?next=/cart;",
            "return 302 https://login.example.com/?next=/cart;",
            "shop.example.com",
            "/cart",
            "location",
        ),
    ];
    for (from, to, host, target, aspect) in cases {
        let green = Nginx::start(&blue_with(from, to));
        let r = run(&config(&green, Some(&blue)), &list());
        assert!(!r.passed, "{host}{target} ({aspect}): {}", r.summary());
        assert_eq!(
            failing(&r),
            [(host.to_string(), target.to_string(), vec![aspect])],
            "{}",
            r.summary()
        );
        let summary = r.summary();
        assert!(
            summary.contains(host) && summary.contains(target),
            "{summary}"
        );
        assert!(r.to_json().contains(target));
        assert!(r.to_junit().contains("<failure"));
    }
}

#[test]
fn without_baseline_expected_status_decides() {
    let green = Nginx::start(&blue_site());
    let r = run(&config(&green, None), &list());
    assert!(r.passed, "{}", r.summary());
    assert_eq!(r.gate.as_ref().unwrap().threshold_percent, 95.0);
    // A status regression on one URL of 16 is 93.75% < 95.
    let green = Nginx::start(&blue_with(
        "location = /v1/legacy { return 308 /v2/legacy; }",
        "location = /v1/legacy { return 404; }",
    ));
    let r = run(&config(&green, None), &list());
    assert!(!r.passed);
    assert_eq!(
        failing(&r),
        [(
            "api.example.com".into(),
            "/v1/legacy".into(),
            vec!["status"]
        )]
    );
}

#[test]
fn unstable_status_is_noisy_and_not_counted() {
    // Blue: a stand-in whose /flaky alternates 200 and 503 on every request (deterministic,
    // unlike anything nginx can do per request), and whose / answers like blue.conf.
    let n = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let blue = support::Recorder::start(move |r| {
        if r.path == "/flaky" {
            let i = n.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let status = if i.is_multiple_of(2) { 200 } else { 503 };
            support::Canned::new(status, "ok\n").header("content-type", "text/plain")
        } else {
            support::Canned::new(200, "home\n").header("content-type", "text/plain")
        }
    });
    let green = Nginx::start(&blue_site());
    let dir = tempfile::tempdir().unwrap();
    let l = dir.path().join("list.csv");
    std::fs::write(
        &l,
        "path,host,expected_status\n/flaky,www.example.com,200\n/,www.example.com,200\n",
    )
    .unwrap();
    let mut cfg = config(&green, None);
    cfg.baseline = Some(Endpoint::parse(&blue.url()).unwrap());
    for _ in 0..3 {
        let r = run(&cfg, &l);
        let flaky = r.urls.iter().find(|u| u.target == "/flaky").unwrap();
        assert_eq!(flaky.verdict.outcome, Outcome::Noisy, "{}", r.summary());
        assert_eq!(r.gate.as_ref().unwrap().counted, 1);
        assert!(r.passed, "{}", r.summary());
        assert!(r.summary().contains("noisy"));
    }
    // Blue was asked twice per URL.
    assert_eq!(blue.take().len(), 12);
}

#[test]
fn targets_go_on_the_wire_byte_for_byte_with_host_and_forwarded_headers() {
    let green = Nginx::start(&blue_site());
    let dir = tempfile::tempdir().unwrap();
    let l = dir.path().join("list.csv");
    let odd = "/echo/a//b/../c?x=%zz&y=%2F&&z=a+b";
    std::fs::write(
        &l,
        format!("path,host,expected_status,scheme\n{odd},www.example.com,302,https\n"),
    )
    .unwrap();
    let r = run(&config(&green, None), &l);
    assert!(r.passed, "{}", r.summary());
    let a = r.urls[0].green.as_ref().unwrap();
    assert_eq!(
        a.location.as_deref(),
        Some(&*format!("http://echo.invalid{odd}"))
    );
    let line = format!("GET {odd} HTTP/1.1");
    let log = green.access_log_with(&line);
    assert!(log.contains(&line), "{log}");
}

#[test]
fn paths_format_and_rejected_lines() {
    let green = Nginx::start(&blue_site());
    let dir = tempfile::tempdir().unwrap();
    let l = dir.path().join("paths.csv");
    // The original Lambda's format: bare paths, no header, sent to the default server.
    std::fs::write(
        &l,
        "/\n/about\n/new-page\nhttp://evil.example/\n/now\n/news/1\n/news/2\n/news/3\n/news/4\n\
         /news/5\n/news/6\n/news/7\n/news/8\n/news/9\n/news/10\n/news/11\n/news/12\n/news/13\n\
         /news/14\n/news/15\n/news/16\n/news/17\n/news/18\n/news/19\n/news/20\n",
    )
    .unwrap();
    let r = run(&config(&green, None), &l);
    assert_eq!(r.rejected_lines.len(), 1);
    assert_eq!(r.rejected_lines[0].reason, "absolute_url");
    assert_eq!(r.counts["rejected"], 1);
    assert_eq!(r.counts["pass"], 24);
    // 24 of 25: 96% >= 95.
    assert!(r.passed, "{}", r.summary());
    assert!(!green.access_log().contains("evil"));
}

#[test]
fn binary_exit_codes_and_reports() {
    let blue = Nginx::start(&blue_site());
    let green = Nginx::start(&blue_with(
        "location = /about { default_type text/html;",
        "location = /about { default_type text/plain;",
    ));
    let dir = tempfile::tempdir().unwrap();
    let (json, junit) = (dir.path().join("r.json"), dir.path().join("r.xml"));
    let out = Command::new(tester_bin())
        .arg("--list")
        .arg(list())
        .args([
            "--endpoint",
            &green.endpoint(),
            "--baseline",
            &blue.endpoint(),
        ])
        .arg("--json")
        .arg(&json)
        .arg("--junit")
        .arg(&junit)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("FAILED") && stderr.contains("www.example.com"),
        "{stderr}"
    );
    assert!(
        stderr.contains("/about") && stderr.contains("content_type"),
        "{stderr}"
    );
    assert!(stderr.contains("latency ms: p50"), "{stderr}");
    let j: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(j["passed"], false);
    assert_eq!(j["counts"]["fail"], 1);
    let x = std::fs::read_to_string(&junit).unwrap();
    assert!(x.contains("tests=\"16\" failures=\"1\""), "{x}");

    // Pass: same list, --threshold 90; on two threads whatever the machine's cores (the
    // default is one per core), so the workers of the second thread are run too.
    let out = Command::new(tester_bin())
        .arg("--list")
        .arg(list())
        .args([
            "--endpoint",
            &green.endpoint(),
            "--baseline",
            &blue.endpoint(),
        ])
        .args(["--threshold", "90", "--threads", "2"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Could not run: a missing list, an empty list; both write a failed JSON report.
    let empty = dir.path().join("empty.csv");
    std::fs::write(&empty, "path,host\n").unwrap();
    for l in [dir.path().join("missing.csv"), empty] {
        let out = Command::new(tester_bin())
            .arg("--list")
            .arg(&l)
            .args(["--endpoint", &green.endpoint()])
            .arg("--json")
            .arg(&json)
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(2),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let j: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
        assert_eq!(j["passed"], false);
        assert!(j["error"].is_string());
    }
    // Bad flags.
    for (bad, says) in [
        (&["--endpoint", "https://a"][..], "https"),
        (
            &["--endpoint", "http://127.0.0.1:9", "--threads", "two"],
            "--threads",
        ),
    ] {
        let out = Command::new(tester_bin())
            .args(["--list", "x.csv"])
            .args(bad)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{bad:?}: {stderr}");
        assert!(stderr.contains(says), "{bad:?}: {stderr}");
    }
}

#[test]
fn green_down_fails_the_gate() {
    let blue = Nginx::start(&blue_site());
    let port = support::free_port();
    let mut cfg = CheckConfig::new(Endpoint::parse(&format!("http://127.0.0.1:{port}")).unwrap());
    cfg.baseline = Some(Endpoint::parse(&blue.endpoint()).unwrap());
    let r = run(&cfg, &list());
    assert!(!r.passed);
    assert_eq!(r.counts["error"], 16);
}

/// Every listed URL, one at a time: green is blue plus a server-level rule that changes only
/// that URL (its status; its body, or for redirects its target). The gate fails every time and
/// names exactly that URL on that virtual host (except a body change on the timestamped page,
/// whose body is never stable).
#[test]
fn a_regression_on_any_listed_url_is_caught() {
    let blue = Nginx::start(&blue_site());
    let list_text = std::fs::read_to_string(list()).unwrap();
    let urls: Vec<(String, String, u16)> = list_text
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[1].to_string(), f[0].to_string(), f[2].parse().unwrap())
        })
        .collect();
    assert_eq!(urls.len(), 16);
    for (host, target, status) in &urls {
        let change = if (300..400).contains(status) {
            format!("return {status} /regressed;")
        } else {
            "return 200 \"regressed\\n\";".to_string()
        };
        for (kind, rule) in [("status", "return 418;".to_string()), ("content", change)] {
            let anchor = format!("server_name {host};");
            let site = blue_with(
                &anchor,
                &format!("{anchor}\n    if ($request_uri = \"{target}\") {{ {rule} }}"),
            );
            let green = Nginx::start(&site);
            let r = run(&config(&green, Some(&blue)), &list());
            if kind == "content" && target == "/now" {
                // Its body changes on every request (a timestamp): not comparable, by design.
                assert!(r.passed, "{}", r.summary());
                continue;
            }
            assert!(!r.passed, "{kind} on {host}{target}: {}", r.summary());
            let f = failing(&r);
            assert_eq!(f.len(), 1, "{kind} on {host}{target}: {f:?}");
            assert_eq!((&f[0].0, &f[0].1), (host, target));
            let summary = r.summary();
            assert!(summary.contains(&format!("    {host}\n")), "{summary}");
            assert!(
                summary.contains(&format!("        {target}  ")),
                "{summary}"
            );
        }
    }
}
