//! One multi-GB log object in a bucket (moto, see `tests/moto/mod.rs`), generated on the fly:
//! the miner streams it with bounded memory. Peak RSS of the miner process is measured with
//! `/usr/bin/time -f %M` and must stay far below the object's size.
//!
//! The object is 2 GiB uncompressed, as 256 gzip members of 8 MiB each (ALB objects may be
//! multi-member). Most members are compressed (1,000 access-log lines and one 7.5 MiB line of
//! filler, which the scan skips as too long without parsing: cheap in a debug build); every
//! 16th member is *stored* (deflate level 0), so the object is also big as stored (~130 MiB):
//! a source that buffered whole objects would show it.

mod common;
mod moto;

use std::io::Write;
use std::process::Command;

use common::{Line, object_name};
use flate2::Compression;
use flate2::write::GzEncoder;

const MEMBER: usize = 8 << 20;
const MEMBERS: usize = 256;
const STORED_EVERY: usize = 16;
/// The Done-when bound of issue 3.
const RSS_BOUND_KIB: u64 = 256 * 1024;

fn member(level: Compression) -> Vec<u8> {
    let mut text = Vec::with_capacity(MEMBER);
    let mut i = 0;
    while text.len() < MEMBER / 16 {
        let line = Line::base()
            .get(&format!("https://www.example.com:443/big/{}", i % 50))
            .text();
        text.extend_from_slice(line.as_bytes());
        text.push(b'\n');
        i += 1;
    }
    text.resize(MEMBER - 1, b'x');
    text.push(b'\n');
    let mut e = GzEncoder::new(Vec::new(), level);
    e.write_all(&text).unwrap();
    e.finish().unwrap()
}

#[test]
fn a_2_gib_object_is_streamed_with_bounded_memory() {
    let m = moto::moto();
    let bucket = m.bucket("big");
    let packed = member(Compression::fast());
    let stored = member(Compression::none());
    let mut object = Vec::new();
    for i in 0..MEMBERS {
        object.extend_from_slice(if i % STORED_EVERY == 0 {
            &stored
        } else {
            &packed
        });
    }
    let stored_size = object.len();
    let key = format!(
        "AWSLogs/123456789012/elasticloadbalancing/eu-west-1/2026/03/02/{}",
        object_name("20260302T1005Z", "10.0.0.1")
    );
    m.put(&bucket, &key, object);

    let tmp = tempfile::tempdir().unwrap();
    let rss_file = tmp.path().join("rss");
    let report = tmp.path().join("report.json");
    let mut cmd = Command::new("/usr/bin/time");
    cmd.arg("-f")
        .arg("%M")
        .arg("-o")
        .arg(&rss_file)
        .arg(env!("CARGO_BIN_EXE_greenlight-miner"));
    m.miner_env(&mut cmd);
    cmd.args(["--logs", &format!("s3://{bucket}"), "--date", "2026-03-02"])
        .args(["--s3-endpoint", &m.endpoint])
        .arg("--out")
        .arg(tmp.path().join("list.csv"))
        .arg("--report")
        .arg(&report);
    let started = std::time::Instant::now();
    let o = cmd.output().expect("run the miner under /usr/bin/time");
    let elapsed = started.elapsed();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r: serde_json::Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    assert_eq!(
        r["bytes"]["uncompressed"],
        (MEMBER * MEMBERS) as u64,
        "{r:#}"
    );
    assert_eq!(r["bytes"]["compressed"], stored_size as u64);
    assert_eq!(r["objects"]["failed"], 0);

    let rss_kib: u64 = std::fs::read_to_string(&rss_file)
        .unwrap()
        .trim()
        .lines()
        .last()
        .unwrap()
        .parse()
        .expect("max RSS in KiB");
    eprintln!(
        "big object: {} MiB uncompressed, {} MiB stored, peak RSS {} MiB, {:.1} s",
        (MEMBER * MEMBERS) >> 20,
        stored_size >> 20,
        rss_kib >> 10,
        elapsed.as_secs_f64()
    );
    assert!(
        rss_kib < RSS_BOUND_KIB && rss_kib * 1024 < stored_size as u64,
        "peak RSS {rss_kib} KiB for a {stored_size}-byte object"
    );
}
