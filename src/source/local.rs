//! A local folder laid out like the log bucket (the embedded default): finds the `AWSLogs`
//! trees under a root and lists the day folders [`layout::day_folders`] names, nothing more.
//!
//! Accepted roots:
//! - a folder holding `[prefix/]AWSLogs/<account>/elasticloadbalancing/<region>/YYYY/MM/DD/`,
//!   where the prefix is zero to [`MAX_PREFIX_DEPTH`] folders (every `AWSLogs` folder found
//!   within that depth is used; the search does not go below an `AWSLogs` folder);
//! - an `AWSLogs` folder itself. Keys then still start with `AWSLogs/`, as if the root were
//!   its parent, so they read the same as bucket keys whatever root was given.
//!
//! Only the day folders of the requested day are read; everything else in the tree (other
//! days, the test file, other services) is never listed. Which objects are access logs and
//! which may hold the day is decided by [`layout`], by key.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;

use super::layout::{self, AWS_LOGS_FOLDER, SERVICE_FOLDER, SkipReason};
use super::{Listing, LogObject, ObjectLocation, Scope, SourceError};

/// How many prefix folders may sit between the root and an `AWSLogs` folder
/// (`root/a/b/c/d/AWSLogs` is found, `root/a/b/c/d/e/AWSLogs` is not). Bucket prefixes are
/// rarely deeper; the limit keeps a mistaken root (say `/`) from being walked entirely.
pub const MAX_PREFIX_DEPTH: usize = 4;

/// Lists the ALB access-log objects under `root` that can hold requests of `day` (UTC).
///
/// For every `AWSLogs` tree, account (12-digit folder) and region under `elasticloadbalancing`,
/// reads the folders of [`layout::day_folders`]; a missing day folder is recorded in
/// [`Listing::missing_folders`], not an error. Objects are sorted by key.
///
/// Errors: `root` (or any folder that has to be read) missing or unreadable → [`SourceError::Io`]
/// naming that path; no `AWSLogs/<account>/elasticloadbalancing/<region>/` folder within
/// [`MAX_PREFIX_DEPTH`] → [`SourceError::NoAwsLogs`] (an existing but empty day is not an error).
pub fn list_day(root: &Path, day: NaiveDate) -> Result<Listing, SourceError> {
    list_day_in(root, day, &Scope::default())
}

/// [`list_day`] within `scope` (accounts, regions, load balancers).
pub fn list_day_in(root: &Path, day: NaiveDate, scope: &Scope) -> Result<Listing, SourceError> {
    let meta = fs::metadata(root).map_err(|e| io_error(root, e))?;
    if !meta.is_dir() {
        return Err(io_error(
            root,
            io::Error::new(io::ErrorKind::NotADirectory, "not a folder"),
        ));
    }

    let trees = find_aws_logs(root)?;
    if trees.is_empty() {
        return Err(SourceError::NoAwsLogs(root.to_path_buf()));
    }

    let mut listing = Listing::default();
    let mut regions_seen = 0usize;
    for tree in &trees {
        for (account, account_dir) in subfolders(&tree.path)? {
            if !layout::is_account(&account) || !scope.account_ok(&account) {
                continue;
            }
            let service_dir = account_dir.join(SERVICE_FOLDER);
            if !is_dir(&service_dir)? {
                continue;
            }
            for (region, region_dir) in subfolders(&service_dir)? {
                if !layout::is_region(&region) || !scope.region_ok(&region) {
                    continue;
                }
                regions_seen += 1;
                for folder in layout::day_folders(day) {
                    let folder_key =
                        layout::day_folder_key(&tree.prefix, &account, &region, folder);
                    let dir = region_dir.join(layout::folder_path(folder));
                    if is_dir(&dir)? {
                        list_folder(&dir, &folder_key, folder, day, scope, &mut listing)?;
                        listing.folders.push(folder_key);
                    } else {
                        listing.missing_folders.push(folder_key);
                    }
                }
            }
        }
    }
    if regions_seen == 0 {
        return Err(SourceError::NoAwsLogs(root.to_path_buf()));
    }
    listing.objects.sort_by(|a, b| a.key.cmp(&b.key));
    listing.folders.sort();
    listing.missing_folders.sort();
    Ok(listing)
}

