//! greenlight: keeps legacy web servers safe during blue/green releases.
//!
//! The miner turns ALB access logs into `acceptance_url_list.csv`:
//! source -> decode -> parse -> filter/normalise -> tally -> select -> list.
//!
//! The tester ([`check`]) replays that list against the green listener, compares with blue,
//! and gates the release: list -> probes -> verdicts -> gate -> report -> release hook.

pub mod alb;
pub mod check;
pub mod list;
pub mod mine;
pub mod output;
pub mod source;
pub mod synth;
