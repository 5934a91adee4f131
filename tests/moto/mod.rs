//! A real S3-compatible server for the tests: moto's standalone server from the venv that
//! `bash .ci/test` installs at `target/moto-venv`, one per test binary, on a free loopback port.
//!
//! The server is started on first use and stops when the test binary exits, however it exits:
//! moto runs under a small Python wrapper that exits as soon as its stdin (a pipe held by this
//! process) reaches end of file. Each test uses its own bucket ([`Moto::bucket`]).
//! Missing moto is a failure with instructions, never a skip.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_s3::primitives::ByteStream;

pub struct Moto {
    pub endpoint: String,
    pub port: u16,
    /// Kept so the pipe to the wrapper stays open for the life of the test binary.
    _child: Mutex<Child>,
    client: aws_sdk_s3::Client,
}

const WRAPPER: &str = r#"
import os, sys, threading
def watch():
    sys.stdin.read()
    os._exit(0)
threading.Thread(target=watch, daemon=True).start()
from moto.server import main
main(sys.argv[1:])
"#;

pub fn venv_python() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target/moto-venv/bin/python")
}

/// The server of this test binary.
pub fn moto() -> &'static Moto {
    static MOTO: OnceLock<Moto> = OnceLock::new();
    MOTO.get_or_init(|| {
        // For in-process library calls (the library reads the standard chain). Every test
        // calls `moto()` before it starts anything, so no other thread reads the environment
        // while it is changed.
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("AWS_") {
                unsafe { std::env::remove_var(k) };
            }
        }
        for (k, v) in [
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("AWS_REGION", "us-east-1"),
            ("AWS_EC2_METADATA_DISABLED", "true"),
            ("AWS_CONFIG_FILE", "/nonexistent/greenlight-test/config"),
            (
                "AWS_SHARED_CREDENTIALS_FILE",
                "/nonexistent/greenlight-test/credentials",
            ),
        ] {
            unsafe { std::env::set_var(k, v) };
        }
        start(&[])
    })
}

/// Starts a server; `env` is added to its environment (e.g. to switch its IAM auth on).
pub fn start(env: &[(&str, &str)]) -> Moto {
    let python = venv_python();
    let moto_server = python.with_file_name("moto_server");
    assert!(
        moto_server.exists(),
        "moto's S3 server is not installed ({} is missing): run `bash .ci/test`, which \
         installs it into target/moto-venv, instead of plain `cargo test`",
        moto_server.display()
    );
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port");
    let mut cmd = Command::new(&python);
    cmd.args(["-c", WRAPPER, "-H", "127.0.0.1", "-p", &port.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let child = cmd.spawn().expect("start moto_server");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !ready(port) {
        assert!(
            Instant::now() < deadline,
            "moto_server did not answer GET /moto-api/ on 127.0.0.1:{port} within 30 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let endpoint = format!("http://127.0.0.1:{port}");
    let conf = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "test"))
        .endpoint_url(&endpoint)
        .force_path_style(true)
        .build();
    Moto {
        endpoint,
        port,
        _child: Mutex::new(child),
        client: aws_sdk_s3::Client::from_conf(conf),
    }
}

fn ready(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    if s.write_all(b"GET /moto-api/ HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut head = [0u8; 12];
    s.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.") && &head[9..12] == b"200"
}

fn block_on<F: Future>(f: F) -> F::Output {
    greenlight::s3::runtime().block_on(f)
}

impl Moto {
    /// A new, empty bucket with a unique name starting with `name`.
    pub fn bucket(&self, name: &str) -> String {
        static N: AtomicUsize = AtomicUsize::new(0);
        let bucket = format!("{name}-{}", N.fetch_add(1, Ordering::Relaxed));
        block_on(self.client.create_bucket().bucket(&bucket).send()).expect("create bucket");
        bucket
    }

    pub fn put(&self, bucket: &str, key: &str, body: Vec<u8>) {
        block_on(
            self.client
                .put_object()
                .bucket(bucket)
                .key(key)
                .body(ByteStream::from(body))
                .send(),
        )
        .unwrap_or_else(|e| panic!("put {key}: {e:?}"));
    }

    pub fn get(&self, bucket: &str, key: &str) -> Option<Vec<u8>> {
        block_on(async {
            match self
                .client
                .get_object()
                .bucket(bucket)
                .key(key)
                .send()
                .await
            {
                Ok(out) => Some(out.body.collect().await.expect("body").to_vec()),
                Err(_) => None,
            }
        })
    }

    pub fn delete(&self, bucket: &str, key: &str) {
        block_on(self.client.delete_object().bucket(bucket).key(key).send()).expect("delete");
    }

    /// Uploads every file under `dir`, keyed by its path relative to `dir` under `prefix`
    /// (`prefix` empty or ending in `/`). Returns how many files.
    pub fn upload_tree(&self, bucket: &str, dir: &Path, prefix: &str) -> usize {
        let mut n = 0;
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            for entry in std::fs::read_dir(&d).expect("read fixture dir") {
                let path = entry.expect("entry").path();
                if path.is_dir() {
                    stack.push(path);
                } else {
                    let rel = path.strip_prefix(dir).expect("under dir");
                    let key = format!("{prefix}{}", rel.to_string_lossy());
                    self.put(bucket, &key, std::fs::read(&path).expect("read fixture"));
                    n += 1;
                }
            }
        }
        n
    }

    /// Environment for a miner process that talks to this server with static test
    /// credentials and nothing else (no profile, no IMDS).
    pub fn miner_env(&self, cmd: &mut Command) {
        no_aws_env(cmd);
        cmd.env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_REGION", "us-east-1");
    }
}

/// A state folder of its own for each miner run (`GREENLIGHT_STATE`): these tests compare one
/// day's list between runs, so no run may see another's day tallies (and none may write into
/// the working tree). Under the system temp folder, removed when the test process ends.
fn fresh_state() -> PathBuf {
    static ROOT: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    static N: AtomicUsize = AtomicUsize::new(0);
    let root = ROOT.get_or_init(|| tempfile::tempdir().expect("state root"));
    root.path()
        .join(format!("state-{}", N.fetch_add(1, Ordering::Relaxed)))
}

/// Removes every way the SDK could find credentials, a region or an endpoint outside the test,
/// and switches IMDS off.
pub fn no_aws_env(cmd: &mut Command) {
    cmd.env("GREENLIGHT_STATE", fresh_state());
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("AWS_") {
            cmd.env_remove(k);
        }
    }
    cmd.env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/nonexistent/greenlight-test/config")
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            "/nonexistent/greenlight-test/credentials",
        )
        .env("GREENLIGHT_QUIET", "1");
}
