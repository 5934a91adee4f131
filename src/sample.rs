//! Stratified sampling: which URLs of the window make the list, within a budget of URLs (and
//! optionally of test time), with a seeded RNG so the same state, flags and date always give
//! the same list.
//!
//! URLs arrive one at a time ([`Sampler::add`], in key order from the window); the sampler
//! keeps only bounded candidate sets: the `max_urls` most-hit URLs, a few variants per stratum
//! (host + route template) and a seeded random sample of the rare URLs. Memory grows with the
//! number of strata, not with the number of URLs.
//!
//! [`Sampler::finish`] then picks, in this order (see the README for the reasoning):
//! 1. **head**: the `head_share` most-hit URLs, always in (even past a time budget), except
//!    that a second or later head URL of one stratum yields its slot when the budget would
//!    otherwise not reach one URL per stratum;
//! 2. **cover**: one URL for each stratum, most hit strata first, until only the rare reserve
//!    is left;
//! 3. **rare**: the `rare_share` reserve: strata not yet covered (rare ones first) in seeded
//!    random order, then URLs seen on few days with few hits, in seeded random order;
//! 4. **cover** again with what is left, then **variant**: more URLs of covered strata that
//!    differ in what a server routes on (query keys, extension, trailing slash), round robin;
//! 5. **fill**: the most-hit URLs not yet in.

use std::collections::{BinaryHeap, HashMap, HashSet};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::history::UrlHistory;
use crate::mine::route::{Router, mix64, stable_hash, variant_into};

/// The sampling settings (the binary's flags).
#[derive(Debug, Clone, PartialEq)]
pub struct SampleConfig {
    pub max_urls: usize,
    /// Share of `max_urls` for the most-hit URLs.
    pub head_share: f64,
    /// Share of `max_urls` reserved for rare strata and rare URLs.
    pub rare_share: f64,
    /// A URL is rare when seen on at most this many days of the window...
    pub rare_days: u32,
    /// ...and with at most this many hits in the window.
    pub rare_hits: u64,
    /// Candidates kept per stratum (distinct variants).
    pub variants_per_stratum: usize,
    pub seed: u64,
    /// Test time budget in seconds, if any.
    pub time_budget: Option<f64>,
    /// Requests the tester runs at once (for the time estimate).
    pub concurrency: usize,
}

/// Added to each URL's logged median latency when estimating test time: connection, TLS and
/// the tester's own work, which the target processing time does not include.
pub const REQUEST_OVERHEAD_MS: f64 = 20.0;

impl SampleConfig {
    pub fn new(max_urls: usize, seed: u64) -> Self {
        SampleConfig {
            max_urls,
            head_share: 0.25,
            rare_share: 0.15,
            rare_days: 1,
            rare_hits: 2,
            variants_per_stratum: 4,
            seed,
            time_budget: None,
            concurrency: 8,
        }
    }
}

/// Why a URL is in the list (the `class` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Class {
    Head,
    Cover,
    Rare,
    Variant,
    Fill,
}

impl Class {
    pub fn as_str(self) -> &'static str {
        match self {
            Class::Head => "head",
            Class::Cover => "cover",
            Class::Rare => "rare",
            Class::Variant => "variant",
            Class::Fill => "fill",
        }
    }
}

/// One listed URL.
#[derive(Debug, Clone)]
pub struct Pick {
    pub url: UrlHistory,
    /// The route template (without the host).
    pub stratum: String,
    pub class: Class,
}

impl Pick {
    /// Estimated time one request takes, in milliseconds.
    pub fn estimate_ms(&self) -> f64 {
        estimate_ms(&self.url)
    }
}

fn estimate_ms(u: &UrlHistory) -> f64 {
    u.stats
        .p50_ms()
        .or_else(|| u.stats.mean_target_ms())
        .unwrap_or(0.0)
        + REQUEST_OVERHEAD_MS
}

