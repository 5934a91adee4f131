//! `acceptance_url_list.csv`: the list the miner writes and the tester reads.
//!
//! Full format (the default), with a header row; the first four columns are fixed, later ones
//! may be added over time (readers must look columns up by name):
//!
//! | column | meaning |
//! |---|---|
//! | `path` | request-target to replay: path and query, as the client sent them |
//! | `host` | `Host` to send: lower-case, with `:port` unless it is the scheme's default |
//! | `expected_status` | the status the live site answered most often |
//! | `hits` | requests seen |
//! | `scheme` | `http` or `https`, what most clients used (for `X-Forwarded-Proto`) |
//! | `statuses` | every status seen with its count, `200:95 304:5` |
//! | `mean_target_ms` | mean target processing time, empty when none was logged |
//! | `stratum` | the route template the URL stands for (`/news/{year}/{slug}`) |
//! | `class` | why it is listed: `head`, `cover`, `rare`, `variant` or `fill` |
//! | `days_seen` | days of the retention window it was requested on |
//! | `last_seen` | when it was last requested, `YYYY-MM-DDTHH:MM:SSZ` |
//! | `p50_ms` | median target processing time (histogram estimate), empty when none |
//!
//! `hits`, `statuses` and the latencies are summed over the retention window.
//!
//! `paths` format: only the path column and no header, exactly what the original release-hook
//! Lambda read (`csv.reader`, first column appended to the endpoint).
//!
//! The list is built in memory (it is small) and handed whole to an
//! [`crate::output::Destination`], which replaces the previous one atomically.

use std::fmt::Write as _;
use std::io::Write;

use crate::sample::Pick;

/// Which columns to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ListFormat {
    /// Header row and every column.
    #[default]
    Full,
    /// Only the path column, no header (the original Lambda's format).
    Paths,
}

/// The header of the full format.
pub const HEADER: [&str; 12] = [
    "path",
    "host",
    "expected_status",
    "hits",
    "scheme",
    "statuses",
    "mean_target_ms",
    "stratum",
    "class",
    "days_seen",
    "last_seen",
    "p50_ms",
];

/// Writes the list as CSV to `out`.
pub fn write_list<W: Write>(out: W, entries: &[Pick], format: ListFormat) -> csv::Result<()> {
    let mut w = csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(out);
    if format == ListFormat::Full {
        w.write_record(HEADER)?;
    }
    let mut statuses = String::new();
    for p in entries {
        let e = &p.url;
        match format {
            ListFormat::Paths => w.write_record([e.target()])?,
            ListFormat::Full => {
                statuses.clear();
                for (i, (code, n)) in e.stats.statuses.iter().enumerate() {
                    let sep = if i == 0 { "" } else { " " };
                    let _ = write!(statuses, "{sep}{code}:{n}");
                }
                let mean = e
                    .stats
                    .mean_target_ms()
                    .map(|ms| format!("{ms:.1}"))
                    .unwrap_or_default();
                let p50 = e
                    .stats
                    .p50_ms()
                    .map(|ms| format!("{ms:.1}"))
                    .unwrap_or_default();
                w.write_record([
                    e.target(),
                    e.host(),
                    e.stats.expected_status().to_string().as_bytes(),
                    e.stats.hits.to_string().as_bytes(),
                    e.stats.scheme().as_str().as_bytes(),
                    statuses.as_bytes(),
                    mean.as_bytes(),
                    p.stratum.as_bytes(),
                    p.class.as_str().as_bytes(),
                    e.days_seen.to_string().as_bytes(),
                    e.last_seen().as_bytes(),
                    p50.as_bytes(),
                ])?;
            }
        }
    }
    w.flush()?;
    Ok(())
}
