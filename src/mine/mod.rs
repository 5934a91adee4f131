//! The nightly job's stages, in the order data flows through them: [`scan`] (bytes -> records),
//! [`filter`] (which requests may be replayed), [`normalize`] (the URL to replay), [`tally`]
//! (per-URL counts of one day; [`memo`] remembers each URL's verdict and tally slot per scan
//! thread) and [`route`] (route templates, the sampler's strata). The day's
//! tally then goes to [`crate::history`] (the retention window) and [`crate::sample`] (which
//! URLs make the list); [`run`] wires one run end to end.

pub mod filter;
pub mod memo;
pub mod normalize;
mod prefetch;
pub mod report;
pub mod route;
pub mod run;
pub mod scan;
pub mod tally;
