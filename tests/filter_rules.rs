//! Every replayability rule of the format notes, on real lines: the base line is admitted, and
//! a line that breaks exactly one rule is left out for that rule's reason.

mod common;

use chrono::NaiveDate;
use common::Line;
use greenlight::alb::parse_line;
use greenlight::mine::filter::{HostPattern, Policy, Reject, Scratch, StatusSet};

fn policy() -> Policy {
    Policy::for_day(NaiveDate::from_ymd_opt(2026, 3, 2).unwrap())
}

/// The admitted URL as `host target`, or the reason.
fn judge_with(p: &Policy, line: &Line) -> Result<String, Reject> {
    let text = line.text();
    let rec = parse_line(text.as_bytes()).unwrap_or_else(|e| panic!("{e}: {text}"));
    let mut scratch = Scratch::default();
    p.admit(&rec, &mut scratch)?;
    Ok(String::from_utf8(scratch.url).unwrap())
}

fn judge(line: &Line) -> Result<String, Reject> {
    judge_with(&policy(), line)
}

#[test]
fn the_base_line_is_admitted_with_its_normalised_url() {
    assert_eq!(
        judge(&Line::base()).unwrap(),
        "www.example.com /index.html?a=1"
    );
}

#[test]
fn only_lines_of_the_mined_day() {
    let l = Line::base().time("2026-03-01T23:59:59.999999Z");
    assert_eq!(judge(&l), Err(Reject::OtherDay));
    let l = Line::base().time("2026-03-03T00:00:00.000001Z");
    assert_eq!(judge(&l), Err(Reject::OtherDay));
    assert!(judge(&Line::base().time("2026-03-02T00:00:00.000000Z")).is_ok());
    assert!(judge(&Line::base().time("2026-03-02T23:59:59.999999Z")).is_ok());
}

#[test]
fn websocket_and_grpc_are_not_replayed_and_unknown_types_are_counted() {
    for t in ["ws", "wss", "grpcs"] {
        assert_eq!(judge(&Line::base().set(1, t)), Err(Reject::ConnType), "{t}");
    }
    for t in ["http", "https", "h2"] {
        assert!(judge(&Line::base().set(1, t)).is_ok(), "{t}");
    }
    assert_eq!(judge(&Line::base().set(1, "h3")), Err(Reject::UnknownType));
}

#[test]
fn malformed_requests_are_never_replayed() {
    for r in ["- http://www.example.com:80- -", "- - -"] {
        assert_eq!(
            judge(&Line::base().request(r)),
            Err(Reject::MalformedRequest),
            "{r}"
        );
    }
}

#[test]
fn get_only_by_default_head_when_asked() {
    for m in [
        "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "get", "PROPFIND",
    ] {
        let l = Line::base().request(&format!("{m} https://www.example.com:443/ HTTP/1.1"));
        assert_eq!(judge(&l), Err(Reject::Method), "{m}");
    }
    let mut p = policy();
    p.methods.push(b"HEAD".to_vec());
    let l = Line::base().request("HEAD https://www.example.com:443/ HTTP/1.1");
    assert!(judge_with(&p, &l).is_ok());
}

#[test]
fn only_requests_forwarded_to_a_target() {
    for a in [
        "waf",
        "waf,fixed-response",
        "redirect",
        "fixed-response",
        "authenticate",
        "forward,redirect",
        "redirect,forward",
        "forward,fixed-response",
        "forwarded",
        "waf-failed,fixed-response",
    ] {
        assert_eq!(
            judge(&Line::base().actions(a)),
            Err(Reject::NotForwarded),
            "{a}"
        );
    }
    for a in [
        "forward",
        "waf,forward",
        "authenticate,forward",
        "waf-failed,forward",
    ] {
        assert!(judge(&Line::base().actions(a)).is_ok(), "{a}");
    }
    // Layouts older than actions_executed (fewer than 23 fields) only forwarded.
    assert!(judge(&Line::base().layout(20)).is_ok());
}

#[test]
fn the_target_must_have_answered() {
    let l = Line::base().status("502", "-").set(5, "-");
    assert_eq!(judge(&l), Err(Reject::NoTargetResponse));
}

#[test]
fn elb_status_2xx_and_3xx_by_default() {
    for (code, ok) in [
        ("200", true),
        ("204", true),
        ("301", true),
        ("304", true),
        ("404", false),
        ("410", false),
        ("500", false),
        ("503", false),
        ("101", false),
    ] {
        let r = judge(&Line::base().status(code, code));
        assert_eq!(r.is_ok(), ok, "{code}");
        if !ok {
            assert_eq!(r, Err(Reject::Status));
        }
    }
    let mut p = policy();
    p.statuses = StatusSet::empty();
    p.statuses.add_spec("2xx,410").unwrap();
    assert!(judge_with(&p, &Line::base().status("410", "410")).is_ok());
    assert_eq!(
        judge_with(&p, &Line::base().status("301", "301")),
        Err(Reject::Status)
    );
}

#[test]
fn severe_classification_is_not_replayed() {
    let l = Line::base()
        .set(28, "\"Severe\"")
        .set(29, "\"AmbiguousUri\"");
    assert_eq!(judge(&l), Err(Reject::Severe));
    let l = Line::base()
        .set(28, "\"Ambiguous\"")
        .set(29, "\"SpaceInUri\"");
    assert!(judge(&l).is_ok());
}