/// One row of the strata table.
#[derive(Debug, Clone, Serialize)]
pub struct StratumReport {
    pub host: String,
    pub template: String,
    pub urls_seen: u64,
    pub hits: u64,
    pub urls_listed: u64,
    pub hits_listed: u64,
    pub covered: bool,
    /// Estimated seconds the tester spends on this stratum's listed URLs.
    pub est_seconds: f64,
}

/// What [`Sampler::finish`] returns.
#[derive(Debug, Clone)]
pub struct Sample {
    /// The list, most hits first (ties by host, then request-target).
    pub picks: Vec<Pick>,
    /// Every stratum, most hits first.
    pub strata: Vec<StratumReport>,
    pub urls_seen: u64,
    pub hits_seen: u64,
    /// URLs the time budget kept out (a stratum's cover, a rare URL, ...).
    pub skipped_for_time: u64,
    /// Estimated test time of the list, in seconds, at the configured concurrency.
    pub est_seconds: f64,
    /// The head alone exceeded the time budget (it is listed anyway).
    pub head_over_time_budget: bool,
    /// Head URLs of an already covered stratum left out so that every stratum fits.
    pub head_yielded: u64,
}

#[derive(Debug, Clone)]
struct Cand {
    url: UrlHistory,
    stratum: usize,
    variant: Vec<u8>,
    priority: u64,
}

/// Best first: more hits, then key.
fn better(a: &Cand, b: &Cand) -> bool {
    (std::cmp::Reverse(a.url.stats.hits), &a.url.key)
        < (std::cmp::Reverse(b.url.stats.hits), &b.url.key)
}

/// `u` would rank before `c`: more hits, then key.
fn beats(u: &UrlHistory, c: &Cand) -> bool {
    (std::cmp::Reverse(u.stats.hits), &u.key) < (std::cmp::Reverse(c.url.stats.hits), &c.url.key)
}

/// Heap order: the worst candidate on top.
struct ByHits(Cand);
impl PartialEq for ByHits {
    fn eq(&self, o: &Self) -> bool {
        self.cmp(o) == std::cmp::Ordering::Equal
    }
}
impl Eq for ByHits {}
impl PartialOrd for ByHits {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for ByHits {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (std::cmp::Reverse(self.0.url.stats.hits), &self.0.url.key)
            .cmp(&(std::cmp::Reverse(o.0.url.stats.hits), &o.0.url.key))
    }
}

/// Heap order: the largest priority on top.
struct ByPriority(Cand);
impl PartialEq for ByPriority {
    fn eq(&self, o: &Self) -> bool {
        self.cmp(o) == std::cmp::Ordering::Equal
    }
}
impl Eq for ByPriority {}
impl PartialOrd for ByPriority {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for ByPriority {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (self.0.priority, &self.0.url.key).cmp(&(o.0.priority, &o.0.url.key))
    }
}

struct Stratum {
    host: String,
    template: String,
    urls: u64,
    hits: u64,
    /// All its URLs are rare.
    rare: bool,
    /// Best candidate per variant, at most `variants_per_stratum`.
    variants: Vec<Cand>,
}

/// Collects candidates from a stream of URLs; see the module docs.
pub struct Sampler<'r> {
    cfg: SampleConfig,
    router: &'r Router,
    rng_key: u64,
    strata: Vec<Stratum>,
    /// Strata by name (`host SP template`). foldhash, randomly seeded as the tally's index is:
    /// names come from the logs.
    index: HashMap<String, usize, foldhash::fast::RandomState>,
    top: BinaryHeap<ByHits>,
    rare: BinaryHeap<ByPriority>,
    rare_keep: usize,
    urls_seen: u64,
    hits_seen: u64,
    /// Reused buffers: the stratum name and the variant of the URL being added.
    name: String,
    variant: Vec<u8>,
}

