//! greenlight: keeps legacy web servers safe during blue/green releases.
//!
//! The miner turns ALB access logs into `acceptance_url_list.csv`:
//! source -> decode -> parse -> filter/normalise -> day tally -> [`history`] (one tally per
//! day, a retention window) -> [`sample`] (stratified by route template) -> [`list`].

pub mod alb;
pub mod history;
pub mod list;
pub mod mine;
pub mod output;
pub mod sample;
pub mod source;
pub mod synth;
