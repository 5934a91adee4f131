//! The same objects, good and damaged, through each inflate the miner has (`src/mine/scan.rs`,
//! `Inflate`): ISA-L a chunk at a time (the default where `libisal.so.2` is installed, as
//! `.ci/test` makes sure), libdeflate whole (`GREENLIGHT_INFLATE=whole`, the default elsewhere)
//! and flate2 streamed (`GREENLIGHT_INFLATE=stream`). Each must give the same list, the same
//! figures and the same failures, keeping the same lines before the damage.

mod common;

use std::path::Path;
use std::process::Command;

use common::{Line, gzip, object_name, write_raw};

const DAY: &str = "2026-03-02";

fn lines(prefix: &str, n: usize) -> String {
    (0..n)
        .map(|i| {
            Line::base()
                .get(&format!("https://www.example.com:443/{prefix}/{}", i % 40))
                .text()
                + "\n"
        })
        .collect()
}

/// Runs the miner on `logs` with `GREENLIGHT_INFLATE=inflate` (`None`: unset) and returns its
/// report and list.
fn mine(logs: &Path, out: &Path, inflate: Option<&str>) -> (serde_json::Value, String) {
    let _ = std::fs::remove_dir_all(out);
    std::fs::create_dir_all(out).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_greenlight-miner"));
    cmd.arg("--logs")
        .arg(logs)
        .arg("--out")
        .arg(out.join("list.csv"))
        .arg("--report")
        .arg(out.join("report.json"))
        .arg("--state")
        .arg(out.join("state"))
        .args(["--date", DAY, "--max-error-rate", "100", "--threads", "2"])
        .env("GREENLIGHT_QUIET", "1")
        .env_remove("GREENLIGHT_INFLATE");
    if let Some(inflate) = inflate {
        cmd.env("GREENLIGHT_INFLATE", inflate);
    }
    let o = cmd.output().expect("run greenlight-miner");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap();
    let list = std::fs::read_to_string(out.join("list.csv")).unwrap();
    (report, list)
}

#[test]
fn good_and_damaged_objects_read_alike_through_every_inflate() {
    let t = tempfile::tempdir().unwrap();
    let logs = t.path().join("logs");
    let mut n = 0;
    let mut put = |bytes: &[u8]| {
        n += 1;
        let name = object_name(&format!("20260302T10{n:02}Z"), "10.0.1.5");
        write_raw(&logs, "2026/03/02", &name, bytes);
    };
    // Good: one member of 3,000 lines (several of ISA-L's reads), and several members with
    // empty ones between them.
    put(&gzip(lines("one", 3000).as_bytes()));
    let mut members = gzip(b"");
    for i in 0..5 {
        members.extend(gzip(lines(&format!("m{i}"), 200).as_bytes()));
        members.extend(gzip(b""));
    }
    put(&members);
    // Cut at two thirds: the lines before the cut are kept, not the half line at it.
    let whole = gzip(lines("cut", 2000).as_bytes());
    put(&whole[..whole.len() * 2 / 3]);
    // A good member, one whose CRC-32 is wrong (its lines reach the scan before the check), and
    // one never reached.
    let mut crc = gzip(lines("c1", 100).as_bytes());
    let mut second = gzip(lines("c2", 100).as_bytes());
    let len = second.len();
    second[len - 8] ^= 0xff;
    crc.extend(second);
    crc.extend(gzip(lines("c3", 100).as_bytes()));
    put(&crc);
    // Junk after a good member; not gzip at all; zero bytes.
    let mut junk = gzip(lines("junk", 100).as_bytes());
    junk.extend_from_slice(b"junk after the member, not a gzip header");
    put(&junk);
    put(b"plain text, not gzip\n");
    put(b"");
    // A byte changed inside the deflate data: decoded as garbage until a decoder notices (an
    // invalid code, or the checksum at the end).
    for at in [9000, 20000] {
        let mut flipped = gzip(lines("flip", 3000).as_bytes());
        flipped[at] ^= 0x55;
        put(&flipped);
    }

    let (isal, isal_list) = mine(&logs, &t.path().join("isal"), None);
    assert_eq!(
        isal["inflate"], "isa-l",
        "libisal.so.2 is not installed (Debian: libisal2; `bash .ci/test` installs it)"
    );
    for inflate in ["whole", "stream"] {
        let (other, list) = mine(&logs, &t.path().join(inflate), Some(inflate));
        assert_eq!(
            other["inflate"],
            if inflate == "whole" {
                "libdeflate"
            } else {
                "flate2"
            }
        );
        for figure in ["objects", "bytes", "lines", "requests", "urls"] {
            assert_eq!(
                isal[figure], other[figure],
                "{figure}, isa-l against {inflate}"
            );
        }
        assert_eq!(isal_list, list, "the lists, isa-l against {inflate}");
    }
    // And what they agree on is right.
    let failures = isal["objects"]["failures"].as_array().unwrap();
    let failure = |ends: usize| {
        let name = object_name(&format!("20260302T10{ends:02}Z"), "10.0.1.5");
        failures
            .iter()
            .find(|f| f["key"].as_str().unwrap().ends_with(&name))
            .unwrap_or_else(|| panic!("object {ends} did not fail: {failures:#?}"))
    };
    assert_eq!(isal["objects"]["read"], 9);
    assert_eq!(failures.len(), 7, "{failures:#?}");
    let cut = failure(3);
    assert!(
        cut["error"].as_str().unwrap().contains("truncated"),
        "{cut}"
    );
    let before = cut["lines_before"].as_u64().unwrap();
    assert!(before > 1000 && before < 2000, "{cut}");
    let crc = failure(4);
    assert!(
        crc["error"].as_str().unwrap().contains("corrupt gzip"),
        "{crc}"
    );
    assert_eq!(crc["lines_before"], 200, "{crc}");
    assert_eq!(failure(5)["lines_before"], 100);
    assert!(failure(6)["error"].as_str().unwrap().contains("gzip"));
    assert!(
        failure(7)["error"]
            .as_str()
            .unwrap()
            .contains("truncated gzip")
    );
    for flipped in [8, 9] {
        assert!(failure(flipped)["error"].as_str().unwrap().contains("gzip"));
    }
    // Good lines: 3,000 + 1,000 + the cut object's + 200 + 100, and those of the changed
    // objects before the change.
    assert!(isal["requests"]["kept"].as_u64().unwrap() > 4300 + before);
}

