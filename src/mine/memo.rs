//! A scan thread's memory of the URLs it has met, keyed by the URL as logged: the replay
//! filter's verdict on the URL alone ([`Policy::admit_url`]: decode, normalise, host checks)
//! and, once a hit of it was kept, where its counts are in the thread's tally ([`Slot`]).
//!
//! Why: a day repeats its URLs (the benchmark corpus: 1.2 M kept requests over 30 k URLs), and
//! without the memo every repeat is decoded, normalised, and its normalised key hashed and
//! compared again. With it a repeat costs one lookup on the bytes as logged. The verdict is a
//! function of those bytes and the policy, so remembering it changes no result; the per-hit
//! checks (client, credential) still run on every line ([`Policy::admit_hit`]).
//!
//! The memo holds at most [`MEMO_URLS`] URLs in [`MEMO_BYTES`] and starts afresh when full, so
//! its memory is bounded whatever the input (raw URLs vary more than normalised ones: tracking
//! parameters, encodings): frequent URLs are back in it after their next hit. URLs that are
//! mostly met once (with tracking parameters or a credential) are let in only at their second
//! hit ([`UrlMemo::worth_remembering`]), so they do not fill it. The URLs are kept
//! end to end in one buffer, not one allocation each: starting afresh only clears the table
//! and the buffer, which keep their capacity, so a long run does not churn the allocator (one
//! allocation per URL, freed at every fresh start, let the peak RSS of 10 GiB of logs grow to
//! 1.21 times that of 1 GiB).

use std::hash::BuildHasher;

use super::filter::{Policy, Reject, Scratch};
use super::normalize::Normalized;
use super::prefetch::prefetch;
use super::tally::{Slot, Tally};
use crate::alb::{AlbRecord, Escaped};

/// The most entries of the table: 8 MB ([`Stored`]).
const MEMO_ENTRIES: usize = 1 << 16;
/// The most URLs one thread remembers: what fills the largest table to [`MAX_LOAD_TENTHS`].
///
/// Why the table has a fixed largest size that the memo reaches on a day of 1 GiB: the memo's
/// memory must not grow with the volume of logs. When the limit was 65,536 URLs (a 16 MB
/// table at 70%), the benchmark day of 1 GiB left ~34 k URLs in each thread's memo (an 8 MB
/// table) and 10 GiB of the same URLs filled it to the limit (16 MB): the peak RSS of 10 GiB
/// was 1.32 times that of 1 GiB.
pub const MEMO_URLS: usize = MEMO_ENTRIES * MAX_LOAD_TENTHS / 10;
/// The most bytes of URLs one thread remembers past their first [`INLINE_URL`].
pub const MEMO_BYTES: usize = 6 << 20;
/// Longer URLs are not remembered (they are rare, and would crowd out many short ones).
const MEMO_MAX_URL: usize = 2048;
/// The table's first size, in entries: it doubles as it fills ([`MAX_LOAD_TENTHS`]).
const FIRST_ENTRIES: usize = 1 << 10;
/// How full the table may be, in tenths, before it doubles.
///
/// Why 7 and not 5: the benchmark day leaves ~34-39 k URLs in a thread's memo, which at half
/// full took a 16 MB table, at 0.7 an 8 MB one. The longer probes cost nothing measurable (1
/// thread: 1.12 against 1.14 CPU-s, 2 threads: 1.22 against 1.23, medians of nine alternating
/// runs) and the peak RSS fell from 47 to 32 MB on 1 thread, from 86 to 69 MB on 2.
const MAX_LOAD_TENTHS: usize = 7;
// A free entry is always left, so a probe always ends.
const _: () = assert!(MAX_LOAD_TENTHS < 10);
/// Bits of the doorkeeper ([`UrlMemo::seen_once`]): 128 KiB, cleared when an eighth is set.
const DOORKEEPER_BITS: usize = 1 << 20;

