//! Per-URL counts for one day: hits, the ELB status codes seen, the target's latency and the
//! scheme clients used.
//!
//! Every figure is an integer sum, count or maximum, so merging the tallies of several threads
//! gives the same result in any order: a run is deterministic whatever the thread count. URLs
//! are interned once per tally (the key is `host SP request-target`, see
//! [`super::normalize`]); a hit on a known URL allocates nothing. The hasher is seeded per run:
//! URLs come from the internet, and a fixed seed would let anyone send colliding keys.

use std::sync::Arc;

use indexmap::IndexMap;
use rayon::slice::ParallelSliceMut;
use smallvec::SmallVec;

use super::normalize::{Normalized, Scheme, looks_like_secret};
use super::prefetch::prefetch;

/// What one URL was seen doing during the day.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UrlStats {
    pub hits: u64,
    /// Hits per ELB status code, sorted by code.
    pub statuses: Counts<u16>,
    /// Sum, count and maximum of the target processing time, in microseconds, over the hits
    /// that logged one.
    pub target_us_sum: u64,
    pub target_us_count: u64,
    pub target_us_max: u64,
    /// Hits over `http` and over `https`.
    pub http_hits: u64,
    pub https_hits: u64,
    /// Target processing times as a log-scale histogram: `(bucket, hits)`, sorted by bucket
    /// (see [`latency_bucket`]), so medians can be estimated after merging days.
    pub latency_hist: Counts<u8>,
    /// First and last second of the day (0..86400) the URL was requested; meaningful when
    /// `hits > 0`.
    pub first_second: u32,
    pub last_second: u32,
    /// The user agent of one hit drawn at random, weighted by hits (the hit of lowest
    /// [`agent_rank`]), so a URL is replayed the way its clients asked for it; `None` when no
    /// hit had a usable agent. The smallest rank wins everywhere (threads, days), so the choice
    /// does not depend on the order the hits were counted in.
    pub agent: Option<SampledAgent>,
}

/// A hit's user agent with the rank that decides which one a URL keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SampledAgent {
    pub rank: u64,
    /// Printable ASCII, as decoded from the log (see [`usable_agent`]). Shared: a day's
    /// agents are far fewer than the URLs that keep them (18 against 30,034 on the benchmark
    /// day), and a tally keeps one copy of each ([`AgentInterner`]), as a day file does.
    pub agent: Arc<[u8]>,
}

/// The longest user agent listed (longer ones are not sampled).
pub const MAX_AGENT: usize = 512;

/// The rank of one hit: a hash, with a fixed seed, of what makes the hit unique (its trace id,
/// time and client). Fixed, so every run of the same logs ranks the same hits the same way.
pub fn agent_rank(parts: &[&[u8]]) -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = foldhash::quality::FixedState::with_seed(0x6772_6565_6e6c_6967).build_hasher();
    for p in parts {
        h.write(p);
        h.write_u8(0xff);
    }
    h.finish()
}

/// A decoded user agent that can be sent again as a header value and listed safely: printable
/// ASCII, at most [`MAX_AGENT`] bytes, and not starting with `=`, `+`, `-` or `@` (agents are
/// chosen by whoever sends requests, and a spreadsheet would run such a cell as a formula;
/// this also leaves out the ALB's `-` for no agent).
pub fn usable_agent(decoded: &[u8]) -> Option<&[u8]> {
    let ok = !decoded.is_empty()
        && !matches!(decoded[0], b'=' | b'+' | b'-' | b'@')
        && decoded.len() <= MAX_AGENT
        && decoded.iter().all(|&b| (0x20..0x7f).contains(&b));
    ok.then_some(decoded)
}

impl UrlStats {
    fn record(&mut self, status: u16, scheme: Scheme, target_us: Option<u64>, second: u32) {
        if self.hits == 0 {
            self.first_second = second;
            self.last_second = second;
        } else {
            self.first_second = self.first_second.min(second);
            self.last_second = self.last_second.max(second);
        }
        self.hits += 1;
        self.statuses.add(status, 1);
        if let Some(us) = target_us {
            self.target_us_sum += us;
            self.target_us_count += 1;
            self.target_us_max = self.target_us_max.max(us);
            self.latency_hist.add(latency_bucket(us), 1);
        }
        match scheme {
            Scheme::Http => self.http_hits += 1,
            Scheme::Https => self.https_hits += 1,
        }
    }

    /// Keeps `agent` if its rank is the lowest seen (ties: the smaller agent), unless it looks
    /// like a secret (an AWS key id or a JWT, [`looks_like_secret`]): such an agent is never
    /// kept, so it reaches neither the state nor the list. Judged only when an agent would be
    /// kept (rarely: the lowest rank of a URL's hits changes about ln(hits) times), not on every
    /// hit; and since it depends on the agent alone, the result is still order independent.
    pub fn offer_agent(&mut self, rank: u64, agent: &[u8]) {
        if self.agent_would_win(rank, agent) && !looks_like_secret(agent) {
            self.agent = Some(SampledAgent {
                rank,
                agent: agent.into(),
            });
        }
    }

    /// [`UrlStats::offer_agent`] for an agent already judged usable and not a secret (by
    /// [`AgentInterner::judge`]): shared, not copied.
    fn offer_judged_agent(&mut self, rank: u64, agent: Arc<[u8]>) {
        if self.agent_would_win(rank, &agent) {
            self.agent = Some(SampledAgent { rank, agent });
        }
    }

    /// Whether `agent` at `rank` goes before the agent kept (lower rank, then smaller agent).
    fn agent_would_win(&self, rank: u64, agent: &[u8]) -> bool {
        self.agent
            .as_ref()
            .is_none_or(|a| (rank, agent) < (a.rank, &*a.agent))
    }

    /// [`UrlStats::merge`], taking the sampled agent of `other` when it wins instead of
    /// copying it (the same rules as [`UrlStats::offer_agent`]): the two agents change places,
    /// and `other` keeps every allocation it is left with, for its owner to free.
    ///
    /// Why: merging the scan threads' tallies frees nothing, see [`Tally::merge`].
    pub fn merge_from(&mut self, other: &mut UrlStats) {
        if other.hits == 0 {
            return;
        }
        // Out of `other` while the counts merge (which would offer it again), and back after:
        // the losing agent, whichever it is, stays with `other`.
        let mut agent = other.agent.take();
        let theirs_wins = agent.as_ref().is_some_and(|theirs| {
            self.agent_would_win(theirs.rank, &theirs.agent) && !looks_like_secret(&theirs.agent)
        });
        if theirs_wins {
            std::mem::swap(&mut self.agent, &mut agent);
        }
        self.merge(other);
        other.agent = agent;
    }

    /// Adds `other` into `self` (order independent).
    pub fn merge(&mut self, other: &UrlStats) {
        if other.hits == 0 {
            return;
        }
        // Shared, not copied (the same rules as `offer_agent`).
        if let Some(a) = &other.agent
            && self.agent_would_win(a.rank, &a.agent)
            && !looks_like_secret(&a.agent)
        {
            self.agent = Some(a.clone());
        }
        if self.hits == 0 {
            self.first_second = other.first_second;
            self.last_second = other.last_second;
        } else {
            self.first_second = self.first_second.min(other.first_second);
            self.last_second = self.last_second.max(other.last_second);
        }
        self.latency_hist.merge(&other.latency_hist);
        self.hits += other.hits;
        self.statuses.merge(&other.statuses);
        self.target_us_sum += other.target_us_sum;
        self.target_us_count += other.target_us_count;
        self.target_us_max = self.target_us_max.max(other.target_us_max);
        self.http_hits += other.http_hits;
        self.https_hits += other.https_hits;
    }

    /// The status the live site answered most often (ties: the lowest code).
    pub fn expected_status(&self) -> u16 {
        self.statuses
            .iter()
            .fold(
                (0u16, 0u64),
                |best, (c, n)| if n > best.1 { (c, n) } else { best },
            )
            .0
    }

    /// The scheme most hits used (ties: https).
    pub fn scheme(&self) -> Scheme {
        if self.http_hits > self.https_hits {
            Scheme::Http
        } else {
            Scheme::Https
        }
    }

    /// Median target processing time in milliseconds (from the histogram, within about 12%),
    /// when any hit logged one.
    pub fn p50_ms(&self) -> Option<f64> {
        median_of_hist(self.latency_hist.iter()).map(|us| us as f64 / 1000.0)
    }

    /// Mean target processing time in milliseconds, when any hit logged one.
    pub fn mean_target_ms(&self) -> Option<f64> {
        (self.target_us_count > 0)
            .then(|| self.target_us_sum as f64 / self.target_us_count as f64 / 1000.0)
    }
}

/// A key that [`Counts`] packs into the top 16 bits of a `u64`.
pub trait CountKey: Copy + Ord {
    fn to_bits(self) -> u16;
    fn from_bits(bits: u16) -> Self;
}