impl<'r> Sampler<'r> {
    pub fn new(cfg: SampleConfig, router: &'r Router) -> Self {
        let rng_key = ChaCha8Rng::seed_from_u64(cfg.seed).next_u64();
        let rare_keep = 2 * share(cfg.max_urls, cfg.rare_share) + 16;
        Sampler {
            cfg,
            router,
            rng_key,
            strata: Vec::new(),
            index: HashMap::default(),
            top: BinaryHeap::new(),
            rare: BinaryHeap::new(),
            rare_keep,
            urls_seen: 0,
            hits_seen: 0,
            name: String::new(),
            variant: Vec::new(),
        }
    }

    fn is_rare(&self, u: &UrlHistory) -> bool {
        u.days_seen <= self.cfg.rare_days && u.stats.hits <= self.cfg.rare_hits
    }

    /// Sees one URL of the window.
    pub fn add(&mut self, u: &UrlHistory) {
        self.urls_seen += 1;
        self.hits_seen += u.stats.hits;
        // The stratum's name `host SP template`, built in a reused buffer: a known stratum
        // allocates nothing.
        let host = String::from_utf8_lossy(u.host());
        let mut name = std::mem::take(&mut self.name);
        name.clear();
        name.push_str(&host);
        name.push(' ');
        self.router.template_into(u.host(), u.target(), &mut name);
        let rare = self.is_rare(u);
        let stratum = match self.index.get(name.as_str()) {
            Some(&i) => i,
            None => {
                self.strata.push(Stratum {
                    template: name[host.len() + 1..].to_owned(),
                    host: host.into_owned(),
                    urls: 0,
                    hits: 0,
                    rare: true,
                    variants: Vec::new(),
                });
                self.index.insert(name.clone(), self.strata.len() - 1);
                self.strata.len() - 1
            }
        };
        self.name = name;
        let mut variant = std::mem::take(&mut self.variant);
        variant_into(u.target(), &mut variant);
        let priority = mix64(stable_hash(&[&u.key]) ^ self.rng_key);
        // Candidates are cloned only when they enter a candidate set.
        let make = || Cand {
            url: u.clone(),
            stratum,
            variant: variant.clone(),
            priority,
        };
        let max_variants = self.cfg.variants_per_stratum.max(1);
        let s = &mut self.strata[stratum];
        s.urls += 1;
        s.hits += u.stats.hits;
        s.rare &= rare;
        match s.variants.iter().position(|c| c.variant == variant) {
            Some(i) => {
                if beats(u, &s.variants[i]) {
                    s.variants[i] = make();
                }
            }
            None if s.variants.len() < max_variants => s.variants.push(make()),
            None => {
                // Full: the new variant replaces the least hit one if it has more hits.
                let worst = (0..s.variants.len()).reduce(|a, b| {
                    if better(&s.variants[a], &s.variants[b]) {
                        b
                    } else {
                        a
                    }
                });
                if let Some(w) = worst
                    && beats(u, &s.variants[w])
                {
                    s.variants[w] = make();
                }
            }
        }
        if rare && self.rare_keep > 0 {
            let enters = self.rare.len() < self.rare_keep
                || self
                    .rare
                    .peek()
                    .is_some_and(|top| (priority, &u.key) < (top.0.priority, &top.0.url.key));
            if enters {
                self.rare.push(ByPriority(make()));
                if self.rare.len() > self.rare_keep {
                    self.rare.pop();
                }
            }
        }
        if self.cfg.max_urls > 0 {
            let enters = self.top.len() < self.cfg.max_urls
                || self.top.peek().is_some_and(|worst| beats(u, &worst.0));
            if enters {
                self.top.push(ByHits(make()));
                if self.top.len() > self.cfg.max_urls {
                    self.top.pop();
                }
            }
        }
        self.variant = variant;
    }

