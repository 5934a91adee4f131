//! Properties of `alb::parse_line`: no input panics, and any line written by the rules of
//! `alb-log-format.md` parses back to the values it was built from, for every layout length.

use greenlight::alb::record::KNOWN_FIELDS;
use greenlight::alb::{AlbRecord, ConnType, parse_line};
use proptest::prelude::*;

/// The ALB's escaping: `"`, `\` and every non-printable or non-ASCII byte as `\xHH`.
fn escape(raw: &[u8], upper: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len());
    for &b in raw {
        if b == b'"' || b == b'\\' || !(0x20..0x7f).contains(&b) {
            let hex = if upper {
                format!("\\x{b:02X}")
            } else {
                format!("\\x{b:02x}")
            };
            out.extend_from_slice(hex.as_bytes());
        } else {
            out.push(b);
        }
    }
    out
}

fn bare_token() -> impl Strategy<Value = String> {
    "[!#-~][!-~]{0,15}"
}

fn ip() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<[u8; 4]>().prop_map(|a| format!("{}.{}.{}.{}", a[0], a[1], a[2], a[3])),
        any::<[u16; 8]>().prop_map(|g| g.map(|x| format!("{x:x}")).join(":")),
        (any::<[u16; 2]>(), any::<u16>())
            .prop_map(|(g, t)| format!("{:X}:{:x}::{t:x}", g[0], g[1])),
        any::<[u8; 4]>().prop_map(|a| format!("::ffff:{}.{}.{}.{}", a[0], a[1], a[2], a[3])),
        Just("::1".to_string()),
    ]
}

fn time() -> impl Strategy<Value = String> {
    (
        0u32..=9999,
        1u32..=12,
        1u32..=31,
        0u32..24,
        0u32..60,
        0u32..60,
        proptest::option::of("[0-9]{1,9}"),
    )
        .prop_map(|(y, mo, d, h, mi, s, frac)| {
            let frac = frac.map(|f| format!(".{f}")).unwrap_or_default();
            format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}{frac}Z")
        })
}

fn conn_type() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec!["http", "https", "h2", "grpcs", "ws", "wss"])
            .prop_map(String::from),
        "[a-z][a-z0-9]{0,5}",
    ]
}

fn status() -> impl Strategy<Value = Option<u16>> {
    proptest::option::of(0u16..1000)
}

fn bytes() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..40)
}

/// The quoted fields other than the request.
const QUOTED: [usize; 14] = [14, 18, 19, 20, 23, 24, 25, 26, 27, 28, 29, 31, 32, 33];
/// The bare fields kept as raw slices.
const BARE: [usize; 12] = [3, 6, 7, 8, 11, 12, 15, 16, 17, 21, 22, 30];

#[derive(Debug, Clone)]
struct Case {
    conn_type: String,
    time: String,
    client: (String, u16),
    target: Option<(String, u16)>,
    elb_status: Option<u16>,
    target_status: Option<u16>,
    method: String,
    url: Vec<u8>,
    protocol: String,
    request_trailing_spaces: usize,
    quoted: Vec<Vec<u8>>,
    bare: Vec<String>,
    ip_address: String,
    /// Trailing unknown fields: quoted (escaped bytes) or bare.
    extras: Vec<(bool, Vec<u8>, String)>,
    field_count: usize,
    upper_hex: bool,
    crlf: bool,
}

fn case() -> impl Strategy<Value = Case> {
    (
        (
            conn_type(),
            time(),
            (ip(), any::<u16>()),
            proptest::option::of((ip(), any::<u16>())),
            status(),
            status(),
        ),
        (
            "[!-~]{1,10}",
            bytes(),
            prop_oneof![
                "HTTP/(1\\.0|1\\.1|2\\.0)",
                Just("-".to_string()),
                "[!-~]{1,9}"
            ],
            0usize..3,
        ),
        (
            proptest::collection::vec(bytes(), QUOTED.len()),
            proptest::collection::vec(bare_token(), BARE.len()),
            ip(),
            proptest::collection::vec((any::<bool>(), bytes(), bare_token()), 6),
        ),
        (20usize..=40, any::<bool>(), any::<bool>()),
    )
        .prop_map(
            |(
                (conn_type, time, client, target, elb_status, target_status),
                (method, url, protocol, request_trailing_spaces),
                (quoted, bare, ip_address, extras),
                (field_count, upper_hex, crlf),
            )| Case {
                conn_type,
                time,
                client,
                target,
                elb_status,
                target_status,
                method,
                url,
                protocol,
                request_trailing_spaces,
                quoted,
                bare,
                ip_address,
                extras,
                field_count,
                upper_hex,
                crlf,
            },
        )
}

fn quote(content: &[u8]) -> Vec<u8> {
    let mut v = vec![b'"'];
    v.extend_from_slice(content);
    v.push(b'"');
    v
}

fn dash_or(s: Option<u16>) -> String {
    s.map_or("-".to_string(), |s| format!("{s:03}"))
}