impl CountKey for u16 {
    fn to_bits(self) -> u16 {
        self
    }
    fn from_bits(bits: u16) -> Self {
        bits
    }
}

impl CountKey for u8 {
    fn to_bits(self) -> u16 {
        u16::from(self)
    }
    fn from_bits(bits: u16) -> Self {
        // Only ever built from `to_bits` of a `u8`.
        bits as u8
    }
}

/// Counts per small key (a status code, a latency bucket), sorted by key, each pair packed in
/// one `u16` (key in the top 8 bits, count in the low 8) while every key and count fits, else
/// in one `u32` (key 12 bits, count 20), else in one `u64` (key 16 bits, count 48), and grown
/// one entry at a time.
///
/// Why: every URL carries two of these in every thread's tally, and they are the only part of
/// a URL's entry that grows with the volume of logs (more hits fill more latency buckets and
/// meet rarer statuses). As `Vec<(u8, u64)>` with doubling growth they were 16 bytes an entry
/// plus up to half again of slack, and peak RSS for 10 GiB of logs was 1.19 times that for
/// 1 GiB with the same URLs; packed in a `u64` and exact, 1.08; in a `u32`, 1.10 of a peak
/// 13 MB smaller (the scan's buffers had shrunk). On the 10 GiB benchmark day every URL's
/// latency histogram holds ~15 buckets in each thread's tally, with rarely more than 255 hits
/// in one (39 URLs of 30,039 widen past `u16`): in `u16`s those blocks take half the memory
/// (1.77 -> 0.89 MB a thread at the end of the scan; the heap in use 10.96 -> 9.40 MB), and
/// the peak RSS fell from 52.2 to 50.9 MB. A key or count that does not fit widens the whole
/// set (a status code past 255 starts at `u32`); a wide count saturates at 2^48 - 1.
///
/// The first entries live inside the struct (8 tiny, 4 narrow or [`INLINE_COUNTS`] wide: a
/// `SmallVec` with its `union` layout is 24 bytes, as a `Vec` is, and the width takes 8 more):
/// most URLs meet one or two statuses and a few latency buckets, and the scan then counts a
/// hit without following a pointer to a heap block that is rarely in cache.
pub struct Counts<K> {
    packed: Packed,
    key: std::marker::PhantomData<K>,
}

/// The entries of a [`Counts`], as narrow as they fit.
enum Packed {
    Tiny(SmallVec<[u16; 8]>),
    Narrow(SmallVec<[u32; 4]>),
    Wide(SmallVec<[u64; INLINE_COUNTS]>),
}

/// One packed `(key, count)` entry of a [`Counts`].
trait Entry: Copy {
    /// The largest count (and key) an entry holds.
    const MAX_COUNT: u64;
    const MAX_KEY: u64;
    fn key(self) -> u64;
    fn count(self) -> u64;
    fn of(key: u64, count: u64) -> Self;
}

impl Entry for u16 {
    const MAX_COUNT: u64 = (1 << 8) - 1;
    const MAX_KEY: u64 = (1 << 8) - 1;
    fn key(self) -> u64 {
        u64::from(self >> 8)
    }
    fn count(self) -> u64 {
        u64::from(self) & Self::MAX_COUNT
    }
    fn of(key: u64, count: u64) -> Self {
        (key << 8 | count) as u16
    }
}

impl Entry for u32 {
    const MAX_COUNT: u64 = (1 << 20) - 1;
    const MAX_KEY: u64 = (1 << 12) - 1;
    fn key(self) -> u64 {
        u64::from(self >> 20)
    }
    fn count(self) -> u64 {
        u64::from(self) & Self::MAX_COUNT
    }
    fn of(key: u64, count: u64) -> Self {
        (key << 20 | count) as u32
    }
}

impl Entry for u64 {
    const MAX_COUNT: u64 = COUNT_MASK;
    const MAX_KEY: u64 = u16::MAX as u64;
    fn key(self) -> u64 {
        self >> COUNT_BITS
    }
    fn count(self) -> u64 {
        self & COUNT_MASK
    }
    fn of(key: u64, count: u64) -> Self {
        key << COUNT_BITS | count
    }
}

/// Adds `n` to `key`'s count in `v`; `false` (nothing changed) when the result does not fit
/// an entry of `v`'s width and the width is not the widest (wide counts saturate).
fn add_to<A: smallvec::Array>(v: &mut SmallVec<A>, key: u64, n: u64) -> bool
where
    A::Item: Entry,
{
    let wide = A::Item::MAX_COUNT == COUNT_MASK;
    match v.binary_search_by_key(&key, |e| e.key()) {
        Ok(i) => {
            let sum = v[i].count().saturating_add(n);
            if sum > A::Item::MAX_COUNT && !wide {
                return false;
            }
            v[i] = A::Item::of(key, sum.min(A::Item::MAX_COUNT));
        }
        Err(i) => {
            if !wide && (key > A::Item::MAX_KEY || n > A::Item::MAX_COUNT) {
                return false;
            }
            if v.len() == v.capacity() {
                v.reserve_exact(1);
            }
            v.insert(i, A::Item::of(key, n.min(A::Item::MAX_COUNT)));
        }
    }
    true
}

/// Adds every count of `other` into `v` (both sorted by key), in place from the back, into
/// `v`'s block grown to exactly the union's size; `false` (nothing changed) when a sum does not
/// fit an entry of `v`'s width. `other` is no wider than `v` (the caller widens first).
///
/// Why not [`add_to`] in a loop: merging tallies (the scan threads', the window's days) meets
/// the same URL's counts again and again, and adding searches for each key and grows the heap
/// block one entry at a time; that was most of the cost of merging two tallies. (Into a fresh
/// block, the window's merge, which reuses its record from URL to URL, allocated on almost
/// every URL.)
fn merge_into<A: smallvec::Array, B: Entry>(v: &mut SmallVec<A>, other: &[B]) -> bool
where
    A::Item: Entry,
{
    let wide = A::Item::MAX_COUNT == COUNT_MASK;
    let sum = |a: A::Item, b: B| a.count().saturating_add(b.count()).min(A::Item::MAX_COUNT);
    let (mut i, mut j, mut union) = (0, 0, 0);
    while let (Some(&a), Some(&b)) = (v.get(i), other.get(j)) {
        if a.key() == b.key() && !wide && a.count() + b.count() > A::Item::MAX_COUNT {
            return false;
        }
        i += usize::from(a.key() <= b.key());
        j += usize::from(b.key() <= a.key());
        union += 1;
    }
    union += (v.len() - i) + (other.len() - j);
    let old = v.len();
    if union == old {
        // Every key of `other` is here already (the common case: the same buckets, or the
        // window's record, which gathers the buckets of many days): add in place.
        let mut i = 0;
        for &b in other {
            while v.get(i).is_some_and(|a| a.key() < b.key()) {
                i += 1;
            }
            if let Some(a) = v.get_mut(i) {
                *a = A::Item::of(a.key(), sum(*a, b));
            }
        }
        return true;
    }
    if union > v.capacity() {
        v.reserve_exact(union - old);
    }
    v.resize(union, A::Item::of(0, 0));
    let p = &mut v[..];
    // Invariant: k = i + j - (keys still to come in both), so k >= i: a slot is written only
    // once what it held was moved on.
    let (mut i, mut j, mut k) = (old, other.len(), union);
    while j > 0 {
        let b = other[j - 1];
        k -= 1;
        if i > 0 && p[i - 1].key() > b.key() {
            p[k] = p[i - 1];
            i -= 1;
        } else if i > 0 && p[i - 1].key() == b.key() {
            p[k] = A::Item::of(b.key(), sum(p[i - 1], b));
            i -= 1;
            j -= 1;
        } else {
            p[k] = A::Item::of(b.key(), b.count().min(A::Item::MAX_COUNT));
            j -= 1;
        }
    }
    true
}

impl<K> Default for Counts<K> {
    fn default() -> Self {
        Counts {
            packed: Packed::Tiny(SmallVec::new()),
            key: std::marker::PhantomData,
        }
    }
}

/// Copies are exact too: `SmallVec`'s own `clone` and `clone_from` round a heap block up to
/// a power of two (12 entries into 16), which the window's records, copied from the day files
/// URL by URL, would keep.
impl<K> Clone for Counts<K> {
    fn clone(&self) -> Self {
        let packed = match &self.packed {
            Packed::Tiny(v) => Packed::Tiny(SmallVec::from_slice(v)),
            Packed::Narrow(v) => Packed::Narrow(SmallVec::from_slice(v)),
            Packed::Wide(v) => Packed::Wide(SmallVec::from_slice(v)),
        };
        Counts {
            packed,
            key: std::marker::PhantomData,
        }
    }

