//! `source::local::list_day` on folder trees built in temporary directories.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use greenlight::source::local::{MAX_PREFIX_DEPTH, list_day};
use greenlight::source::{Listing, ObjectLocation, SkipReason, SourceError};

const ACCT: &str = "123456789012";
const ACCT2: &str = "210987654321";

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("valid test date")
}

/// `<acct>_elasticloadbalancing_<region>_app.<lb>.<id>_<ts>_<ip>_<rand>.log.gz`
fn alb(acct: &str, region: &str, lb: &str, ts: &str) -> String {
    format!(
        "{acct}_elasticloadbalancing_{region}_app.{lb}.50dc6c495c0c9188_{ts}_10.0.0.1_2b2pjb6b.log.gz"
    )
}

/// `[prefix/]AWSLogs/<acct>/elasticloadbalancing/<region>/YYYY/MM/DD/`
fn folder_key(prefix: &str, acct: &str, region: &str, d: NaiveDate) -> String {
    let sep = if prefix.is_empty() { "" } else { "/" };
    format!(
        "{prefix}{sep}AWSLogs/{acct}/elasticloadbalancing/{region}/{}/",
        d.format("%Y/%m/%d")
    )
}

/// Writes `content` at `root/key`, creating folders.
fn put(root: &Path, key: &str, content: &[u8]) -> PathBuf {
    let path = root.join(key);
    fs::create_dir_all(path.parent().expect("key has a folder")).expect("create folders");
    fs::write(&path, content).expect("write object");
    path
}

fn keys(listing: &Listing) -> Vec<&str> {
    listing.objects.iter().map(|o| o.key.as_str()).collect()
}

fn skipped(listing: &Listing, reason: SkipReason) -> u64 {
    listing.skipped.get(&reason).copied().unwrap_or(0)
}

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp dir")
}

#[test]
fn selects_the_day_folder_and_the_next_within_the_margin() {
    let dir = tmp();
    let root = dir.path();
    let day = date(2026, 11, 25);
    let (prev, d, next) = (
        folder_key("", ACCT, "eu-west-1", date(2026, 11, 24)),
        folder_key("", ACCT, "eu-west-1", day),
        folder_key("", ACCT, "eu-west-1", date(2026, 11, 26)),
    );
    let a = "eu-west-1";
    // D-1: never (even an object ending at D 00:00 would have been delivered on D).
    put(
        root,
        &format!("{prev}{}", alb(ACCT, a, "web", "20261124T2355Z")),
        b"",
    );
    // D: every access log.
    put(
        root,
        &format!("{d}{}", alb(ACCT, a, "web", "20261125T0005Z")),
        b"x",
    );
    put(
        root,
        &format!("{d}{}", alb(ACCT, a, "web", "20261125T2355Z")),
        b"xx",
    );
    // D+1: up to 01:00 only.
    put(
        root,
        &format!("{next}{}", alb(ACCT, a, "web", "20261126T0000Z")),
        b"",
    );
    put(
        root,
        &format!("{next}{}", alb(ACCT, a, "web", "20261126T0100Z")),
        b"",
    );
    put(
        root,
        &format!("{next}{}", alb(ACCT, a, "web", "20261126T0105Z")),
        b"",
    );
    put(
        root,
        &format!("{next}{}", alb(ACCT, a, "web", "20261126T1200Z")),
        b"",
    );
    // D+2: never looked at.
    let d2 = folder_key("", ACCT, a, date(2026, 11, 27));
    put(
        root,
        &format!("{d2}{}", alb(ACCT, a, "web", "20261126T2355Z")),
        b"",
    );

    let listing = list_day(root, day).expect("listing");
    assert_eq!(
        keys(&listing),
        [
            format!("{d}{}", alb(ACCT, a, "web", "20261125T0005Z")),
            format!("{d}{}", alb(ACCT, a, "web", "20261125T2355Z")),
            format!("{next}{}", alb(ACCT, a, "web", "20261126T0000Z")),
            format!("{next}{}", alb(ACCT, a, "web", "20261126T0100Z")),
        ]
    );
    assert_eq!(listing.not_in_window, 2);
    assert_eq!(listing.folders, [d, next]);
    assert!(listing.missing_folders.is_empty());
    assert!(listing.skipped.is_empty());
}

