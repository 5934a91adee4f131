//! `Scope` (`--account`, `--region`, `--load-balancer`) on the local folder; the same calls
//! narrow the S3 listing (tests/miner_s3.rs).

use std::path::Path;

use chrono::NaiveDate;
use greenlight::source::{LogSource, Scope};

#[test]
fn scope_narrows_the_local_listing() {
    let logs = LogSource::Local(Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/alb"));
    let day = NaiveDate::from_ymd_opt(2026, 3, 2).unwrap();
    let all = logs.list_day(day).unwrap();
    assert!(!all.objects.is_empty());
    let same = Scope {
        accounts: vec!["123456789012".into()],
        regions: vec!["eu-west-1".into()],
        load_balancers: vec!["my-alb".into()],
    };
    assert_eq!(logs.list_day_in(day, &same).unwrap().objects, all.objects);
    let other_lb = Scope {
        load_balancers: vec!["other-alb".into()],
        ..Scope::default()
    };
    let none = logs.list_day_in(day, &other_lb).unwrap();
    assert!(none.objects.is_empty());
    assert_eq!(
        none.skipped, all.skipped,
        "skips by key are counted whatever the scope"
    );
    let other_region = Scope {
        regions: vec!["us-east-1".into()],
        ..Scope::default()
    };
    assert!(
        logs.list_day_in(day, &other_region).is_err(),
        "no tree in scope"
    );
}