    /// Picks the list.
    pub fn finish(mut self) -> Sample {
        let cfg = self.cfg.clone();
        let budget = cfg.max_urls;
        let mut top: Vec<Cand> = std::mem::take(&mut self.top)
            .into_sorted_vec()
            .into_iter()
            .map(|c| c.0)
            .collect();
        // `into_sorted_vec` is ascending in heap order: best first already.
        top.truncate(budget);
        let mut rare: Vec<Cand> = std::mem::take(&mut self.rare)
            .into_sorted_vec()
            .into_iter()
            .map(|c| c.0)
            .collect();
        rare.truncate(self.rare_keep);
        for s in &mut self.strata {
            s.variants.sort_by(|a, b| {
                (std::cmp::Reverse(a.url.stats.hits), &a.url.key)
                    .cmp(&(std::cmp::Reverse(b.url.stats.hits), &b.url.key))
            });
        }
        let mut order: Vec<usize> = (0..self.strata.len()).collect();
        order.sort_by(|&a, &b| {
            let (x, y) = (&self.strata[a], &self.strata[b]);
            y.hits
                .cmp(&x.hits)
                .then_with(|| x.host.cmp(&y.host))
                .then_with(|| x.template.cmp(&y.template))
        });

        let mut p = Picker {
            budget,
            time_budget_ms: cfg
                .time_budget
                .map(|s| s * 1000.0 * cfg.concurrency.max(1) as f64),
            used_ms: 0.0,
            chosen: HashSet::new(),
            covered: vec![false; self.strata.len()],
            n_covered: 0,
            head_yielded: 0,
            picks: Vec::new(),
            skipped_for_time: 0,
        };

        // 1. Head.
        let head_n = share(budget, cfg.head_share).min(budget);
        for c in top.iter().take(head_n) {
            // A second head URL of a stratum yields to coverage when the budget could not
            // otherwise cover every stratum once.
            let uncovered = self.strata.len() - p.n_covered;
            if p.covered[c.stratum] && budget - p.picks.len() <= uncovered {
                p.head_yielded += 1;
                continue;
            }
            p.add(c, Class::Head, true);
        }
        let head_over = p.time_budget_ms.is_some_and(|b| p.used_ms > b);

        // 2. Cover, leaving the rare reserve.
        let reserve = share(budget, cfg.rare_share).min(budget.saturating_sub(p.picks.len()));
        let cover_limit = budget - reserve;
        for &i in &order {
            if p.picks.len() >= cover_limit {
                break;
            }
            p.cover(&self.strata[i], i, Class::Cover);
        }

        // 3. The rare reserve: uncovered strata (rare ones first), then rare URLs.
        let rare_limit = (p.picks.len() + reserve).min(budget);
        let mut uncovered: Vec<usize> = order.iter().copied().filter(|&i| !p.covered[i]).collect();
        uncovered.sort_by_key(|&i| {
            let s = &self.strata[i];
            (
                !s.rare,
                mix64(stable_hash(&[s.host.as_bytes(), s.template.as_bytes()]) ^ self.rng_key),
            )
        });
        for &i in &uncovered {
            if p.picks.len() >= rare_limit {
                break;
            }
            p.cover(&self.strata[i], i, Class::Rare);
        }
        for c in &rare {
            if p.picks.len() >= rare_limit {
                break;
            }
            p.add(c, Class::Rare, false);
        }

        // 4. Cover with what is left, then variants round robin.
        for &i in &order {
            p.cover(&self.strata[i], i, Class::Cover);
        }
        for round in 1..cfg.variants_per_stratum.max(1) {
            for &i in &order {
                if let Some(c) = self.strata[i].variants.get(round) {
                    p.add(c, Class::Variant, false);
                }
            }
        }

        // 5. Fill by hits.
        for c in &top {
            p.add(c, Class::Fill, false);
        }

        // The report.
        let mut strata: Vec<StratumReport> = order
            .iter()
            .map(|&i| {
                let s = &self.strata[i];
                StratumReport {
                    host: s.host.clone(),
                    template: s.template.clone(),
                    urls_seen: s.urls,
                    hits: s.hits,
                    urls_listed: 0,
                    hits_listed: 0,
                    covered: p.covered[i],
                    est_seconds: 0.0,
                }
            })
            .collect();
        let mut row_of = vec![0; self.strata.len()];
        for (row, &i) in order.iter().enumerate() {
            row_of[i] = row;
        }
        let conc = cfg.concurrency.max(1) as f64;
        let mut picks = Vec::with_capacity(p.picks.len());
        for (c, class) in p.picks {
            let r = &mut strata[row_of[c.stratum]];
            r.urls_listed += 1;
            r.hits_listed += c.url.stats.hits;
            r.est_seconds += estimate_ms(&c.url) / 1000.0 / conc;
            picks.push(Pick {
                stratum: self.strata[c.stratum].template.clone(),
                url: c.url,
                class,
            });
        }
        picks.sort_by(|a, b| {
            b.url
                .stats
                .hits
                .cmp(&a.url.stats.hits)
                .then_with(|| a.url.key.cmp(&b.url.key))
        });
        let est_seconds = picks.iter().map(|p| p.estimate_ms()).sum::<f64>() / 1000.0 / conc;
        Sample {
            picks,
            strata,
            urls_seen: self.urls_seen,
            hits_seen: self.hits_seen,
            skipped_for_time: p.skipped_for_time,
            est_seconds,
            head_over_time_budget: head_over,
            head_yielded: p.head_yielded,
        }
    }
}

