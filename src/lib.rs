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

// The module docs explain the code to whoever works on it, so they link to private items;
// `cargo doc --document-private-items` resolves every link.
#![allow(rustdoc::private_intra_doc_links)]

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

/// Log lines (`tracing`) on stderr for the binaries, filtered by `GREENLIGHT_LOG` (default
/// `info`). `GREENLIGHT_LOG_FORMAT=json` writes one JSON object per line (for CloudWatch Logs
/// metric filters); anything else, plain text. Colours only on a terminal.
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("GREENLIGHT_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(filter);
    if log_format_is_json() {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .init();
    } else {
        builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init();
    }
}

/// Whether `GREENLIGHT_LOG_FORMAT` asks for JSON log lines (`json`, any case).
pub fn log_format_is_json() -> bool {
    std::env::var("GREENLIGHT_LOG_FORMAT").is_ok_and(|v| v.trim().eq_ignore_ascii_case("json"))
}