    /// Reuses the allocation when it is big enough (the window's streaming merge copies
    /// records into reused ones), else grows it exactly.
    fn clone_from(&mut self, source: &Self) {
        fn copy<A: smallvec::Array>(a: &mut SmallVec<A>, b: &[A::Item])
        where
            A::Item: Copy,
        {
            a.clear();
            a.reserve_exact(b.len());
            a.extend_from_slice(b);
        }
        match (&mut self.packed, &source.packed) {
            (Packed::Tiny(a), Packed::Tiny(b)) => copy(a, b),
            (Packed::Narrow(a), Packed::Narrow(b)) => copy(a, b),
            (Packed::Wide(a), Packed::Wide(b)) => copy(a, b),
            _ => *self = source.clone(),
        }
    }
}

/// Wide entries a [`Counts`] holds without a heap block (narrow ones: twice as many, tiny ones
/// four times).
pub const INLINE_COUNTS: usize = 2;

const COUNT_BITS: u32 = 48;
const COUNT_MASK: u64 = (1 << COUNT_BITS) - 1;

impl<K: CountKey> Counts<K> {
    /// Adds `n` to `key`'s count (inserting it in order when new), widening the entries
    /// first if the key or the sum does not fit them.
    #[inline]
    pub fn add(&mut self, key: K, n: u64) {
        let key = u64::from(key.to_bits());
        if !self.add_bits(key, n) {
            self.add_widening(key, n);
        }
    }

    /// [`Counts::add`] at the present width; `false` (nothing changed) when it does not fit.
    #[inline]
    fn add_bits(&mut self, key: u64, n: u64) -> bool {
        match &mut self.packed {
            Packed::Tiny(v) => add_to(v, key, n),
            Packed::Narrow(v) => add_to(v, key, n),
            Packed::Wide(v) => add_to(v, key, n),
        }
    }

    /// [`Counts::add`] of a key or a sum too big for the present width (rare: once a URL at
    /// most twice).
    #[cold]
    #[inline(never)]
    fn add_widening(&mut self, key: u64, n: u64) {
        while !self.add_bits(key, n) {
            self.widen();
        }
    }

    /// Adds every count of `other` (as [`Counts::add`] of each, in one pass over both: see
    /// [`merge_into`]), widening the entries first to `other`'s width, and further if a sum
    /// does not fit them.
    pub fn merge(&mut self, other: &Self) {
        loop {
            let done = match (&mut self.packed, &other.packed) {
                (Packed::Tiny(a), Packed::Tiny(b)) => merge_into(a, b),
                (Packed::Narrow(a), Packed::Tiny(b)) => merge_into(a, b),
                (Packed::Narrow(a), Packed::Narrow(b)) => merge_into(a, b),
                (Packed::Wide(a), Packed::Tiny(b)) => merge_into(a, b),
                (Packed::Wide(a), Packed::Narrow(b)) => merge_into(a, b),
                (Packed::Wide(a), Packed::Wide(b)) => merge_into(a, b),
                // `other` is wider: widen to it.
                (Packed::Tiny(_), _) | (Packed::Narrow(_), Packed::Wide(_)) => false,
            };
            if done {
                return;
            }
            self.widen();
        }
    }

    /// The entries one width wider (wide ones stay as they are: a wide add or merge never
    /// fails, so the loops above end).
    fn widen(&mut self) {
        fn to<A: smallvec::Array, B: Entry>(v: &[B]) -> SmallVec<A>
        where
            A::Item: Entry,
        {
            let mut wider = SmallVec::with_capacity(v.len());
            wider.extend(v.iter().map(|&e| A::Item::of(e.key(), e.count())));
            wider
        }
        self.packed = match &self.packed {
            Packed::Tiny(v) => Packed::Narrow(to(v)),
            Packed::Narrow(v) => Packed::Wide(to(v)),
            Packed::Wide(_) => return,
        };
    }

    /// Entries its storage holds (inline or in its block), and whether it has a block.
    #[cfg(test)]
    fn capacity(&self) -> (usize, bool) {
        match &self.packed {
            Packed::Tiny(v) => (v.capacity(), v.spilled()),
            Packed::Narrow(v) => (v.capacity(), v.spilled()),
            Packed::Wide(v) => (v.capacity(), v.spilled()),
        }
    }

    /// Starts loading its heap block, if it has one.
    #[inline]
    fn prefetch_block(&self) {
        match &self.packed {
            Packed::Tiny(v) if v.spilled() => prefetch(&v[0]),
            Packed::Narrow(v) if v.spilled() => prefetch(&v[0]),
            Packed::Wide(v) if v.spilled() => prefetch(&v[0]),
            _ => {}
        }
    }

    /// `(key, count)` in key order.
    pub fn iter(&self) -> impl Iterator<Item = (K, u64)> + Clone + '_ {
        let (tiny, narrow, wide): (&[u16], &[u32], &[u64]) = match &self.packed {
            Packed::Tiny(v) => (v, &[], &[]),
            Packed::Narrow(v) => (&[], v, &[]),
            Packed::Wide(v) => (&[], &[], v),
        };
        let pair = |key: u64, count: u64| (K::from_bits(key as u16), count);
        tiny.iter()
            .map(move |e| pair(e.key(), e.count()))
            .chain(narrow.iter().map(move |e| pair(e.key(), e.count())))
            .chain(wide.iter().map(move |e| pair(e.key(), e.count())))
    }

    pub fn len(&self) -> usize {
        match &self.packed {
            Packed::Tiny(v) => v.len(),
            Packed::Narrow(v) => v.len(),
            Packed::Wide(v) => v.len(),
        }
    }

    /// Bytes of its heap block (none while its entries fit inline).
    pub fn heap_bytes(&self) -> usize {
        match &self.packed {
            Packed::Tiny(v) if v.spilled() => v.capacity() * std::mem::size_of::<u16>(),
            Packed::Narrow(v) if v.spilled() => v.capacity() * std::mem::size_of::<u32>(),
            Packed::Wide(v) if v.spilled() => v.capacity() * std::mem::size_of::<u64>(),
            _ => 0,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Empties it, keeping the allocation.
    pub fn clear(&mut self) {
        match &mut self.packed {
            Packed::Tiny(v) => v.clear(),
            Packed::Narrow(v) => v.clear(),
            Packed::Wide(v) => v.clear(),
        }
    }

    pub fn to_vec(&self) -> Vec<(K, u64)> {
        self.iter().collect()
    }
}

impl<K: CountKey> FromIterator<(K, u64)> for Counts<K> {
    fn from_iter<I: IntoIterator<Item = (K, u64)>>(pairs: I) -> Self {
        let mut c = Counts::default();
        for (k, n) in pairs {
            c.add(k, n);
        }
        c
    }
}

impl<K: CountKey + std::fmt::Debug> std::fmt::Debug for Counts<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// Equal when they hold the same counts, whatever their width.
impl<K: CountKey> PartialEq for Counts<K> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl<K: CountKey> Eq for Counts<K> {}

impl<K: CountKey> PartialEq<Vec<(K, u64)>> for Counts<K> {
    fn eq(&self, other: &Vec<(K, u64)>) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter().copied())
    }
}

/// The histogram bucket of a latency in microseconds: exact below 4 µs, then four buckets per
/// power of two (at most ~19% wide). Integer only; at most 255 for any `u64`.
pub fn latency_bucket(us: u64) -> u8 {
    if us < 4 {
        return us as u8;
    }
    let e = 63 - us.leading_zeros(); // >= 2
    let mantissa = (us >> (e - 2)) & 3;
    (4 * (e - 1) + mantissa as u32) as u8
}

/// The middle of a bucket, in microseconds.
pub fn bucket_value(bucket: u8) -> u64 {
    if bucket < 4 {
        return u64::from(bucket);
    }
    let e = u32::from(bucket) / 4 + 1;
    let mantissa = u64::from(bucket) % 4;
    if e >= 64 {
        return u64::MAX;
    }
    let low = (4 + mantissa) << (e - 2);
    low + (1u64 << (e - 2)) / 2
}

/// The median of a latency histogram, in microseconds.
pub fn median_of_hist(hist: impl Iterator<Item = (u8, u64)> + Clone) -> Option<u64> {
    let total: u64 = hist.clone().map(|(_, n)| n).sum();
    if total == 0 {
        return None;
    }
    let half = total.div_ceil(2);
    let mut acc = 0;
    for (b, n) in hist {
        acc += n;
        if acc >= half {
            return Some(bucket_value(b));
        }
    }
    None
}

/// Insertion-ordered, so that a URL has a stable index ([`Slot`]) for a caller that remembers
/// where a URL's counts are (the scan's `mine::memo`); lookups cost what a `HashMap`'s do.
type Map = IndexMap<Box<[u8]>, UrlStats, foldhash::fast::RandomState>;

/// URLs with their counts, with no index: a merged tally in key order ([`Tally::merge`]), or
/// the leftovers of a merge.
type List = Vec<(Box<[u8]>, UrlStats)>;

