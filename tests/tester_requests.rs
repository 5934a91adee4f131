//! What the tester puts on the wire and how it paces itself, against recording servers on
//! loopback: Host per URL, X-Forwarded-*, User-Agent, GET/HEAD only, redirects never followed,
//! the per-request timeout, the --rps cap and the --deadline.

#[path = "tester_support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use greenlight::check::probe::{Endpoint, ProbeMethod};
use greenlight::check::report::Report;
use greenlight::check::verdict::Outcome;
use greenlight::check::{CheckConfig, check_list};
use greenlight::list::read_list;
use support::{Canned, Recorder};

fn run(cfg: &CheckConfig, list: &str) -> Report {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let l = read_list(list.as_bytes()).unwrap();
    rt.block_on(check_list(cfg, l, &mut |_, _| {})).unwrap()
}

fn cfg(server: &Recorder) -> CheckConfig {
    CheckConfig::new(Endpoint::parse(&server.url()).unwrap())
}

#[test]
fn request_shape_and_no_redirect_following() {
    let elsewhere = Recorder::start(|_| Canned::new(200, "should never be asked"));
    let target = format!("{}/landing", elsewhere.url());
    let green = Recorder::start(move |r| {
        if r.path.starts_with("/go") {
            Canned::new(302, "").header("location", &target)
        } else {
            Canned::new(200, "x")
        }
    });
    let list = "path,host,expected_status,scheme,agent\n\
                /a//b/../c?x=%zz,shop.example.com:8443,200,https,Mozilla/5.0 (Phone)\n\
                /go,www.example.com,302,http,\n";
    let r = run(&cfg(&green), list);
    assert!(r.passed, "{}", r.summary());
    let reqs = green.take();
    assert_eq!(reqs.len(), 2);
    let a = reqs.iter().find(|r| r.path.starts_with("/a")).unwrap();
    assert_eq!(a.method, "GET");
    assert_eq!(a.path, "/a//b/../c?x=%zz");
    assert_eq!(a.header("host"), Some("shop.example.com:8443"));
    assert_eq!(a.header("x-forwarded-proto"), Some("https"));
    assert_eq!(a.header("x-forwarded-port"), Some("8443"));
    assert_eq!(a.header("user-agent"), Some("Mozilla/5.0 (Phone)"));
    let go = reqs.iter().find(|r| r.path == "/go").unwrap();
    assert_eq!(go.header("host"), Some("www.example.com"));
    assert_eq!(go.header("x-forwarded-port"), Some("80"));
    assert!(go.header("user-agent").unwrap().starts_with("Mozilla/5.0"));
    assert!(elsewhere.take().is_empty(), "a redirect was followed");

    // HEAD, a fixed agent, no forwarded headers.
    let mut c = cfg(&green);
    c.probe.method = ProbeMethod::Head;
    c.probe.user_agent = Some("greenlight-ci".into());
    c.probe.forwarded_headers = false;
    let r = run(&c, list);
    assert!(r.passed, "{}", r.summary());
    for req in green.take() {
        assert_eq!(req.method, "HEAD");
        assert_eq!(req.header("user-agent"), Some("greenlight-ci"));
        assert!(req.header("x-forwarded-proto").is_none());
    }
}

#[test]
fn a_slow_answer_times_out_and_fails() {
    let green = Recorder::start(|r| {
        if r.path == "/slow" {
            std::thread::sleep(Duration::from_millis(800));
        }
        Canned::new(200, "x")
    });
    let mut c = cfg(&green);
    c.probe.timeout = Duration::from_millis(200);
    c.threshold = Some(50.0);
    let r = run(&c, "path\n/slow\n");
    assert!(!r.passed);
    assert_eq!(r.urls[0].verdict.outcome, Outcome::Error);
    assert_eq!(r.urls[0].verdict.detail.as_deref(), Some("timed out"));
}

#[test]
fn rps_cap_and_deadline() {
    let green = Recorder::start(|_| Canned::new(200, "x"));
    let list: String = std::iter::once("path\n".to_string())
        .chain((0..20).map(|i| format!("/p/{i}\n")))
        .collect();
    let mut c = cfg(&green);
    c.probe.rps = Some(40.0);
    let start = Instant::now();
    let r = run(&c, &list);
    assert!(r.passed, "{}", r.summary());
    // 20 requests at 40/s: at least 19 intervals of 25 ms.
    assert!(
        start.elapsed() >= Duration::from_millis(450),
        "{:?}",
        start.elapsed()
    );

    // A deadline shorter than the run: the rest is not_run and fails the gate.
    c.concurrency = 1;
    c.deadline = Duration::from_millis(120);
    let r = run(&c, &list);
    assert!(!r.passed);
    assert!(r.counts["not_run"] > 0, "{}", r.summary());
    assert!(r.counts["pass"] > 0, "{}", r.summary());
}