/// One entry of the table: a remembered URL (its hash, its first [`INLINE_URL`] bytes and where
/// the rest is in [`UrlMemo::bytes`]) and what is remembered about it; free when `hash` is 0.
///
/// Why the bytes are inline and the entry two whole cache lines: a lookup waits on memory (the
/// day's ~30 k URLs are far more than the core's cache holds), and this way one prefetch,
/// issued a line ahead ([`UrlMemo::prefetch`]), brings in the entry and the bytes to compare
/// for nearly every URL (97% of the benchmark corpus' are under 80 bytes).
#[derive(Debug, Clone, Copy)]
#[repr(C, align(64))]
struct Stored {
    /// The URL's hash with its low bit set (0 marks a free entry).
    hash: u64,
    /// Where the bytes after the first [`INLINE_URL`] are in [`UrlMemo::bytes`].
    at: u32,
    len: u32,
    entry: Entry,
    inline: [u8; INLINE_URL],
}

/// URL bytes kept in the entry itself: what fills [`Stored`] to two cache lines.
const INLINE_URL: usize = 128 - 16 - std::mem::size_of::<Entry>();
const _: () = assert!(std::mem::size_of::<Stored>() == 128);

const FREE: Stored = Stored {
    hash: 0,
    at: 0,
    len: 0,
    entry: Entry {
        verdict: Err(Reject::Method),
        slot: None,
    },
    inline: [0; INLINE_URL],
};

impl Stored {
    /// Whether this is URL `raw`, whose (low-bit-set) hash is `hash`.
    #[inline]
    fn is(&self, hash: u64, raw: &[u8], bytes: &[u8]) -> bool {
        if self.hash != hash || self.len as usize != raw.len() {
            return false;
        }
        match raw.split_at_checked(INLINE_URL) {
            None => self.inline.get(..raw.len()) == Some(raw),
            Some((head, rest)) => {
                self.inline == *head
                    && bytes.get(self.at as usize..self.at as usize + rest.len()) == Some(rest)
            }
        }
    }
}

/// What is remembered about one URL as logged.
#[derive(Debug, Clone, Copy)]
struct Entry {
    verdict: Result<Normalized, Reject>,
    /// Set once a hit was kept and the URL has counts in the tally.
    slot: Option<Slot>,
}

/// See the module doc. One per scan thread, used with that thread's one [`Tally`].
pub struct UrlMemo {
    /// Open addressing with linear probing, a power of two long, at most 70% full: a URL's
    /// entry is where its hash says or a few entries after, so it can be prefetched from the
    /// hash alone.
    table: Vec<Stored>,
    /// URLs in the table.
    urls: usize,
    /// The remembered URLs' bytes past their first [`INLINE_URL`], end to end.
    bytes: Vec<u8>,
    /// Seeded per run: URLs come from the internet.
    hasher: foldhash::fast::RandomState,
    /// [`MEMO_URLS`], smaller in tests.
    limit: usize,
    /// The doorkeeper: two bits per URL hash (shared with other URLs) of the URLs met once
    /// that are remembered only when met again (see [`UrlMemo::worth_remembering`]).
    seen_once: Vec<u64>,
    /// Bits set in `seen_once` since it was last cleared.
    seen_count: usize,
    /// Lookups answered from the memo, and verdicts computed.
    pub hits: u64,
    pub misses: u64,
}

impl std::fmt::Debug for UrlMemo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UrlMemo")
            .field("urls", &self.urls)
            .field("bytes", &self.bytes.len())
            .field("hits", &self.hits)
            .field("misses", &self.misses)
            .finish()
    }
}

impl Default for UrlMemo {
    fn default() -> Self {
        UrlMemo::with_limit(MEMO_URLS)
    }
}

/// An admitted URL's verdict and where to count its hits.
#[derive(Debug, Clone, Copy)]
struct Admitted {
    url: Normalized,
    slot: Option<Slot>,
    /// The verdict was computed for this line: `scratch.url` holds the normalised key.
    fresh: bool,
}

/// A URL's hash as the memo uses it: [`UrlMemo::prefetch`] computes it, [`UrlMemo::admit_url`]
/// takes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UrlHash(u64);

