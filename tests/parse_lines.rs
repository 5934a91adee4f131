//! One test per rule of `alb-log-format.md` for `alb::parse_line`.

use greenlight::alb::record::{KNOWN_FIELDS, MIN_FIELDS};
use greenlight::alb::{AlbRecord, ConnType, Escaped, HostPort, ParseError, parse_into, parse_line};

const AWS_EXAMPLES: [&str; 5] = [
    r#"http 2018-07-02T22:23:00.186641Z app/my-loadbalancer/50dc6c495c0c9188 192.168.131.39:2817 10.0.0.1:80 0.000 0.001 0.000 200 200 34 366 "GET http://www.example.com:80/ HTTP/1.1" "curl/7.46.0" - - arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/my-targets/73e2d6bc24d8a067 "Root=1-58337262-36d228ad5d99923122bbe354" "-" "-" 0 2018-07-02T22:22:48.364000Z "forward" "-" "-" "10.0.0.1:80" "200" "-" "-""#,
    r#"https 2018-07-02T22:23:00.186641Z app/my-loadbalancer/50dc6c495c0c9188 192.168.131.39:2817 10.0.0.1:80 0.086 0.048 0.037 200 200 0 57 "GET https://www.example.com:443/ HTTP/1.1" "curl/7.46.0" ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/my-targets/73e2d6bc24d8a067 "Root=1-58337281-1d84f3d73c47ec4e58577259" "www.example.com" "arn:aws:acm:us-east-2:123456789012:certificate/12345678-1234-1234-1234-123456789012" 1 2018-07-02T22:22:48.364000Z "authenticate,forward" "-" "-" "10.0.0.1:80" "200" "-" "-""#,
    r#"h2 2018-07-02T22:23:00.186641Z app/my-loadbalancer/50dc6c495c0c9188 10.0.1.252:48160 10.0.0.66:9000 0.000 0.002 0.000 200 200 5 257 "GET https://10.0.2.105:773/ HTTP/2.0" "curl/7.46.0" ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/my-targets/73e2d6bc24d8a067 "Root=1-58337327-72bd00b0343d75b906739c42" "-" "-" 1 2018-07-02T22:22:48.364000Z "redirect" "https://example.com:80/" "-" "10.0.0.66:9000" "200" "-" "-""#,
    r#"ws 2018-07-02T22:23:00.186641Z app/my-loadbalancer/50dc6c495c0c9188 10.0.0.140:40914 10.0.1.192:8010 0.001 0.003 0.000 101 101 218 587 "GET http://10.0.0.30:80/ HTTP/1.1" "-" - - arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/my-targets/73e2d6bc24d8a067 "Root=1-58337364-23a8c76965a2ef7629b185e3" "-" "-" 1 2018-07-02T22:22:48.364000Z "forward" "-" "-" "10.0.1.192:8010" "101" "-" "-""#,
    r#"http 2018-11-30T22:23:00.186641Z app/my-loadbalancer/50dc6c495c0c9188 192.168.131.39:2817 - 0.000 0.001 0.000 502 - 34 366 "GET http://www.example.com:80/ HTTP/1.1" "curl/7.46.0" - - arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/my-targets/73e2d6bc24d8a067 "Root=1-58337364-23a8c76965a2ef7629b185e3" "-" "-" 0 2018-11-30T22:22:48.364000Z "forward" "-" "LambdaInvalidResponse" "-" "-" "-" "-""#,
];

const TG: &[u8] =
    b"arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/my-targets/73e2d6bc24d8a067";

fn parse(line: &str) -> AlbRecord<'_> {
    match parse_line(line.as_bytes()) {
        Ok(r) => r,
        Err(e) => panic!("{e} ({}) for {line}", e.reason()),
    }
}

fn err(line: &str) -> ParseError {
    match parse_line(line.as_bytes()) {
        Ok(r) => panic!("expected an error, parsed {r:?} from {line}"),
        Err(e) => e,
    }
}

fn hp<'a>(ip: &'a str, port: u16) -> HostPort<'a> {
    HostPort {
        ip: ip.as_bytes(),
        port,
    }
}

fn esc(s: &str) -> Option<Escaped<'_>> {
    Some(Escaped(s.as_bytes()))
}

// ---------------------------------------------------------------------------------------------
// AWS documentation examples

