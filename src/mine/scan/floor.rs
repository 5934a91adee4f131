//! Benchmark builds only (`--features scan-floor`): where a line's work stops, so that the cost
//! of each step of the scan can be measured as the miner runs it (`benches/throughput.sh
//! --floor`). Never built into the miner that is shipped: such a run counts no request, so it
//! ends after the scan with exit 3 ("no replayable request") and writes no list.
//!
//! `GREENLIGHT_SCAN_FLOOR` names the last step a line gets:
//! - `lines`: none (the object is inflated and cut into lines, and that is all);
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Floor {
    Lines,
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
            Ok("split") => Floor::Split,
            Ok("parse") => Floor::Parse,
            Ok("filter") => Floor::Filter,
            Ok(other) => {
                eprintln!("GREENLIGHT_SCAN_FLOOR={other}: expected lines, split, parse or filter");
                std::process::exit(2);
            }
        };
        if floor != Floor::Full {
            eprintln!("greenlight: a scan-floor build, lines stop after {floor:?}");
        }
        floor
    })
}
