//! Synthetic ALB access logs for fixtures, tests and benchmarks, deterministic from a seed.
//!
//! [`write_tree`] writes a folder laid out like a log bucket and returns the [`Truth`]: what
//! mining each day of it must give. The truth comes from the generator's own choices, not from
//! the miner's code, so it can check the miner.
//!
//! # The tree
//!
//! `root/AWSLogs/<account>/elasticloadbalancing/<region>/YYYY/MM/DD/` holds, per configured day
//! `D` and per node, `objects_per_node_per_day` gzip objects named
//! `<account>_elasticloadbalancing_<region>_app.<lb>.<hexid>_<YYYYMMDDTHHMMZ>_<node-ip>_<rand>.log.gz`,
//! one per 5-minute interval (the name carries the interval end). Each node always writes the
//! first interval (00:00-00:05, ending 00:05, in folder `D`) and the last (23:55-24:00, ending
//! 00:00 of `D+1`, so delivered in folder `D+1`), plus random intervals in between. Node 0 also
//! writes a second object for one interval, as busy nodes do. Every third object is two gzip
//! members concatenated. So the tree has the folders of the configured days plus the day after.
//!
//! Lines of an object carry times inside its interval, except `lines_across_midnight` lines at
//! the start of each 00:05 object (times just before midnight, on `D-1`) and at the end of each
//! 00:00 object (just after midnight, on `D+1`). `garbage_per_day` lines per day that must not
//! parse sit in one mid-day object of folder `D`.
//!
//! Each day folder also holds objects to skip by key: a connection log, a health-check log, an
//! NLB log and a Classic ELB log; the first folder also holds `ELBAccessLogTestFile`.
//!
//! # The lines
//!
//! About 79% are replayable GETs on a Zipf-like catalogue of URLs over several hosts (default
//! and non-default ports, mixed-case host names, `\xHH`-escaped non-ASCII paths, `%XX` escapes,
//! raw spaces, tracking parameters, trailing protocol spaces, search bots, IPv6 clients) plus a
//! long tail of URLs seen once. The rest are each built to fail exactly one filter check, the
//! first one in [`Reject`]'s order that they fail: unknown `type`, `ws`/`wss`/`grpcs`, malformed
//! requests, non-GET methods, WAF blocks / redirects / fixed responses / authentication,
//! target did not answer, target errors (404, 500, 503), `Severe` classification, IP-literal and
//! `*.elb.amazonaws.com` hosts, health checkers and monitors, credential-looking URLs. Field
//! counts mix every layout (20, 24, 25, 27, 29, 30, 33, 34 fields, and 35-36 with unknown
//! trailing fields); older days use older layouts more. See [`Truth::kinds`] for what was
//! written. `BadUrl` and `HostNotAllowed` are not generated (they depend on miner settings).
//!
//! [`Reject`]: crate::mine::filter::Reject

mod line;
mod truth;

use std::io::{self, Write};
use std::path::Path;

use chrono::{NaiveDate, NaiveDateTime, TimeDelta};
use flate2::Compression;
use flate2::write::GzEncoder;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::source::SkipReason;
use line::{Ident, LineGen};

pub use truth::{
    DayLines, DayTruth, FolderTruth, TRACKING_PARAMS, Truth, UrlTruth, listed_host, listed_path,
};