/// `ceil(n * share)`, for shares in 0..=1.
fn share(n: usize, share: f64) -> usize {
    (n as f64 * share.clamp(0.0, 1.0)).ceil() as usize
}

struct Picker {
    budget: usize,
    /// Budget in request-milliseconds (seconds x concurrency x 1000).
    time_budget_ms: Option<f64>,
    used_ms: f64,
    chosen: HashSet<Vec<u8>>,
    covered: Vec<bool>,
    n_covered: usize,
    /// Head URLs left out so that every stratum could be covered.
    head_yielded: u64,
    picks: Vec<(Cand, Class)>,
    skipped_for_time: u64,
}

impl Picker {
    /// Adds `c` unless it is in, the budget is spent, or (unless `force`) it does not fit the
    /// time budget.
    fn add(&mut self, c: &Cand, class: Class, force: bool) -> bool {
        if self.picks.len() >= self.budget || self.chosen.contains(&c.url.key) {
            return false;
        }
        let ms = estimate_ms(&c.url);
        if !force
            && let Some(limit) = self.time_budget_ms
            && self.used_ms + ms > limit
        {
            self.skipped_for_time += 1;
            return false;
        }
        self.used_ms += ms;
        self.chosen.insert(c.url.key.clone());
        if !self.covered[c.stratum] {
            self.covered[c.stratum] = true;
            self.n_covered += 1;
        }
        self.picks.push((c.clone(), class));
        true
    }