/// URL entries left over from merging tallies (the merged-in copies of URLs both had), kept to
/// be freed with the tally that took them in.
///
/// Why: the merge of the scan threads' tallies runs while the run waits for it, and freeing
/// ~30 k keys, agents and count blocks, most allocated by the other thread, took 4-5 ms of its
/// 21-22 (a build that leaked them instead, timestamps around the merge). The day's tally is freed
/// when the run no longer waits ([`crate::mine::run`]), and these with it. They are no more
/// than the merged tallies held before the merge, so the peak memory does not grow. Kept as the
/// lists the merges made: moving them into one list took 3 ms more (timestamps).
#[derive(Default)]
struct Leftovers(Vec<List>);

impl Clone for Leftovers {
    /// A copy of a tally needs none of its leftovers.
    fn clone(&self) -> Self {
        Leftovers::default()
    }
}

impl std::fmt::Debug for Leftovers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} leftover entries",
            self.0.iter().map(Vec::len).sum::<usize>()
        )
    }
}

/// Adds `b` into `a`, both in key order, into a new list in key order: one walk of both that
/// moves every URL, adding up the counts of a URL in both ([`UrlStats::merge_from`]); the
/// entries of `b` for such URLs go to `leftovers`.
///
/// Memory bound: each URL's key, counts and agent are in blocks of their own, many written by
/// the other core. After the 2-thread scan of 1 GiB (two tallies of ~29.5 k URLs that share
/// nearly all of them), one walk takes 17-19 ms; building an index as well took 5 ms more, and
/// freeing the leftovers 4-5 ms more.
///
/// The walk takes the entries from the back of both lists (the largest keys first), gives the
/// space they held back every [`MERGE_SHRINK_EVERY`] entries, and turns the result around at
/// the end. Why: walking from the front, both lists' arrays stayed whole until the walk was
/// over, so the merge held the arrays of both threads' tallies and of the merged one at once:
/// on a day of many rarely requested URLs, the run's peak memory. It is no slower (timestamps
/// around the merge, alternating builds): 18.8-22.5 against 21.1-25.7 ms after the 2-thread
/// scan of the benchmark day (six runs each), 156 against 221 ms for two tallies of ~290 k
/// URLs.
fn merge_sorted(mut a: List, mut b: List, capacity: usize) -> (List, List) {
    use std::cmp::Ordering;
    let mut merged = Vec::with_capacity(capacity);
    let mut leftovers = Vec::new();
    let mut taken = 0usize;
    loop {
        prefetch_behind(&a);
        prefetch_behind(&b);
        let order = match (a.last(), b.last()) {
            (Some((ka, _)), Some((kb, _))) => ka.cmp(kb),
            (Some(_), None) => Ordering::Greater,
            (None, Some(_)) => Ordering::Less,
            (None, None) => break,
        };
        let entry = match order {
            Ordering::Greater => a.pop(),
            Ordering::Less => b.pop(),
            Ordering::Equal => match (a.pop(), b.pop()) {
                (Some((key, mut stats)), Some((k, mut theirs))) => {
                    stats.merge_from(&mut theirs);
                    leftovers.push((k, theirs));
                    Some((key, stats))
                }
                (mine, theirs) => mine.or(theirs),
            },
        };
        merged.extend(entry);
        taken += 1;
        if taken.is_multiple_of(MERGE_SHRINK_EVERY) {
            a.shrink_to_fit();
            b.shrink_to_fit();
        }
    }
    merged.reverse();
    (merged, leftovers)
}

/// How many entries [`merge_sorted`] takes before it gives back the space they held in the
/// lists it walks (2.6 MB of 160-byte entries). An array above glibc's mmap threshold is a
/// mapping of its own, and shrinking it returns its tail's pages; a smaller one gives the
/// space back to the heap, where the merged list can grow into it.
const MERGE_SHRINK_EVERY: usize = 16_384;

/// Starts loading the key and the blocks of the entry [`MERGE_AHEAD`] places before the back
/// of `list`: the one a walk from the back reaches that many steps on.
///
/// Why: the entries are in key order, but their keys and count blocks are where the scan
/// allocated them, in the order it met the URLs; each step of the walk waited for them.
#[inline]
fn prefetch_behind(list: &List) {
    if let Some((key, stats)) = list
        .len()
        .checked_sub(MERGE_AHEAD + 1)
        .and_then(|i| list.get(i))
    {
        prefetch_url(key, stats);
    }
}

/// A tally's URLs as a list ([`Tally::take_sorted`]): an index gives up its entries in its
/// order (key order when it was rebuilt from a merged list for a lookup).
fn into_list(urls: Result<Map, List>) -> List {
    match urls {
        Ok(map) => map.into_iter().collect(),
        Err(list) => list,
    }
}

/// How many entries ahead of a walk in key order ([`merge_sorted`], [`InKeyOrder`]) the key
/// and the blocks of one start loading.
const MERGE_AHEAD: usize = 8;

/// Starts loading the blocks of a URL's entry that live apart from it: the first bytes of its
/// key and its agent, and its count blocks.
#[inline]
fn prefetch_url(key: &[u8], stats: &UrlStats) {
    if let Some(first) = key.first() {
        prefetch(first);
    }
    if let Some(first) = stats.agent.as_ref().and_then(|a| a.agent.first()) {
        prefetch(first);
    }
    stats.latency_hist.prefetch_block();
    stats.statuses.prefetch_block();
}

/// A tally's URLs in key order ([`Tally::in_key_order`]), each with the blocks of the URL a
/// few places on loading ([`prefetch_url`]).
///
/// Why: the entries are in key order, but their keys and blocks lie where the scan allocated
/// them, in the order it met the URLs, so a walk in key order waited for each; the day file's
/// encoding and the window's reads of the day in memory are such walks.
pub struct InKeyOrder<'t> {
    urls: std::vec::IntoIter<(&'t [u8], &'t UrlStats)>,
}

impl<'t> Iterator for InKeyOrder<'t> {
    type Item = (&'t [u8], &'t UrlStats);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if let Some(&(key, stats)) = self.urls.as_slice().get(MERGE_AHEAD) {
            prefetch_url(key, stats);
        }
        self.urls.next()
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.urls.size_hint()
    }
}

/// Below this many URLs in the smaller tally, sorted tallies are merged on one thread.
const PARALLEL_MERGE: usize = 4096;

/// [`merge_sorted`] of two lists in key order, in two halves of the key range on two threads
/// of the current rayon pool when both are large.
///
/// Why: after a 2-thread scan, the merge ran on one thread while the other core idled. The
/// walk is memory bound ([`merge_sorted`]), so two halves do not take half the time: after the
/// 2-thread scan of 1 GiB, 10-12 ms each at once, plus 2 ms to split the maps and 1.5 ms to
/// join the lists, against 17-19 ms for one walk (session 9, when sorted tallies were maps).
fn merge_sorted_lists(mut a: List, mut b: List) -> (List, Vec<List>) {
    let capacity = a.len() + b.len();
    if a.len().min(b.len()) < PARALLEL_MERGE || rayon::current_num_threads() < 2 {
        let (merged, leftovers) = merge_sorted(a, b, capacity);
        return (merged, vec![leftovers]);
    }
    // Split both at `a`'s middle key: the halves hold disjoint key ranges.
    let at_a = a.len() / 2;
    let at_b = match a.get(at_a) {
        Some((pivot, _)) => b
            .binary_search_by(|(key, _)| key.cmp(pivot))
            .unwrap_or_else(|i| i),
        None => b.len(),
    };
    let (a_high, b_high) = (a.split_off(at_a), b.split_off(at_b));
    // The high halves were copied out: give back the space they held.
    a.shrink_to_fit();
    b.shrink_to_fit();
    let (low, high) = rayon::join(
        || merge_sorted(a, b, capacity),
        || merge_sorted(a_high, b_high, 0),
    );
    let ((mut merged, leftovers), (high, high_leftovers)) = (low, high);
    merged.extend(high);
    (merged, vec![leftovers, high_leftovers])
}

/// Puts `list[order[j]]` at place `j` for every `j`, in place: each entry is swapped along the
/// cycles of the permutation `order` (every place visited once), and `order` is left as the
/// identity. `order` must be a permutation of `0..list.len()`; any other `order` leaves
/// `list` in some order, never out of bounds.
fn gather_in_place<T>(list: &mut [T], order: &mut [usize]) {
    for start in 0..order.len().min(list.len()) {
        let mut at = start;
        while let Some(from) = order.get_mut(at).map(|o| std::mem::replace(o, at)) {
            // Back at the cycle's start (or, for an `order` that is no permutation, at a
            // place already visited, or out of range).
            if from == start || from == at || from >= list.len() {
                break;
            }
            list.swap(at, from);
            at = from;
        }
    }
}