/// What to generate. [`Default`] gives one day (2026-03-01, plus the 03-02 folder), 2 nodes,
/// 4 objects per node of 200 lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SynthConfig {
    pub seed: u64,
    pub first_day: NaiveDate,
    /// Configured days; the tree also gets the folder of the day after the last.
    pub days: u32,
    /// ALB nodes, each writing its own objects (at least 1).
    pub nodes: u32,
    /// Objects per node and day, at least 2 (the intervals around midnight); node 0 writes one
    /// more when this is 3 or more.
    pub objects_per_node_per_day: u32,
    /// Parseable lines per object (garbage lines come on top).
    pub lines_per_object: u32,
    pub account: String,
    pub region: String,
    pub lb_name: String,
    /// Lines per day that must not parse (cycling binary junk, truncated line, 19 fields).
    /// Keep them well under 1% of a day's lines.
    pub garbage_per_day: u32,
    /// Lines per midnight object whose time is on the neighbouring day.
    pub lines_across_midnight: u32,
    /// Per mille of the kept requests that go to the long tail (default 200).
    pub long_tail_per_mille: u32,
    /// Distinct numbers a long-tail URL draws from (three URL shapes each; default 900 000).
    /// Raise it with `long_tail_per_mille` for a day of a million distinct URLs.
    pub long_tail_values: u32,
    /// When set, every parseable line has this many fields (20 to 36; a line kind that needs
    /// more, e.g. a `Severe` classification, gets its minimum) instead of the mix of layouts.
    pub fields: Option<usize>,
}

impl Default for SynthConfig {
    fn default() -> Self {
        SynthConfig {
            seed: 1,
            first_day: NaiveDate::from_ymd_opt(2026, 3, 1).expect("valid date"),
            days: 1,
            nodes: 2,
            objects_per_node_per_day: 4,
            lines_per_object: 200,
            account: "123456789012".into(),
            region: "eu-west-1".into(),
            lb_name: "my-alb".into(),
            garbage_per_day: 3,
            lines_across_midnight: 3,
            long_tail_per_mille: 200,
            long_tail_values: 900_000,
            fields: None,
        }
    }
}

/// Writes the tree under `root` (creating folders; existing files with the same keys are
/// overwritten, others are left alone) and returns its [`Truth`].
pub fn write_tree(root: &Path, cfg: &SynthConfig) -> io::Result<Truth> {
    generate(cfg, |key, bytes| {
        let path = root.join(key);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(path, bytes)
    })
}

/// Generates the tree without touching the file system: `sink` gets each object's key
/// (relative, `/`-separated, starting with `AWSLogs/`) and stored bytes, in a deterministic
/// order.
pub fn generate(
    cfg: &SynthConfig,
    mut sink: impl FnMut(&str, &[u8]) -> io::Result<()>,
) -> io::Result<Truth> {
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    let ident = Ident {
        account: cfg.account.clone(),
        region: cfg.region.clone(),
        lb_name: cfg.lb_name.clone(),
        lb_id: hex(&mut rng, 16),
        alb_dns_number: rng.random_range(1_000_000_000..10_000_000_000u64),
        cert_id: format!(
            "{}-{}-{}-{}-{}",
            hex(&mut rng, 8),
            hex(&mut rng, 4),
            hex(&mut rng, 4),
            hex(&mut rng, 4),
            hex(&mut rng, 12)
        ),
        tg_ids: std::array::from_fn(|_| hex(&mut rng, 16)),
    };
    let nodes = cfg.nodes.max(1);
    let node_ips: Vec<String> = (0..nodes)
        .map(|k| {
            format!(
                "10.{}.{}.{}",
                1 + k / 250,
                k % 250,
                rng.random_range(10..250u32)
            )
        })
        .collect();
    let base = format!(
        "AWSLogs/{}/elasticloadbalancing/{}",
        cfg.account, cfg.region
    );
    let mut g = Gen {
        cfg,
        ident_prefix: format!(
            "{}_elasticloadbalancing_{}_app.{}.{}",
            cfg.account, cfg.region, cfg.lb_name, ident.lb_id
        ),
        lb_id: ident.lb_id.clone(),
        base,
        lines: LineGen::new(ident)
            .long_tail(cfg.long_tail_per_mille, cfg.long_tail_values)
            .fixed_fields(cfg.fields),
        rng,
        truth: Truth::default(),
        object_count: 0,
        pending: Vec::new(),
    };
    let days: Vec<NaiveDate> = cfg.first_day.iter_days().take(cfg.days as usize).collect();
    let per_node = cfg.objects_per_node_per_day.max(2);
    for (d, &day) in days.iter().enumerate() {
        let age = if days.len() > 1 {
            (days.len() - 1 - d) as f64 / (days.len() - 1) as f64
        } else {
            0.0
        };
        for (node, ip) in node_ips.iter().enumerate() {
            // Interval i ends at day + 5i minutes: 1 is 00:00-00:05, 288 is 23:55-24:00.
            let mut middle: Vec<u32> = (2..288).collect();
            let mut intervals = vec![1u32, 288];
            for _ in 2..per_node.min(288) {
                let i = g.rng.random_range(0..middle.len() as u32) as usize;
                intervals.push(middle.swap_remove(i));
            }
            intervals.sort_unstable();
            let mut objects: Vec<(u32, u32)> = intervals.iter().map(|&i| (i, 0)).collect();
            if node == 0 && intervals.len() > 2 {
                objects.insert(2, (intervals[1], 1));
            }
            let garbage_at = if intervals.len() > 2 { intervals[1] } else { 1 };
            for (interval, copy) in objects {
                let garbage = if node == 0 && copy == 0 && interval == garbage_at {
                    cfg.garbage_per_day
                } else {
                    0
                };
                g.access_object(day, interval, ip, age, garbage, copy > 0)?;
            }
        }
        g.skip_objects(day, d == 0, &node_ips[0], &mut sink)?;
        g.flush(&mut sink)?;
    }
    if let Some(next) = days.last().and_then(|d| d.succ_opt()) {
        g.skip_objects(next, false, &node_ips[0], &mut sink)?;
    }
    g.flush(&mut sink)?;
    let mut truth = g.truth;
    truth.finish(days);
    Ok(truth)
}

