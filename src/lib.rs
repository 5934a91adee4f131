//! greenlight keeps legacy web servers safe during blue/green releases.
//!
//! A nightly job (`greenlight-miner`) turns the ALB access logs of a day into
//! `acceptance_url_list.csv`, the real URLs a release hook replays against the new (green)
//! tasks before traffic moves. The library is usable on its own; the binaries only parse flags
//! and call it.
//!
//! The miner's data flows one way, one module per stage:
//!
//! ```text
//! source (list a day's objects by key) -> mine::scan (gunzip stream, split lines, in parallel)
//!   -> alb::parse (line -> AlbRecord, borrowed) -> mine::filter + mine::normalize (replayable?
//!   which URL?) -> mine::tally (per-URL counts, per thread, merged once) -> history (one
//!   tally per day, a retention window) -> sample (stratified by route template) -> list (CSV)
//!   -> output (atomic write)
//! ```
//!
//! [`mine::run::run`] does one run end to end and returns a [`mine::report::RunReport`].
//! [`synth`] writes deterministic synthetic log trees for fixtures, tests and benchmarks.
//!
//! The tester ([`check`], `greenlight-tester`) replays that list against the green listener,
//! compares with blue, and gates the release:
//! list -> probes -> verdicts -> gate -> report -> release hook.

pub mod alb;
pub mod check;
pub mod history;
pub mod list;
pub mod mine;
pub mod output;
pub mod s3;
pub mod sample;
pub mod source;
pub mod synth;

/// Plain log lines (`tracing`) on stderr for the binaries, filtered by `GREENLIGHT_LOG`
/// (default `info`).
pub fn init_logging() {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("GREENLIGHT_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
}
