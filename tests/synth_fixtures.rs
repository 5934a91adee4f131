//! The shipped fixtures are exactly what the generator writes, the generator is deterministic,
//! and the tree holds every line kind and object kind it promises.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use flate2::read::{GzDecoder, MultiGzDecoder};
use greenlight::mine::filter::Reject;
use greenlight::source::SkipReason;
use greenlight::synth::{SynthConfig, Truth, generate, write_tree};

const FIXTURE_CMD: &str = "cargo run --example synth -- --out fixtures/alb --seed 7 --first-day 2026-03-01 --days 3 --objects-per-node-per-day 3 --lines-per-object 200 --truth fixtures/alb.truth.json";

fn fixture_config() -> SynthConfig {
    SynthConfig {
        seed: 7,
        first_day: NaiveDate::from_ymd_opt(2026, 3, 1).unwrap(),
        days: 3,
        objects_per_node_per_day: 3,
        lines_per_object: 200,
        ..SynthConfig::default()
    }
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// Relative path -> decompressed content of every file under `root`.
fn read_tree(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            let rel = p
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            let raw = std::fs::read(&p).unwrap();
            out.insert(rel.clone(), decompress(&rel, &raw));
        }
    }
    out
}

fn decompress(name: &str, raw: &[u8]) -> Vec<u8> {
    if !name.ends_with(".gz") {
        return raw.to_vec();
    }
    let mut plain = Vec::new();
    MultiGzDecoder::new(raw).read_to_end(&mut plain).unwrap();
    plain
}

fn gzip_members(raw: &[u8]) -> usize {
    let mut first = Vec::new();
    GzDecoder::new(raw).read_to_end(&mut first).unwrap();
    let mut all = Vec::new();
    MultiGzDecoder::new(raw).read_to_end(&mut all).unwrap();
    if first.len() == all.len() { 1 } else { 2 }
}

fn in_memory(cfg: &SynthConfig) -> (BTreeMap<String, Vec<u8>>, Truth) {
    let mut files = BTreeMap::new();
    let truth = generate(cfg, |key, bytes| {
        files.insert(key.to_string(), decompress(key, bytes));
        Ok(())
    })
    .unwrap();
    (files, truth)
}

#[test]
fn readme_documents_the_fixture_command() {
    let readme = std::fs::read_to_string(fixtures().join("README.md")).unwrap();
    assert!(
        readme.contains(FIXTURE_CMD),
        "fixtures/README.md must show: {FIXTURE_CMD}"
    );
}

#[test]
fn fixtures_match_the_generator() {
    let dir = tempfile::tempdir().unwrap();
    let truth = write_tree(dir.path(), &fixture_config()).unwrap();
    let fresh = read_tree(dir.path());
    let shipped = read_tree(&fixtures().join("alb"));
    assert_eq!(
        fresh.keys().collect::<Vec<_>>(),
        shipped.keys().collect::<Vec<_>>(),
        "file list differs; regenerate with: {FIXTURE_CMD}"
    );
    for (name, content) in &fresh {
        assert!(
            shipped[name] == *content,
            "{name} differs; regenerate with: {FIXTURE_CMD}"
        );
    }
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(fixtures().join("alb.truth.json")).unwrap()).unwrap();
    assert!(
        json == truth.to_json(),
        "alb.truth.json differs; regenerate with: {FIXTURE_CMD}"
    );
}

#[test]
fn same_seed_same_tree_other_seed_differs() {
    let cfg = SynthConfig {
        days: 2,
        lines_per_object: 50,
        ..SynthConfig::default()
    };
    let (a, ta) = in_memory(&cfg);
    let (b, tb) = in_memory(&cfg);
    assert_eq!(a, b);
    assert_eq!(ta, tb);
    let (c, tc) = in_memory(&SynthConfig { seed: 2, ..cfg });
    assert_ne!(a.keys().collect::<Vec<_>>(), c.keys().collect::<Vec<_>>());
    assert_ne!(ta, tc);
}