#[test]
fn aws_example_1_http() {
    let r = parse(AWS_EXAMPLES[0]);
    assert_eq!(r.conn_type, ConnType::Http);
    assert_eq!(r.time, b"2018-07-02T22:23:00.186641Z");
    assert_eq!(r.date_bytes(), b"2018-07-02");
    assert_eq!(r.elb(), b"app/my-loadbalancer/50dc6c495c0c9188");
    assert_eq!(r.client, hp("192.168.131.39", 2817));
    assert_eq!(r.target, Some(hp("10.0.0.1", 80)));
    assert_eq!(r.request_processing_time(), b"0.000");
    assert_eq!(r.target_processing_time, b"0.001");
    assert_eq!(r.response_processing_time(), b"0.000");
    assert_eq!(r.target_us(), Some(1_000));
    assert_eq!(r.elb_status_code, Some(200));
    assert_eq!(r.target_status_code, Some(200));
    assert_eq!(r.received_bytes(), b"34");
    assert_eq!(r.sent_bytes(), b"366");
    assert_eq!(r.request.raw, b"GET http://www.example.com:80/ HTTP/1.1");
    assert_eq!(r.request.method, b"GET");
    assert_eq!(r.request.url.raw(), b"http://www.example.com:80/");
    assert_eq!(r.request.protocol, b"HTTP/1.1");
    assert!(!r.request.malformed);
    assert_eq!(r.user_agent.raw(), b"curl/7.46.0");
    assert_eq!(r.ssl_cipher(), b"-");
    assert_eq!(r.ssl_protocol(), b"-");
    assert_eq!(r.target_group_arn(), TG);
    assert_eq!(
        r.trace_id.raw(),
        b"Root=1-58337262-36d228ad5d99923122bbe354"
    );
    assert!(r.domain_name().is_dash());
    assert!(r.chosen_cert_arn().is_dash());
    assert_eq!(r.matched_rule_priority(), Some(&b"0"[..]));
    assert_eq!(
        r.request_creation_time(),
        Some(&b"2018-07-02T22:22:48.364000Z"[..])
    );
    assert_eq!(r.actions_executed, esc("forward"));
    assert_eq!(r.redirect_url(), esc("-"));
    assert_eq!(r.error_reason(), esc("-"));
    assert_eq!(r.target_port_list(), esc("10.0.0.1:80"));
    assert_eq!(r.target_status_code_list(), esc("200"));
    assert_eq!(r.classification, esc("-"));
    assert_eq!(r.classification_reason(), esc("-"));
    assert_eq!(r.conn_trace_id(), None);
    assert_eq!(r.transformed_host(), None);
    assert_eq!(r.transformed_uri(), None);
    assert_eq!(r.request_transform_status(), None);
    assert_eq!(r.ip_address(), None);
    assert_eq!(r.field_count, 29);
    assert!(r.has_action(b"forward"));
    assert!(!r.is_severe());
}

#[test]
fn aws_example_2_https() {
    let r = parse(AWS_EXAMPLES[1]);
    assert_eq!(r.conn_type, ConnType::Https);
    assert_eq!(r.request_processing_time(), b"0.086");
    assert_eq!(r.target_processing_time, b"0.048");
    assert_eq!(r.response_processing_time(), b"0.037");
    assert_eq!(r.received_bytes(), b"0");
    assert_eq!(r.sent_bytes(), b"57");
    assert_eq!(r.request.url.raw(), b"https://www.example.com:443/");
    assert_eq!(r.ssl_cipher(), b"ECDHE-RSA-AES128-GCM-SHA256");
    assert_eq!(r.ssl_protocol(), b"TLSv1.2");
    assert_eq!(r.domain_name().raw(), b"www.example.com");
    assert_eq!(
        r.chosen_cert_arn().raw(),
        b"arn:aws:acm:us-east-2:123456789012:certificate/12345678-1234-1234-1234-123456789012"
    );
    assert_eq!(r.matched_rule_priority(), Some(&b"1"[..]));
    assert_eq!(r.actions_executed, esc("authenticate,forward"));
    assert!(r.has_action(b"authenticate"));
    assert!(r.has_action(b"forward"));
    assert!(!r.has_action(b"redirect"));
    assert!(!r.has_action(b"authenticate,forward"));
    assert_eq!(r.field_count, 29);
}

