//! Benchmark builds only (`--features scan-floor`): where a line's work stops, so that the cost
//! of each step of the scan can be measured as the miner runs it (`benches/throughput.sh
//! --floor`). Never built into the miner that is shipped: such a run counts no request, so it
//! ends after the scan with exit 3 ("no replayable request") and writes no list.
//!
//! `GREENLIGHT_SCAN_FLOOR` names the last step a line gets:
//! - `lines`: none (the object is inflated and cut into lines, and that is all);
//! - `head`: fields 1-14 are found by position ([`locate_head`]), no further: what a scan that
//!   decided lines from the request and the status alone would at least do;
//! - `split`: the line is split into its fields ([`crate::alb::split`]);
//! - `parse`: the line is parsed into a record ([`crate::alb::parse_into`]);
//! - `filter`: the record goes through the request checks of the filter
//!   ([`crate::mine::filter::Policy::admit_request`]);
//! - unset: everything, as the shipped miner does.
//!
//! Why a feature and not a flag: the check costs an atomic load per line, and the shipped
//! miner should carry neither that nor a switch that makes it count nothing.

use std::sync::OnceLock;

/// The last step a line gets in a floor run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Floor {
    Lines,
    Head,
    Split,
    Parse,
    Filter,
    Full,
}

/// The floor `GREENLIGHT_SCAN_FLOOR` asks for (read once per process); an unknown value stops
/// the process with a message rather than measure the wrong thing.
pub(super) fn floor() -> Floor {
    static FLOOR: OnceLock<Floor> = OnceLock::new();
    *FLOOR.get_or_init(|| {
        let floor = match std::env::var("GREENLIGHT_SCAN_FLOOR").as_deref() {
            Err(_) | Ok("") => Floor::Full,
            Ok("lines") => Floor::Lines,
            Ok("head") => Floor::Head,
            Ok("split") => Floor::Split,
            Ok("parse") => Floor::Parse,
            Ok("filter") => Floor::Filter,
            Ok(other) => {
                eprintln!(
                    "GREENLIGHT_SCAN_FLOOR={other}: expected lines, head, split, parse or filter"
                );
                std::process::exit(2);
            }
        };
        if floor != Floor::Full {
            eprintln!("greenlight: a scan-floor build, lines stop after {floor:?}");
        }
        floor
    })
}

/// Where fields 13 (`request`) and 14 (`user_agent`) are, found by position: fields 1-12 are
/// bare, so twelve spaces, then two quoted fields. `None` when the line is not so shaped. One
/// `memchr` call a field, as the issue's "memchr-style splitter": the cost of finding a line's
/// request without the split.
pub(super) fn locate_head(line: &[u8]) -> Option<(std::ops::Range<usize>, std::ops::Range<usize>)> {
    let mut at = 0;
    for _ in 0..12 {
        at += memchr::memchr(b' ', line.get(at..)?)? + 1;
    }
    let mut quoted = || {
        let start = at + 1;
        (line.get(at) == Some(&b'"')).then_some(())?;
        let end = start + memchr::memchr(b'"', line.get(start..)?)?;
        at = end + 2;
        Some(start..end)
    };
    let request = quoted()?;
    let agent = quoted()?;
    Some((request, agent))
}

#[cfg(test)]
mod tests {
    use super::locate_head;

    #[test]
    fn the_head_is_the_request_and_the_agent() {
        let line = br#"https 2018-07-02T22:23:00.186641Z app/my-loadbalancer/50dc6c495c0c9188 192.168.131.39:2817 10.0.0.1:80 0.086 0.048 0.037 200 200 0 57 "GET https://www.example.com:443/ HTTP/1.1" "curl/7.46.0" ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2"#;
        let (request, agent) = locate_head(line).expect("shaped");
        assert_eq!(&line[request], b"GET https://www.example.com:443/ HTTP/1.1");
        assert_eq!(&line[agent], b"curl/7.46.0");
        assert_eq!(locate_head(b"http 1 2 3"), None);
        assert_eq!(locate_head(b"a b c d e f g h i j k l m"), None);
    }
}