#[test]
fn objects_carry_size_and_path_and_open() {
    let dir = tmp();
    let key = format!(
        "{}{}",
        folder_key("", ACCT, "us-east-1", date(2026, 1, 2)),
        alb(ACCT, "us-east-1", "shop", "20260102T1200Z")
    );
    let path = put(dir.path(), &key, b"\x1f\x8b compressed bytes");
    let listing = list_day(dir.path(), date(2026, 1, 2)).expect("listing");
    assert_eq!(listing.objects.len(), 1);
    let object = &listing.objects[0];
    assert_eq!(object.key, key);
    assert_eq!(object.size, 19);
    assert_eq!(object.location, ObjectLocation::Local(path));
    let mut bytes = Vec::new();
    object
        .open()
        .expect("open")
        .read_to_end(&mut bytes)
        .expect("read");
    assert_eq!(bytes, b"\x1f\x8b compressed bytes");
}

#[test]
fn skipped_objects_are_counted_by_reason() {
    let dir = tmp();
    let root = dir.path();
    let r = "eu-central-1";
    let d = folder_key("", ACCT, r, date(2024, 2, 7));
    let names = [
        alb(ACCT, r, "my-alb", "20240207T0955Z"),
        format!("conn_log_{}", alb(ACCT, r, "my-alb", "20240207T0955Z")),
        format!("conn_log_{}", alb(ACCT, r, "my-alb", "20240207T1000Z")),
        format!(
            "health_check_log_{}",
            alb(ACCT, r, "my-alb", "20240207T0955Z")
        ),
        format!(
            "{ACCT}_elasticloadbalancing_{r}_net.my-nlb.1234567890abcdef_20240207T0955Z_3b2e59e8.log.gz"
        ),
        format!("{ACCT}_elasticloadbalancing_{r}_old-elb_20240207T0955Z_10.1.2.3_20sg8hgm.log"),
        ".DS_Store".to_owned(),
        "access.json".to_owned(),
        "ELBAccessLogTestFile".to_owned(),
    ];
    for name in &names {
        put(root, &format!("{d}{name}"), b"");
    }
    // A folder where an object belongs is not an object.
    fs::create_dir_all(root.join(format!("{d}{}", alb(ACCT, r, "dir", "20240207T0955Z"))))
        .expect("mkdir");
    // The test file's real place: next to the service folder, never listed.
    put(root, &format!("AWSLogs/{ACCT}/ELBAccessLogTestFile"), b"");

    let listing = list_day(root, date(2024, 2, 7)).expect("listing");
    assert_eq!(keys(&listing), [format!("{d}{}", names[0])]);
    assert_eq!(skipped(&listing, SkipReason::ConnectionLog), 2);
    assert_eq!(skipped(&listing, SkipReason::HealthCheckLog), 1);
    assert_eq!(skipped(&listing, SkipReason::NlbLog), 1);
    assert_eq!(skipped(&listing, SkipReason::ClassicLog), 1);
    assert_eq!(skipped(&listing, SkipReason::NotAlbLog), 3);
    assert_eq!(skipped(&listing, SkipReason::TestFile), 1);
    assert_eq!(listing.skipped.values().sum::<u64>(), 9);
}

#[test]
fn finds_aws_logs_at_prefix_depths_zero_to_two() {
    let day = date(2026, 11, 25);
    for prefix in ["", "alb", "team/prod"] {
        let dir = tmp();
        let key = format!(
            "{}{}",
            folder_key(prefix, ACCT, "eu-west-1", day),
            alb(ACCT, "eu-west-1", "web", "20261125T1000Z")
        );
        put(dir.path(), &key, b"");
        let listing = list_day(dir.path(), day).expect(prefix);
        assert_eq!(keys(&listing), [key.as_str()], "prefix {prefix:?}");
        assert_eq!(
            listing.folders,
            [folder_key(prefix, ACCT, "eu-west-1", day)],
            "prefix {prefix:?}"
        );
    }
}

