//! A GetObject body that breaks off mid-stream, for real: the miner talks to moto through a
//! loopback TCP proxy that closes the connection once part of one object's body went through.
//! The miner resumes with a Range request from the byte it had received, and the run's list
//! and figures are exactly those of the local folder: every line counted once.

mod moto;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Forwards connections to `upstream`; on the first `cuts` connections that send a GET whose
/// request line contains `victim`, closes both sides after `cut_after` response bytes.
struct CuttingProxy {
    port: u16,
    cut_done: Arc<AtomicBool>,
    /// Request heads seen, for the assertions.
    requests: Arc<Mutex<Vec<String>>>,
}

fn start_proxy(upstream: u16, victim: String, cut_after: u64, cuts: u64) -> CuttingProxy {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let cut_done = Arc::new(AtomicBool::new(false));
    let requests = Arc::new(Mutex::new(Vec::new()));
    let (cut, reqs) = (cut_done.clone(), requests.clone());
    let cut_count = Arc::new(AtomicU64::new(0));
    std::thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(client) = client else { return };
            let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)) else {
                return;
            };
            let (cut, reqs, victim) = (cut.clone(), reqs.clone(), victim.clone());
            let cut_count = cut_count.clone();
            // Set when this connection forwarded the victim's GET: response bytes from then on.
            let armed = Arc::new(AtomicU64::new(u64::MAX));
            let (mut c_in, mut s_out) = (client.try_clone().unwrap(), server.try_clone().unwrap());
            let armed_up = armed.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 16384];
                loop {
                    let n = match c_in.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => n,
                    };
                    let text = String::from_utf8_lossy(&buf[..n]).into_owned();
                    if let Some(line) = text.lines().next().filter(|l| l.starts_with("GET ")) {
                        let head = text.split("\r\n\r\n").next().unwrap_or("").to_owned();
                        reqs.lock().unwrap().push(head);
                        if line.contains(&victim) && cut_count.fetch_add(1, Ordering::SeqCst) < cuts
                        {
                            cut.store(true, Ordering::SeqCst);
                            armed_up.store(0, Ordering::SeqCst);
                        }
                    }
                    if s_out.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
                let _ = s_out.shutdown(Shutdown::Write);
            });
            std::thread::spawn(move || {
                let (mut s_in, mut c_out) = (server, client);
                let mut buf = [0u8; 1024];
                loop {
                    let n = match s_in.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => n,
                    };
                    let sent = armed.load(Ordering::SeqCst);
                    if sent != u64::MAX {
                        let room = cut_after.saturating_sub(sent) as usize;
                        if room < n {
                            let _ = c_out.write_all(&buf[..room]);
                            let _ = c_out.shutdown(Shutdown::Both);
                            let _ = s_in.shutdown(Shutdown::Both);
                            return;
                        }
                        armed.store(sent + n as u64, Ordering::SeqCst);
                    }
                    if c_out.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
                let _ = c_out.shutdown(Shutdown::Write);
            });
        }
    });
    CuttingProxy {
        port,
        cut_done,
        requests,
    }
}

/// The name and size of the biggest access log of the fixtures' 2026-03-02 folder.
fn biggest_access_log(fixtures: &Path) -> (String, u64) {
    let folder = fixtures.join("AWSLogs/123456789012/elasticloadbalancing/eu-west-1/2026/03/02");
    let (victim, size) = std::fs::read_dir(&folder)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_name().to_string_lossy().contains("_app."))
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                e.metadata().unwrap().len(),
            )
        })
        .max_by_key(|(_, size)| *size)
        .unwrap();
    assert!(size > 4000, "{victim}: {size} bytes");
    (victim, size)
}