fn hex(rng: &mut ChaCha8Rng, len: usize) -> String {
    const HEX: &[u8] = b"0123456789abcdef";
    (0..len)
        .map(|_| HEX[rng.random_range(0..16u32) as usize] as char)
        .collect()
}

fn token(rng: &mut ChaCha8Rng, len: usize) -> String {
    const ALNUM: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    (0..len)
        .map(|_| ALNUM[rng.random_range(0..ALNUM.len() as u32) as usize] as char)
        .collect()
}

fn gzip(members: &[&[u8]]) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    for m in members {
        let mut enc = GzEncoder::new(Vec::new(), Compression::new(6));
        enc.write_all(m)?;
        out.extend_from_slice(&enc.finish()?);
    }
    Ok(out)
}

struct Gen<'a> {
    cfg: &'a SynthConfig,
    /// `<acct>_elasticloadbalancing_<region>_app.<lb>.<hexid>`
    ident_prefix: String,
    lb_id: String,
    /// `AWSLogs/<acct>/elasticloadbalancing/<region>`
    base: String,
    lines: LineGen,
    rng: ChaCha8Rng,
    truth: Truth,
    object_count: u64,
    /// Objects waiting for the sink (written once per day, in generation order).
    pending: Vec<(String, Vec<u8>)>,
}

