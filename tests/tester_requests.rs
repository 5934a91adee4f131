//! What the tester puts on the wire and how it paces itself, against recording servers on
//! loopback: Host per URL, X-Forwarded-*, User-Agent, GET/HEAD only, redirects never followed,
//! the per-request timeout, the --rps cap and the --deadline, and servers that close keep-alive
//! connections (the request is sent again on a fresh connection, never reported as a failure).

#[path = "tester_support/mod.rs"]
mod support;

use std::io::{Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
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
    // Every URL keeps its own line, target and route in list order, run or not; the ones not
    // run say why and carry no answer.
    for (i, u) in r.urls.iter().enumerate() {
        assert_eq!(
            (u.line, u.target.as_str(), u.route.as_str()),
            (i as u64 + 2, format!("/p/{i}").as_str(), "/p/{id}")
        );
        if u.verdict.outcome == Outcome::NotRun {
            assert_eq!(u.verdict.detail.as_deref(), Some("deadline reached"));
            assert!(u.green.is_none());
        } else {
            assert!(u.green.is_some(), "{i}");
        }
    }
}

#[test]
fn threads_share_the_list_and_each_url_is_sent_once_with_its_own_host() {
    // The body names the URL, so each answer can be matched to its request.
    let green = Recorder::start(|r| Canned::new(200, r.path.clone()));
    let hosts = ["a.example.com", "b.example.com:8080", ""];
    let mut list = String::from("path,host\n");
    for i in 0..300 {
        list.push_str(&format!("/t/{i},{}\n", hosts[i % 3]));
    }
    let mut c = cfg(&green);
    c.threads = 3;
    c.concurrency = 8;
    let r = run(&c, &list);
    assert!(r.passed, "{}", r.summary());
    assert_eq!(r.urls.len(), 300);
    let mut seen = std::collections::HashSet::new();
    for req in green.take() {
        let i: usize = req.path.trim_start_matches("/t/").parse().unwrap();
        assert!(seen.insert(i), "{} sent twice", req.path);
        // Hosts alternate URL by URL: each request carries its own, none a cached one's.
        let want = match hosts[i % 3] {
            "" => green.url().trim_start_matches("http://").to_string(),
            h => h.to_string(),
        };
        assert_eq!(req.header("host"), Some(want.as_str()), "{}", req.path);
    }
    assert_eq!(seen.len(), 300);
    // Results come back in list order, each with its own answer.
    let body_of = |i: usize| {
        let mut one = cfg(&green);
        one.concurrency = 1;
        let r = run(&one, &format!("path\n/t/{i}\n"));
        r.urls[0].green.as_ref().unwrap().body_sha256
    };
    for i in [0, 1, 2, 151, 299] {
        let u = &r.urls[i];
        assert_eq!(u.target, format!("/t/{i}"));
        assert_eq!(
            u.green.as_ref().unwrap().body_sha256,
            body_of(i),
            "{}",
            u.target
        );
    }
    assert!(r.urls[0].green.as_ref().unwrap().body_sha256 != body_of(1));

    // No thread can be asked for: an error before any request.
    green.take();
    c.threads = 0;
    let l = read_list(list.as_bytes()).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    assert!(rt.block_on(check_list(&c, l, &mut |_, _| {})).is_err());
    assert!(green.take().is_empty());
}

/// A bare HTTP/1.1 server on loopback: answers the first request on each connection with a
/// keep-alive `200 ok` (no `Connection: close`), then closes the connection when the next
/// request arrives, without answering it, as a server does that drops an idle keep-alive
/// connection just as the client reuses it. With `answer_first == false` it closes every
/// connection on its first request. Returns the address and counters (answered, dropped).
fn closing_server(answer_first: bool) -> (String, Arc<AtomicUsize>, Arc<AtomicUsize>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (answered, dropped) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let (a, d) = (answered.clone(), dropped.clone());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let (a, d) = (a.clone(), d.clone());
            std::thread::spawn(move || {
                // Reads one request head; false at EOF.
                let read_head = |s: &mut std::net::TcpStream| {
                    let mut head = Vec::new();
                    let mut byte = [0u8; 1];
                    while !head.ends_with(b"\r\n\r\n") {
                        match s.read(&mut byte) {
                            Ok(1) => head.push(byte[0]),
                            _ => return false,
                        }
                    }
                    true
                };
                if !read_head(&mut stream) {
                    return;
                }
                if answer_first {
                    let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n");
                    a.fetch_add(1, Ordering::SeqCst);
                    if !read_head(&mut stream) {
                        return;
                    }
                }
                d.fetch_add(1, Ordering::SeqCst);
                // Dropped with the request unread and unanswered.
            });
        }
    });
    (format!("http://{addr}"), answered, dropped)
}

#[test]
fn a_request_on_a_connection_the_server_just_closed_is_sent_again() {
    let (url, answered, dropped) = closing_server(true);
    let list: String = std::iter::once("path\n".to_string())
        .chain((0..40).map(|i| format!("/k/{i}\n")))
        .collect();
    let mut c = CheckConfig::new(Endpoint::parse(&url).unwrap());
    c.concurrency = 4;
    let r = run(&c, &list);
    assert!(r.passed, "{}", r.summary());
    assert_eq!(r.counts["pass"], 40, "{}", r.summary());
    assert_eq!(answered.load(Ordering::SeqCst), 40);
    // Each worker's connections were reused and found closed: the path under test ran.
    assert!(dropped.load(Ordering::SeqCst) >= 30, "{dropped:?}");
}

#[test]
fn a_server_that_never_answers_is_an_http_error_not_retried_forever() {
    let (url, _, dropped) = closing_server(false);
    let mut c = CheckConfig::new(Endpoint::parse(&url).unwrap());
    c.concurrency = 2;
    c.threshold = Some(0.0);
    let r = run(&c, "path\n/a\n/b\n/c\n");
    assert!(!r.passed, "{}", r.summary());
    for u in &r.urls {
        assert_eq!(u.verdict.outcome, Outcome::Error, "{}", r.summary());
        let detail = u.verdict.detail.as_deref().unwrap_or_default();
        assert!(!detail.contains("connection failed"), "{detail}");
    }
    // A fresh connection's failure is not retried: one connection per URL.
    assert_eq!(dropped.load(Ordering::SeqCst), 3);
}

#[test]
fn servers_that_close_keep_alive_connections() {
    let list: String = std::iter::once("path\n".to_string())
        .chain((0..60).map(|i| format!("/c/{i}\n")))
        .collect();
    // `Connection: close` on every answer.
    let green = Recorder::start(|_| Canned::new(200, "x").header("connection", "close"));
    let mut c = cfg(&green);
    c.concurrency = 4;
    let r = run(&c, &list);
    assert!(r.passed, "{}", r.summary());
    assert_eq!(r.counts["pass"], 60, "{}", r.summary());
    assert_eq!(green.take().len(), 60);

    // nginx closing each connection after its second request (keepalive_requests).
    let nginx = support::Nginx::start(
        "server { listen 127.0.0.1:@PORT@; keepalive_requests 2; \
         location / { return 200 \"ok\\n\"; } }",
    );
    let mut c = CheckConfig::new(Endpoint::parse(&nginx.endpoint()).unwrap());
    c.concurrency = 4;
    let r = run(&c, &list);
    assert!(r.passed, "{}", r.summary());
    assert_eq!(r.counts["pass"], 60, "{}", r.summary());
}