/// Where one URL's counts are in a [`Tally`]; valid for that tally (until it is merged into
/// another, which consumes it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot(usize);

/// The tally of one day (or of one thread's share of it).
#[derive(Debug, Clone, Default)]
pub struct Tally {
    /// Indexed by key: what a scan counts into (lookups, [`Slot`]s).
    urls: Map,
    /// In key order, with no index: what adding up sorted tallies gives ([`Tally::merge`]),
    /// such as a day's tally once its scan threads' shares are added up, which is then only
    /// read in key order. When it holds URLs, `urls` holds none; counting a URL into it moves
    /// them back into `urls`.
    merged: List,
    /// A URL was added since the last [`Tally::sort`] (or ever): the URLs are not in key order.
    unsorted: bool,
    leftovers: Leftovers,
    agents: AgentInterner,
}

/// The user agents a tally has judged, by their bytes as logged: each one decoded and checked
/// ([`usable_agent`], [`looks_like_secret`]) once, and the usable ones kept once, shared by
/// every URL that keeps them ([`SampledAgent`]).
///
/// Why: a URL's kept agent changes about ln(hits) times over a day (82,075 times in all on
/// the benchmark day, 1 thread, counted), and each change decoded and checked the agent,
/// allocated a copy of it and freed the copy it replaced (a block long out of cache): 3% of a
/// 1-thread run's CPU in a `perf` profile, for a day of 18 distinct agents. Bounded: agents
/// are chosen by whoever sends requests, and past [`INTERNED_AGENTS`] (or for agents logged
/// longer than [`MAX_AGENT`]) they are judged and copied each time, as before.
#[derive(Debug, Clone, Default)]
struct AgentInterner {
    judged: std::collections::HashMap<Box<[u8]>, Verdict, foldhash::fast::RandomState>,
}

/// An agent as kept ([`AgentInterner::judge`]), or `None` when no URL may keep it.
type Verdict = Option<Arc<[u8]>>;

/// Most agents one tally judges once ([`AgentInterner`]): at most ~4.4 MB (each agent logged
/// and decoded in at most [`MAX_AGENT`] bytes, and its table entry).
const INTERNED_AGENTS: usize = 4096;

impl AgentInterner {
    /// The agent logged as `logged` (`\xHH`-escaped), decoded, when a URL may keep it.
    fn judge(&mut self, logged: &[u8]) -> Verdict {
        if let Some(verdict) = self.judged.get(logged) {
            return verdict.clone();
        }
        let decoded = crate::alb::record::decode_escapes(logged);
        let verdict = usable_agent(&decoded)
            .filter(|a| !looks_like_secret(a))
            .map(Arc::<[u8]>::from);
        if self.judged.len() < INTERNED_AGENTS && logged.len() <= MAX_AGENT {
            self.judged.insert(logged.into(), verdict.clone());
        }
        verdict
    }
}

impl Tally {
    /// Counts one admitted request. `key` is the normaliser's scratch buffer; `agent` is the
    /// hit's rank ([`agent_rank`]) and its user agent as logged (`\xHH`-escaped). The agent is
    /// decoded and checked ([`usable_agent`]) only when its rank could win, about ln(hits)
    /// times per URL instead of on every hit.
    pub fn record(
        &mut self,
        key: &[u8],
        url: &Normalized,
        status: u16,
        target_us: Option<u64>,
        second: u32,
        agent: Option<(u64, &[u8])>,
    ) {
        let slot = self.slot(key);
        self.record_at(slot, url.scheme, status, target_us, second, agent);
    }

    /// Starts loading the counts at `slot` into the cache, to be recorded a little later
    /// ([`Tally::record_at`]): a day's rarely requested URLs have their counts out of cache.
    #[inline]
    pub fn prefetch(&self, slot: Slot) {
        if let Some((_, stats)) = self.urls.get_index(slot.0) {
            prefetch(stats);
        }
    }

    /// Starts loading the heap blocks of the counts at `slot` (latency buckets, statuses past
    /// [`INLINE_COUNTS`]); call once the counts themselves are in cache ([`Tally::prefetch`]
    /// a line earlier), since their addresses are read from there.
    #[inline]
    pub fn prefetch_blocks(&self, slot: Slot) {
        if let Some((_, stats)) = self.urls.get_index(slot.0) {
            stats.latency_hist.prefetch_block();
            stats.statuses.prefetch_block();
        }
    }

    /// The slot of URL `key` (`host SP request-target`), added with no hits if new.
    pub fn slot(&mut self, key: &[u8]) -> Slot {
        let urls = self.indexed();
        match urls.get_index_of(key) {
            Some(i) => Slot(i),
            None => {
                let slot = Slot(urls.insert_full(key.into(), UrlStats::default()).0);
                self.unsorted = true;
                slot
            }
        }
    }

    /// [`Tally::record`] for the URL at `slot` (from this tally's [`Tally::slot`]).
    pub fn record_at(
        &mut self,
        slot: Slot,
        scheme: Scheme,
        status: u16,
        target_us: Option<u64>,
        second: u32,
        agent: Option<(u64, &[u8])>,
    ) {
        let Some((_, stats)) = self.urls.get_index_mut(slot.0) else {
            debug_assert!(false, "slot {slot:?} is not from this tally");
            return;
        };
        stats.record(status, scheme, target_us, second);
        let Some((rank, logged)) = agent else { return };
        if stats.agent.as_ref().is_some_and(|a| a.rank < rank) {
            return;
        }
        if let Some(a) = self.agents.judge(logged) {
            stats.offer_judged_agent(rank, a);
        }
    }

    /// Puts the URLs in key order, which invalidates every [`Slot`] given out before.
    ///
    /// Why: each scan thread sorts its own tally when its scan is over, all at once (6-7 ms for
    /// 30 k URLs), and then merging the threads' tallies is a walk of two sorted lists, and the
    /// day file (written in key order) needs no sort. After the 2-thread scan of 1 GiB, on one
    /// thread while the other core idles, merging by hash took 29-31 ms and encoding the day
    /// file with its sort 28 ms; merging sorted took 19-23 ms (now 16-18, see
    /// [`merge_sorted_lists`]) and encoding 20 ms.
    ///
    /// The sort is rayon's (on the current pool): the scan thread that finishes first then
    /// helps sort the other's tally instead of waiting for it (5 ms where it took 8).
    ///
    /// The result is a list in key order with no index ([`Tally::merged`]), what the merge and
    /// the day file read. The sort orders the keys with their places, then moves each entry
    /// once to its place (`gather_in_place`): sorting the entries themselves (168 bytes each)
    /// moved every one of them at each level of the sort, and rebuilt the hash index after.
    pub fn sort(&mut self) {
        if !self.unsorted {
            return;
        }
        let mut list: List = std::mem::take(&mut self.urls).into_iter().collect();
        let mut order: Vec<usize> = {
            let mut keyed: Vec<(&[u8], usize)> = list
                .iter()
                .enumerate()
                .map(|(i, (key, _))| (&key[..], i))
                .collect();
            keyed.par_sort_unstable_by(|a, b| a.0.cmp(b.0));
            keyed.into_iter().map(|(_, i)| i).collect()
        };
        gather_in_place(&mut list, &mut order);
        self.merged = list;
        self.unsorted = false;
    }

    /// Adds `other` into `self`. When both are sorted ([`Tally::sort`]), so is the result, and
    /// it is kept as a list in key order ([`Tally::merged`]).
    pub fn merge(&mut self, mut other: Tally) {
        // Into the larger one: fewer URLs to insert or append.
        if self.len() < other.len() {
            std::mem::swap(self, &mut other);
        }
        self.leftovers.0.append(&mut other.leftovers.0);
        if other.is_empty() {
            return;
        }
        if !self.unsorted && !other.unsorted {
            let (a, b) = (self.take_sorted(), other.take_sorted());
            let (merged, leftovers) = merge_sorted_lists(into_list(a), into_list(b));
            self.merged = merged;
            self.leftovers.0.extend(leftovers);
        } else {
            let urls = self.indexed();
            for (key, stats) in into_list(other.take_sorted()) {
                match urls.get_mut(&key) {
                    Some(mine) => mine.merge(&stats),
                    None => {
                        urls.insert(key, stats);
                    }
                }
            }
            self.unsorted = true;
        }
    }

    /// The URLs, out of the tally: its index (`Ok`) or its merged list (`Err`).
    fn take_sorted(&mut self) -> Result<Map, List> {
        if self.merged.is_empty() {
            Ok(std::mem::take(&mut self.urls))
        } else {
            Err(std::mem::take(&mut self.merged))
        }
    }

    /// The URLs with their index, built now from the merged list if they are in it (in key
    /// order still).
    fn indexed(&mut self) -> &mut Map {
        if !self.merged.is_empty() {
            self.urls = std::mem::take(&mut self.merged).into_iter().collect();
        }
        &mut self.urls
    }

