//! Crashes, for real: the miner binary is SIGKILLed at seeded random points of a run over a
//! generated log tree, many times, and after each kill
//! - the list is the previous complete one or the new complete one, byte for byte (never a
//!   part), and the report, when there is one, is complete JSON;
//! - every state day file is the previous complete one or the new complete one, byte for byte,
//!   and decodes to its end;
//! - at most one temporary file per folder is left (a killed run's leftovers are removed by
//!   the next write into that folder, `output::remove_stale_temp_files`), and nothing else;
//!
//! then an uninterrupted run ends byte-identical to a run that was never interrupted, with no
//! temporary file left. A third of the kill points are spread over the whole run, a third fall
//! just before the moments the reference run finished its writes, and a third come within
//! 3 ms of the run starting to write into the state or the list's folder (the test watches
//! the folder), where a non-atomic write is caught half done.
//!
//! The tester's reports get the same treatment in `tester_reports_are_never_partial`.

mod tester_support;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use chrono::NaiveDate;
use greenlight::history::{DayReader, parse_day_name};
use greenlight::synth::{SynthConfig, write_tree};

/// A small deterministic generator for the kill points (splitmix64).
struct Seeded(u64);
impl Seeded {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `0..=max`.
    fn below(&mut self, max: Duration) -> Duration {
        let ms = max.as_micros().max(1) as u64;
        Duration::from_micros(self.next() % (ms + 1))
    }
}

const KILLS: usize = 20;
const SEED: u64 = 0x6c_69_67_68_74;

fn is_temp(name: &str) -> bool {
    name.starts_with(".greenlight-") && name.ends_with(".tmp")
}

fn no_aws(cmd: &mut Command) {
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("AWS_") {
            cmd.env_remove(k);
        }
    }
    cmd.env("AWS_EC2_METADATA_DISABLED", "true")
        .env("GREENLIGHT_QUIET", "1")
        .env_remove("GREENLIGHT_STATE")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
}

/// A miner over `logs` writing into `dir` (`state/`, `list.csv`, `report.json`).
fn miner(logs: &Path, dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_greenlight-miner"));
    no_aws(&mut cmd);
    cmd.arg("--logs")
        .arg(logs)
        .arg("--state")
        .arg(dir.join("state"))
        .arg("--out")
        .arg(dir.join("list.csv"))
        .arg("--report")
        .arg(dir.join("report.json"))
        .args(["--threads", "2"])
        .args(args);
    cmd
}

fn run_ok(mut cmd: Command) {
    let status = cmd.status().expect("run greenlight-miner");
    assert!(status.success(), "{status}");
}

/// The day files of a state folder, by name.
fn day_files(state: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    let Ok(entries) = std::fs::read_dir(state) else {
        return files;
    };
    for e in entries {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        if parse_day_name(&name).is_some() {
            files.insert(name.clone(), std::fs::read(state.join(&name)).unwrap());
        }
    }
    files
}

/// Decodes a day file to its end (header, every record, the trailer and the gzip CRC).
fn decode(name: &str, bytes: &[u8]) {
    let day: NaiveDate = parse_day_name(name).unwrap();
    let mut reader = DayReader::new(day, Box::new(std::io::Cursor::new(bytes.to_vec())))
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    let mut n = 0u64;
    while reader
        .next_record()
        .unwrap_or_else(|e| panic!("{name}: record {n}: {e}"))
        .is_some()
    {
        n += 1;
    }
    assert!(n > 0, "{name}: no records");
}

/// Names in `dir` that are neither expected nor temporary files; and the temporary ones.
fn temp_files(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| is_temp(n))
        .collect()
}

fn since(start: SystemTime, path: &Path) -> Option<Duration> {
    let modified = std::fs::metadata(path).ok()?.modified().ok()?;
    modified.duration_since(start).ok()
}

/// What a folder holds: names with their sizes and modification times.
fn snapshot(dir: &Path) -> BTreeMap<String, (u64, Option<SystemTime>)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return BTreeMap::new();
    };
    entries
        .filter_map(|e| {
            let e = e.ok()?;
            let meta = e.metadata().ok()?;
            Some((
                e.file_name().to_string_lossy().into_owned(),
                (meta.len(), meta.modified().ok()),
            ))
        })
        .collect()
}

/// SIGKILLs `child` `extra` after it starts writing into `dir` (a temporary file appears, or
/// a file there changes), or when `limit` passed. Returns whether it was killed.
fn kill_on_write(mut child: Child, dir: &Path, extra: Duration, limit: Duration) -> bool {
    let before = snapshot(dir);
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "an uninterrupted run failed: {status}");
            return false;
        }
        if Instant::now() >= deadline || snapshot(dir) != before {
            break;
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    std::thread::sleep(extra);
    let _ = child.kill();
    let _ = child.wait();
    true
}