/// Objects larger than the size from which a local object is mapped into memory rather than
/// read (64 KiB compressed, `MAP_MIN_BYTES` in `src/mine/scan.rs`): ISA-L and libdeflate read
/// them mapped, flate2 streams them from the file, and all three must agree, good or damaged.
#[test]
fn mapped_objects_read_as_streamed_ones() {
    let t = tempfile::tempdir().unwrap();
    let logs = t.path().join("logs");
    // Paths that do not compress away: 16 hex digits of a xorshift a line.
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let mut big = |n: usize| -> Vec<u8> {
        let text: String = (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                Line::base()
                    .get(&format!("https://www.example.com:443/item/{x:016x}"))
                    .text()
                    + "\n"
            })
            .collect();
        gzip(text.as_bytes())
    };
    let good = big(12_000);
    let mut cut = big(12_000);
    cut.truncate(cut.len() * 2 / 3);
    let mut flipped = big(12_000);
    flipped[100_000] ^= 0x55;
    for (n, bytes) in [good, cut, flipped].iter().enumerate() {
        assert!(
            bytes.len() > 100 << 10,
            "object {n} is {} bytes",
            bytes.len()
        );
        let name = object_name(&format!("20260302T11{n:02}Z"), "10.0.1.5");
        write_raw(&logs, "2026/03/02", &name, bytes);
    }

    let (isal, isal_list) = mine(&logs, &t.path().join("isal"), None);
    let (stream, stream_list) = mine(&logs, &t.path().join("stream"), Some("stream"));
    let (whole, whole_list) = mine(&logs, &t.path().join("whole"), Some("whole"));
    for (name, other, list) in [("whole", &whole, &whole_list), ("isa-l", &isal, &isal_list)] {
        for figure in ["objects", "bytes", "lines", "requests", "urls"] {
            assert_eq!(
                stream[figure], other[figure],
                "{figure}, flate2 streamed against {name} mapped"
            );
        }
        assert_eq!(&stream_list, list, "the lists, flate2 against {name}");
    }
    // The good object whole, and the damaged ones named with the lines before the damage.
    let failures = isal["objects"]["failures"].as_array().unwrap();
    assert_eq!(failures.len(), 2, "{failures:#?}");
    let kept = isal["requests"]["kept"].as_u64().unwrap();
    assert!(kept > 12_000 + 6_000, "{kept}");
    assert!(
        failures
            .iter()
            .all(|f| f["lines_before"].as_u64().unwrap() > 1000)
    );
}