/// An `AWSLogs` folder and the key prefix in front of it (`/`-separated, empty at depth 0).
struct AwsLogsTree {
    path: PathBuf,
    prefix: String,
}

fn find_aws_logs(root: &Path) -> Result<Vec<AwsLogsTree>, SourceError> {
    // `.` or `..` have no name of their own: ask the file system.
    let name = match root.file_name() {
        Some(name) => Some(name.to_owned()),
        None => fs::canonicalize(root)
            .ok()
            .and_then(|p| p.file_name().map(ToOwned::to_owned)),
    };
    if name.is_some_and(|n| n == AWS_LOGS_FOLDER) {
        return Ok(vec![AwsLogsTree {
            path: root.to_path_buf(),
            prefix: String::new(),
        }]);
    }
    let mut found = Vec::new();
    // Breadth-first over at most MAX_PREFIX_DEPTH + 1 levels; the depth bound also ends any
    // symlink loop. An `AWSLogs` folder is not searched further.
    let mut level = vec![(root.to_path_buf(), String::new())];
    for depth in 0..=MAX_PREFIX_DEPTH {
        let mut next = Vec::new();
        for (dir, prefix) in level {
            for (name, path) in subfolders(&dir)? {
                if name == AWS_LOGS_FOLDER {
                    found.push(AwsLogsTree {
                        path,
                        prefix: prefix.clone(),
                    });
                } else if depth < MAX_PREFIX_DEPTH {
                    let child_prefix = if prefix.is_empty() {
                        name
                    } else {
                        format!("{prefix}/{name}")
                    };
                    next.push((path, child_prefix));
                }
            }
        }
        level = next;
    }
    found.sort_by(|a, b| a.prefix.cmp(&b.prefix));
    Ok(found)
}

/// Reads one day folder into `listing`. `folder_key` ends in `/`.
fn list_folder(
    dir: &Path,
    folder_key: &str,
    folder: NaiveDate,
    day: NaiveDate,
    scope: &Scope,
    listing: &mut Listing,
) -> Result<(), SourceError> {
    let entries = fs::read_dir(dir).map_err(|e| io_error(dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| io_error(dir, e))?;
        // A name that is not UTF-8 cannot be an ALB key.
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            listing.count_skip(SkipReason::NotAlbLog);
            continue;
        };
        let key = format!("{folder_key}{name}");
        if listing.select(&key, folder, day, scope).is_none() {
            continue;
        }
        let path = entry.path();
        // Follows symlinks: a linked log file is read like any other.
        let meta = match fs::metadata(&path) {
            Ok(meta) => meta,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                // A dangling link, or a file removed while listing.
                listing.count_skip(SkipReason::NotAlbLog);
                continue;
            }
            Err(e) => return Err(io_error(&path, e)),
        };
        if !meta.is_file() {
            listing.count_skip(SkipReason::NotAlbLog);
            continue;
        }
        listing.objects.push(LogObject {
            key,
            size: meta.len(),
            location: ObjectLocation::Local(path),
        });
    }
    Ok(())
}

/// The sub-folders of `dir` (following symlinks), as (name, path), sorted by name. Names that
/// are not UTF-8 are shown lossily; they can only be prefix folders, never accounts or regions.
fn subfolders(dir: &Path) -> Result<Vec<(String, PathBuf)>, SourceError> {
    let entries = fs::read_dir(dir).map_err(|e| io_error(dir, e))?;
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| io_error(dir, e))?;
        let path = entry.path();
        if is_dir(&path)? {
            out.push((entry.file_name().to_string_lossy().into_owned(), path));
        }
    }
    out.sort();
    Ok(out)
}

/// Whether `path` is a folder (following symlinks); a missing path is simply not one.
fn is_dir(path: &Path) -> Result<bool, SourceError> {
    match fs::metadata(path) {
        Ok(meta) => Ok(meta.is_dir()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(io_error(path, e)),
    }
}

fn io_error(path: &Path, source: io::Error) -> SourceError {
    SourceError::Io {
        path: path.to_path_buf(),
        source,
    }
}
