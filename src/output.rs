//! Where outputs go (the list, the run report): a [`Destination`] takes the finished bytes and
//! replaces what was there atomically, so a reader never sees a partial file and a failed run
//! leaves the previous one. Local files: temporary file in the same folder, fsync, rename.
//! S3 (`s3://bucket/key`): one PUT of the finished bytes, which S3 makes visible only once the
//! upload completed (see [`crate::s3`]).

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

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
}