    /// Distinct URLs.
    pub fn len(&self) -> usize {
        self.urls.len() + self.merged.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every URL as `(key, stats)`: the index's, then the merged list's (one of them is
    /// empty).
    fn entries(&self) -> impl Iterator<Item = (&[u8], &UrlStats)> {
        let indexed = self.urls.iter().map(|(k, s)| (&k[..], s));
        indexed.chain(self.merged.iter().map(|(k, s)| (&k[..], s)))
    }

    /// Every URL as `(key, stats)` sorted by key (`host SP request-target`, bytewise): the
    /// order day files are written in.
    pub fn sorted(&self) -> Vec<(&[u8], &UrlStats)> {
        let mut v: Vec<(&[u8], &UrlStats)> = self.entries().collect();
        if self.unsorted {
            v.sort_unstable_by(|a, b| a.0.cmp(b.0));
        }
        v
    }

    /// [`Tally::sorted`], for a walk: see [`InKeyOrder`].
    pub fn in_key_order(&self) -> InKeyOrder<'_> {
        InKeyOrder {
            urls: self.sorted().into_iter(),
        }
    }

    /// Every URL as `(host, request-target, stats)`, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8], &UrlStats)> {
        self.entries().map(|(key, stats)| {
            let split = memchr::memchr(b' ', key).unwrap_or(key.len());
            let target = key.get(split + 1..).unwrap_or(b"");
            (&key[..split], target, stats)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merging_counts_is_adding_each_count() {
        // Every pair of subsets of six keys, with counts that differ by key and side, and the
        // saturation at the top.
        for left in 0u32..64 {
            for right in 0u32..64 {
                let side = |set: u32, base: u64| -> Counts<u16> {
                    (0..6u16)
                        .filter(|k| set >> k & 1 == 1)
                        .map(|k| (k * 100, base + u64::from(k)))
                        .collect()
                };
                let (mut merged, other) = (side(left, 1), side(right, 10));
                let mut added = merged.clone();
                for (k, n) in other.iter() {
                    added.add(k, n);
                }
                merged.merge(&other);
                assert_eq!(merged.to_vec(), added.to_vec(), "{left:06b} {right:06b}");
                if merged.capacity().1 {
                    assert_eq!(merged.capacity().0, merged.len(), "exact");
                }
            }
        }
        let mut full: Counts<u8> = [(3, COUNT_MASK - 1)].into_iter().collect();
        full.merge(&[(3, 5)].into_iter().collect());
        assert_eq!(full.to_vec(), vec![(3, COUNT_MASK)]);
    }
    use crate::mine::normalize::{NormalizeOptions, normalize};

    fn add(t: &mut Tally, url: &str, status: u16, us: Option<u64>) {
        let mut s = Vec::new();
        let n = normalize(url.as_bytes(), &NormalizeOptions::default(), &mut s).unwrap();
        t.record(&s, &n, status, us, 3600, None);
    }

    #[test]
    fn counts_hits_statuses_latency_and_scheme() {
        let mut t = Tally::default();
        add(&mut t, "http://a.example/x", 200, Some(1000));
        add(&mut t, "https://a.example/x", 304, Some(3000));
        add(&mut t, "https://a.example/x", 200, None);
        add(&mut t, "https://b.example/x", 301, None);
        assert_eq!(t.len(), 2);
        let (host, target, s) = t.iter().find(|(h, _, _)| *h == b"a.example").unwrap();
        assert_eq!((host, target), (&b"a.example"[..], &b"/x"[..]));
        assert_eq!(s.hits, 3);
        assert_eq!(s.statuses, vec![(200, 2), (304, 1)]);
        assert_eq!(s.expected_status(), 200);
        assert_eq!(s.mean_target_ms(), Some(2.0));
        assert_eq!(s.target_us_max, 3000);
        assert_eq!(s.scheme(), Scheme::Https);
    }

    #[test]
    fn latency_buckets_are_monotonic_and_close() {
        let mut last = 0;
        for us in [
            0u64,
            1,
            3,
            4,
            5,
            7,
            8,
            100,
            1000,
            48_000,
            1_000_000,
            60_000_000,
            u64::MAX,
        ] {
            let b = latency_bucket(us);
            assert!(b >= last, "{us}");
            last = b;
            let v = bucket_value(b);
            if (4..u64::MAX / 2).contains(&us) {
                assert!(
                    (v as f64 - us as f64).abs() / us as f64 <= 0.25,
                    "{us} -> {v}"
                );
            }
        }
        assert_eq!(
            median_of_hist([(latency_bucket(1000), 3), (latency_bucket(90_000), 1)].into_iter()),
            Some(bucket_value(latency_bucket(1000)))
        );
        assert_eq!(median_of_hist(std::iter::empty()), None);
    }

    #[test]
    fn the_lowest_ranked_agent_wins_in_any_order() {
        let hits: [(u64, &[u8]); 4] = [(9, b"b"), (3, b"a"), (3, b"0"), (7, b"c")];
        let mut orders = vec![hits.to_vec()];
        orders.push(hits.iter().rev().copied().collect());
        for order in orders {
            let mut s = UrlStats::default();
            for (rank, agent) in order {
                s.offer_agent(rank, agent);
            }
            assert_eq!(
                s.agent.as_ref().map(|a| (a.rank, &*a.agent)),
                Some((3, &b"0"[..]))
            );
        }
        let mut left = UrlStats {
            hits: 1,
            ..UrlStats::default()
        };
        left.offer_agent(5, b"x");
        let mut right = UrlStats {
            hits: 1,
            ..UrlStats::default()
        };
        right.offer_agent(2, b"y");
        left.merge(&right);
        assert_eq!(left.agent.map(|a| a.rank), Some(2));
    }

    #[test]
    fn agents_are_sampled_in_proportion_to_their_hits() {
        // 80% of hits from one agent: over many URLs, that agent is kept for about 80% of them.
        let mut kept_common = 0;
        for url in 0..2000u32 {
            let mut s = UrlStats::default();
            for hit in 0..10u32 {
                let agent: &[u8] = if hit < 8 { b"common" } else { b"rare" };
                let id = format!("{url}-{hit}");
                s.offer_agent(agent_rank(&[id.as_bytes()]), agent);
            }
            kept_common += usize::from(s.agent.is_some_and(|a| &*a.agent == b"common"));
        }
        assert!((1500..1700).contains(&kept_common), "{kept_common} of 2000");
    }

    #[test]
    fn only_sendable_agents_are_sampled() {
        assert_eq!(
            usable_agent(b"Mozilla/5.0 (X11)"),
            Some(&b"Mozilla/5.0 (X11)"[..])
        );
        assert_eq!(usable_agent(b"-"), None);
        assert_eq!(usable_agent(b""), None);
        assert_eq!(usable_agent("caf\u{e9}".as_bytes()), None);
        assert_eq!(usable_agent(b"a\nb"), None);
        assert_eq!(usable_agent(b"a\x7fb"), None);
        assert_eq!(usable_agent(&[b'a'; MAX_AGENT + 1]), None);
        assert!(usable_agent(&[b'a'; MAX_AGENT]).is_some());
        for formula in ["=HYPERLINK(\"x\")", "+1", "-cmd", "@SUM(A1)"] {
            assert_eq!(usable_agent(formula.as_bytes()), None, "{formula}");
        }
    }

    #[test]
    fn an_agent_shaped_like_a_secret_is_never_kept() {
        let mut s = UrlStats::default();
        s.offer_agent(5, b"curl/8.0");
        s.offer_agent(1, b"aws-cli/2.0 AKIAIOSFODNN7EXAMPLE");
        s.offer_agent(2, b"x eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl");
        assert_eq!(
            s.agent.as_ref().map(|a| &a.agent[..]),
            Some(&b"curl/8.0"[..])
        );
        let mut only_secret = UrlStats::default();
        only_secret.offer_agent(1, b"aws-cli/2.0 AKIAIOSFODNN7EXAMPLE");
        assert!(only_secret.agent.is_none());
    }

    #[test]
    fn agents_are_kept_decoded_and_only_when_usable() {
        let url = "http://a.example/x";
        let mut s = Vec::new();
        let n = normalize(url.as_bytes(), &NormalizeOptions::default(), &mut s).unwrap();
        let mut t = Tally::default();
        // Lowest rank wins, but an unusable agent (a control byte once decoded) is never kept,
        // so the next lowest usable one is.
        t.record(&s, &n, 200, None, 1, Some((5, b"curl/8.0")));
        t.record(&s, &n, 200, None, 2, Some((1, b"bad\\x01agent")));
        t.record(&s, &n, 200, None, 3, Some((9, b"late")));
        t.record(&s, &n, 200, None, 4, Some((3, b"Mozilla\\x2F5.0")));
        let (_, _, st) = t.iter().next().unwrap();
        let a = st.agent.as_ref().unwrap();
        assert_eq!(
            (a.rank, &*a.agent),
            (3, &b"Mozilla/5.0"[..]),
            "decoded from the log"
        );
        assert_eq!(st.hits, 4);
    }

    #[test]
    fn an_agent_is_judged_once_and_shared_by_the_urls_that_keep_it() {
        let mut t = Tally::default();
        let mut key = Vec::new();
        let secret = b"aws-cli/2.0 AKIAIOSFODNN7EXAMPLE";
        // Each URL meets the secret agent (lowest rank), an unusable one, then the same usable
        // agent, escaped: judged from the interner's memory after the first URL, the verdicts
        // must stay those of a first judgement.
        for path in ["/a", "/b", "/c"] {
            let url = format!("http://a.example{path}");
            let n = normalize(url.as_bytes(), &NormalizeOptions::default(), &mut key).unwrap();
            t.record(&key, &n, 200, None, 1, Some((1, secret)));
            t.record(&key, &n, 200, None, 2, Some((2, b"bad\\x01agent")));
            t.record(&key, &n, 200, None, 3, Some((3, b"Mozilla\\x2F5.0")));
        }
        // Past the interner's bound, agents are judged each time, with the same verdicts.
        let d = normalize(
            b"http://a.example/d",
            &NormalizeOptions::default(),
            &mut key,
        )
        .unwrap();
        for i in 0..INTERNED_AGENTS + 2 {
            // Each lower than the last, so each could win and is judged.
            let agent = (1_000_000 - i as u64, format!("bot/{i}"));
            t.record(&key, &d, 200, None, 4, Some((agent.0, agent.1.as_bytes())));
        }
        t.record(&key, &d, 200, None, 5, Some((5, secret)));
        t.record(&key, &d, 200, None, 5, Some((6, b"Mozilla\\x2F5.0")));
        assert_eq!(t.agents.judged.len(), INTERNED_AGENTS);

        let kept: Vec<_> = t
            .iter()
            .map(|(_, _, st)| st.agent.clone().expect("a usable agent was offered"))
            .collect();
        assert_eq!(kept.len(), 4);
        for a in &kept {
            assert_eq!((a.rank % 3, &*a.agent), (0, &b"Mozilla/5.0"[..]));
            assert!(
                Arc::ptr_eq(&a.agent, &kept[0].agent),
                "every URL keeps the one copy of the agent"
            );
        }
    }

    #[test]
    fn counts_stay_sorted_merge_keys_and_saturate() {
        let mut c = Counts::<u16>::default();
        for (k, n) in [(404, 1), (200, 2), (304, 1), (200, 3), (599, 0)] {
            c.add(k, n);
        }
        assert_eq!(c, vec![(200, 5), (304, 1), (404, 1), (599, 0)]);
        assert_eq!(
            c.capacity(),
            (4, false),
            "four narrow entries need no heap block"
        );
        c.add(500, 1);
        assert_eq!(c.capacity(), (5, true), "grown one entry at a time");
        assert_eq!(
            std::mem::size_of::<Counts<u16>>(),
            32,
            "a Vec and its width"
        );
        let mut inline = Counts::<u8>::default();
        inline.add(3, 1);
        inline.add(1, 1);
        assert!(!inline.capacity().1, "two entries need no heap block");
        assert_eq!(inline, vec![(1, 1), (3, 1)]);
        c.add(304, u64::MAX);
        c.add(304, 7);
        assert_eq!(
            c.to_vec()[1],
            (304, (1 << 48) - 1),
            "widens, then saturates, never spills into the key"
        );
        assert_eq!(c.to_vec()[0], (200, 5));
        let mut b = Counts::<u8>::default();
        b.add(255, 1);
        b.add(0, 1);
        assert_eq!(b, vec![(0, 1), (255, 1)]);
    }

    #[test]
    fn counts_widen_when_a_count_or_a_key_outgrows_a_narrow_entry() {
        let narrow_max = (1u64 << 20) - 1;
        // Adding: the count that does not fit widens the whole set, keeping every count.
        let mut c = Counts::<u8>::default();
        c.add(7, narrow_max);
        c.add(2, 3);
        assert!(matches!(c.packed, Packed::Narrow(_)));
        c.add(7, 1);
        assert!(matches!(c.packed, Packed::Wide(_)));
        assert_eq!(c, vec![(2, 3), (7, narrow_max + 1)]);
        // A key past 12 bits, and a first count past 20 bits, too.
        let mut k = Counts::<u16>::default();
        k.add(200, 1);
        k.add(5000, 1);
        assert_eq!(k, vec![(200, 1), (5000, 1)]);
        let mut n = Counts::<u16>::default();
        n.add(200, narrow_max + 5);
        assert_eq!(n, vec![(200, narrow_max + 5)]);
        // Merging two narrow sets whose sum does not fit: nothing lost, wide after.
        let a: Counts<u8> = [(1, 1), (4, narrow_max - 1), (9, 2)].into_iter().collect();
        let b: Counts<u8> = [(0, 5), (4, 2), (9, 3)].into_iter().collect();
        let mut m = a.clone();
        m.merge(&b);
        assert!(matches!(m.packed, Packed::Wide(_)));
        assert_eq!(m, vec![(0, 5), (1, 1), (4, narrow_max + 1), (9, 5)]);
        // Wide into narrow, narrow into wide: the same as adding one by one.
        for (x, y) in [(&m, &a), (&a, &m)] {
            let mut merged = x.clone();
            merged.merge(y);
            let mut added = x.clone();
            for (key, count) in y.iter() {
                added.add(key, count);
            }
            assert_eq!(merged, added);
        }
        // Equal by their counts, whatever their width; clone_from across widths.
        let mut wide = Counts::<u8>::default();
        wide.add(3, narrow_max + 1);
        let narrow: Counts<u8> = [(3, 7)].into_iter().collect();
        let mut wide_7 = wide.clone();
        wide_7.clear();
        wide_7.add(3, 7);
        assert!(matches!(wide_7.packed, Packed::Wide(_)));
        assert_eq!(wide_7, narrow);
        let mut copy = narrow.clone();
        copy.clone_from(&wide);
        assert_eq!(copy, wide);
        copy.clone_from(&narrow);
        assert_eq!(copy, narrow);
    }

    #[test]
    fn tiny_entries_hold_eight_inline_and_widen_keeping_every_count() {
        // Eight latency buckets with small counts: no heap block; the ninth spills.
        let mut c = Counts::<u8>::default();
        for k in (0..8u8).rev() {
            c.add(k * 30, u64::from(k) + 1);
        }
        assert!(matches!(c.packed, Packed::Tiny(_)));
        assert_eq!(c.capacity(), (8, false));
        c.add(250, 255);
        assert_eq!(c.capacity(), (9, true), "grown one entry at a time");
        assert!(matches!(c.packed, Packed::Tiny(_)));
        // A count past 255 widens the whole set to narrow entries, every count kept.
        c.add(30, 254);
        assert!(matches!(c.packed, Packed::Narrow(_)));
        let mut want: Vec<(u8, u64)> = (0..8u8).map(|k| (k * 30, u64::from(k) + 1)).collect();
        want[1].1 += 254;
        want.push((250, 255));
        assert_eq!(c, want);
        // A key past 255 (a status code) starts narrow; one that fits stays tiny.
        let mut s = Counts::<u16>::default();
        s.add(200, 3);
        assert!(matches!(s.packed, Packed::Tiny(_)));
        s.add(404, 1);
        assert!(matches!(s.packed, Packed::Narrow(_)));
        assert_eq!(s, vec![(200, 3), (404, 1)]);
        // A first count past a narrow entry goes from tiny straight to wide.
        let mut w = Counts::<u8>::default();
        w.add(1, 1);
        w.add(2, 1 << 40);
        assert!(matches!(w.packed, Packed::Wide(_)));
        assert_eq!(w, vec![(1, 1), (2, 1 << 40)]);
    }

    #[test]
    fn counts_of_every_width_merge_as_they_add() {
        // Sets of each width, and sets whose sums outgrow their width when merged: merging
        // any into any gives what adding each count one by one gives, and merging stays exact.
        let sets: Vec<Counts<u16>> = vec![
            [(1, 1), (7, 200), (9, 3)].into_iter().collect(),
            [(7, 100), (8, 1), (200, 255)].into_iter().collect(),
            (0..12u16).map(|k| (k * 20, 1)).collect(),
            [(7, 300), (404, 2)].into_iter().collect(),
            [(1, (1 << 20) - 1), (500, 1)].into_iter().collect(),
            [(7, 1 << 30), (9, 1)].into_iter().collect(),
            Counts::default(),
        ];
        let widths: Vec<u8> = sets
            .iter()
            .map(|c| match c.packed {
                Packed::Tiny(_) => 0,
                Packed::Narrow(_) => 1,
                Packed::Wide(_) => 2,
            })
            .collect();
        assert_eq!(widths, [0, 0, 0, 1, 1, 2, 0], "every width is met");
        for (i, a) in sets.iter().enumerate() {
            let mut into_small = Counts::default();
            into_small.clone_from(a);
            for copy in [a.clone(), into_small] {
                assert_eq!(copy, *a);
                let (capacity, spilled) = copy.capacity();
                assert!(!spilled || capacity == a.len(), "a copy of {i} is exact");
            }
        }
        for (i, a) in sets.iter().enumerate() {
            for (j, b) in sets.iter().enumerate() {
                let mut merged = a.clone();
                merged.merge(b);
                let mut added = a.clone();
                for (k, n) in b.iter() {
                    added.add(k, n);
                }
                assert_eq!(merged.to_vec(), added.to_vec(), "{j} into {i}");
                let (capacity, spilled) = merged.capacity();
                assert!(!spilled || capacity == merged.len(), "{j} into {i}: exact");
            }
        }
    }

    #[test]
    fn expected_status_ties_go_to_the_lowest_code() {
        let s = UrlStats {
            statuses: [(200, 2), (304, 2)].into_iter().collect(),
            ..UrlStats::default()
        };
        assert_eq!(s.expected_status(), 200);
    }

    #[test]
    fn merging_is_order_independent() {
        let urls = [
            ("http://a.example/1", 200),
            ("http://a.example/1", 304),
            ("http://a.example/2", 200),
            ("https://b.example/1", 301),
        ];
        let mut whole = Tally::default();
        for (u, s) in urls {
            add(&mut whole, u, s, Some(7));
        }
        let (mut left, mut right) = (Tally::default(), Tally::default());
        for (i, (u, s)) in urls.iter().enumerate() {
            add(
                if i % 2 == 0 { &mut left } else { &mut right },
                u,
                *s,
                Some(7),
            );
        }
        let mut l2 = left.clone();
        l2.merge(right.clone());
        right.merge(left);
        for merged in [l2, right] {
            assert_eq!(merged.len(), whole.len());
            for (h, t, s) in whole.iter() {
                let (_, _, m) = merged
                    .iter()
                    .find(|(h2, t2, _)| *h2 == h && *t2 == t)
                    .unwrap();
                assert_eq!(m, s);
            }
        }
    }

    /// Three threads' worth of hits over overlapping URLs, each with agents of its own.
    /// Three tallies of `n` hits each.
    fn shares(n: u64) -> Vec<Tally> {
        (0..3u64)
            .map(|share| {
                let mut t = Tally::default();
                let mut s = Vec::new();
                for i in 0..n {
                    // Shares overlap on most URLs; each also has URLs of its own, which
                    // sort before and after the shared ones (share 1 twice as many before).
                    let u = if i % 10 == 0 || (share == 1 && i % 10 == 1) {
                        format!("http://a{share}.example/{i}")
                    } else if i % 10 == 5 {
                        format!("http://z{share}.example/{i}")
                    } else {
                        format!("http://h{}.example/{}", i % 7, i % (n * 3 / 8))
                    };
                    let n = normalize(u.as_bytes(), &NormalizeOptions::default(), &mut s).unwrap();
                    let agent = format!("agent-{share}-{i}");
                    let status = [200, 404, 304][(i % 3) as usize];
                    let rank = (i * 7919 + share * 104_729) % 1000;
                    t.record(
                        &s,
                        &n,
                        status,
                        Some(i * 500),
                        i as u32,
                        Some((rank, agent.as_bytes())),
                    );
                }
                t
            })
            .collect()
    }

    #[test]
    fn gather_in_place_puts_each_entry_where_the_order_says() {
        use rand::{SeedableRng, seq::SliceRandom};
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        for n in [0, 1, 2, 3, 10, 1000] {
            for _ in 0..20 {
                let mut order: Vec<usize> = (0..n).collect();
                order.shuffle(&mut rng);
                let expected: Vec<String> = order.iter().map(|i| format!("e{i}")).collect();
                let mut list: Vec<String> = (0..n).map(|i| format!("e{i}")).collect();
                gather_in_place(&mut list, &mut order);
                assert_eq!(list, expected, "{n}");
                assert!(
                    order.iter().enumerate().all(|(j, &o)| o == j),
                    "left the identity"
                );
            }
        }
        // An order that is no permutation ends, in bounds, with every entry still there.
        for order in [vec![1, 1], vec![5, 0, 0], vec![2, 2, 0, 9], vec![0, 0, 0]] {
            let mut list: Vec<u32> = (0..order.len() as u32).collect();
            gather_in_place(&mut list, &mut order.clone());
            list.sort();
            assert_eq!(
                list,
                (0..order.len() as u32).collect::<Vec<_>>(),
                "{order:?}"
            );
        }
    }

    #[test]
    fn a_merge_walk_longer_than_its_shrink_step_keeps_every_url_and_count() {
        // Keys divisible by 2 on one side, by 3 on the other: both, one or the other.
        let list = |step: usize, hits: u64| -> List {
            (0..60_000)
                .step_by(step)
                .map(|i| {
                    let stats = UrlStats {
                        hits,
                        ..UrlStats::default()
                    };
                    (format!("h {i:06}").into_bytes().into_boxed_slice(), stats)
                })
                .collect()
        };
        let (a, b) = (list(2, 1), list(3, 10));
        assert!(
            a.len() + b.len() > 2 * MERGE_SHRINK_EVERY,
            "the walk shrinks its lists"
        );
        for threads in [1, 2] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            let (merged, leftovers) = pool.install(|| merge_sorted_lists(a.clone(), b.clone()));
            let expected: Vec<(String, u64)> = (0..60_000)
                .filter(|i| i % 2 == 0 || i % 3 == 0)
                .map(|i| {
                    let hits = u64::from(i % 2 == 0) + 10 * u64::from(i % 3 == 0);
                    (format!("h {i:06}"), hits)
                })
                .collect();
            let got: Vec<(String, u64)> = merged
                .iter()
                .map(|(k, s)| (String::from_utf8(k.to_vec()).unwrap(), s.hits))
                .collect();
            assert_eq!(got, expected, "{threads} threads");
            let shared: usize = leftovers.iter().map(Vec::len).sum();
            assert_eq!(shared, 10_000, "b's entries of the URLs both had");
        }
    }

    #[test]
    fn a_sorted_tally_is_a_list_in_key_order_with_every_url() {
        let mut t = Tally::default();
        for i in (0..500u32).rev() {
            add(
                &mut t,
                &format!("http://h{}.example/{}", i % 7, i * 7919 % 1000),
                200,
                None,
            );
        }
        let by_hash: Vec<(Vec<u8>, UrlStats)> = t
            .sorted()
            .into_iter()
            .map(|(k, s)| (k.to_vec(), s.clone()))
            .collect();
        let n = t.len();
        t.sort();
        assert!(!t.unsorted && t.urls.is_empty() && t.merged.len() == n);
        assert!(t.merged.is_sorted_by(|a, b| a.0 < b.0));
        let after: Vec<(Vec<u8>, UrlStats)> = t
            .sorted()
            .into_iter()
            .map(|(k, s)| (k.to_vec(), s.clone()))
            .collect();
        assert_eq!(after, by_hash);
    }

    #[test]
    fn sorted_tallies_merge_into_the_same_counts_in_key_order() {
        // 12 000 hits: tallies large enough to be merged in two halves on two threads.
        for n in [400, 12_000] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(2)
                .build()
                .unwrap();
            let mut by_hash = Tally::default();
            for t in shares(n) {
                by_hash.merge(t);
            }
            let mut by_walk = Tally::default();
            pool.install(|| {
                for mut t in shares(n) {
                    t.sort();
                    by_walk.merge(t);
                }
            });
            assert!(by_hash.unsorted && !by_walk.unsorted);
            assert_eq!(by_walk.sorted(), by_hash.sorted(), "{n}");
            // The walk gave a list in key order, no index, and kept the merged-in entries.
            assert!(by_walk.urls.is_empty() && by_walk.merged.len() == by_hash.len());
            assert!(by_walk.merged.is_sorted_by(|a, b| a.0 < b.0));
            assert!(by_walk.leftovers.0.iter().any(|l| !l.is_empty()));
            let smallest = shares(n).iter().map(Tally::len).min().unwrap();
            assert_eq!(smallest >= PARALLEL_MERGE, n == 12_000, "{smallest}");
            // A URL counted after the merge brings the index back, unsorted again, and
            // `sorted` sorts.
            add(&mut by_walk, "http://a.example/first", 200, None);
            assert!(by_walk.unsorted && by_walk.merged.is_empty());
            let sorted = by_walk.sorted();
            assert!(sorted.is_sorted_by(|a, b| a.0 < b.0) && sorted.len() == by_hash.len() + 1);
        }
    }
}