#[test]
fn a_body_broken_mid_stream_is_resumed_and_every_line_counted_once() {
    let m = moto::moto();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/alb");
    let bucket = m.bucket("broken");
    m.upload_tree(&bucket, &fixtures, "");
    let date = "2026-03-02";
    // The biggest access log of the day, cut after half its size.
    let (victim, size) = biggest_access_log(&fixtures);
    let proxy = start_proxy(m.port, victim.clone(), 600 + size / 2, 1);

    let tmp = tempfile::tempdir().unwrap();
    let (local_out, local_report) = (tmp.path().join("local.csv"), tmp.path().join("local.json"));
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_greenlight-miner"));
    moto::no_aws_env(&mut cmd);
    let o = cmd
        .arg("--logs")
        .arg(&fixtures)
        .arg("--out")
        .arg(&local_out)
        .arg("--report")
        .arg(&local_report)
        .args(["--date", date])
        .output()
        .unwrap();
    assert!(o.status.success());

    let (s3_out, s3_report) = (tmp.path().join("s3.csv"), tmp.path().join("s3.json"));
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_greenlight-miner"));
    m.miner_env(&mut cmd);
    let o = cmd
        .args(["--logs", &format!("s3://{bucket}"), "--date", date])
        .args(["--s3-endpoint", &format!("http://127.0.0.1:{}", proxy.port)])
        .arg("--out")
        .arg(&s3_out)
        .arg("--report")
        .arg(&s3_report)
        .env("GREENLIGHT_LOG", "warn")
        .env_remove("GREENLIGHT_QUIET")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    assert!(
        proxy.cut_done.load(Ordering::SeqCst),
        "the proxy never saw the victim's GET"
    );
    assert!(stderr.contains("resuming"), "no resume logged: {stderr}");

    let requests = proxy.requests.lock().unwrap().clone();
    let victim_gets: Vec<_> = requests.iter().filter(|r| r.contains(&victim)).collect();
    assert_eq!(victim_gets.len(), 2, "{victim_gets:#?}");
    let resumed = victim_gets[1].to_ascii_lowercase();
    assert!(resumed.contains("range: bytes="), "{resumed}");
    assert!(resumed.contains("if-match:"), "{resumed}");

    assert_eq!(
        std::fs::read(&s3_out).unwrap(),
        std::fs::read(&local_out).unwrap()
    );
    let figures = |p: &Path| {
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap();
        (
            v["objects"].clone(),
            v["bytes"].clone(),
            v["lines"].clone(),
            v["requests"].clone(),
        )
    };
    assert_eq!(figures(&s3_report), figures(&local_report));
}

/// A body that breaks off on every GET, resumes and all: the object fails with the break after
/// the last resume, and the lines before it count. Fetched whole ahead of its turn (the default
/// for small S3 objects) or streamed (`GREENLIGHT_INFLATE=stream`), the run's figures, the
/// object's failure and the list are the same.
#[test]
fn a_body_that_breaks_for_good_fails_alike_fetched_whole_or_streamed() {
    let m = moto::moto();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/alb");
    let bucket = m.bucket("broken-for-good");
    m.upload_tree(&bucket, &fixtures, "");
    let date = "2026-03-02";
    let (victim, size) = biggest_access_log(&fixtures);
    let tmp = tempfile::tempdir().unwrap();
    let run = |name: &str, inflate: &str| {
        // Every GET of the victim gets about a tenth of its body through, then breaks.
        let proxy = start_proxy(m.port, victim.clone(), 600 + size / 10, u64::MAX);
        let (out, report) = (
            tmp.path().join(format!("{name}.csv")),
            tmp.path().join(format!("{name}.json")),
        );
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_greenlight-miner"));
        m.miner_env(&mut cmd);
        let o = cmd
            .args(["--logs", &format!("s3://{bucket}"), "--date", date])
            .args(["--s3-endpoint", &format!("http://127.0.0.1:{}", proxy.port)])
            .args(["--max-error-rate", "50"])
            .arg("--out")
            .arg(&out)
            .arg("--report")
            .arg(&report)
            .env("GREENLIGHT_INFLATE", inflate)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
        assert!(o.status.success(), "{name}: {stderr}");
        let gets = proxy
            .requests
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.contains(&victim))
            .count();
        let v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
        (std::fs::read(&out).unwrap(), v, gets)
    };
    // At once: each run waits out the resumes' backoff (6 s).
    let ((whole_list, whole, whole_gets), (stream_list, stream, stream_gets)) =
        std::thread::scope(|s| {
            let whole = s.spawn(|| run("whole", "whole"));
            let stream = run("stream", "stream");
            (whole.join().unwrap(), stream)
        });
    // The first GET and five resumes.
    assert_eq!((whole_gets, stream_gets), (6, 6));
    let failures = &whole["objects"]["failures"];
    assert_eq!(failures.as_array().map(Vec::len), Some(1), "{whole}");
    let failure = &failures[0];
    assert!(
        failure["key"].as_str().unwrap().ends_with(&victim),
        "{failure}"
    );
    let error = failure["error"].as_str().unwrap();
    assert!(
        error.starts_with("read error: ") && error.contains("broke off 6 times"),
        "{error}"
    );
    assert!(
        failure["lines_before"].as_u64().unwrap() > 0,
        "the lines before the break count"
    );
    for part in ["objects", "bytes", "lines", "requests"] {
        assert_eq!(whole[part], stream[part], "{part}");
    }
    assert_eq!(whole_list, stream_list);
}