fn kill_at(mut child: Child, after: Duration) -> bool {
    let deadline = Instant::now() + after;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "an uninterrupted run failed: {status}");
            return false;
        }
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        std::thread::sleep((deadline - now).min(Duration::from_millis(2)));
    }
    // SIGKILL.
    let _ = child.kill();
    let _ = child.wait();
    true
}

#[test]
fn killing_the_miner_never_leaves_a_partial_list_or_state() {
    let tmp = tempfile::tempdir().unwrap();
    let logs = tmp.path().join("logs");
    // Two days of many distinct URLs: the tallies and the list are a few MB each, so writing
    // them takes long enough for kills to land inside.
    let cfg = SynthConfig {
        seed: 7,
        days: 2,
        nodes: 2,
        objects_per_node_per_day: 6,
        lines_per_object: 600,
        long_tail_per_mille: 600,
        ..SynthConfig::default()
    };
    write_tree(&logs, &cfg).unwrap();
    // The previous night's outputs come from other logs, so every file differs from the new
    // ones.
    let previous_logs = tmp.path().join("previous-logs");
    write_tree(
        &previous_logs,
        &SynthConfig {
            seed: 8,
            ..SynthConfig::default()
        },
    )
    .unwrap();
    let range = [
        "--from",
        "2026-03-01",
        "--to",
        "2026-03-02",
        "--max-urls",
        "8000",
    ];
    let previous_args = ["--date", "2026-03-01"];

    // The reference: never interrupted. Its timings say where the writes are.
    let reference = tmp.path().join("reference");
    run_ok(miner(&previous_logs, &reference, &previous_args));
    let started = SystemTime::now();
    let clock = Instant::now();
    run_ok(miner(&logs, &reference, &range));
    let run_time = clock.elapsed();
    let new_days = day_files(&reference.join("state"));
    let new_list = std::fs::read(reference.join("list.csv")).unwrap();
    assert_eq!(new_days.len(), 2);
    let mut write_points: Vec<Duration> = new_days
        .keys()
        .map(|n| reference.join("state").join(n))
        .chain([reference.join("list.csv")])
        .filter_map(|p| since(started, &p))
        .collect();
    write_points.sort();
    eprintln!(
        "reference run: {run_time:?}; list {} bytes, day files {:?} bytes; written at {write_points:?}",
        new_list.len(),
        new_days.values().map(Vec::len).collect::<Vec<_>>()
    );

    // The folder the kills happen in starts with the previous night's outputs.
    let dir = tmp.path().join("killed");
    run_ok(miner(&previous_logs, &dir, &previous_args));
    let old_days = day_files(&dir.join("state"));
    let old_list = std::fs::read(dir.join("list.csv")).unwrap();
    assert!(old_list != new_list);
    assert!(old_days.get("tally-2026-03-01.glt") != new_days.get("tally-2026-03-01.glt"));

    let mut rng = Seeded(SEED);
    let mut outcomes: BTreeMap<String, usize> = BTreeMap::new();
    for i in 0..KILLS {
        let child = miner(&logs, &dir, &range).spawn().unwrap();
        let (killed, after) = match i % 3 {
            // Anywhere in the run.
            0 => {
                let after = rng.below(run_time + run_time / 10);
                (kill_at(child, after), format!("{after:?}"))
            }
            // Just before one of the moments the reference run finished a write.
            1 => {
                let point = write_points[(rng.next() % write_points.len() as u64) as usize];
                let after = point.saturating_sub(rng.below(Duration::from_millis(40)));
                (kill_at(child, after), format!("{after:?}"))
            }
            // Right as it starts writing the state (first kills) or the list.
            _ => {
                let folder = if i < KILLS / 2 {
                    dir.join("state")
                } else {
                    dir.clone()
                };
                let extra = rng.below(Duration::from_millis(3));
                let limit = run_time * 3;
                let killed = kill_on_write(child, &folder, extra, limit);
                (
                    killed,
                    format!("{extra:?} into a write in {}", folder.display()),
                )
            }
        };

        let list = std::fs::read(dir.join("list.csv")).expect("the list is never removed");
        let list_state = if list == old_list {
            "old"
        } else if list == new_list {
            "new"
        } else {
            panic!(
                "kill {i} at {after:?}: the list is neither the old nor the new one ({} bytes)",
                list.len()
            )
        };
        greenlight::list::read_list(&list[..]).expect("the list parses");
        let report = std::fs::read(dir.join("report.json")).expect("a report");
        let report: serde_json::Value = serde_json::from_slice(&report)
            .unwrap_or_else(|e| panic!("kill {i} at {after:?}: partial report: {e}"));
        assert!(report["outcome"].is_string(), "{report}");

        let days = day_files(&dir.join("state"));
        let mut day_state = Vec::new();
        for (name, bytes) in &days {
            decode(name, bytes);
            if old_days.get(name) == Some(bytes) {
                day_state.push("old");
            } else if new_days.get(name) == Some(bytes) {
                day_state.push("new");
            } else {
                panic!("kill {i} at {after:?}: {name} is neither the old nor the new one");
            }
        }
        for folder in [dir.clone(), dir.join("state")] {
            let temps = temp_files(&folder);
            assert!(
                temps.len() <= 1,
                "kill {i}: temporary files pile up in {}: {temps:?}",
                folder.display()
            );
            for e in std::fs::read_dir(&folder).unwrap() {
                let name = e.unwrap().file_name().to_string_lossy().into_owned();
                assert!(
                    is_temp(&name)
                        || parse_day_name(&name).is_some()
                        || ["list.csv", "report.json", "state"].contains(&name.as_str()),
                    "kill {i}: unexpected file {name}"
                );
            }
        }
        let outcome = format!(
            "{} list {list_state}, days {day_state:?}, {} temp",
            if killed { "killed:" } else { "finished:" },
            temp_files(&dir).len() + temp_files(&dir.join("state")).len()
        );
        *outcomes.entry(outcome).or_default() += 1;
    }
    eprintln!("after {KILLS} kills: {outcomes:#?}");

    // The next run recovers: the same bytes as the run that was never interrupted.
    run_ok(miner(&logs, &dir, &range));
    assert!(
        std::fs::read(dir.join("list.csv")).unwrap() == new_list,
        "the list after the kills differs from an uninterrupted run's"
    );
    assert!(
        day_files(&dir.join("state")) == new_days,
        "the state after the kills differs from an uninterrupted run's"
    );
    assert_eq!(temp_files(&dir), Vec::<String>::new());
    assert_eq!(temp_files(&dir.join("state")), Vec::<String>::new());
}