impl UrlMemo {
    /// A memo that starts afresh after `limit` URLs.
    pub fn with_limit(limit: usize) -> Self {
        let limit = limit.max(1);
        UrlMemo {
            table: table_of(FIRST_ENTRIES.min((2 * limit).next_power_of_two())),
            urls: 0,
            bytes: Vec::new(),
            hasher: foldhash::fast::RandomState::default(),
            limit,
            seen_once: vec![0; DOORKEEPER_BITS / 64],
            seen_count: 0,
            hits: 0,
            misses: 0,
        }
    }

    /// The hash of `url`, whose entry starts loading into the cache: the lookup
    /// ([`UrlMemo::admit_url`]) comes a line later, when it is there.
    #[inline]
    pub fn prefetch(&self, url: Escaped<'_>) -> UrlHash {
        let hash = UrlHash(self.hasher.hash_one(url.raw()) | 1);
        if let Some(entry) = self.table.get(self.home(hash)) {
            prefetch(entry);
        }
        hash
    }

    /// Where the entry of a URL with hash `hash` is, or starts being looked for.
    #[inline]
    fn home(&self, hash: UrlHash) -> usize {
        // The high bits: foldhash mixes them best. The table is never empty.
        let bits = self.table.len().trailing_zeros();
        hash.0.checked_shr(64 - bits).unwrap_or(0) as usize
    }

    /// [`Policy::admit`] on `rec`, with the URL's verdict remembered; for an admitted request,
    /// the normalised URL and its slot in `tally` (always the same tally for one memo).
    pub fn admit(
        &mut self,
        policy: &Policy,
        rec: &AlbRecord<'_>,
        scratch: &mut Scratch,
        tally: &mut Tally,
    ) -> Result<(Normalized, Slot), Reject> {
        policy.admit_request(rec)?;
        let hash = self.prefetch(rec.request.url);
        self.admit_hashed(
            policy,
            rec.request.url,
            rec.user_agent,
            hash,
            scratch,
            tally,
        )
    }

    /// [`UrlMemo::admit`] for a request that passed [`Policy::admit_request`]: its URL, whose
    /// hash is `hash` (from [`UrlMemo::prefetch`] on this memo), and its user agent.
    pub fn admit_hashed(
        &mut self,
        policy: &Policy,
        url: Escaped<'_>,
        user_agent: Escaped<'_>,
        hash: UrlHash,
        scratch: &mut Scratch,
        tally: &mut Tally,
    ) -> Result<(Normalized, Slot), Reject> {
        let admitted = self.admit_url(policy, url, hash, scratch)?;
        if let Some(slot) = admitted.slot {
            // Loads while the agent checks below and the caller's work on the hit run.
            tally.prefetch(slot);
        }
        policy.admit_hit(user_agent, &admitted.url, scratch)?;
        let slot = self.slot(policy, url, hash, &admitted, scratch, tally);
        Ok((admitted.url, slot))
    }

    /// [`Policy::admit_url`] for `url`, remembered. `scratch.url` holds the normalised URL
    /// only when the verdict was computed now; [`UrlMemo::slot`] knows which.
    fn admit_url(
        &mut self,
        policy: &Policy,
        url: Escaped<'_>,
        hash: UrlHash,
        scratch: &mut Scratch,
    ) -> Result<Admitted, Reject> {
        let raw = url.raw();
        if let Some(e) = self.find(hash, raw) {
            let e = e.entry;
            self.hits += 1;
            return e.verdict.map(|n| Admitted {
                url: n,
                slot: e.slot,
                fresh: false,
            });
        }
        self.misses += 1;
        let verdict = policy.admit_url(url, scratch);
        if raw.len() <= MEMO_MAX_URL && self.worth_remembering(hash, &verdict) {
            self.insert(hash, raw, verdict);
        }
        verdict.map(|n| Admitted {
            url: n,
            slot: None,
            fresh: true,
        })
    }