impl Case {
    /// Field `n`'s content as written (escaped, without quotes).
    fn content(&self, n: usize) -> Vec<u8> {
        if let Some(i) = QUOTED.iter().position(|&q| q == n) {
            return escape(&self.quoted[i], self.upper_hex);
        }
        if let Some(i) = BARE.iter().position(|&b| b == n) {
            return self.bare[i].clone().into_bytes();
        }
        match n {
            1 => self.conn_type.clone().into_bytes(),
            2 => self.time.clone().into_bytes(),
            4 => format!("{}:{}", self.client.0, self.client.1).into_bytes(),
            5 => match &self.target {
                None => b"-".to_vec(),
                Some((ip, port)) => format!("{ip}:{port}").into_bytes(),
            },
            9 => dash_or(self.elb_status).into_bytes(),
            10 => dash_or(self.target_status).into_bytes(),
            13 => self.request_content(),
            34 => self.ip_address.clone().into_bytes(),
            _ => unreachable!("field {n}"),
        }
    }

    fn request_content(&self) -> Vec<u8> {
        let mut v = self.escaped_method();
        v.push(b' ');
        v.extend(escape(&self.url, self.upper_hex));
        v.push(b' ');
        v.extend(self.escaped_protocol());
        v.extend(std::iter::repeat_n(b' ', self.request_trailing_spaces));
        v
    }

    fn escaped_method(&self) -> Vec<u8> {
        escape(self.method.as_bytes(), self.upper_hex)
    }

    fn escaped_protocol(&self) -> Vec<u8> {
        escape(self.protocol.as_bytes(), self.upper_hex)
    }

    fn line(&self) -> Vec<u8> {
        let mut fields: Vec<Vec<u8>> = Vec::new();
        for n in 1..=self.field_count.min(KNOWN_FIELDS) {
            let c = self.content(n);
            fields.push(if n == 13 || QUOTED.contains(&n) {
                quote(&c)
            } else {
                c
            });
        }
        for (quoted, raw, bare) in self
            .extras
            .iter()
            .take(self.field_count.saturating_sub(KNOWN_FIELDS))
        {
            fields.push(if *quoted {
                quote(&escape(raw, self.upper_hex))
            } else {
                bare.clone().into_bytes()
            });
        }
        let mut line = fields.join(&b' ');
        if self.crlf {
            line.push(b'\r');
        }
        line
    }
}

/// Field `n` of a record, rendered back to its content as written.
fn record_field(r: &AlbRecord<'_>, n: usize) -> Option<Vec<u8>> {
    let hp = |h: &greenlight::alb::HostPort<'_>| {
        let mut v = h.ip.to_vec();
        v.extend(format!(":{}", h.port).bytes());
        v
    };
    let b = |s: &[u8]| Some(s.to_vec());
    match n {
        1 => b(match r.conn_type {
            ConnType::Http => b"http",
            ConnType::Https => b"https",
            ConnType::H2 => b"h2",
            ConnType::Grpcs => b"grpcs",
            ConnType::Ws => b"ws",
            ConnType::Wss => b"wss",
            ConnType::Unknown(u) => u,
        }),
        2 => b(r.time),
        3 => b(r.elb()),
        4 => Some(hp(&r.client)),
        5 => Some(r.target.as_ref().map_or(b"-".to_vec(), hp)),
        6 => b(r.request_processing_time()),
        7 => b(r.target_processing_time),
        8 => b(r.response_processing_time()),
        9 => Some(dash_or(r.elb_status_code).into_bytes()),
        10 => Some(dash_or(r.target_status_code).into_bytes()),
        11 => b(r.received_bytes()),
        12 => b(r.sent_bytes()),
        13 => b(r.request.raw),
        14 => b(r.user_agent.raw()),
        15 => b(r.ssl_cipher()),
        16 => b(r.ssl_protocol()),
        17 => b(r.target_group_arn()),
        18 => b(r.trace_id.raw()),
        19 => b(r.domain_name().raw()),
        20 => b(r.chosen_cert_arn().raw()),
        21 => r.matched_rule_priority().map(<[u8]>::to_vec),
        22 => r.request_creation_time().map(<[u8]>::to_vec),
        23 => r.actions_executed.map(|e| e.raw().to_vec()),
        24 => r.redirect_url().map(|e| e.raw().to_vec()),
        25 => r.error_reason().map(|e| e.raw().to_vec()),
        26 => r.target_port_list().map(|e| e.raw().to_vec()),
        27 => r.target_status_code_list().map(|e| e.raw().to_vec()),
        28 => r.classification.map(|e| e.raw().to_vec()),
        29 => r.classification_reason().map(|e| e.raw().to_vec()),
        30 => r.conn_trace_id().map(<[u8]>::to_vec),
        31 => r.transformed_host().map(|e| e.raw().to_vec()),
        32 => r.transformed_uri().map(|e| e.raw().to_vec()),
        33 => r.request_transform_status().map(|e| e.raw().to_vec()),
        34 => r.ip_address().map(<[u8]>::to_vec),
        _ => unreachable!(),
    }
}

