//! Which URLs make the list. For now the top `max_urls` by hits; stratified sampling over a
//! retention window replaces this function (and only this function) later.

use super::tally::{Tally, UrlStats};

/// One selected URL.
#[derive(Debug, Clone, PartialEq)]
pub struct Selected<'t> {
    pub host: &'t [u8],
    pub target: &'t [u8],
    pub stats: &'t UrlStats,
}

/// The `max_urls` most-hit URLs, most hits first; ties ordered by host, then request-target, so
/// the list is the same on every run.
pub fn top_by_hits(tally: &Tally, max_urls: usize) -> Vec<Selected<'_>> {
    let mut all: Vec<Selected<'_>> = tally
        .iter()
        .map(|(host, target, stats)| Selected {
            host,
            target,
            stats,
        })
        .collect();
    all.sort_unstable_by(|a, b| {
        b.stats
            .hits
            .cmp(&a.stats.hits)
            .then_with(|| a.host.cmp(b.host))
            .then_with(|| a.target.cmp(b.target))
    });
    all.truncate(max_urls);
    all
}