#[test]
fn urls_must_be_well_formed() {
    for url in [
        "/relative",
        "ftp://www.example.com:21/",
        "http://user:pw@www.example.com:80/",
        "http://www.example.com:80-",
        "*",
    ] {
        assert_eq!(judge(&Line::base().get(url)), Err(Reject::BadUrl), "{url}");
    }
}

#[test]
fn hosts_are_dns_names_never_ip_literals_or_the_alb_name() {
    for url in [
        "http://10.0.2.105:80/",
        "http://[::ffff:a9fe:a9fe]:443/",
        "http://169.254.169.254:80/latest/meta-data/",
    ] {
        assert_eq!(
            judge(&Line::base().get(url)),
            Err(Reject::HostIpLiteral),
            "{url}"
        );
    }
    let l = Line::base().get("http://my-alb-1234567890.eu-west-1.elb.amazonaws.com:80/");
    assert_eq!(judge(&l), Err(Reject::HostAlbName));
}

#[test]
fn the_host_allow_list_with_wildcards() {
    let mut p = policy();
    p.hosts.push(HostPattern::parse("*.example.com").unwrap());
    assert!(judge_with(&p, &Line::base()).is_ok());
    let l = Line::base().get("https://shop.example.org:443/");
    assert_eq!(judge_with(&p, &l), Err(Reject::HostNotAllowed));
    let l = Line::base().get("https://example.com:443/");
    assert_eq!(judge_with(&p, &l), Err(Reject::HostNotAllowed));
}

#[test]
fn health_checkers_and_monitors_are_left_out() {
    for ua in [
        "ELB-HealthChecker/2.0",
        "kube-probe/1.29",
        "Pingdom.com_bot_version_1.4_(http://www.pingdom.com/)",
        "Mozilla/5.0+(compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)",
        "Amazon-Route53-Health-Check-Service (ref 1)",
    ] {
        assert_eq!(judge(&Line::base().agent(ua)), Err(Reject::Agent), "{ua}");
    }
    // Search engine bots are real traffic: kept.
    let bot = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)";
    assert!(judge(&Line::base().agent(bot)).is_ok());
    let mut p = policy();
    p.exclude_agents(["GoogleBot"]);
    assert_eq!(judge_with(&p, &Line::base().agent(bot)), Err(Reject::Agent));
    p.clear_excluded_agents();
    assert!(judge_with(&p, &Line::base().agent("ELB-HealthChecker/2.0")).is_ok());
}

#[test]
fn agent_verdicts_are_remembered_per_agent_not_per_line() {
    // One scratch across lines, as a scan thread uses it: each agent keeps its own verdict.
    let p = policy();
    let mut scratch = Scratch::default();
    let lines = [
        ("ELB-HealthChecker/2.0", false),
        ("Mozilla/5.0", true),
        ("ELB-HealthChecker/2.0", false),
        ("Mozilla/5.0", true),
        ("kube-probe/1.30", false),
    ];
    for (ua, admitted) in lines {
        let text = Line::base().agent(ua).text();
        let rec = parse_line(text.as_bytes()).unwrap();
        assert_eq!(p.admit(&rec, &mut scratch).is_ok(), admitted, "{ua}");
    }
}

#[test]
fn credentials_never_reach_the_list() {
    for url in [
        "https://www.example.com:443/login?token=abc",
        "https://www.example.com:443/a?X-Amz-Signature=1&X-Amz-Credential=2",
        "https://www.example.com:443/a;jsessionid=0123456789ABCDEF",
        "https://www.example.com:443/reset?password=hunter2",
    ] {
        assert_eq!(
            judge(&Line::base().get(url)),
            Err(Reject::Credential),
            "{url}"
        );
    }
}

#[test]
fn escapes_are_decoded_then_unsafe_bytes_percent_encoded() {
    // A raw UTF-8 path is logged as \xHH escapes; the list gets percent-encoding.
    let l = Line::base().get(r"https://www.example.com:443/caf\xc3\xa9?q=\x22x\x22");
    assert_eq!(judge(&l).unwrap(), "www.example.com /caf%C3%A9?q=%22x%22");
    // A raw space inside the URL (classified SpaceInUri) is kept, encoded.
    let l = Line::base()
        .request("GET https://www.example.com:443/a b.html HTTP/1.1")
        .set(28, "\"Ambiguous\"")
        .set(29, "\"SpaceInUri\"");
    assert_eq!(judge(&l).unwrap(), "www.example.com /a%20b.html");
    // Trailing space after the protocol.
    let l = Line::base().request("GET http://www.example.com:80/old HTTP/1.0 ");
    assert_eq!(judge(&l).unwrap(), "www.example.com /old");
}

#[test]
fn every_layout_from_20_fields_on_is_admitted() {
    for n in 20..=34 {
        assert!(judge(&Line::base().layout(n)).is_ok(), "{n} fields");
    }
    let l = Line::base().extra(&["\"future field\"", "x", "-"]);
    assert!(judge(&l).is_ok());
}