#[test]
fn aws_example_3_h2_redirect() {
    let r = parse(AWS_EXAMPLES[2]);
    assert_eq!(r.conn_type, ConnType::H2);
    assert_eq!(r.client, hp("10.0.1.252", 48160));
    assert_eq!(r.target, Some(hp("10.0.0.66", 9000)));
    assert_eq!(r.request.url.raw(), b"https://10.0.2.105:773/");
    assert_eq!(r.request.protocol, b"HTTP/2.0");
    assert_eq!(r.actions_executed, esc("redirect"));
    assert!(r.has_action(b"redirect"));
    assert!(!r.has_action(b"forward"));
    assert_eq!(r.redirect_url(), esc("https://example.com:80/"));
    assert_eq!(r.target_port_list(), esc("10.0.0.66:9000"));
}

#[test]
fn aws_example_4_websocket() {
    let r = parse(AWS_EXAMPLES[3]);
    assert_eq!(r.conn_type, ConnType::Ws);
    assert_eq!(r.client, hp("10.0.0.140", 40914));
    assert_eq!(r.target, Some(hp("10.0.1.192", 8010)));
    assert_eq!(r.elb_status_code, Some(101));
    assert_eq!(r.target_status_code, Some(101));
    assert_eq!(r.received_bytes(), b"218");
    assert_eq!(r.sent_bytes(), b"587");
    assert!(r.user_agent.is_dash());
    assert_eq!(r.target_status_code_list(), esc("101"));
}

#[test]
fn aws_example_5_lambda_error_no_target() {
    let r = parse(AWS_EXAMPLES[4]);
    assert_eq!(r.time, b"2018-11-30T22:23:00.186641Z");
    assert_eq!(r.target, None);
    assert_eq!(r.elb_status_code, Some(502));
    assert_eq!(r.target_status_code, None);
    assert_eq!(r.error_reason(), esc("LambdaInvalidResponse"));
    assert_eq!(r.target_port_list(), esc("-"));
    assert_eq!(r.target_status_code_list(), esc("-"));
    assert_eq!(r.field_count, 29);
}

// ---------------------------------------------------------------------------------------------
// Layouts