/// The tester against a real HTTP server on loopback (answering each request after 3 ms, one at
/// a time, so a run of 300 URLs lasts about a second), killed at seeded points: its JSON and
/// JUnit reports are each absent or complete, never a part, and temporary files do not pile
/// up.
#[test]
fn tester_reports_are_never_partial() {
    let server = tester_support::Recorder::start(|_| {
        std::thread::sleep(Duration::from_millis(3));
        tester_support::Canned::new(200, "ok\n")
    });
    let tmp = tempfile::tempdir().unwrap();
    let list = tmp.path().join("list.csv");
    let mut text = String::new();
    for i in 0..300 {
        text.push_str(&format!("/kill-loop/{i}?page={}\n", i % 7));
    }
    std::fs::write(&list, text).unwrap();
    let (json, junit) = (tmp.path().join("report.json"), tmp.path().join("junit.xml"));
    let tester = || {
        let mut cmd = Command::new(tester_support::tester_bin());
        no_aws(&mut cmd);
        cmd.arg("--list")
            .arg(&list)
            .args(["--endpoint", &server.url()])
            .arg("--json")
            .arg(&json)
            .arg("--junit")
            .arg(&junit);
        cmd
    };
    let check = |i: usize| {
        if let Ok(bytes) = std::fs::read(&json) {
            let v: serde_json::Value = serde_json::from_slice(&bytes)
                .unwrap_or_else(|e| panic!("kill {i}: partial JSON report: {e}"));
            assert!(v.is_object(), "kill {i}");
        }
        if let Ok(xml) = std::fs::read_to_string(&junit) {
            assert!(
                xml.starts_with("<?xml") && xml.trim_end().ends_with("</testsuites>"),
                "kill {i}: partial JUnit report ({} bytes)",
                xml.len()
            );
        }
        let temps = temp_files(tmp.path());
        assert!(temps.len() <= 1, "kill {i}: {temps:?}");
    };

    let clock = Instant::now();
    let status = tester().status().unwrap();
    let run_time = clock.elapsed();
    assert!(status.code().is_some(), "{status}");
    check(usize::MAX);
    eprintln!("tester run: {run_time:?}");

    let mut rng = Seeded(SEED ^ 0xfeed);
    for i in 0..KILLS / 2 {
        let child = tester().spawn().unwrap();
        if i % 2 == 0 {
            let after = rng.below(run_time + run_time / 10);
            let deadline = Instant::now() + after;
            let mut child = child;
            while Instant::now() < deadline && child.try_wait().unwrap().is_none() {
                std::thread::sleep(Duration::from_millis(2));
            }
            let _ = child.kill();
            let _ = child.wait();
        } else {
            // Right as it starts writing its reports (the folder changes).
            let extra = rng.below(Duration::from_millis(2));
            let mut child = child;
            let before = snapshot(tmp.path());
            let deadline = Instant::now() + run_time * 3;
            while Instant::now() < deadline
                && child.try_wait().unwrap().is_none()
                && snapshot(tmp.path()) == before
            {
                std::thread::sleep(Duration::from_micros(200));
            }
            std::thread::sleep(extra);
            let _ = child.kill();
            let _ = child.wait();
        }
        check(i);
    }
    let _ = tester().status().unwrap();
    check(usize::MAX);
    assert_eq!(temp_files(tmp.path()), Vec::<String>::new());
}