#[test]
fn fixture_tree_has_every_kind() {
    let truth = {
        let dir = tempfile::tempdir().unwrap();
        write_tree(dir.path(), &fixture_config()).unwrap()
    };
    let kind = |k: &str| truth.kinds.get(k).copied().unwrap_or(0);
    let mut missing = Vec::new();
    for r in Reject::ALL {
        if matches!(
            r,
            Reject::OtherDay | Reject::BadUrl | Reject::HostNotAllowed
        ) {
            continue;
        }
        let label = format!("reject:{}", r.as_str());
        if kind(&label) == 0 {
            missing.push(label);
        }
    }
    let labels = [
        "kept",
        "kept:long_tail",
        "kept:tracking",
        "kept:bot",
        "kept:escaped_agent",
        "kept:escaped_url",
        "kept:percent_in_url",
        "kept:space_in_uri",
        "kept:trailing_space",
        "kept:mixed_case_host",
        "kept:non_default_port",
        "kept:http",
        "kept:20_fields",
        "kept:waf,forward",
        "kept:authenticate,forward",
        "kept:status_301",
        "kept:status_304",
        "kept:transformed",
        "reject:unknown_type:h3",
        "reject:conn_type:ws",
        "reject:conn_type:wss",
        "reject:conn_type:grpcs",
        "reject:malformed_request:host",
        "reject:malformed_request:dashes",
        "reject:method:POST",
        "reject:method:PUT",
        "reject:method:HEAD",
        "reject:not_forwarded:waf",
        "reject:not_forwarded:redirect",
        "reject:not_forwarded:fixed_response",
        "reject:not_forwarded:authenticate",
        "reject:no_target_response:lambda_502",
        "reject:no_target_response:timeout_504",
        "reject:status:404",
        "reject:status:500",
        "reject:status:503",
        "reject:host_ip_literal:ipv4_http",
        "reject:host_ip_literal:ipv6_loopback",
        "reject:host_ip_literal:ipv6_mapped",
        "reject:host_alb_name:public",
        "reject:agent:elb_health_checker",
        "reject:agent:kube_probe",
        "reject:agent:pingdom",
        "reject:agent:uptime_robot",
        "reject:credential:token",
        "reject:credential:access_token",
        "reject:credential:password",
        "reject:credential:jsessionid",
        "reject:credential:x_amz_signature",
        "garbage:binary",
        "garbage:truncated",
        "garbage:short",
        "other_day",
        "object:multi_member",
        "object:second_for_interval",
        "object:delivered_next_day",
        "fields:20",
        "fields:24",
        "fields:25",
        "fields:27",
        "fields:29",
        "fields:30",
        "fields:33",
        "fields:34",
        "fields:35",
        "fields:36",
    ];
    missing.extend(
        labels
            .iter()
            .filter(|l| kind(l) == 0)
            .map(|l| l.to_string()),
    );
    assert!(missing.is_empty(), "missing kinds: {missing:?}");
    for r in [
        SkipReason::TestFile,
        SkipReason::ConnectionLog,
        SkipReason::HealthCheckLog,
        SkipReason::NlbLog,
        SkipReason::ClassicLog,
    ] {
        assert!(
            truth.skipped.get(&r).copied().unwrap_or(0) > 0,
            "no {r:?} object"
        );
    }
    // The recommended day sees every skip kind.
    let d1 = &truth.days[&NaiveDate::from_ymd_opt(2026, 3, 1).unwrap()];
    assert_eq!(d1.skipped.len(), 5, "{:?}", d1.skipped);
}

