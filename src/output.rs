//! Where outputs go (the list, the run report): a [`Destination`] takes the finished bytes and
//! replaces what was there atomically, so a reader never sees a partial file and a failed run
//! leaves the previous one. Local files: temporary file in the same folder, fsync, rename.
//! S3 (`s3://bucket/key`): one PUT of the finished bytes, which S3 makes visible only once the
//! upload completed (see [`crate::s3`]).
//!
//! **Temporary files of killed runs.** A run killed between creating its temporary file and
//! renaming it (SIGKILL, OOM, a lost machine) leaves `.greenlight-<pid>-<random>.tmp` next to
//! the output. Nothing reads these names (day files and outputs have fixed names), so they
//! never break a later run, and the next atomic write into the same folder removes the ones
//! that are stale ([`remove_stale_temp_files`]): their process is gone, or they are older than
//! this process (a container restarts with the same pid), or older than [`STALE_TEMP_AGE`].
//! The temporary file of a run still writing in the same folder is left alone.

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use crate::s3::{S3Config, S3Url};

/// A place an output is written to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// A local file.
    File(PathBuf),
    /// An S3 object.
    S3 {
        bucket: String,
        key: String,
        /// How to reach S3 (`--s3-endpoint`); the binary sets it after parsing.
        s3: S3Config,
    },
}

impl Destination {
    /// Parses a destination as given on the command line.
    pub fn parse(s: &str) -> Result<Self, String> {
        if s.is_empty() {
            return Err("an empty path".into());
        }
        if let Some(url) = S3Url::parse(s) {
            let url = url?;
            if url.key.is_empty() || url.key.ends_with('/') {
                return Err(format!(
                    "{s}: an S3 destination needs a key (s3://bucket/key)"
                ));
            }
            return Ok(Destination::S3 {
                bucket: url.bucket,
                key: url.key,
                s3: S3Config::default(),
            });
        }
        Ok(Destination::File(PathBuf::from(s)))
    }

    /// Sets how S3 is reached (no effect on a file).
    pub fn set_s3_config(&mut self, config: &S3Config) {
        if let Destination::S3 { s3, .. } = self {
            *s3 = config.clone();
        }
    }

    /// Replaces the destination with `bytes`, atomically.
    pub fn write(&self, bytes: &[u8]) -> std::io::Result<()> {
        match self {
            Destination::File(path) => write_file_atomically(path, |w| w.write_all(bytes)),
            Destination::S3 { bucket, key, s3 } => s3
                .client()
                .put(bucket, key, bytes)
                .map_err(std::io::Error::other),
        }
    }
}

impl fmt::Display for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Destination::File(p) => write!(f, "{}", p.display()),
            Destination::S3 { bucket, key, .. } => write!(f, "s3://{bucket}/{key}"),
        }
    }
}

impl From<PathBuf> for Destination {
    fn from(p: PathBuf) -> Self {
        Destination::File(p)
    }
}