    /// Whether a URL met for the first time in this memo, with `verdict`, is remembered now.
    ///
    /// A URL that carried tracking parameters or a credential is remembered only the second
    /// time it is met (a few such URLs share their bits with others met before: one of them is
    /// then remembered the first time, which is harmless).
    ///
    /// Why: those are mostly met once (a `gclid` or a token is made for one click), and
    /// remembering each filled the memo with URLs never asked for again, so that it started
    /// afresh and missed again on the frequent ones. On the benchmark corpus (1 GiB, 1 thread)
    /// this took the memo's misses from 143,024 to 104,885 (an unbounded memo misses 104,702)
    /// and the CPU from 1.14 to 1.09 s (medians of nine alternating runs; with one bit a URL,
    /// two left the misses the same and the memo 2 k URLs smaller). Shared campaign
    /// links (`utm_source=newsletter`) are met often and are remembered from their second hit
    /// on.
    fn worth_remembering(&mut self, hash: UrlHash, verdict: &Result<Normalized, Reject>) -> bool {
        if !verdict.is_ok_and(|n| n.tracking_removed || n.has_credential) {
            return true;
        }
        // Two bits per URL (a Bloom filter): a URL met once passes for one met before when
        // both its bits were set by others, at most 1.6% of the time (an eighth of the bits set).
        let mut met = true;
        for bit in [hash.0 >> 1, hash.0 >> 22].map(|h| h as usize % DOORKEEPER_BITS) {
            let (word, mask) = (bit / 64, 1u64 << (bit % 64));
            if let Some(w) = self.seen_once.get_mut(word)
                && *w & mask == 0
            {
                *w |= mask;
                self.seen_count += 1;
                met = false;
            }
        }
        if met {
            return true;
        }
        if self.seen_count > DOORKEEPER_BITS / 8 {
            self.seen_once.fill(0);
            self.seen_count = 0;
        }
        false
    }

    /// Remembers `raw` (not in the table) with `verdict`, starting afresh first when full.
    fn insert(&mut self, hash: UrlHash, raw: &[u8], verdict: Result<Normalized, Reject>) {
        let (head, rest) = raw.split_at(raw.len().min(INLINE_URL));
        if self.urls >= self.limit || self.bytes.len() + rest.len() > MEMO_BYTES {
            self.table.fill(FREE);
            self.urls = 0;
            self.bytes.clear();
        }
        if (self.urls + 1) * 10 > self.table.len() * MAX_LOAD_TENTHS {
            self.grow();
        }
        let mut inline = [0u8; INLINE_URL];
        inline[..head.len()].copy_from_slice(head);
        // Both fit in u32: the buffer never exceeds MEMO_BYTES.
        let at = self.bytes.len() as u32;
        self.bytes.extend_from_slice(rest);
        let stored = Stored {
            hash: hash.0,
            at,
            len: raw.len() as u32,
            entry: Entry {
                verdict,
                slot: None,
            },
            inline,
        };
        self.place(stored);
        self.urls += 1;
    }

    /// Puts `stored` in the first free entry from its home on (there is one: the table is
    /// at most 70% full).
    fn place(&mut self, stored: Stored) {
        let mask = self.table.len() - 1;
        let mut i = self.home(UrlHash(stored.hash));
        while let Some(e) = self.table.get_mut(i) {
            if e.hash == 0 {
                *e = stored;
                return;
            }
            i = (i + 1) & mask;
        }
    }

    /// Doubles the table and places every entry again.
    fn grow(&mut self) {
        let bigger = table_of(2 * self.table.len());
        let old = std::mem::replace(&mut self.table, bigger);
        for stored in old.into_iter().filter(|s| s.hash != 0) {
            self.place(stored);
        }
    }

    /// The remembered URL `raw` (whose hash is `hash`).
    #[inline]
    fn find(&mut self, hash: UrlHash, raw: &[u8]) -> Option<&mut Stored> {
        let mask = self.table.len() - 1;
        let mut i = self.home(hash);
        loop {
            let e = self.table.get(i)?;
            if e.hash == 0 {
                return None;
            }
            if e.is(hash.0, raw, &self.bytes) {
                return self.table.get_mut(i);
            }
            i = (i + 1) & mask;
        }
    }