#[test]
fn finds_aws_logs_at_the_depth_limit_but_not_below() {
    let day = date(2026, 11, 25);
    let deepest: Vec<String> = (0..MAX_PREFIX_DEPTH).map(|i| format!("p{i}")).collect();
    let deepest = deepest.join("/");
    let ok = format!(
        "{}{}",
        folder_key(&deepest, ACCT, "eu-west-1", day),
        alb(ACCT, "eu-west-1", "web", "20261125T1000Z")
    );
    let dir = tmp();
    put(dir.path(), &ok, b"");
    assert_eq!(
        keys(&list_day(dir.path(), day).expect("listing")),
        [ok.as_str()]
    );

    let too_deep = format!("{deepest}/one-more");
    let dir = tmp();
    put(
        dir.path(),
        &format!(
            "{}{}",
            folder_key(&too_deep, ACCT, "eu-west-1", day),
            alb(ACCT, "eu-west-1", "web", "20261125T1000Z")
        ),
        b"",
    );
    assert!(matches!(
        list_day(dir.path(), day),
        Err(SourceError::NoAwsLogs(p)) if p == dir.path()
    ));
}

#[test]
fn several_prefixes_are_all_listed() {
    let day = date(2026, 11, 25);
    let dir = tmp();
    let a = format!(
        "{}{}",
        folder_key("blue", ACCT, "eu-west-1", day),
        alb(ACCT, "eu-west-1", "blue", "20261125T1000Z")
    );
    let b = format!(
        "{}{}",
        folder_key("green/alb", ACCT, "eu-west-1", day),
        alb(ACCT, "eu-west-1", "green", "20261125T1000Z")
    );
    put(dir.path(), &a, b"");
    put(dir.path(), &b, b"");
    let listing = list_day(dir.path(), day).expect("listing");
    assert_eq!(keys(&listing), [a.as_str(), b.as_str()]);
}

#[test]
fn root_may_be_the_aws_logs_folder() {
    let day = date(2026, 11, 25);
    let dir = tmp();
    let key = format!(
        "{}{}",
        folder_key("", ACCT, "eu-west-1", day),
        alb(ACCT, "eu-west-1", "web", "20261125T1000Z")
    );
    let path = put(dir.path(), &key, b"");
    let listing = list_day(&dir.path().join("AWSLogs"), day).expect("listing");
    // Keys still read like bucket keys.
    assert_eq!(keys(&listing), [key.as_str()]);
    assert_eq!(listing.objects[0].location, ObjectLocation::Local(path));
}

#[test]
fn several_accounts_and_regions() {
    let day = date(2026, 11, 25);
    let dir = tmp();
    let mut expected = Vec::new();
    for acct in [ACCT, ACCT2] {
        for region in ["eu-west-1", "us-east-1", "ap-southeast-2"] {
            for ts in ["20261125T0005Z", "20261126T0030Z"] {
                let folder = if ts.starts_with("20261125") {
                    day
                } else {
                    date(2026, 11, 26)
                };
                let key = format!(
                    "{}{}",
                    folder_key("logs", acct, region, folder),
                    alb(acct, region, "site-a", ts)
                );
                put(dir.path(), &key, b"");
                expected.push(key);
            }
        }
    }
    // Not accounts / not regions: ignored, not listed.
    put(
        dir.path(),
        &format!(
            "logs/AWSLogs/not-an-account/elasticloadbalancing/eu-west-1/2026/11/25/{}",
            alb(ACCT, "eu-west-1", "x", "20261125T0005Z")
        ),
        b"",
    );
    put(
        dir.path(),
        &format!(
            "logs/AWSLogs/{ACCT}/elasticloadbalancing/Global/2026/11/25/{}",
            alb(ACCT, "eu-west-1", "x", "20261125T0005Z")
        ),
        b"",
    );
    expected.sort();
    let listing = list_day(dir.path(), day).expect("listing");
    assert_eq!(keys(&listing), expected);
    assert_eq!(listing.folders.len(), 2 * 3 * 2);
    let mut sorted = listing.folders.clone();
    sorted.sort();
    assert_eq!(listing.folders, sorted);
}