/// Writes `path` atomically: `fill` writes the content into a temporary file next to it, which
/// replaces `path` only when `fill` succeeded and the data reached the disk.
pub fn write_file_atomically(
    path: &Path,
    fill: impl FnOnce(&mut std::io::BufWriter<&mut std::fs::File>) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    started();
    remove_stale_temp_files(dir);
    let prefix = format!("{TEMP_PREFIX}{}-", std::process::id());
    let mut tmp = tempfile::Builder::new()
        .prefix(&prefix)
        .suffix(TEMP_SUFFIX)
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

/// Temporary files are named `.greenlight-<pid>-<random>.tmp`.
const TEMP_PREFIX: &str = ".greenlight-";
const TEMP_SUFFIX: &str = ".tmp";
/// A temporary file older than this is stale whoever wrote it (no output takes a day).
pub const STALE_TEMP_AGE: Duration = Duration::from_secs(24 * 3600);

/// When this process first wrote an output (before any of its own temporary files existed).
fn started() -> SystemTime {
    static STARTED: OnceLock<SystemTime> = OnceLock::new();
    *STARTED.get_or_init(SystemTime::now)
}

/// Whether process `pid` exists; `None` where that cannot be told (no `/proc`).
fn process_alive(pid: u32) -> Option<bool> {
    let proc = Path::new("/proc");
    if !proc.join("self").exists() {
        return None;
    }
    Some(proc.join(pid.to_string()).exists())
}

/// Removes the temporary files in `dir` that killed runs left behind (see the module doc);
/// returns how many. Best effort: a file that cannot be inspected or removed is left (it is
/// harmless), and a folder that cannot be read is not an error here.
pub fn remove_stale_temp_files(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let (me, now) = (std::process::id(), SystemTime::now());
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(rest) = name
            .to_str()
            .and_then(|n| n.strip_prefix(TEMP_PREFIX))
            .and_then(|n| n.strip_suffix(TEMP_SUFFIX))
        else {
            continue;
        };
        let Ok(meta) = entry.metadata() else { continue };
        if !meta.is_file() {
            continue;
        }
        let modified = meta.modified().unwrap_or(now);
        let old = now
            .duration_since(modified)
            .is_ok_and(|age| age > STALE_TEMP_AGE);
        let pid = rest
            .split_once('-')
            .and_then(|(pid, _)| pid.parse::<u32>().ok());
        let stale = old
            || match pid {
                Some(pid) if pid == me => modified < started(),
                Some(pid) => process_alive(pid) == Some(false),
                None => false,
            };
        if stale && std::fs::remove_file(entry.path()).is_ok() {
            tracing::debug!(file = %entry.path().display(), "removed a killed run's temporary file");
            removed += 1;
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_fill_leaves_the_previous_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("list.csv");
        std::fs::write(&path, "previous\n").unwrap();
        let err = write_file_atomically(&path, |w| {
            w.write_all(b"partial")?;
            Err(std::io::Error::other("boom"))
        });
        assert!(err.is_err());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "previous\n");
        let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "the temporary file is removed");
        Destination::File(path.clone()).write(b"new\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new\n");
    }

    #[test]
    fn stale_temporary_files_are_removed_and_live_ones_kept() {
        let dir = tempfile::tempdir().unwrap();
        let file = |name: &str| {
            let p = dir.path().join(name);
            std::fs::write(&p, b"partial").unwrap();
            p
        };
        // A pid that cannot be running (above the kernel's pid_max).
        let dead = file(".greenlight-4294967294-abc.tmp");
        // This process's parent is alive: a run still writing.
        let live = file(&format!(
            ".greenlight-{}-abc.tmp",
            std::os::unix::process::parent_id()
        ));
        // Our own pid, from before this process started writing (a restarted container).
        let mine_before = file(&format!(".greenlight-{}-old.tmp", std::process::id()));
        let long_ago = SystemTime::now() - Duration::from_secs(3600);
        std::fs::File::options()
            .write(true)
            .open(&mine_before)
            .unwrap()
            .set_modified(long_ago)
            .unwrap();
        // An older version's name, a day old; and one just written.
        let legacy_old = file(".greenlight-x7Yq.tmp");
        std::fs::File::options()
            .write(true)
            .open(&legacy_old)
            .unwrap()
            .set_modified(SystemTime::now() - STALE_TEMP_AGE - Duration::from_secs(60))
            .unwrap();
        let legacy_new = file(".greenlight-Zz9q.tmp");
        let other = file("notes.tmp");
        started();
        std::thread::sleep(Duration::from_millis(20));
        write_file_atomically(&dir.path().join("list.csv"), |w| w.write_all(b"x\n")).unwrap();
        for (p, kept) in [
            (&dead, false),
            (&live, true),
            (&mine_before, false),
            (&legacy_old, false),
            (&legacy_new, true),
            (&other, true),
        ] {
            assert_eq!(p.exists(), kept, "{}", p.display());
        }
    }
}
