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
//! parameters, encodings): frequent URLs are back in it after their next hit. The URLs are kept
//! end to end in one buffer, not one allocation each: starting afresh only clears the table
//! and the buffer, which keep their capacity, so a long run does not churn the allocator (one
//! allocation per URL, freed at every fresh start, let the peak RSS of 10 GiB of logs grow to
//! 1.21 times that of 1 GiB).

use std::hash::BuildHasher;

use hashbrown::HashTable;

use super::filter::{Policy, Reject, Scratch};
use super::normalize::Normalized;
use super::tally::{Slot, Tally};
use crate::alb::{AlbRecord, Escaped};

/// The most URLs one thread remembers (the table: ~4 MB).
pub const MEMO_URLS: usize = 1 << 16;
/// The most bytes of URLs one thread remembers.
pub const MEMO_BYTES: usize = 6 << 20;
/// Longer URLs are not remembered (they are rare, and would crowd out many short ones).
const MEMO_MAX_URL: usize = 2048;

/// One remembered URL: where its bytes are in [`UrlMemo::bytes`], their hash, and what is
/// remembered about it.
#[derive(Debug, Clone, Copy)]
struct Stored {
    at: u32,
    len: u32,
    hash: u64,
    entry: Entry,
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
    urls: HashTable<Stored>,
    /// The remembered URLs' bytes, end to end.
    bytes: Vec<u8>,
    /// Seeded per run: URLs come from the internet.
    hasher: foldhash::fast::RandomState,
    /// [`MEMO_URLS`], smaller in tests.
    limit: usize,
    /// Lookups answered from the memo, and verdicts computed.
    pub hits: u64,
    pub misses: u64,
}

impl std::fmt::Debug for UrlMemo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UrlMemo")
            .field("urls", &self.urls.len())
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

impl UrlMemo {
    /// A memo that starts afresh after `limit` URLs.
    pub fn with_limit(limit: usize) -> Self {
        UrlMemo {
            urls: HashTable::new(),
            bytes: Vec::new(),
            hasher: foldhash::fast::RandomState::default(),
            limit: limit.max(1),
            hits: 0,
            misses: 0,
        }
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
        let url = rec.request.url;
        let admitted = self.admit_url(policy, url, scratch)?;
        if let Some(slot) = admitted.slot {
            // Loads while the agent checks below and the caller's work on the hit run.
            tally.prefetch(slot);
        }
        policy.admit_hit(rec, &admitted.url, scratch)?;
        let slot = self.slot(policy, url, &admitted, scratch, tally);
        Ok((admitted.url, slot))
    }

    /// [`Policy::admit_url`] for `url`, remembered. `scratch.url` holds the normalised URL
    /// only when the verdict was computed now; [`UrlMemo::slot`] knows which.
    fn admit_url(
        &mut self,
        policy: &Policy,
        url: Escaped<'_>,
        scratch: &mut Scratch,
    ) -> Result<Admitted, Reject> {
        let raw = url.raw();
        let hash = self.hasher.hash_one(raw);
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
        if raw.len() <= MEMO_MAX_URL {
            if self.urls.len() >= self.limit || self.bytes.len() + raw.len() > MEMO_BYTES {
                self.urls.clear();
                self.bytes.clear();
            }
            // Both fit in u32: the buffer never exceeds MEMO_BYTES.
            let at = self.bytes.len() as u32;
            self.bytes.extend_from_slice(raw);
            let stored = Stored {
                at,
                len: raw.len() as u32,
                hash,
                entry: Entry {
                    verdict,
                    slot: None,
                },
            };
            self.urls.insert_unique(hash, stored, |s| s.hash);
        }
        verdict.map(|n| Admitted {
            url: n,
            slot: None,
            fresh: true,
        })
    }

    /// The remembered URL `raw` (whose hash is `hash`).
    fn find(&mut self, hash: u64, raw: &[u8]) -> Option<&mut Stored> {
        let bytes = &self.bytes;
        self.urls.find_mut(hash, |s| {
            s.hash == hash && bytes.get(s.at as usize..(s.at + s.len) as usize) == Some(raw)
        })
    }

    /// Where `admitted` (from [`UrlMemo::admit_url`] on `url`, just before) counts in `tally`:
    /// remembered after the first time. The first time, the key is the normalised URL in
    /// `scratch.url`, normalised again if the verdict came from the memo (a URL whose earlier
    /// hits were all left out by the per-hit checks).
    fn slot(
        &mut self,
        policy: &Policy,
        url: Escaped<'_>,
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
        let raw = url.raw();
        if let Some(s) = self.find(self.hasher.hash_one(raw), raw) {
            s.entry.slot = Some(slot);
        }
        slot
    }
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