#[test]
fn missing_day_folders_are_not_errors() {
    let day = date(2026, 11, 25);
    let dir = tmp();
    // The region exists, with another day only.
    put(
        dir.path(),
        &format!(
            "{}{}",
            folder_key("", ACCT, "eu-west-1", date(2026, 11, 20)),
            alb(ACCT, "eu-west-1", "web", "20261120T1000Z")
        ),
        b"",
    );
    let listing = list_day(dir.path(), day).expect("listing");
    assert!(listing.objects.is_empty());
    assert!(listing.folders.is_empty());
    assert_eq!(
        listing.missing_folders,
        [
            folder_key("", ACCT, "eu-west-1", day),
            folder_key("", ACCT, "eu-west-1", date(2026, 11, 26)),
        ]
    );

    // Only the next day's folder is missing (the run started before it was written).
    let key = format!(
        "{}{}",
        folder_key("", ACCT, "eu-west-1", day),
        alb(ACCT, "eu-west-1", "web", "20261125T1000Z")
    );
    put(dir.path(), &key, b"");
    let listing = list_day(dir.path(), day).expect("listing");
    assert_eq!(keys(&listing), [key.as_str()]);
    assert_eq!(
        listing.missing_folders,
        [folder_key("", ACCT, "eu-west-1", date(2026, 11, 26))]
    );
}

#[test]
fn window_crosses_month_year_and_leap_day() {
    let r = "eu-west-1";
    let cases = [
        // (day, next folder, in margin, past margin)
        (
            date(2026, 1, 31),
            date(2026, 2, 1),
            "20260201T0030Z",
            "20260201T0130Z",
        ),
        (
            date(2025, 12, 31),
            date(2026, 1, 1),
            "20260101T0100Z",
            "20260101T0105Z",
        ),
        (
            date(2028, 2, 28),
            date(2028, 2, 29),
            "20280229T0005Z",
            "20280229T0200Z",
        ),
        (
            date(2028, 2, 29),
            date(2028, 3, 1),
            "20280301T0005Z",
            "20280301T0200Z",
        ),
        (
            date(2027, 2, 28),
            date(2027, 3, 1),
            "20270301T0005Z",
            "20270301T0200Z",
        ),
    ];
    for (day, next, inside, outside) in cases {
        let dir = tmp();
        let keep = format!(
            "{}{}",
            folder_key("", ACCT, r, next),
            alb(ACCT, r, "w", inside)
        );
        put(dir.path(), &keep, b"");
        put(
            dir.path(),
            &format!(
                "{}{}",
                folder_key("", ACCT, r, next),
                alb(ACCT, r, "w", outside)
            ),
            b"",
        );
        // The previous day's folder holds nothing of `day`.
        let prev = day.pred_opt().expect("previous day");
        put(
            dir.path(),
            &format!(
                "{}{}",
                folder_key("", ACCT, r, prev),
                alb(ACCT, r, "w", &format!("{}T2355Z", prev.format("%Y%m%d")))
            ),
            b"",
        );
        let listing = list_day(dir.path(), day).expect("listing");
        assert_eq!(keys(&listing), [keep.as_str()], "day {day}");
        assert_eq!(listing.not_in_window, 1, "day {day}");
        assert_eq!(
            listing.missing_folders,
            [folder_key("", ACCT, r, day)],
            "day {day}"
        );
    }
}

