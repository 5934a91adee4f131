//! Helpers for the tester's integration tests: nginx instances of the test's own (own prefix,
//! pid, logs, loopback port) and a recording HTTP server on loopback (stands in for CodeDeploy
//! and for the Lambda Runtime API).
#![allow(dead_code)]

use std::collections::VecDeque;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/nginx")
}

/// The nginx binary; fails the test (never skips) when it is missing.
pub fn nginx_bin() -> PathBuf {
    for p in ["/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/bin/nginx"] {
        if Path::new(p).exists() {
            return PathBuf::from(p);
        }
    }
    if let Ok(out) = Command::new("sh").args(["-c", "command -v nginx"]).output() {
        let p = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if out.status.success() && !p.is_empty() {
            return PathBuf::from(p);
        }
    }
    panic!(
        "nginx is not installed: the tester's integration tests need it. Run `bash .ci/test` \
         (it installs nginx from Debian when missing)."
    );
}

/// A free loopback port (bound and released; nginx binds it right after).
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    l.local_addr().expect("local addr").port()
}

/// An nginx instance of the test's own; stopped (TERM, then wait) on drop.
pub struct Nginx {
    pub port: u16,
    pub dir: tempfile::TempDir,
    child: Child,
}

impl Nginx {
    /// Starts nginx with `site` (a server-blocks config with `@PORT@`) on a free loopback port.
    pub fn start(site: &str) -> Nginx {
        let bin = nginx_bin();
        for _ in 0..5 {
            let port = free_port();
            let dir = tempfile::tempdir().expect("tempdir");
            let d = dir.path().display().to_string();
            std::fs::create_dir_all(dir.path().join("logs")).expect("logs dir");
            let site_path = dir.path().join("site.conf");
            std::fs::write(&site_path, site.replace("@PORT@", &port.to_string())).expect("site");
            let main =
                std::fs::read_to_string(fixtures().join("main.conf.in")).expect("main.conf.in");
            let main = main
                .replace("@DIR@", &d)
                .replace("@PORT@", &port.to_string())
                .replace("@SITE@", &site_path.display().to_string());
            let conf = dir.path().join("nginx.conf");
            std::fs::write(&conf, main).expect("nginx.conf");
            let mut child = Command::new(&bin)
                .arg("-p")
                .arg(dir.path())
                .arg("-c")
                .arg(&conf)
                .args(["-g", "error_log stderr warn;"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn nginx");
            let start = Instant::now();
            loop {
                if let Ok(Some(_)) = child.try_wait() {
                    let mut err = String::new();
                    if let Some(mut e) = child.stderr.take() {
                        use std::io::Read;
                        let _ = e.read_to_string(&mut err);
                    }
                    if err.contains("Address already in use") {
                        break; // another port
                    }
                    panic!("nginx exited at start: {err}");
                }
                if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return Nginx { port, dir, child };
                }
                if start.elapsed() > Duration::from_secs(10) {
                    let _ = child.kill();
                    panic!("nginx did not listen on 127.0.0.1:{port} within 10 s");
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        panic!("no free port for nginx after 5 tries");
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn access_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("access.log")).unwrap_or_default()
    }

    /// The access log once it holds `needle`: nginx writes a request's line after sending the
    /// response, so a client can see the answer before the line is there. Waits up to 5 s,
    /// then returns the log as it is (and the caller's assertion fails, showing it).
    pub fn access_log_with(&self, needle: &str) -> String {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            let log = self.access_log();
            if log.contains(needle) || std::time::Instant::now() > deadline {
                return log;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // TERM to the master (our own child, by pid): it stops its workers and exits.
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(5) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The blue site config.
pub fn blue_site() -> String {
    std::fs::read_to_string(fixtures().join("blue.conf")).expect("blue.conf")
}

/// `blue.conf` with `from` replaced by `to` (which must be there): one injected regression.
pub fn blue_with(from: &str, to: &str) -> String {
    let blue = blue_site();
    assert!(blue.contains(from), "blue.conf has no {from:?}");
    blue.replacen(from, to, 1)
}

/// One request the recording server received.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("recorded body is JSON")
    }
}

/// A canned answer.
#[derive(Debug, Clone)]
pub struct Canned {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Canned {
    pub fn new(status: u16, body: impl Into<Vec<u8>>) -> Self {
        Canned {
            status,
            headers: Vec::new(),
            body: body.into(),
        }
    }
    pub fn header(mut self, k: &str, v: &str) -> Self {
        self.headers.push((k.into(), v.into()));
        self
    }
}

type Responder = Box<dyn Fn(&Recorded) -> Canned + Send + Sync>;

/// A small HTTP/1.1 server on loopback that records every request and answers with
/// `responder`. Runs on its own thread and runtime; stops when dropped.
pub struct Recorder {
    pub addr: SocketAddr,
    pub requests: Arc<Mutex<Vec<Recorded>>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Recorder {
    pub fn start(responder: impl Fn(&Recorded) -> Canned + Send + Sync + 'static) -> Recorder {
        let responder: Arc<Responder> = Arc::new(Box::new(responder));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let std_listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        std_listener.set_nonblocking(true).expect("nonblocking");
        let addr = std_listener.local_addr().expect("addr");
        let (stop_tx, mut stop_rx) = tokio::sync::oneshot::channel::<()>();
        let reqs = requests.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("rt");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(std_listener).expect("listener");
                loop {
                    tokio::select! {
                        _ = &mut stop_rx => break,
                        acc = listener.accept() => {
                            let Ok((stream, _)) = acc else { continue };
                            let (responder, reqs) = (responder.clone(), reqs.clone());
                            tokio::spawn(async move {
                                let svc = service_fn(move |req: Request<Incoming>| {
                                    let (responder, reqs) = (responder.clone(), reqs.clone());
                                    async move {
                                        let (parts, body) = req.into_parts();
                                        let body = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
                                        let rec = Recorded {
                                            method: parts.method.to_string(),
                                            path: parts.uri.to_string(),
                                            headers: parts.headers.iter().map(|(k, v)| (k.to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned())).collect(),
                                            body: body.to_vec(),
                                        };
                                        let canned = responder(&rec);
                                        reqs.lock().expect("lock").push(rec);
                                        let mut b = Response::builder().status(canned.status);
                                        for (k, v) in &canned.headers {
                                            b = b.header(k, v);
                                        }
                                        Ok::<_, std::convert::Infallible>(b.body(Full::new(Bytes::from(canned.body))).expect("response"))
                                    }
                                });
                                let _ = hyper::server::conn::http1::Builder::new()
                                    .serve_connection(TokioIo::new(stream), svc)
                                    .await;
                            });
                        }
                    }
                }
            });
        });
        Recorder {
            addr,
            requests,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn take(&self) -> Vec<Recorded> {
        std::mem::take(&mut *self.requests.lock().expect("lock"))
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A queue of Lambda events served by a fake Runtime API; `next` answers 410 when empty (the
/// runtime loop then stops).
pub fn runtime_api(events: Vec<serde_json::Value>) -> Recorder {
    let queue = Arc::new(Mutex::new(
        events.into_iter().enumerate().collect::<VecDeque<_>>(),
    ));
    Recorder::start(move |r| {
        if r.method == "GET" && r.path.ends_with("/runtime/invocation/next") {
            match queue.lock().expect("lock").pop_front() {
                Some((i, ev)) => {
                    let deadline = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .expect("clock")
                        .as_millis()
                        + 120_000;
                    Canned::new(200, ev.to_string())
                        .header("lambda-runtime-aws-request-id", &format!("req-{i}"))
                        .header("lambda-runtime-deadline-ms", &deadline.to_string())
                        .header("content-type", "application/json")
                }
                None => Canned::new(410, "no more events"),
            }
        } else {
            Canned::new(202, "{}")
        }
    })
}

/// Environment for anything that builds an AWS SDK client in a test: static credentials, a
/// region, no IMDS, no profile files. Never reaches AWS.
pub fn aws_test_env() -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ACCESS_KEY_ID", "AKIDTESTTESTTEST".into()),
        ("AWS_SECRET_ACCESS_KEY", "testsecret".into()),
        ("AWS_REGION", "eu-west-1".into()),
        ("AWS_EC2_METADATA_DISABLED", "true".into()),
        ("AWS_CONFIG_FILE", "/nonexistent/greenlight-test".into()),
        (
            "AWS_SHARED_CREDENTIALS_FILE",
            "/nonexistent/greenlight-test".into(),
        ),
        ("AWS_MAX_ATTEMPTS", "1".into()),
    ]
}

/// The tester binary built by cargo for these tests.
pub fn tester_bin() -> &'static str {
    env!("CARGO_BIN_EXE_greenlight-tester")
}