    /// Where `admitted` (from [`UrlMemo::admit_url`] on `url`, just before) counts in `tally`:
    /// remembered after the first time. The first time, the key is the normalised URL in
    /// `scratch.url`, normalised again if the verdict came from the memo (a URL whose earlier
    /// hits were all left out by the per-hit checks).
    fn slot(
        &mut self,
        policy: &Policy,
        url: Escaped<'_>,
        hash: UrlHash,
        admitted: &Admitted,
        scratch: &mut Scratch,
        tally: &mut Tally,
    ) -> Slot {
        if let Some(slot) = admitted.slot {
            return slot;
        }
        // Rare (once per such URL and memo generation): normalising again costs little, and
        // it spares keeping every normalised key in the memo too.
        if !admitted.fresh && policy.admit_url(url, scratch).is_err() {
            debug_assert!(false, "a remembered verdict changed");
        }
        let slot = tally.slot(&scratch.url);
        if let Some(s) = self.find(hash, url.raw()) {
            s.entry.slot = Some(slot);
        }
        slot
    }
}

/// A table of `entries` free entries, backed by huge pages where the kernel has them.
///
/// Why: a full table is 8 MB, 2,048 pages of 4 KiB, more than the core's TLB maps; a lookup
/// then also waited for a page walk (the prefetch a line ahead cannot start its load before the
/// walk). With 2 MiB pages the table is four. The advice is given before the entries are
/// written, when the kernel has not yet backed the memory.
fn table_of(entries: usize) -> Vec<Stored> {
    let mut table = Vec::with_capacity(entries);
    advise_huge_pages(table.spare_capacity_mut());
    table.resize(entries, FREE);
    table
}