/// The 34 known fields of a 2026 line, as written in the log (quoted ones with their quotes).
fn full_fields() -> Vec<String> {
    [
        "https",
        "2026-03-14T09:26:53.589793Z",
        "app/shop-prod/0123456789abcdef",
        "203.0.113.7:51234",
        "10.1.2.3:8080",
        "0.001",
        "0.123",
        "0.000",
        "200",
        "304",
        "512",
        "1024",
        r#""GET https://shop.example.com:443/cart?id=7 HTTP/2.0""#,
        r#""Mozilla/5.0 (X11; Linux x86_64)""#,
        "TLS_AES_128_GCM_SHA256",
        "TLSv1.3",
        "arn:aws:elasticloadbalancing:eu-west-1:111122223333:targetgroup/shop/0123456789abcdef",
        r#""Root=1-65f2c0d5-0123456789abcdef01234567""#,
        r#""shop.example.com""#,
        r#""arn:aws:acm:eu-west-1:111122223333:certificate/abcd""#,
        "10",
        "2026-03-14T09:26:53.465000Z",
        r#""waf,forward""#,
        r#""-""#,
        r#""-""#,
        r#""10.1.2.3:8080""#,
        r#""304""#,
        r#""Acceptable""#,
        r#""-""#,
        "TID_0123456789abcdef0123456789abcdef",
        r#""shop.internal""#,
        r#""/cart?id=7""#,
        r#""TransformSuccess""#,
        "10.1.0.9",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

fn line_of(fields: &[String]) -> String {
    fields.join(" ")
}

#[test]
fn every_layout_from_20_to_34_fields() {
    let all = full_fields();
    assert_eq!(all.len(), KNOWN_FIELDS);
    for n in MIN_FIELDS..=KNOWN_FIELDS {
        let line = line_of(&all[..n]);
        let r = parse(&line);
        assert_eq!(r.field_count, n);
        assert_eq!(r.unknown_trailing_fields(), 0);
        // Required fields are there whatever the layout.
        assert_eq!(r.conn_type, ConnType::Https);
        assert_eq!(
            r.request.url.raw(),
            b"https://shop.example.com:443/cart?id=7"
        );
        assert_eq!(
            r.chosen_cert_arn().raw(),
            b"arn:aws:acm:eu-west-1:111122223333:certificate/abcd"
        );
        // Optional field k is Some exactly when the line has k fields or more.
        let has = |k: usize| n >= k;
        assert_eq!(r.matched_rule_priority(), has(21).then_some(&b"10"[..]));
        assert_eq!(
            r.request_creation_time(),
            has(22).then_some(&b"2026-03-14T09:26:53.465000Z"[..])
        );
        assert_eq!(
            r.actions_executed,
            has(23).then_some(Escaped(b"waf,forward"))
        );
        assert_eq!(r.redirect_url(), has(24).then_some(Escaped(b"-")));
        assert_eq!(r.error_reason(), has(25).then_some(Escaped(b"-")));
        assert_eq!(
            r.target_port_list(),
            has(26).then_some(Escaped(b"10.1.2.3:8080"))
        );
        assert_eq!(
            r.target_status_code_list(),
            has(27).then_some(Escaped(b"304"))
        );
        assert_eq!(r.classification, has(28).then_some(Escaped(b"Acceptable")));
        assert_eq!(r.classification_reason(), has(29).then_some(Escaped(b"-")));
        assert_eq!(
            r.conn_trace_id(),
            has(30).then_some(&b"TID_0123456789abcdef0123456789abcdef"[..])
        );
        assert_eq!(
            r.transformed_host(),
            has(31).then_some(Escaped(b"shop.internal"))
        );
        assert_eq!(
            r.transformed_uri(),
            has(32).then_some(Escaped(b"/cart?id=7"))
        );
        assert_eq!(
            r.request_transform_status(),
            has(33).then_some(Escaped(b"TransformSuccess"))
        );
        assert_eq!(r.ip_address(), has(34).then_some(&b"10.1.0.9"[..]));
        // Before `actions_executed` existed, the only action was `forward`.
        assert!(r.has_action(b"forward"), "{n} fields");
        assert_eq!(r.has_action(b"waf"), has(23), "{n} fields");
    }
}

/// The scan parses into one record a line (`parse_into`); a record that held another line,
/// longer or shorter, must come out as a fresh parse, every field overwritten.
#[test]
fn parse_into_a_used_record_is_a_fresh_parse() {
    let all = full_fields();
    let mut lines: Vec<String> = (MIN_FIELDS..=KNOWN_FIELDS)
        .rev()
        .map(|n| line_of(&all[..n]))
        .collect();
    lines.extend(AWS_EXAMPLES.iter().map(|l| l.to_string()));
    lines.extend((MIN_FIELDS..=KNOWN_FIELDS).map(|n| line_of(&all[..n])));
    for pair in lines.windows(2) {
        let (before, line) = (&pair[0], &pair[1]);
        let mut rec = parse(before);
        parse_into(line.as_bytes(), &mut rec).expect("parses");
        let fresh = parse(line);
        assert_eq!(rec, fresh, "{line} after {before}");
        assert_eq!(rec.field_count, fresh.field_count);
        assert_eq!(rec.classification_reason(), fresh.classification_reason());
    }
}

#[test]
fn the_34_field_layout_has_every_value() {
    let line = line_of(&full_fields());
    let r = parse(&line);
    assert_eq!(r.client, hp("203.0.113.7", 51234));
    assert_eq!(r.target, Some(hp("10.1.2.3", 8080)));
    assert_eq!(r.elb_status_code, Some(200));
    assert_eq!(r.target_status_code, Some(304));
    assert_eq!(r.user_agent.raw(), b"Mozilla/5.0 (X11; Linux x86_64)");
    assert_eq!(r.ssl_protocol(), b"TLSv1.3");
    assert_eq!(
        r.trace_id.raw(),
        b"Root=1-65f2c0d5-0123456789abcdef01234567"
    );
    assert_eq!(r.domain_name().raw(), b"shop.example.com");
}

#[test]
fn unknown_trailing_fields_are_counted_and_ignored() {
    let extras = [
        "future-bare",
        r#""future quoted, with spaces""#,
        r#""""#,
        "42",
        r#""-""#,
        "x\"y",
    ];
    for n in [35usize, 40] {
        let mut fields = full_fields();
        fields.extend((0..n - KNOWN_FIELDS).map(|i| extras[i % extras.len()].to_string()));
        let line = line_of(&fields);
        let r = parse(&line);
        assert_eq!(r.field_count, n);
        assert_eq!(r.unknown_trailing_fields(), n - KNOWN_FIELDS);
        assert_eq!(r.ip_address(), Some(&b"10.1.0.9"[..]));
        assert_eq!(r.request_transform_status(), esc("TransformSuccess"));
    }
    // A quoted 35th field right after the bare 34th.
    let mut fields = full_fields();
    fields.push(r#""only quoted""#.into());
    assert_eq!(parse(&line_of(&fields)).field_count, 35);
}

#[test]
fn unknown_fields_may_even_look_wrong() {
    // Fields after 34 are not checked for quoting or content; only tokenised.
    let mut fields = full_fields();
    fields.extend(["-", r#""a""#, "\"\"", "9999-99-99"].map(String::from));
    assert_eq!(parse(&line_of(&fields)).field_count, 38);
}

// ---------------------------------------------------------------------------------------------
// Values

fn with(changes: &[(usize, &str)]) -> String {
    let mut fields = full_fields();
    for &(n, v) in changes {
        fields[n - 1] = v.to_string();
    }
    line_of(&fields)
}

#[test]
fn ipv6_client_and_target_without_brackets() {
    let line = with(&[
        (4, "2001:db8:85a3::8a2e:370:7334:443"),
        (5, "fd00:ec2::23:80"),
    ]);
    let r = parse(&line);
    assert_eq!(r.client, hp("2001:db8:85a3::8a2e:370:7334", 443));
    assert_eq!(r.target, Some(hp("fd00:ec2::23", 80)));

    let line = with(&[(4, "::ffff:192.0.2.1:1"), (5, "::1:65535")]);
    let r = parse(&line);
    assert_eq!(r.client, hp("::ffff:192.0.2.1", 1));
    assert_eq!(r.target, Some(hp("::1", 65535)));
}

#[test]
fn bracketed_ipv6_url_host_is_kept_in_the_url() {
    let line = with(&[(
        13,
        r#""GET http://[::ffff:a9fe:a9fe]:443/latest/meta-data HTTP/1.1""#,
    )]);
    let r = parse(&line);
    assert_eq!(
        r.request.url.raw(),
        b"http://[::ffff:a9fe:a9fe]:443/latest/meta-data"
    );
    assert!(!r.request.malformed);
}

#[test]
fn escapes_stay_raw_and_decode_to_bytes() {
    let line = with(&[
        (
            13,
            r#""GET https://x.example:443/caf\xC3\xA9?q=\x22a\x5cb\x22 HTTP/1.1""#,
        ),
        (14, r#""Mozilla \x22quoted\x22 \x5c \xff\x00""#),
        (32, r#""/caf\xc3\xa9""#),
    ]);
    let r = parse(&line);
    assert_eq!(
        r.request.url.raw(),
        br"https://x.example:443/caf\xC3\xA9?q=\x22a\x5cb\x22"
    );
    assert_eq!(
        &*r.request.url.decode(),
        "https://x.example:443/café?q=\"a\\b\"".as_bytes()
    );
    assert_eq!(r.user_agent.raw(), br"Mozilla \x22quoted\x22 \x5c \xff\x00");
    assert_eq!(&*r.user_agent.decode(), b"Mozilla \"quoted\" \\ \xff\x00");
    assert_eq!(&*r.transformed_uri().unwrap().decode(), "/café".as_bytes());
}

#[test]
fn raw_spaces_in_the_url() {
    let line = with(&[(13, r#""GET http://x.example:80/a b/ c?d= e HTTP/1.1""#)]);
    let r = parse(&line);
    assert_eq!(r.request.method, b"GET");
    assert_eq!(r.request.url.raw(), b"http://x.example:80/a b/ c?d= e");
    assert_eq!(r.request.protocol, b"HTTP/1.1");
    assert!(!r.request.malformed);
    assert_eq!(r.field_count, KNOWN_FIELDS);
}

#[test]
fn trailing_space_after_the_protocol() {
    let line = with(&[(13, r#""GET http://x:80/ HTTP/1.0 ""#)]);
    let r = parse(&line);
    assert_eq!(r.request.raw, b"GET http://x:80/ HTTP/1.0 ");
    assert_eq!(r.request.method, b"GET");
    assert_eq!(r.request.url.raw(), b"http://x:80/");
    assert_eq!(r.request.protocol, b"HTTP/1.0");
    assert!(!r.request.malformed);
}

#[test]
fn non_standard_methods_parse() {
    let line = with(&[(13, r#""PROPFIND http://x:80/dav/ HTTP/1.1""#)]);
    let r = parse(&line);
    assert_eq!(r.request.method, b"PROPFIND");
    assert!(!r.request.malformed);
}

#[test]
fn malformed_requests_parse_with_the_flag() {
    for request in [
        r#""- http://host:80- -""#,
        r#""- - -""#,
        r#""-""#,
        r#""""#,
        r#""GET""#,
        r#""GET http://x:80/""#,
        r#""- http://x:80/ HTTP/1.1""#,
        r#""GET http://x:80/ -""#,
    ] {
        let line = with(&[(5, "-"), (10, "-"), (13, request)]);
        let r = parse(&line);
        assert!(r.request.malformed, "{request}");
        assert_eq!(r.target, None);
    }
    let line = with(&[(13, r#""- http://host:80- -""#)]);
    let r = parse(&line);
    assert_eq!(r.request.method, b"-");
    assert_eq!(r.request.url.raw(), b"http://host:80-");
    assert_eq!(r.request.protocol, b"-");
}

#[test]
fn target_and_statuses_may_be_dashes() {
    let line = with(&[(5, "-"), (9, "-"), (10, "-")]);
    let r = parse(&line);
    assert_eq!(r.target, None);
    assert_eq!(r.elb_status_code, None);
    assert_eq!(r.target_status_code, None);
    let line = with(&[(5, "-"), (9, "460"), (10, "-")]);
    let r = parse(&line);
    assert_eq!(r.elb_status_code, Some(460));
    assert_eq!(r.target_status_code, None);
}

#[test]
fn unknown_type_parses_as_unknown() {
    let line = with(&[(1, "h3")]);
    let r = parse(&line);
    assert_eq!(r.conn_type, ConnType::Unknown(b"h3"));
    for (t, want) in [
        ("http", ConnType::Http),
        ("https", ConnType::Https),
        ("h2", ConnType::H2),
        ("grpcs", ConnType::Grpcs),
        ("ws", ConnType::Ws),
        ("wss", ConnType::Wss),
    ] {
        assert_eq!(parse(&with(&[(1, t)])).conn_type, want);
    }
}

#[test]
fn actions_list() {
    let line = with(&[(23, r#""waf,authenticate,fixed-response""#)]);
    let r = parse(&line);
    assert!(r.has_action(b"waf"));
    assert!(r.has_action(b"authenticate"));
    assert!(r.has_action(b"fixed-response"));
    assert!(!r.has_action(b"forward"));
    assert!(!r.has_action(b"fixed"));
    let line = with(&[(23, r#""waf-failed,forward""#)]);
    let r = parse(&line);
    assert!(r.has_action(b"waf-failed"));
    assert!(!r.has_action(b"waf"));
    assert!(r.has_action(b"forward"));
}

#[test]
fn severe_classification() {
    let line = with(&[(28, r#""Severe""#), (29, r#""SpaceInUri""#)]);
    let r = parse(&line);
    assert!(r.is_severe());
    assert_eq!(r.classification_reason(), esc("SpaceInUri"));
}

#[test]
fn crlf_is_tolerated() {
    for example in AWS_EXAMPLES {
        let crlf = format!("{example}\r");
        assert_eq!(parse(&crlf), parse(example));
    }
    let crlf = format!("{}\r", line_of(&full_fields()));
    assert_eq!(parse(&crlf).ip_address(), Some(&b"10.1.0.9"[..]));
}

#[test]
fn other_time_shapes() {
    assert_eq!(
        parse(&with(&[(2, "2026-03-14T09:26:53Z")])).time,
        b"2026-03-14T09:26:53Z"
    );
    assert_eq!(
        parse(&with(&[(2, "2026-03-14T09:26:53.1Z")])).date_bytes(),
        b"2026-03-14"
    );
}

// ---------------------------------------------------------------------------------------------
// Errors

fn assert_err(line: &str, want: ParseError, reason: &str, message_has: &str) {
    let e = err(line);
    assert_eq!(e, want, "{line}");
    assert_eq!(e.reason(), reason);
    let msg = e.to_string();
    assert!(msg.contains(message_has), "{msg:?} lacks {message_has:?}");
}

#[test]
fn empty_line() {
    assert_err("", ParseError::Empty, "empty", "empty line");
    assert_err("\r", ParseError::Empty, "empty", "empty line");
}

#[test]
fn json_line_from_a_vended_delivery() {
    assert_err(
        r#"{"type":"https","time":"2025-01-01T00:00:00.000000Z","elb":"app/x/y"}"#,
        ParseError::JsonLine,
        "json_line",
        "JSON",
    );
}

#[test]
fn connection_log_line() {
    assert_err(
        r#"2023-10-04T17:05:15.514108Z 203.0.113.1 36280 443 TLSv1.2 ECDHE-RSA-AES128-GCM-SHA256 4.036 "CN=amazondomains.com,O=endEntity,L=Seattle,ST=Washington,C=US" NotBefore=2023-09-21T22:43:21Z;NotAfter=2026-06-17T22:43:21Z FEF257372D5C14D4 Success TID_3180a73013c8ca4bac2f731159d4b0fe"#,
        ParseError::ConnectionLog,
        "connection_log",
        "connection-log",
    );
}

#[test]
fn health_check_log_line() {
    assert_err(
        "http 2025-10-31T12:44:59.875678Z 0.019584011 172.31.20.97:80 HCLogsTestIPs PASS 200 -",
        ParseError::HealthCheckLog,
        "health_check_log",
        "health-check",
    );
}

#[test]
fn test_file_line() {
    assert_err(
        "Enable AccessLog for ELB: app/my-alb/959dfdbaed241613 at 2020-11-20T09:55:52.806Z",
        ParseError::TestFileLine,
        "test_file_line",
        "ELBAccessLogTestFile",
    );
}

#[test]
fn too_few_fields_with_the_count() {
    let all = full_fields();
    for n in 1..MIN_FIELDS {
        let line = line_of(&all[..n]);
        assert_err(
            &line,
            ParseError::TooFewFields { count: n },
            "too_few_fields",
            &format!("only {n} fields"),
        );
    }
    // An access line cut short is not mistaken for a health-check line.
    assert_eq!(
        err("http 2025-10-31T12:44:59.875678Z app/x/y 1.2.3.4:5"),
        ParseError::TooFewFields { count: 4 }
    );
}

#[test]
fn empty_field_from_double_or_trailing_space() {
    let line = line_of(&full_fields()).replacen(" 0.001 ", "  0.001 ", 1);
    assert_err(
        &line,
        ParseError::EmptyField { field: 6 },
        "empty_field",
        "field 6 (request_processing_time)",
    );
    let line = format!("{} ", line_of(&full_fields()));
    assert_err(
        &line,
        ParseError::EmptyField { field: 35 },
        "empty_field",
        "field 35 (unknown)",
    );
    assert_err(
        " http",
        ParseError::EmptyField { field: 1 },
        "empty_field",
        "field 1 (type)",
    );
}

#[test]
fn unterminated_quote_with_the_field_number() {
    let all = full_fields();
    // Cut inside the user agent.
    let line = format!("{} \"Mozilla/5.0 (X11", line_of(&all[..13]));
    assert_err(
        &line,
        ParseError::UnterminatedQuote { field: 14 },
        "unterminated_quote",
        "field 14 (user_agent)",
    );
    let line = format!("{} \"abc", line_of(&all));
    assert_err(
        &line,
        ParseError::UnterminatedQuote { field: 35 },
        "unterminated_quote",
        "field 35",
    );
}

#[test]
fn junk_after_a_closing_quote() {
    let line = with(&[(14, r#""curl/8"x"#)]);
    assert_err(
        &line,
        ParseError::JunkAfterQuote { field: 14 },
        "junk_after_quote",
        "field 14 (user_agent)",
    );
}

#[test]
fn request_must_be_quoted() {
    // A bare request splits into three fields, so the quoted user agent lands on field 16.
    let line = with(&[(13, "GET")]);
    assert_err(
        &line,
        ParseError::NotQuoted { field: 13 },
        "not_quoted",
        "field 13 (request): expected a quoted field",
    );
}

#[test]
fn quoted_fields_must_be_quoted_and_bare_ones_bare() {
    assert_err(
        &with(&[(25, "-")]),
        ParseError::NotQuoted { field: 25 },
        "not_quoted",
        "field 25 (error_reason)",
    );
    assert_err(
        &with(&[(17, r#""arn""#)]),
        ParseError::UnexpectedQuote { field: 17 },
        "unexpected_quote",
        "field 17 (target_group_arn): expected a bare field",
    );
    assert_err(
        &with(&[(34, r#""10.1.0.9""#)]),
        ParseError::UnexpectedQuote { field: 34 },
        "unexpected_quote",
        "field 34 (ip_address)",
    );
    // A field inserted in the middle shifts the quoting and is caught.
    let mut fields = full_fields();
    fields.insert(12, "extra".into());
    assert_eq!(err(&line_of(&fields)), ParseError::NotQuoted { field: 13 });
}

#[test]
fn bad_time() {
    for t in [
        "2026-03-14 09:26:53Z",
        "2026-13-14T09:26:53.1Z",
        "2026-03-14T09:26:53.123",
        "yesterday",
    ] {
        let t = t.replace(' ', "_");
        assert_err(
            &with(&[(2, &t)]),
            ParseError::BadTime,
            "bad_time",
            "field 2 (time)",
        );
    }
}

#[test]
fn bad_client() {
    for c in [
        "-",
        "203.0.113.7",
        "203.0.113.7:",
        "203.0.113.7:99999",
        "[::1]:80",
        "host:80",
    ] {
        assert_err(
            &with(&[(4, c)]),
            ParseError::BadClient,
            "bad_client",
            "field 4 (client:port)",
        );
    }
}

#[test]
fn bad_target() {
    for t in ["10.1.2.3", "10.1.2.3:http", "--", ":80"] {
        assert_err(
            &with(&[(5, t)]),
            ParseError::BadTarget,
            "bad_target",
            "field 5 (target:port)",
        );
    }
}

#[test]
fn bad_status_codes() {
    for s in ["20", "2000", "OK", "2x0"] {
        assert_err(
            &with(&[(9, s)]),
            ParseError::BadElbStatus,
            "bad_elb_status",
            "field 9 (elb_status_code): expected three digits or '-'",
        );
        assert_err(
            &with(&[(10, s)]),
            ParseError::BadTargetStatus,
            "bad_target_status",
            "field 10 (target_status_code): expected three digits or '-'",
        );
    }
}

#[test]
fn reasons_are_distinct_snake_case() {
    let all = [
        ParseError::Empty,
        ParseError::JsonLine,
        ParseError::ConnectionLog,
        ParseError::HealthCheckLog,
        ParseError::TestFileLine,
        ParseError::TooFewFields { count: 3 },
        ParseError::EmptyField { field: 1 },
        ParseError::UnterminatedQuote { field: 1 },
        ParseError::JunkAfterQuote { field: 1 },
        ParseError::NotQuoted { field: 13 },
        ParseError::UnexpectedQuote { field: 1 },
        ParseError::BadTime,
        ParseError::BadClient,
        ParseError::BadTarget,
        ParseError::BadElbStatus,
        ParseError::BadTargetStatus,
    ];
    let mut reasons: Vec<&str> = all.iter().map(ParseError::reason).collect();
    assert!(
        reasons
            .iter()
            .all(|r| r.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'))
    );
    reasons.sort_unstable();
    reasons.dedup();
    assert_eq!(reasons.len(), all.len());
}

#[test]
fn records_are_equal_when_their_values_are_whatever_the_bytes() {
    let base = line_of(&full_fields());
    // The same values written differently: a zero-padded port.
    let padded = with(&[(5, "10.1.2.3:08080")]);
    assert_ne!(base, padded);
    assert_eq!(parse(&base), parse(&padded));
    // A field cut only when asked for still counts: each one changed makes another record.
    for n in [3, 6, 8, 11, 12, 15, 16, 17, 21, 22, 30, 34] {
        let changed = with(&[(n, "x9")]);
        assert_ne!(parse(&base), parse(&changed), "field {n}");
    }
    for n in [19, 20, 24, 25, 26, 27, 29, 31, 32, 33] {
        let changed = with(&[(n, r#""x9""#)]);
        assert_ne!(parse(&base), parse(&changed), "field {n}");
    }
}
