//! The fuzz targets' invariants in plain `cargo test` (stable, no libFuzzer): every input the
//! fuzzers ever failed on (`fixtures/fuzz/<target>/`), the hand-written tricky seeds
//! (`fuzz/seeds/<target>/`) and every line of the shipped ALB fixtures go through the same checks
//! as the fuzzers (`fuzz/src/lib.rs`, compiled in here), so the invariants stay checked between
//! fuzz runs. Each finding also has a test of its own below, with the input inlined.

#[path = "../fuzz/src/lib.rs"]
#[allow(dead_code)]
mod invariants;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

/// The files of `dir` (none when it does not exist), sorted.
fn files_in(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

/// Runs `check` on every seed and every finding of `target`; returns how many inputs ran.
fn replay(target: &str, check: fn(&[u8])) -> usize {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut n = 0;
    let mut failed = Vec::new();
    for dir in [
        root.join("fuzz/seeds").join(target),
        root.join("fixtures/fuzz").join(target),
    ] {
        for file in files_in(&dir) {
            let data = std::fs::read(&file).expect("a seed file");
            if std::panic::catch_unwind(|| check(&data)).is_err() {
                failed.push(file.display().to_string());
            }
            n += 1;
        }
    }
    assert!(
        failed.is_empty(),
        "{target}: these inputs fail: {failed:#?}"
    );
    n
}

#[test]
fn parse_line_seeds_and_findings_hold() {
    assert!(replay("parse_line", invariants::parse_line_holds) >= 10);
}

#[test]
fn normalize_seeds_and_findings_hold() {
    assert!(replay("normalize", invariants::normalize_holds) >= 5);
}

#[test]
fn read_list_seeds_and_findings_hold() {
    assert!(replay("read_list", invariants::read_list_holds) >= 5);
}

/// Every line of the shipped fixtures (the fuzzers' seed corpus is cut from them).
#[test]
fn every_fixture_line_holds() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/alb");
    let mut stack = vec![root];
    let mut lines = 0;
    let mut admitted = 0;
    while let Some(dir) = stack.pop() {
        for path in std::fs::read_dir(&dir)
            .expect("fixture folder")
            .map(|e| e.expect("a directory entry").path())
        {
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "gz") {
                continue; // the classic-ELB logs and the test file the miner skips by name
            }
            let file = std::fs::File::open(&path).expect("a fixture");
            let mut reader = BufReader::new(flate2::read::MultiGzDecoder::new(file));
            let mut line = Vec::new();
            while reader.read_until(b'\n', &mut line).expect("gzip") > 0 {
                let content = line.strip_suffix(b"\n").unwrap_or(&line);
                invariants::parse_line_holds(content);
                if let Ok(r) = greenlight::alb::parse_line(content) {
                    admitted += usize::from(r.request.method == b"GET");
                    // The normaliser on the request URL as the filter hands it over.
                    let mut data = vec![b'0'];
                    data.extend_from_slice(&r.request.url.decode());
                    invariants::normalize_holds(&data);
                }
                lines += 1;
                line.clear();
            }
        }
    }
    assert!(lines > 4000, "{lines} fixture lines");
    assert!(admitted > 1000, "{admitted} GET lines");
}

/// The shipped list the tester's tests use.
#[test]
fn fixture_list_holds() {
    let list = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/nginx/list.csv");
    invariants::read_list_holds(&std::fs::read(list).expect("fixtures/nginx/list.csv"));
}

/// Finding (a seed, checked against the model of `mine::normalize`'s docs): empty query
/// parameters before the first kept one were dropped, `/x?&a=1` listed as `/x?a=1`, though
/// path and query are promised byte for byte.
#[test]
fn leading_empty_query_parameters_are_kept() {
    invariants::normalize_holds(b"1http://e.com/x?&&a=1");
    invariants::normalize_holds(b"0http://e.com/x?&utm_source=1&a");
}

/// Lines to mutate in the proptests below: seeds that parse, one per layout kind.
const PARSING_SEEDS: [&[u8]; 3] = [
    include_bytes!("../fuzz/seeds/parse_line/valid-34-fields"),
    include_bytes!("../fuzz/seeds/parse_line/valid-20-fields"),
    include_bytes!("../fuzz/seeds/parse_line/admitted-with-escapes"),
];

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]

    /// A small fuzzer in every `cargo test`: byte edits of lines that parse, through all the
    /// parse_line invariants (written back identically, the filter's output listable, ...).
    #[test]
    fn edited_lines_hold(
        seed in 0..PARSING_SEEDS.len(),
        edits in proptest::collection::vec(
            (proptest::prelude::any::<proptest::sample::Index>(),
             proptest::sample::select(b" \"\\x0:-.#?&/%\r\n\x7f\xff".to_vec())),
            0..4),
        cut in proptest::prelude::any::<proptest::sample::Index>(),
    ) {
        let mut line = PARSING_SEEDS[seed].to_vec();
        for (at, byte) in edits {
            let i = at.index(line.len());
            line[i] = byte;
        }
        if cut.index(4) == 0 {
            line.truncate(cut.index(line.len() + 1));
        }
        invariants::parse_line_holds(&line);
    }

    /// The same for request URLs: edits of a listable URL through the normaliser's invariants.
    #[test]
    fn edited_urls_hold(
        tail in "[ -~]{0,40}",
        raw in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..8),
        keep in proptest::prelude::any::<bool>(),
    ) {
        let mut data = vec![if keep { b'1' } else { b'0' }];
        data.extend_from_slice(b"https://Shop.Example.com:443/a");
        data.extend_from_slice(tail.as_bytes());
        data.extend_from_slice(&raw);
        invariants::normalize_holds(&data);
    }
}

/// Finding (`fixtures/fuzz/normalize/jwt-shaped-once-encoded`): a query value of 13 bytes,
/// `eyJ.a.` and seven control bytes, is no JWT as logged (too short), but listed
/// percent-encoded it is 27 bytes of a JWT's shape, so the list showed a credential-looking
/// value. The normaliser now judges the value as listed too.
#[test]
fn a_value_that_encoding_gives_a_jwt_shape_is_flagged() {
    invariants::normalize_holds(b"0http://e.com/?t=eyJ.a.\x01\x01\x01\x01\x01\x01\x01");
}

/// Finding (`fixtures/fuzz/normalize/crash-309163…`): a bracketed host of 400 hex digits and
/// colons was an IPv6 literal to the normaliser and a bad host to the tester's list reader
/// (longer than any host it takes). The normaliser now refuses a bracketed host longer than the
/// longest textual IPv6 address (45 bytes).
#[test]
fn an_ipv6_literal_longer_than_any_address_is_refused() {
    let mut url = b"0http://[::".to_vec();
    url.extend_from_slice(&[b'f'; 400]);
    url.extend_from_slice(b"]:80/lita-data/");
    invariants::normalize_holds(&url);
}