    /// Covers stratum `i` with its best variant that fits.
    fn cover(&mut self, s: &Stratum, i: usize, class: Class) {
        if self.covered[i] {
            return;
        }
        for c in &s.variants {
            if self.picks.len() >= self.budget {
                return;
            }
            if self.add(c, class, false) {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mine::tally::UrlStats;
    use chrono::NaiveDate;

    fn url(host: &str, target: &str, hits: u64, days: u32) -> UrlHistory {
        let d = NaiveDate::from_ymd_opt(2026, 3, 1).unwrap();
        UrlHistory {
            key: format!("{host} {target}").into_bytes(),
            stats: UrlStats {
                hits,
                statuses: [(200, hits)].into_iter().collect(),
                https_hits: hits,
                ..UrlStats::default()
            },
            days_seen: days,
            first_day: d,
            last_day: d,
        }
    }

    fn sample(urls: &[UrlHistory], cfg: SampleConfig) -> Sample {
        let router = Router::default();
        let mut s = Sampler::new(cfg, &router);
        for u in urls {
            s.add(u);
        }
        s.finish()
    }

    fn corpus() -> Vec<UrlHistory> {
        let mut v = Vec::new();
        for i in 0..50 {
            v.push(url("a.example", &format!("/p/{i}"), 1000 - i, 5));
        }
        for t in 0..20 {
            v.push(url("b.example", &format!("/section{t}/x"), 10 + t, 2));
        }
        v.push(url("c.example", "/once", 1, 1));
        v.sort_by(|a, b| a.key.cmp(&b.key));
        v
    }

    #[test]
    fn head_then_every_stratum_when_the_budget_allows() {
        let s = sample(&corpus(), SampleConfig::new(30, 7));
        assert_eq!(s.picks.len(), 30);
        assert_eq!(s.strata.len(), 22);
        assert!(s.strata.iter().all(|r| r.covered));
        // The head: the 8 most hit URLs.
        for i in 0..8 {
            let key = format!("a.example /p/{i}").into_bytes();
            assert!(
                s.picks
                    .iter()
                    .any(|p| p.url.key == key && p.class == Class::Head)
            );
        }
    }

    #[test]
    fn a_budget_of_exactly_the_strata_covers_them_all() {
        let s = sample(&corpus(), SampleConfig::new(22, 3));
        assert_eq!(s.picks.len(), 22);
        assert!(s.strata.iter().all(|r| r.covered));
        assert_eq!(s.picks[0].url.key, b"a.example /p/0");
        assert_eq!(s.picks[0].class, Class::Head);
        assert_eq!(s.head_yielded, 5);
    }

    #[test]
    fn a_small_budget_keeps_the_head_and_reports_uncovered_strata() {
        let s = sample(&corpus(), SampleConfig::new(8, 7));
        assert_eq!(s.picks.len(), 8);
        // Budget below the strata count: the most hit URL is in, the second head URL (same
        // stratum) yields its slot to coverage.
        assert_eq!(s.picks.iter().filter(|p| p.class == Class::Head).count(), 1);
        assert_eq!(s.head_yielded, 1);
        assert_eq!(s.picks[0].url.key, b"a.example /p/0");
        let covered = s.strata.iter().filter(|r| r.covered).count();
        assert!((7..22).contains(&covered), "{covered}");
    }

    #[test]
    fn the_seed_only_moves_the_random_part() {
        let a = sample(&corpus(), SampleConfig::new(10, 1));
        let b = sample(&corpus(), SampleConfig::new(10, 1));
        let keys = |s: &Sample| {
            s.picks
                .iter()
                .map(|p| p.url.key.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(keys(&a), keys(&b));
        let differ =
            (2..40).any(|seed| keys(&sample(&corpus(), SampleConfig::new(10, seed))) != keys(&a));
        assert!(differ, "some seed picks other rare strata");
    }

    #[test]
    fn variants_are_preferred_over_near_duplicates() {
        let mut v = Vec::new();
        for i in 0..10 {
            v.push(url("a.example", &format!("/p/{i}?x=1"), 100 - i, 3));
        }
        v.push(url("a.example", "/p/99.json", 1, 3));
        v.push(url("a.example", "/p/98/", 1, 3));
        v.sort_by(|a, b| a.key.cmp(&b.key));
        let mut cfg = SampleConfig::new(4, 1);
        cfg.head_share = 0.0;
        cfg.rare_share = 0.0;
        let s = sample(&v, cfg);
        let keys: HashSet<_> = s.picks.iter().map(|p| p.url.key.clone()).collect();
        assert!(keys.contains(&b"a.example /p/99.json"[..]));
        assert!(keys.contains(&b"a.example /p/98/"[..]));
    }

    #[test]
    fn the_time_budget_limits_all_but_the_head() {
        let mut cfg = SampleConfig::new(30, 1);
        cfg.concurrency = 1;
        // 20 ms per URL (no latency logged): room for 10 URLs.
        cfg.time_budget = Some(0.2);
        let s = sample(&corpus(), cfg);
        assert_eq!(s.picks.len(), 10);
        assert!(s.skipped_for_time > 0);
        assert!(s.est_seconds <= 0.2 + 1e-9);
    }
}