/// Asks the kernel to back the 2 MiB-aligned part of `memory` with transparent huge pages
/// (`MADV_HUGEPAGE`, for kernels where THP is on `madvise` only). Advice only: when the kernel
/// has no huge pages or refuses, nothing changes.
fn advise_huge_pages<T>(memory: &mut [T]) {
    #[cfg(target_os = "linux")]
    {
        const HUGE_PAGE: usize = 2 << 20;
        let start = memory.as_mut_ptr() as usize;
        let end = start + std::mem::size_of_val(memory);
        let first = start.next_multiple_of(HUGE_PAGE);
        let last = end / HUGE_PAGE * HUGE_PAGE;
        if last > first {
            // SAFETY: the range lies inside `memory`, which this function borrows mutably for
            // the call, so it is mapped and no one else uses it. MADV_HUGEPAGE only changes how
            // the kernel backs the pages (its result is ignored: the advice is optional); it
            // never changes their contents or their mapping, so Rust's view of the memory
            // stays valid.
            unsafe {
                libc::madvise(
                    first as *mut libc::c_void,
                    last - first,
                    libc::MADV_HUGEPAGE,
                );
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = memory;
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;
    use crate::alb::parse_line;

    /// Every line of the shipped fixtures, gunzipped.
    fn fixture_lines() -> Vec<Vec<u8>> {
        let mut files = Vec::new();
        let mut dirs = vec![std::path::PathBuf::from("fixtures/alb")];
        while let Some(d) = dirs.pop() {
            for e in std::fs::read_dir(d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    dirs.push(p);
                } else if p.extension().is_some_and(|x| x == "gz") {
                    files.push(p);
                }
            }
        }
        files.sort();
        let mut lines = Vec::new();
        for f in files {
            let mut text = Vec::new();
            let gz = flate2::read::MultiGzDecoder::new(std::fs::File::open(f).unwrap());
            if gz.take(1 << 30).read_to_end(&mut text).is_err() {
                continue; // the deliberately damaged fixtures
            }
            lines.extend(text.split(|&b| b == b'\n').map(<[u8]>::to_vec));
        }
        lines
    }

    /// URLs of `len` bytes that differ only in their last bytes: past the inline part when
    /// they are longer than it.
    fn url(i: usize, len: usize) -> Vec<u8> {
        let tail = format!("/{i}");
        let mut u = vec![b'a'; len.saturating_sub(tail.len())];
        u.extend_from_slice(tail.as_bytes());
        u
    }

    #[test]
    fn the_table_finds_every_url_it_holds_whatever_its_length() {
        let lens = [
            2,
            10,
            INLINE_URL - 1,
            INLINE_URL,
            INLINE_URL + 1,
            300,
            MEMO_MAX_URL,
        ];
        let mut memo = UrlMemo::with_limit(10_000);
        let urls: Vec<Vec<u8>> = (0..3000).map(|i| url(i, lens[i % lens.len()])).collect();
        for u in &urls {
            let h = memo.prefetch(Escaped(u));
            assert!(memo.find(h, u).is_none());
            memo.insert(h, u, Err(Reject::Method));
        }
        assert_eq!(memo.urls, urls.len());
        assert!(
            memo.table.len() * MAX_LOAD_TENTHS >= 10 * urls.len(),
            "grew: {}",
            memo.table.len()
        );
        for u in &urls {
            let h = memo.prefetch(Escaped(u));
            assert_eq!(memo.find(h, u).map(|s| s.len as usize), Some(u.len()));
            // The same length, one byte off (in the inline part or past it): another URL.
            let mut other = u.clone();
            other[0] = b'b';
            assert!(memo.find(memo.prefetch(Escaped(&other)), &other).is_none());
            let mut other = u.clone();
            *other.last_mut().unwrap() = b'_';
            assert!(memo.find(memo.prefetch(Escaped(&other)), &other).is_none());
        }
    }

    #[test]
    fn urls_with_one_hash_are_told_apart_by_their_bytes() {
        let mut memo = UrlMemo::with_limit(100);
        let same = UrlHash(0xdead_beef_0000_0001);
        let (a, b) = (url(1, 200), url(2, 200));
        memo.insert(same, &a, Err(Reject::Method));
        assert!(memo.find(same, &b).is_none());
        memo.insert(same, &b, Err(Reject::Agent));
        assert!(matches!(
            memo.find(same, &a).unwrap().entry.verdict,
            Err(Reject::Method)
        ));
        assert!(matches!(
            memo.find(same, &b).unwrap().entry.verdict,
            Err(Reject::Agent)
        ));
    }

    #[test]
    fn a_full_memo_starts_afresh_keeping_its_table() {
        let mut memo = UrlMemo::with_limit(100);
        let urls: Vec<Vec<u8>> = (0..250).map(|i| url(i, 20)).collect();
        for u in &urls {
            memo.insert(memo.prefetch(Escaped(u)), u, Err(Reject::Method));
            assert!(memo.urls <= 100);
        }
        let size = memo.table.len();
        assert_eq!(size, 256, "at most 70% full, a power of two");
        let found =
            |memo: &mut UrlMemo, u: &[u8]| memo.find(memo.prefetch(Escaped(u)), u).is_some();
        assert!(found(&mut memo, &urls[249]) && found(&mut memo, &urls[200]));
        assert!(!found(&mut memo, &urls[0]) && !found(&mut memo, &urls[199]));
        // Starting afresh also drops the bytes past the inline part.
        let long: Vec<Vec<u8>> = (0..300).map(|i| url(i, 1000)).collect();
        for u in &long {
            memo.insert(memo.prefetch(Escaped(u)), u, Err(Reject::Method));
        }
        assert!(memo.bytes.len() <= 100 * (1000 - INLINE_URL));
        assert!(found(&mut memo, &long[299]) && !found(&mut memo, &long[0]));
        assert_eq!(memo.table.len(), size);
    }

    #[test]
    fn urls_with_tracking_parameters_are_remembered_from_their_second_hit() {
        let day = chrono::NaiveDate::from_ymd_opt(2026, 3, 2).unwrap();
        let policy = Policy::for_day(day);
        let mut scratch = Scratch::default();
        let mut memo = UrlMemo::with_limit(100);
        let mut verdict_of = |memo: &mut UrlMemo, raw: &str| {
            let url = Escaped(raw.as_bytes());
            let hash = memo.prefetch(url);
            memo.admit_url(&policy, url, hash, &mut scratch)
                .map(|a| a.url)
        };
        let plain = "https://www.example.com:443/a?id=3";
        let tracked = "https://www.example.com:443/a?id=3&gclid=Cj0KCQabc";
        for (raw, misses) in [
            (plain, 1),
            (plain, 1),
            (tracked, 2),
            (tracked, 3),
            (tracked, 3),
        ] {
            let n = verdict_of(&mut memo, raw).unwrap();
            assert_eq!(n.tracking_removed, raw == tracked, "{raw}");
            assert_eq!(memo.misses, misses, "{raw}: {memo:?}");
        }
        assert_eq!(memo.urls, 2);
        // The doorkeeper forgets when an eighth of its bits are set; the verdicts stay right.
        for i in 0..DOORKEEPER_BITS / 8 + 10 {
            let raw = format!("https://www.example.com:443/p{i}?fbclid=IwAR{i}");
            assert!(verdict_of(&mut memo, &raw).unwrap().tracking_removed);
        }
        assert!(memo.seen_count <= DOORKEEPER_BITS / 8);
    }

    #[test]
    fn the_doorkeeper_lets_few_urls_met_once_pass() {
        let day = chrono::NaiveDate::from_ymd_opt(2026, 3, 2).unwrap();
        let mut scratch = Scratch::default();
        let url = Escaped(b"https://www.example.com:443/a?gclid=Cj0KCQabc");
        let verdict = Policy::for_day(day).admit_url(url, &mut scratch);
        assert!(verdict.is_ok_and(|n| n.tracking_removed));
        let mut memo = UrlMemo::with_limit(100);
        // Distinct URLs, each met once, up to just before the filter clears itself: the most
        // bits it ever holds, so the most false passes (an eighth set: 1/64 for two bits).
        let urls = DOORKEEPER_BITS / 16 - 100;
        let passed = (0..urls)
            .filter(|i| {
                let raw = format!("https://www.example.com:443/p{i}?gclid=Cj0KCQ{i}");
                let hash = memo.prefetch(Escaped(raw.as_bytes()));
                memo.worth_remembering(hash, &verdict)
            })
            .count();
        assert!(memo.seen_count <= DOORKEEPER_BITS / 8);
        assert!(passed * 50 < urls, "{passed} of {urls} passed");
    }

    #[test]
    fn the_memo_changes_no_verdict_and_no_count() {
        let lines = fixture_lines();
        let day = chrono::NaiveDate::from_ymd_opt(2026, 3, 2).unwrap();
        let mut policy = Policy::for_day(day);
        // Some hits of a URL left out by client, others kept: the slot comes later.
        policy.exclude_agents(["Android"]);
        for limit in [1, 7, MEMO_URLS] {
            let (mut direct, mut memoed) = (Tally::default(), Tally::default());
            let (mut s1, mut s2) = (Scratch::default(), Scratch::default());
            let mut memo = UrlMemo::with_limit(limit);
            let mut kept = 0;
            for line in &lines {
                let Ok(rec) = parse_line(line) else { continue };
                let want = policy.admit(&rec, &mut s1);
                let got = memo.admit(&policy, &rec, &mut s2, &mut memoed);
                assert_eq!(want.map(|_| ()), got.map(|_| ()), "{limit}");
                if let (Ok(n), Ok((m, slot))) = (want, got) {
                    assert_eq!(n, m);
                    kept += 1;
                    direct.record(&s1.url, &n, 200, Some(1), 0, None);
                    memoed.record_at(slot, m.scheme, 200, Some(1), 0, None);
                }
            }
            assert!(kept > 500, "{kept}");
            assert!(memo.hits > memo.misses || limit < 10, "{limit}: {memo:?}");
            assert_eq!(direct.sorted(), memoed.sorted(), "{limit}");
        }
    }
}
