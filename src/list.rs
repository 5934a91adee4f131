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
//!
//! `paths` format: only the path column and no header, exactly what the original release-hook
//! Lambda read (`csv.reader`, first column appended to the endpoint).
//!
//! Writes are atomic: the list goes to a temporary file in the destination folder, is flushed
//! to disk, then renamed over the destination, so a reader (or a failed run) never sees a
//! partial list.

use std::fmt::Write as _;
use std::io::Write;
use std::path::Path;

use crate::mine::select::Selected;

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
pub const HEADER: [&str; 7] = [
    "path",
    "host",
    "expected_status",
    "hits",
    "scheme",
    "statuses",
    "mean_target_ms",
];

/// Writes the list as CSV to `out`.
pub fn write_list<W: Write>(
    out: W,
    entries: &[Selected<'_>],
    format: ListFormat,
) -> csv::Result<()> {
    let mut w = csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(out);
    if format == ListFormat::Full {
        w.write_record(HEADER)?;
    }
    let mut statuses = String::new();
    for e in entries {
        match format {
            ListFormat::Paths => w.write_record([e.target])?,
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
                w.write_record([
                    e.target,
                    e.host,
                    e.stats.expected_status().to_string().as_bytes(),
                    e.stats.hits.to_string().as_bytes(),
                    e.stats.scheme().as_str().as_bytes(),
                    statuses.as_bytes(),
                    mean.as_bytes(),
                ])?;
            }
        }
    }
    w.flush()?;
    Ok(())
}

/// Writes `path` atomically: `fill` writes the content into a temporary file next to it, which
/// replaces `path` only when `fill` succeeded and the data reached the disk.
pub fn write_atomically(
    path: &Path,
    fill: impl FnOnce(&mut std::io::BufWriter<&mut std::fs::File>) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".greenlight-")
        .suffix(".tmp")
        .tempfile_in(dir)?;
    {
        let mut buf = std::io::BufWriter::new(tmp.as_file_mut());
        fill(&mut buf)?;
        buf.flush()?;
    }
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_fill_leaves_the_previous_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("list.csv");
        std::fs::write(&path, "previous\n").unwrap();
        let err = write_atomically(&path, |w| {
            w.write_all(b"partial")?;
            Err(std::io::Error::other("boom"))
        });
        assert!(err.is_err());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "previous\n");
        let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "the temporary file is removed");
        write_atomically(&path, |w| w.write_all(b"new\n")).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new\n");
    }
}