impl Gen<'_> {
    fn key(&self, folder: NaiveDate, name: &str) -> String {
        format!("{}/{}/{name}", self.base, folder.format("%Y/%m/%d"))
    }

    fn access_object(
        &mut self,
        day: NaiveDate,
        interval: u32,
        node_ip: &str,
        age: f64,
        garbage: u32,
        duplicate: bool,
    ) -> io::Result<()> {
        let midnight = day.and_hms_opt(0, 0, 0).expect("valid time");
        let end = midnight + TimeDelta::minutes(5 * i64::from(interval));
        let start = end - TimeDelta::minutes(5);
        let folder = end.date();
        let n = self.cfg.lines_per_object as usize;
        let across = (self.cfg.lines_across_midnight as usize).min(n);
        let mut times: Vec<NaiveDateTime> = (0..n)
            .map(|_| start + TimeDelta::microseconds(self.rng.random_range(0..300_000_000i64)))
            .collect();
        times.sort_unstable();
        if interval == 1 {
            for t in times.iter_mut().take(across) {
                *t = start - TimeDelta::microseconds(self.rng.random_range(1..2_000_000i64));
            }
            times[..across].sort_unstable();
        } else if interval == 288 {
            for t in times.iter_mut().rev().take(across) {
                *t = end + TimeDelta::microseconds(self.rng.random_range(0..2_000_000i64));
            }
            times[n - across..].sort_unstable();
        }
        let mut out = Vec::with_capacity(n * 480);
        let mut garbage_slots: Vec<usize> = (0..garbage)
            .map(|_| self.rng.random_range(0..n.max(1) as u32) as usize)
            .collect();
        garbage_slots.sort_unstable();
        let mut next_garbage = 0usize;
        for (i, &t) in times.iter().enumerate() {
            while next_garbage < garbage_slots.len() && garbage_slots[next_garbage] == i {
                let gl = self.lines.garbage(&mut self.rng, next_garbage, t, node_ip);
                self.emit(folder, None, gl, &mut out);
                next_garbage += 1;
            }
            let l = self.lines.line(&mut self.rng, t, node_ip, age);
            let line_day = t.date();
            if line_day != day {
                self.truth.count_kind("other_day");
            }
            self.emit(folder, Some(line_day), l, &mut out);
        }
        while next_garbage < garbage_slots.len() {
            let t = times.last().copied().unwrap_or(start);
            let gl = self.lines.garbage(&mut self.rng, next_garbage, t, node_ip);
            self.emit(folder, None, gl, &mut out);
            next_garbage += 1;
        }
        let name = format!(
            "{}_{}_{}_{}.log.gz",
            self.ident_prefix,
            end.format("%Y%m%dT%H%MZ"),
            node_ip,
            token(&mut self.rng, 8)
        );
        let multi = self.object_count % 3 == 1 && out.len() > 1;
        let bytes = if multi {
            // Split at a line boundary near the middle.
            let mid = out[..out.len() / 2]
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(out.len() / 2, |p| p + 1);
            gzip(&[&out[..mid], &out[mid..]])?
        } else {
            gzip(&[&out])?
        };
        self.object_count += 1;
        self.truth.record_object(folder);
        if multi {
            self.truth.count_kind("object:multi_member");
        }
        if duplicate {
            self.truth.count_kind("object:second_for_interval");
        }
        if folder != day {
            self.truth.count_kind("object:delivered_next_day");
        }
        let key = self.key(folder, &name);
        self.pending.push((key, bytes));
        Ok(())
    }

    fn emit(
        &mut self,
        folder: NaiveDate,
        day: Option<NaiveDate>,
        l: line::Generated,
        out: &mut Vec<u8>,
    ) {
        out.extend_from_slice(&l.line);
        out.push(b'\n');
        for label in &l.labels {
            self.truth.count_kind(label);
        }
        if let Some(n) = l.fields {
            self.truth.count_kind(&format!("fields:{n}"));
        }
        self.truth.record_line(folder, day, l.fate, l.fields);
    }

    fn flush(&mut self, sink: &mut impl FnMut(&str, &[u8]) -> io::Result<()>) -> io::Result<()> {
        for (key, bytes) in self.pending.drain(..) {
            sink(&key, &bytes)?;
        }
        Ok(())
    }

    /// The objects of `folder` that are not access logs and must be skipped by key.
    fn skip_objects(
        &mut self,
        folder: NaiveDate,
        test_file: bool,
        node_ip: &str,
        sink: &mut impl FnMut(&str, &[u8]) -> io::Result<()>,
    ) -> io::Result<()> {
        let cfg = self.cfg;
        let (acct, region, lb) = (&cfg.account, &cfg.region, &cfg.lb_name);
        let at = |h: u32, m: u32| {
            folder
                .and_hms_opt(h, m, 0)
                .expect("valid time")
                .format("%Y%m%dT%H%MZ")
                .to_string()
        };
        let day = folder.format("%Y-%m-%d").to_string();
        let mut objects: Vec<(SkipReason, String, Vec<u8>)> = Vec::new();
        if test_file {
            let text = format!(
                "Enable AccessLog for ELB: app/{lb}/{} at {day}T00:03:12.345Z\n",
                self.lb_id
            );
            objects.push((
                SkipReason::TestFile,
                "ELBAccessLogTestFile".into(),
                text.into_bytes(),
            ));
        }
        let mut conn = String::new();
        let mut health = String::new();
        let mut nlb = String::new();
        let mut classic = String::new();
        for i in 0..5 {
            let ts = format!(
                "{day}T12:0{i}:1{i}.{:06}Z",
                self.rng.random_range(0..1_000_000u32)
            );
            let client = format!("203.0.113.{}", self.rng.random_range(1..255u32));
            let port = self.rng.random_range(1024..65535u32);
            conn.push_str(&format!(
                "{ts} {client} {port} 443 TLSv1.2 ECDHE-RSA-AES128-GCM-SHA256 {}.{:03} \"-\" - - Success TID_{}\n",
                self.rng.random_range(0..5u32),
                self.rng.random_range(0..1000u32),
                hex(&mut self.rng, 32)
            ));
            health.push_str(&format!(
                "http {ts} 0.0{:08} 10.0.{}.{}:8080 web-tg PASS 200 -\n",
                self.rng.random_range(0..100_000_000u32),
                self.rng.random_range(1..4u32),
                self.rng.random_range(10..250u32)
            ));
            nlb.push_str(&format!(
                "tls 2.0 {day}T12:0{i}:40 net/{lb}-nlb/{} g3d4b5e8bb8464cd {client}:{port} 10.0.1.{}:443 5 2 98 246 - arn:aws:acm:{region}:{acct}:certificate/00000000-1111-2222-3333-444444444444 - ECDHE-RSA-AES128-SHA tlsv12 - {lb}-nlb-{}.elb.{region}.amazonaws.com - - - {day}T12:0{i}:30\n",
                &self.lb_id,
                self.rng.random_range(10..250u32),
                &self.lb_id
            ));
            classic.push_str(&format!(
                "{ts} {lb}-classic {client}:{port} 10.0.2.{}:80 0.000073 0.001048 0.000057 200 200 0 29 \"GET http://www.example.com:80/ HTTP/1.1\" \"curl/8.5.0\" - -\n",
                self.rng.random_range(10..250u32)
            ));
        }
        let tail = format!("{node_ip}_{}", token(&mut self.rng, 8));
        let app = format!(
            "{acct}_elasticloadbalancing_{region}_app.{lb}.{}",
            self.lb_id
        );
        objects.push((
            SkipReason::ConnectionLog,
            format!("conn_log_{app}_{}_{tail}.log.gz", at(12, 5)),
            gzip(&[conn.as_bytes()])?,
        ));
        objects.push((
            SkipReason::HealthCheckLog,
            format!("health_check_log_{app}_{}_{tail}.log.gz", at(12, 5)),
            gzip(&[health.as_bytes()])?,
        ));
        objects.push((
            SkipReason::NlbLog,
            format!(
                "{acct}_elasticloadbalancing_{region}_net.{lb}-nlb.{}_{}_{}.log.gz",
                &self.lb_id,
                at(12, 5),
                token(&mut self.rng, 8)
            ),
            gzip(&[nlb.as_bytes()])?,
        ));
        objects.push((
            SkipReason::ClassicLog,
            format!(
                "{acct}_elasticloadbalancing_{region}_{lb}-classic_{}_{node_ip}_{}.log",
                at(12, 5),
                token(&mut self.rng, 8)
            ),
            classic.into_bytes(),
        ));
        for (reason, name, bytes) in objects {
            self.truth.record_skip(folder, reason);
            let key = self.key(folder, &name);
            sink(&key, &bytes)?;
        }
        Ok(())
    }
}