/// Quoted field `n` of a record, if present.
fn quoted_field<'a>(r: &AlbRecord<'a>, n: usize) -> Option<greenlight::alb::Escaped<'a>> {
    match n {
        14 => Some(r.user_agent),
        18 => Some(r.trace_id),
        19 => Some(r.domain_name()),
        20 => Some(r.chosen_cert_arn()),
        23 => r.actions_executed,
        24 => r.redirect_url(),
        25 => r.error_reason(),
        26 => r.target_port_list(),
        27 => r.target_status_code_list(),
        28 => r.classification,
        29 => r.classification_reason(),
        31 => r.transformed_host(),
        32 => r.transformed_uri(),
        33 => r.request_transform_status(),
        _ => unreachable!(),
    }
}

/// A valid 34-field line to mutate.
const VALID: &[u8] = br#"https 2026-03-14T09:26:53.589793Z app/shop/0123456789abcdef 2001:db8::7:51234 10.1.2.3:8080 0.001 0.123 0.000 200 304 512 1024 "GET https://shop.example.com:443/a b?x=\x22 HTTP/2.0 " "Mozilla/5.0" TLS_AES_128_GCM_SHA256 TLSv1.3 arn:aws:elasticloadbalancing:eu-west-1:1:targetgroup/shop/0 "Root=1-65f2c0d5-0123" "shop.example.com" "session-reused" 10 2026-03-14T09:26:53.465000Z "waf,forward" "-" "-" "10.1.2.3:8080" "304" "Acceptable" "-" TID_0123 "shop.internal" "/a" "TransformSuccess" 10.1.0.9"#;

proptest! {
    #![proptest_config(ProptestConfig { cases: 2048, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(line in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = parse_line(&line);
    }

    #[test]
    fn arbitrary_ascii_soup_never_panics(
        line in proptest::collection::vec(
            prop::sample::select(b" \"\\:-.0123456789Tabx{\r".to_vec()), 0..400)
    ) {
        let _ = parse_line(&line);
    }

    #[test]
    fn mutated_and_truncated_valid_lines_never_panic(
        cut in 0..=VALID.len(),
        edits in proptest::collection::vec(
            (0..VALID.len(), prop::sample::select(b" \"\\:-.09Zx\r\n\xff".to_vec())), 0..6),
    ) {
        let mut line = VALID.to_vec();
        for (at, b) in edits {
            line[at] = b;
        }
        line.truncate(cut);
        if let Err(e) = parse_line(&line) {
            prop_assert!(!e.reason().is_empty());
            prop_assert!(!e.to_string().is_empty());
        }
    }

    #[test]
    fn lines_built_from_valid_values_parse_back(case in case()) {
        let line = case.line();
        let r = match parse_line(&line) {
            Ok(r) => r,
            Err(e) => {
                return Err(TestCaseError::fail(format!(
                    "{e} for {}",
                    String::from_utf8_lossy(&line)
                )))
            }
        };
        prop_assert_eq!(r.field_count, case.field_count);
        prop_assert_eq!(r.unknown_trailing_fields(), case.field_count.saturating_sub(KNOWN_FIELDS));
        for n in 1..=KNOWN_FIELDS {
            let want = (n <= case.field_count).then(|| case.content(n));
            prop_assert_eq!(record_field(&r, n), want, "field {}", n);
        }
        prop_assert_eq!(r.conn_type, ConnType::from_bytes(case.conn_type.as_bytes()));
        prop_assert_eq!(r.client.port, case.client.1);
        prop_assert_eq!(r.client.ip, case.client.0.as_bytes());
        prop_assert_eq!(r.target.map(|t| (t.ip.to_vec(), t.port)),
            case.target.as_ref().map(|(ip, p)| (ip.as_bytes().to_vec(), *p)));
        prop_assert_eq!(r.elb_status_code, case.elb_status);
        prop_assert_eq!(r.target_status_code, case.target_status);

        // The request split.
        prop_assert_eq!(r.request.method, &case.escaped_method()[..]);
        prop_assert_eq!(r.request.url.raw(), &escape(&case.url, case.upper_hex)[..]);
        prop_assert_eq!(&*r.request.url.decode(), &case.url[..]);
        prop_assert_eq!(r.request.protocol, &case.escaped_protocol()[..]);
        let malformed = case.method == "-" || case.protocol == "-" || case.url.is_empty();
        prop_assert_eq!(r.request.malformed, malformed);

        // Quoted fields decode to the bytes they were built from.
        for (i, &n) in QUOTED.iter().enumerate() {
            if n <= case.field_count {
                let e = quoted_field(&r, n).expect("present");
                prop_assert_eq!(&*e.decode(), &case.quoted[i][..], "field {}", n);
            } else if n > 20 {
                prop_assert!(quoted_field(&r, n).is_none());
            }
        }
    }
}