#[test]
fn day_truths_add_up() {
    let (_, truth) = in_memory(&fixture_config());
    assert_eq!(truth.days.len(), 3);
    for (day, t) in &truth.days {
        assert_eq!(
            t.lines_read,
            t.kept_lines + t.rejected_lines() + t.other_day + t.garbage_lines,
            "{day}"
        );
        assert_eq!(t.list_hits(), t.kept_lines, "{day}");
        assert!(
            t.garbage_lines * 100 < t.lines_read / 2,
            "{day}: too much garbage"
        );
        assert!(
            t.other_day > 0 && !t.rejects.contains_key("other_day"),
            "{day}"
        );
        for ((host, path), u) in &t.list {
            assert_eq!(*host, host.to_ascii_lowercase());
            assert!(!host.ends_with(":443") && !host.ends_with(":80"), "{host}");
            assert!(
                !path.contains("utm_") && !path.contains("gclid") && !path.contains("fbclid"),
                "{path}"
            );
            assert!(path.bytes().all(|b| b.is_ascii_graphic()), "{path}");
            assert!((200..400).contains(&u.status()), "{host}{path}");
        }
    }
    let d = &truth.days[&NaiveDate::from_ymd_opt(2026, 3, 1).unwrap()];
    let get = |h: &str, p: &str| d.list.get(&(h.to_string(), p.to_string()));
    assert!(get("www.example.com", "/a?id=3").is_some());
    assert!(get("www.example.com", "/caf%C3%A9/menu").is_some());
    assert!(get("www.example.com", "/search?q=red%20shoes").is_some());
    assert!(get("www.example.com", "/search?q=%22exact+phrase%22&lang=en").is_some());
    assert!(d.list.keys().any(|(h, _)| h == "shop.example.com:8443"));
    assert!(d.list.values().any(|u| u.hits == 1), "long tail");
}

/// Splits a line the way the format says (quoted fields never hold a bare `"`).
fn fields(line: &[u8]) -> Option<Vec<&[u8]>> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < line.len() {
        let start = i;
        if line[i] == b'"' {
            let close = line[i + 1..].iter().position(|&b| b == b'"')? + i + 1;
            out.push(&line[start + 1..close]);
            i = close + 1;
        } else {
            while i < line.len() && line[i] != b' ' {
                i += 1;
            }
            out.push(&line[start..i]);
        }
        if i < line.len() {
            if line[i] != b' ' {
                return None;
            }
            i += 1;
        }
    }
    Some(out)
}

#[test]
fn written_lines_agree_with_the_truth() {
    let (files, truth) = in_memory(&fixture_config());
    let mut lines = 0u64;
    let mut bad = 0u64;
    let mut by_count: BTreeMap<usize, u64> = BTreeMap::new();
    let mut members = 0;
    let raw_tree = {
        let dir = tempfile::tempdir().unwrap();
        write_tree(dir.path(), &fixture_config()).unwrap();
        let mut m = BTreeMap::new();
        for k in files.keys() {
            m.insert(k.clone(), std::fs::read(dir.path().join(k)).unwrap());
        }
        m
    };
    for (key, content) in &files {
        let name = key.rsplit('/').next().unwrap();
        if !name.contains("_app.") || name.starts_with("conn_log") || name.starts_with("health") {
            continue;
        }
        members += gzip_members(&raw_tree[key]) - 1;
        assert!(content.ends_with(b"\n"));
        for line in content[..content.len() - 1].split(|&b| b == b'\n') {
            lines += 1;
            let parsed = fields(line).filter(|f| f.len() >= 20 && f[1].len() == 27);
            let Some(f) = parsed else {
                bad += 1;
                continue;
            };
            *by_count.entry(f.len()).or_default() += 1;
            // Every backslash starts a \xHH escape.
            for q in [f[12], f[13]] {
                for (i, &b) in q.iter().enumerate() {
                    if b == b'\\' {
                        assert!(q[i + 1] == b'x' && q[i + 2].is_ascii_hexdigit());
                    }
                }
            }
        }
    }
    assert_eq!(lines, truth.lines);
    let garbage: u64 = truth.folders.values().map(|f| f.garbage_lines).sum();
    assert_eq!(bad, garbage);
    let mut expected: BTreeMap<usize, u64> = BTreeMap::new();
    for f in truth.folders.values() {
        for (k, n) in &f.field_counts {
            *expected.entry(*k).or_default() += n;
        }
    }
    assert_eq!(by_count, expected);
    assert!(members > 0, "no multi-member object");
}
