//! The nightly job's stages, in the order data flows through them: [`scan`] (bytes -> records),
//! [`filter`] (which requests may be replayed), [`normalize`] (the URL to replay), [`tally`]
//! (per-URL counts) and [`select`] (which URLs make the list).

pub mod filter;
pub mod normalize;
pub mod report;
pub mod run;
pub mod scan;
pub mod select;
pub mod tally;