#[test]
fn missing_root_is_an_io_error_naming_it() {
    let dir = tmp();
    let root = dir.path().join("nope");
    match list_day(&root, date(2026, 11, 25)) {
        Err(SourceError::Io { path, source }) => {
            assert_eq!(path, root);
            assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
        }
        other => panic!("expected Io error, got {other:?}"),
    }
}

#[test]
fn root_that_is_a_file_is_an_io_error() {
    let dir = tmp();
    let file = put(dir.path(), "file.log.gz", b"");
    assert!(matches!(
        list_day(&file, date(2026, 11, 25)),
        Err(SourceError::Io { path, .. }) if path == file
    ));
}

#[test]
fn no_aws_logs_tree_is_reported() {
    let day = date(2026, 11, 25);
    // Nothing at all.
    let dir = tmp();
    assert!(matches!(
        list_day(dir.path(), day),
        Err(SourceError::NoAwsLogs(p)) if p == dir.path()
    ));
    // Logs laid out without AWSLogs.
    let dir = tmp();
    put(
        dir.path(),
        &format!(
            "2026/11/25/{}",
            alb(ACCT, "eu-west-1", "web", "20261125T1000Z")
        ),
        b"",
    );
    assert!(matches!(
        list_day(dir.path(), day),
        Err(SourceError::NoAwsLogs(_))
    ));
    // An AWSLogs folder with only the test file and another service.
    let dir = tmp();
    put(
        dir.path(),
        &format!("AWSLogs/{ACCT}/ELBAccessLogTestFile"),
        b"",
    );
    put(
        dir.path(),
        &format!("AWSLogs/{ACCT}/CloudTrail/eu-west-1/2026/11/25/x.json.gz"),
        b"",
    );
    assert!(matches!(
        list_day(dir.path(), day),
        Err(SourceError::NoAwsLogs(_))
    ));
    // The error says where it looked.
    let message = list_day(dir.path(), day).expect_err("no tree").to_string();
    assert!(
        message.contains(&dir.path().display().to_string()),
        "{message}"
    );
}

#[cfg(unix)]
#[test]
fn unreadable_day_folder_is_an_io_error() {
    use std::os::unix::fs::PermissionsExt;
    let day = date(2026, 11, 25);
    let dir = tmp();
    let folder = folder_key("", ACCT, "eu-west-1", day);
    put(
        dir.path(),
        &format!(
            "{folder}{}",
            alb(ACCT, "eu-west-1", "web", "20261125T1000Z")
        ),
        b"",
    );
    let folder_path = dir.path().join(&folder);
    fs::set_permissions(&folder_path, fs::Permissions::from_mode(0o000)).expect("chmod");
    // Root ignores permissions; only assert when the folder really is unreadable.
    let really_unreadable = fs::read_dir(&folder_path).is_err();
    let result = list_day(dir.path(), day);
    fs::set_permissions(&folder_path, fs::Permissions::from_mode(0o755)).expect("chmod back");
    if really_unreadable {
        assert!(matches!(result, Err(SourceError::Io { .. })), "{result:?}");
    } else {
        assert_eq!(result.expect("readable as root").objects.len(), 1);
    }
}

/// The same error path as root (CI runs as root, which ignores permissions): a day folder that
/// is a symlink to itself cannot be resolved (ELOOP), and the run must say so, naming it.
#[test]
fn a_day_folder_that_cannot_be_resolved_is_an_io_error_naming_it() {
    let day = date(2026, 11, 25);
    let dir = tmp();
    let folder = folder_key("", ACCT, "eu-west-1", day);
    let folder_path = dir.path().join(folder.trim_end_matches('/'));
    fs::create_dir_all(folder_path.parent().expect("parent")).expect("mkdir");
    std::os::unix::fs::symlink(&folder_path, &folder_path).expect("symlink loop");
    match list_day(dir.path(), day) {
        Err(SourceError::Io { path, .. }) => assert_eq!(path, folder_path),
        other => panic!("expected an Io error naming the folder, got {other:?}"),
    }
}
