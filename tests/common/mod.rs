//! Shared test helpers: an ALB line builder and a writer for log trees in the bucket layout.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};

use flate2::Compression;
use flate2::write::GzEncoder;

/// The 34 fields of a replayable request on 2026-03-02, as the ALB writes them (quoted fields
/// with their quotes).
pub const BASE: [&str; 34] = [
    "https",
    "2026-03-02T10:00:00.123456Z",
    "app/my-alb/50dc6c495c0c9188",
    "203.0.113.7:2817",
    "10.0.0.1:80",
    "0.000",
    "0.048",
    "0.000",
    "200",
    "200",
    "34",
    "366",
    "\"GET https://www.example.com:443/index.html?a=1 HTTP/1.1\"",
    "\"Mozilla/5.0 (X11; Linux x86_64)\"",
    "ECDHE-RSA-AES128-GCM-SHA256",
    "TLSv1.2",
    "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/tg/73e2d6bc24d8a067",
    "\"Root=1-58337262-36d228ad5d99923122bbe354\"",
    "\"www.example.com\"",
    "\"arn:aws:acm:eu-west-1:123456789012:certificate/abc\"",
    "0",
    "2026-03-02T10:00:00.075000Z",
    "\"forward\"",
    "\"-\"",
    "\"-\"",
    "\"10.0.0.1:80\"",
    "\"200\"",
    "\"-\"",
    "\"-\"",
    "TID_0123abcd",
    "\"-\"",
    "\"-\"",
    "\"-\"",
    "10.0.5.5",
];

/// A line builder: start from [`BASE`], change fields by their 1-based number.
#[derive(Clone)]
pub struct Line {
    fields: Vec<String>,
}

impl Line {
    pub fn base() -> Self {
        Line {
            fields: BASE.iter().map(|s| s.to_string()).collect(),
        }
    }
    /// Sets field `n` (1-based) to `v` as written (include quotes for quoted fields).
    pub fn set(mut self, n: usize, v: &str) -> Self {
        self.fields[n - 1] = v.to_string();
        self
    }
    pub fn request(self, r: &str) -> Self {
        self.set(13, &format!("\"{r}\""))
    }
    pub fn get(self, url: &str) -> Self {
        self.request(&format!("GET {url} HTTP/1.1"))
    }
    pub fn agent(self, ua: &str) -> Self {
        self.set(14, &format!("\"{ua}\""))
    }
    pub fn status(self, elb: &str, target: &str) -> Self {
        self.set(9, elb).set(10, target)
    }
    pub fn actions(self, a: &str) -> Self {
        self.set(23, &format!("\"{a}\""))
    }
    pub fn time(self, t: &str) -> Self {
        self.set(2, t)
    }
    /// Keeps only the first `n` fields (an older layout).
    pub fn layout(mut self, n: usize) -> Self {
        self.fields.truncate(n);
        self
    }
    /// Appends fields AWS may add in the future.
    pub fn extra(mut self, extra: &[&str]) -> Self {
        self.fields.extend(extra.iter().map(|s| s.to_string()));
        self
    }
    pub fn text(&self) -> String {
        self.fields.join(" ")
    }
}

pub const ACCOUNT: &str = "123456789012";
pub const REGION: &str = "eu-west-1";

/// The folder of delivery date `ymd` (`2026/03/02`) under `root`.
pub fn day_dir(root: &Path, ymd: &str) -> PathBuf {
    root.join(format!(
        "AWSLogs/{ACCOUNT}/elasticloadbalancing/{REGION}/{ymd}"
    ))
}

/// An ALB access-log object name for the interval ending at `stamp` (`20260302T1005Z`).
pub fn object_name(stamp: &str, node: &str) -> String {
    format!(
        "{ACCOUNT}_elasticloadbalancing_{REGION}_app.my-alb.50dc6c495c0c9188_{stamp}_{node}_1a2b3c4d.log.gz"
    )
}

pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// Writes `lines` (joined with `\n`, with a final newline) gzipped as the object for interval
/// `stamp` in delivery folder `ymd`; returns its path.
pub fn write_object(root: &Path, ymd: &str, stamp: &str, lines: &[String]) -> PathBuf {
    let mut text = lines.join("\n");
    text.push('\n');
    write_raw(
        root,
        ymd,
        &object_name(stamp, "10.0.1.5"),
        &gzip(text.as_bytes()),
    )
}

/// Writes raw bytes as object `name` in delivery folder `ymd`.
pub fn write_raw(root: &Path, ymd: &str, name: &str, bytes: &[u8]) -> PathBuf {
    let dir = day_dir(root, ymd);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}
