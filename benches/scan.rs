//! One object's scan (inflate + split + parse + filter + tally) next to inflating the same
//! object alone, in one criterion group, so the ratio of the two is the figure to read
//! (absolute numbers on a shared machine are noise).
//!
//! `cargo bench --bench scan`

use std::io::Read;

use chrono::NaiveDate;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use flate2::bufread::MultiGzDecoder;
use greenlight::mine::filter::Policy;
use greenlight::mine::scan::scan_object;
use greenlight::source::{LogObject, ObjectLocation};
use greenlight::synth::{SynthConfig, generate};

fn bench_scan(c: &mut Criterion) {
    let day = NaiveDate::from_ymd_opt(2026, 3, 1).expect("valid date");
    let cfg = SynthConfig {
        seed: 11,
        first_day: day,
        days: 1,
        objects_per_node_per_day: 3,
        lines_per_object: 40_000,
        ..SynthConfig::default()
    };
    // The largest access-log object of a generated day.
    let mut biggest: (String, Vec<u8>) = (String::new(), Vec::new());
    generate(&cfg, |key, bytes| {
        if key.contains("_app.") && bytes.len() > biggest.1.len() {
            biggest = (key.to_owned(), bytes.to_vec());
        }
        Ok(())
    })
    .expect("generate");
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("object.log.gz");
    std::fs::write(&path, &biggest.1).expect("write object");
    let obj = LogObject {
        key: biggest.0,
        size: biggest.1.len() as u64,
        location: ObjectLocation::Local(path),
    };
    let mut plain = Vec::new();
    MultiGzDecoder::new(&biggest.1[..])
        .read_to_end(&mut plain)
        .expect("inflate");
    let policy = Policy::for_day(day);

    let mut g = c.benchmark_group("object");
    g.throughput(Throughput::Bytes(plain.len() as u64));
    g.sample_size(20);
    g.bench_function("inflate_only", |b| {
        let mut buf = vec![0u8; 1 << 20];
        b.iter(|| {
            let file = std::fs::File::open(obj_path(&obj)).expect("open");
            let mut d = MultiGzDecoder::new(std::io::BufReader::with_capacity(256 * 1024, file));
            let mut n = 0usize;
            loop {
                match d.read(&mut buf) {
                    Ok(0) => break,
                    Ok(k) => n += k,
                    Err(e) => panic!("{e}"),
                }
            }
            n
        })
    });
    g.bench_function("scan_object", |b| {
        b.iter(|| {
            let (tally, stats) = scan_object(&obj, &policy);
            assert!(stats.failures.is_empty());
            tally.len()
        })
    });
    g.finish();
}

fn obj_path(obj: &LogObject) -> std::path::PathBuf {
    match &obj.location {
        ObjectLocation::Local(p) => p.clone(),
        ObjectLocation::S3 { .. } => unreachable!("the bench writes a local object"),
    }
}

criterion_group!(benches, bench_scan);
criterion_main!(benches);
