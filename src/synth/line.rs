//! One synthetic access-log line: what it asks for, how it is written, and how it must fare.

use chrono::NaiveDateTime;
use rand::RngExt;
use rand_chacha::ChaCha8Rng;

use super::truth::{Fate, listed_host, listed_path};
use crate::mine::filter::Reject;

/// A site the load balancer serves: scheme, host and port as clients name them.
struct Site {
    scheme: &'static str,
    host: &'static str,
    port: u16,
    target_group: &'static str,
}

const SITES: [Site; 6] = [
    Site {
        scheme: "https",
        host: "www.example.com",
        port: 443,
        target_group: "web",
    },
    Site {
        scheme: "http",
        host: "www.example.com",
        port: 80,
        target_group: "web",
    },
    Site {
        scheme: "https",
        host: "shop.example.com",
        port: 443,
        target_group: "shop",
    },
    Site {
        scheme: "https",
        host: "shop.example.com",
        port: 8443,
        target_group: "partner",
    },
    Site {
        scheme: "https",
        host: "static.example.org",
        port: 443,
        target_group: "static",
    },
    Site {
        scheme: "http",
        host: "legacy.example.net",
        port: 80,
        target_group: "legacy",
    },
];
const WWW: usize = 0;
const WWW_HTTP: usize = 1;
const SHOP: usize = 2;
const PARTNER: usize = 3;
const STATIC: usize = 4;
const LEGACY: usize = 5;

/// Popular URLs, most popular first (Zipf-like weights by rank). Raw bytes as sent.
const POPULAR: [(usize, &[u8]); 40] = [
    (WWW, b"/"),
    (STATIC, b"/css/site.css?v=42"),
    (STATIC, b"/js/app.js?v=42"),
    (WWW, b"/a?id=3"),
    (SHOP, b"/"),
    (WWW, b"/caf\xc3\xa9/menu"),
    (WWW_HTTP, b"/"),
    (WWW, b"/news?page=2"),
    (STATIC, b"/img/hero.jpg"),
    (SHOP, b"/category/shoes?color=red&size=42"),
    (WWW, b"/search?q=shoes"),
    (LEGACY, b"/index.php?page=home"),
    (WWW, b"/about"),
    (SHOP, b"/product/1234"),
    (WWW, b"/search?q=caf%C3%A9"),
    (STATIC, b"/fonts/inter.woff2"),
    (SHOP, b"/stra\xc3\x9fe/schuhe"),
    (WWW, b"/products?id=17&sort=price"),
    (LEGACY, b"/cgi-bin/report.pl?year=2025"),
    (WWW, b"/contact"),
    (PARTNER, b"/partner/feed.xml"),
    (WWW_HTTP, b"/old-page.html"),
    (SHOP, b"/product/1234?variant=blue"),
    (WWW, b"/docs/Getting%20Started"),
    (LEGACY, b"/Default.aspx?ID=7&Lang=EN"),
    (WWW, b"/search?q=\"exact+phrase\"&lang=en"),
    (STATIC, b"/img/logo.png"),
    (WWW, b"/news/2026/03/spring-sale"),
    (PARTNER, b"/partner/catalog?format=csv"),
    (SHOP, b"/checkout/step1"),
    (LEGACY, b"/~alice/notes.html"),
    (WWW, b"/robots.txt"),
    (WWW, b"/sitemap.xml"),
    (SHOP, b"/category/bags?page=3"),
    (LEGACY, b"/scripts/menu.js"),
    (WWW, b"/help/faq"),
    (WWW, b"/%E6%97%A5%E6%9C%AC/index.html"),
    (SHOP, b"/gift-cards"),
    (WWW, b"/jobs"),
    (WWW_HTTP, b"/robots.txt"),
];

const BROWSERS: [&[u8]; 6] = [
    b"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
    b"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15",
    b"Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
    b"Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
    b"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36",
    b"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Edg/124.0.0.0",
];
const BOTS: [&[u8]; 2] = [
    b"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    b"Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
];
/// User agents that need `\xHH` escapes: a `"`, a `\`, non-ASCII bytes.
const ESCAPED_AGENTS: [&[u8]; 2] = [
    b"Mozilla/5.0 (Linux; U; Android 13; fr-fr) \"Caf\xc3\xa9Browser\" 2.1",
    b"Mozilla/5.0 (Windows NT 10.0) MyCorpAgent C:\\Program Files\\agent \xe2\x80\x94 1.0",
];
/// Health checkers and monitors (the miner's default `--exclude-agent` patterns).
const MONITORS: [&[u8]; 4] = [
    b"ELB-HealthChecker/2.0",
    b"kube-probe/1.29",
    b"Pingdom.com_bot_version_1.4_(http://www.pingdom.com/)",
    b"Mozilla/5.0+(compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)",
];

/// Line mix, in parts per 10 000: kept lines, then each reject reason built on purpose.
/// [`Reject::OtherDay`] is not here: such lines come from placing ordinary lines just across
/// midnight. `BadUrl` and `HostNotAllowed` depend on miner settings and are not generated.
const MIX: [(Option<Reject>, u32); 13] = [
    (None, 7880),
    (Some(Reject::UnknownType), 50),
    (Some(Reject::ConnType), 150),
    (Some(Reject::MalformedRequest), 70),
    (Some(Reject::Method), 300),
    (Some(Reject::NotForwarded), 300),
    (Some(Reject::NoTargetResponse), 100),
    (Some(Reject::Status), 400),
    (Some(Reject::Severe), 50),
    (Some(Reject::HostIpLiteral), 150),
    (Some(Reject::HostAlbName), 100),
    (Some(Reject::Agent), 300),
    (Some(Reject::Credential), 150),
];

/// Field counts written, with their weight on the newest day; older layouts (up to 29 fields)
/// weigh more on older days. 35 and 36 carry unknown trailing fields.
const LAYOUTS: [(usize, f64); 10] = [
    (20, 2.0),
    (24, 2.0),
    (25, 3.0),
    (27, 3.0),
    (29, 4.0),
    (30, 6.0),
    (33, 10.0),
    (34, 55.0),
    (35, 8.0),
    (36, 7.0),
];

/// What one line asks for and how the ALB answered.
struct Spec {
    conn_type: &'static str,
    method: &'static str,
    scheme: &'static str,
    /// As written in the URL: may be mixed-case, an IP literal or bracketed IPv6.
    host: String,
    port: u16,
    /// Raw path and query bytes as sent (escaped when written).
    path: Vec<u8>,
    protocol: &'static str,
    trailing_space: bool,
    /// The whole request field when the ALB could not parse the request.
    malformed: Option<String>,
    agent: Vec<u8>,
    target: bool,
    elb_status: u16,
    target_status: Option<u16>,
    actions: &'static str,
    redirect_url: Vec<u8>,
    error_reason: &'static str,
    classification: (&'static str, &'static str),
    min_fields: usize,
    target_group: Option<&'static str>,
    transformed: Option<(String, String)>,
}

/// A line as written, its fate and its coverage labels.
pub(crate) struct Generated {
    pub line: Vec<u8>,
    pub fate: Fate,
    /// Field count; `None` for garbage.
    pub fields: Option<usize>,
    pub labels: Vec<String>,
}

/// Stable identifiers of the load balancer, shared by every line.
pub(crate) struct Ident {
    pub account: String,
    pub region: String,
    pub lb_name: String,
    pub lb_id: String,
    pub alb_dns_number: u64,
    pub cert_id: String,
    pub tg_ids: [String; 6],
}

/// Builds lines. Variants inside a reason cycle through a counter, so every variant shows up
/// once the reason has been drawn a few times.
pub(crate) struct LineGen {
    ident: Ident,
    cum_popular: Vec<f64>,
    counters: std::collections::BTreeMap<&'static str, usize>,
    tail_per_mille: usize,
    tail_values: u32,
    /// Every parseable line gets this many fields (or its kind's minimum, if more).
    fixed_fields: Option<usize>,
}

fn pick(rng: &mut ChaCha8Rng, n: usize) -> usize {
    rng.random_range(0..n as u32) as usize
}

fn hex(rng: &mut ChaCha8Rng, len: usize) -> String {
    const HEX: &[u8] = b"0123456789abcdef";
    (0..len).map(|_| HEX[pick(rng, 16)] as char).collect()
}

/// `WWW.Example.com`-style casing.
fn mixed_case(host: &str) -> String {
    host.split('.')
        .enumerate()
        .map(|(i, label)| match i {
            0 => label.to_ascii_uppercase(),
            1 => {
                let mut c = label.chars();
                c.next()
                    .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                    .unwrap_or_default()
            }
            _ => label.to_string(),
        })
        .collect::<Vec<_>>()
        .join(".")
}

/// Writes `bytes` as the ALB does inside quotes: `"`, `\`, control and non-ASCII bytes as
/// `\xHH` (hex case as asked), everything else (including spaces) as is.
fn push_escaped(out: &mut Vec<u8>, bytes: &[u8], upper: bool) {
    for &b in bytes {
        if b == b'"' || b == b'\\' || !(0x20..0x7f).contains(&b) {
            let s = if upper {
                format!("\\x{b:02X}")
            } else {
                format!("\\x{b:02x}")
            };
            out.extend_from_slice(s.as_bytes());
        } else {
            out.push(b);
        }
    }
}

fn quoted(bytes: &[u8], upper: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() + 2);
    out.push(b'"');
    push_escaped(&mut out, bytes, upper);
    out.push(b'"');
    out
}

fn q(s: &str) -> Vec<u8> {
    quoted(s.as_bytes(), false)
}

fn fmt_time(t: NaiveDateTime) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

impl LineGen {
    pub fn new(ident: Ident) -> Self {
        let mut acc = 0.0;
        let cum_popular = (0..POPULAR.len())
            .map(|rank| {
                acc += 1.0 / ((rank + 1) as f64).powf(1.1);
                acc
            })
            .collect();
        LineGen {
            ident,
            cum_popular,
            counters: Default::default(),
            tail_per_mille: 200,
            tail_values: 900_000,
            fixed_fields: None,
        }
    }

    /// Writes every parseable line with `fields` fields (at least its kind's minimum) instead
    /// of the mix of layouts; `None` keeps the mix.
    pub fn fixed_fields(mut self, fields: Option<usize>) -> Self {
        self.fixed_fields = fields;
        self
    }

    /// Sets the long tail's share of kept requests (per mille) and its number of values.
    pub fn long_tail(mut self, per_mille: u32, values: u32) -> Self {
        self.tail_per_mille = per_mille.min(1000) as usize;
        self.tail_values = values.max(1);
        self
    }

    fn next(&mut self, key: &'static str, n: usize) -> usize {
        let c = self.counters.entry(key).or_default();
        let v = *c % n;
        *c += 1;
        v
    }

    fn popular(&self, rng: &mut ChaCha8Rng) -> (usize, Vec<u8>) {
        let total = self.cum_popular.last().copied().unwrap_or(1.0);
        let x = rng.random::<f64>() * total;
        let i = self
            .cum_popular
            .partition_point(|&c| c <= x)
            .min(POPULAR.len() - 1);
        (POPULAR[i].0, POPULAR[i].1.to_vec())
    }

    /// A replayable request for `site` and `path`.
    fn base(&self, rng: &mut ChaCha8Rng, site: usize, path: Vec<u8>) -> Spec {
        let s = &SITES[site];
        let h2 = s.scheme == "https" && rng.random_bool(0.4);
        let status = if path == b"/old-page.html" || (site == WWW_HTTP && path == b"/") {
            301
        } else if site == STATIC && rng.random_bool(0.4) || rng.random_bool(0.03) {
            304
        } else {
            200
        };
        let actions = match pick(rng, 100) {
            0..=79 => "forward",
            80..=91 => "waf,forward",
            _ => "authenticate,forward",
        };
        Spec {
            conn_type: if s.scheme == "http" {
                "http"
            } else if h2 {
                "h2"
            } else {
                "https"
            },
            method: "GET",
            scheme: s.scheme,
            host: s.host.to_string(),
            port: s.port,
            path,
            protocol: if h2 {
                "HTTP/2.0"
            } else if rng.random_bool(0.1) {
                "HTTP/1.0"
            } else {
                "HTTP/1.1"
            },
            trailing_space: false,
            malformed: None,
            agent: BROWSERS[pick(rng, BROWSERS.len())].to_vec(),
            target: true,
            elb_status: status,
            target_status: Some(status),
            actions,
            redirect_url: b"-".to_vec(),
            error_reason: "-",
            classification: if rng.random_bool(0.02) {
                ("Acceptable", "GetHeadZeroContentLength")
            } else {
                ("-", "-")
            },
            min_fields: 20,
            target_group: Some(s.target_group),
            transformed: None,
        }
    }

    fn not_forwarded(spec: &mut Spec) {
        spec.target = false;
        spec.target_status = None;
        spec.target_group = None;
        spec.min_fields = 24;
    }

    /// One line whose `time` is `time`, written by the node `node_ip`. `age` is 0 for the
    /// newest configured day and 1 for the oldest (older days use older layouts more).
    pub fn line(
        &mut self,
        rng: &mut ChaCha8Rng,
        time: NaiveDateTime,
        node_ip: &str,
        age: f64,
    ) -> Generated {
        let mut roll = pick(rng, 10_000) as u32;
        let mut reason = None;
        for (r, w) in MIX {
            if roll < w {
                reason = r;
                break;
            }
            roll -= w;
        }
        let mut labels = Vec::new();
        let (site, path) = self.popular(rng);
        let mut spec = self.base(rng, site, path);
        match reason {
            None => self.kept(rng, &mut spec, &mut labels),
            Some(r) => {
                labels.push(format!("reject:{}", r.as_str()));
                let v = self.reject(rng, r, &mut spec);
                if !v.is_empty() {
                    labels.push(format!("reject:{}:{v}", r.as_str()));
                }
            }
        }
        let fields = self.layout(rng, age, spec.min_fields);
        if reason.is_none() && fields == 20 {
            labels.push("kept:20_fields".into());
        }
        let line = self.write(rng, &spec, time, node_ip, fields);
        let fate = match reason {
            Some(r) => Fate::Rejected(r),
            None => Fate::Kept {
                host: listed_host(spec.scheme, &spec.host, spec.port),
                path: listed_path(&spec.path),
                status: spec.elb_status,
            },
        };
        Generated {
            line,
            fate,
            fields: Some(fields),
            labels,
        }
    }

    fn kept(&mut self, rng: &mut ChaCha8Rng, spec: &mut Spec, labels: &mut Vec<String>) {
        labels.push("kept".into());
        let roll = pick(rng, 1000);
        if roll < self.tail_per_mille {
            labels.push("kept:long_tail".into());
            let n = rng.random_range(100_000..100_000u32.saturating_add(self.tail_values));
            let (site, path) = match self.next("long_tail", 3) {
                0 => (SHOP, format!("/product/{n}")),
                1 => (WWW, format!("/blog/2026/{n}-notes")),
                _ => (WWW, format!("/search?q=item{n}&page=1")),
            };
            *spec = self.base(rng, site, path.into_bytes());
        } else if roll < 280 {
            labels.push("kept:tracking".into());
            let id = hex(rng, 12);
            let v = self.next("tracking", 4);
            if v == 0 {
                *spec = self.base(rng, WWW, b"/a?utm_source=x&id=3".to_vec());
            } else {
                let (name, value) = match v {
                    1 => ("gclid", format!("Cj0KCQ{id}")),
                    2 => ("fbclid", format!("IwAR{id}")),
                    _ => (
                        "utm_source",
                        "newsletter&utm_medium=email&utm_campaign=spring".into(),
                    ),
                };
                let sep = if spec.path.contains(&b'?') { '&' } else { '?' };
                spec.path
                    .extend_from_slice(format!("{sep}{name}={value}").as_bytes());
            }
        } else if roll < 290 {
            labels.push("kept:space_in_uri".into());
            *spec = self.base(rng, WWW, b"/search?q=red shoes".to_vec());
            spec.classification = ("Ambiguous", "SpaceInUri");
            spec.min_fields = 29;
        } else if roll < 300 {
            labels.push("kept:trailing_space".into());
            spec.trailing_space = true;
        }
        if spec.host == SITES[LEGACY].host && spec.path.is_ascii() && rng.random_bool(0.3) {
            labels.push("kept:transformed".into());
            let uri = format!("/v2{}", String::from_utf8_lossy(&spec.path));
            spec.transformed = Some(("legacy-backend.internal".into(), uri));
        }
        if rng.random_bool(0.03) {
            labels.push("kept:mixed_case_host".into());
            spec.host = mixed_case(&spec.host);
        }
        let roll = pick(rng, 100);
        if roll < 8 {
            labels.push("kept:bot".into());
            spec.agent = BOTS[self.next("bot", BOTS.len())].to_vec();
        } else if roll < 11 {
            labels.push("kept:escaped_agent".into());
            spec.agent = ESCAPED_AGENTS[self.next("escaped_agent", ESCAPED_AGENTS.len())].to_vec();
        }
        if spec.path.iter().any(|&b| b >= 0x80 || b == b'"') {
            labels.push("kept:escaped_url".into());
        }
        if spec.path.contains(&b'%') {
            labels.push("kept:percent_in_url".into());
        }
        if spec.port != 80 && spec.port != 443 {
            labels.push("kept:non_default_port".into());
        }
        if spec.scheme == "http" {
            labels.push("kept:http".into());
        }
        if spec.actions != "forward" {
            labels.push(format!("kept:{}", spec.actions));
        }
        labels.push(format!("kept:status_{}", spec.elb_status));
    }

    /// Turns `spec` into a line failing `r` (and every check before `r` passing). Returns the
    /// variant label.
    fn reject(&mut self, rng: &mut ChaCha8Rng, r: Reject, spec: &mut Spec) -> String {
        match r {
            Reject::UnknownType => {
                spec.conn_type = ["h3", "quic"][self.next("unknown_type", 2)];
                spec.conn_type.to_string()
            }
            Reject::ConnType => match self.next("conn_type", 3) {
                0 => {
                    *spec = self.base(
                        rng,
                        WWW_HTTP,
                        b"/socket.io/?EIO=4&transport=websocket".to_vec(),
                    );
                    spec.conn_type = "ws";
                    spec.protocol = "HTTP/1.1";
                    spec.elb_status = 101;
                    spec.target_status = Some(101);
                    "ws".into()
                }
                1 => {
                    *spec = self.base(rng, WWW, b"/live/updates".to_vec());
                    spec.conn_type = "wss";
                    spec.protocol = "HTTP/1.1";
                    spec.elb_status = 101;
                    spec.target_status = Some(101);
                    "wss".into()
                }
                _ => {
                    *spec = self.base(rng, SHOP, b"/catalog.v1.Catalog/GetItem".to_vec());
                    spec.conn_type = "grpcs";
                    spec.method = "POST";
                    spec.protocol = "HTTP/2.0";
                    spec.elb_status = 200;
                    spec.target_status = Some(200);
                    spec.agent = b"grpc-go/1.63.2".to_vec();
                    "grpcs".into()
                }
            },
            Reject::MalformedRequest => {
                let v = self.next("malformed", 3);
                spec.malformed = Some(match v {
                    0 => format!("- http://{}:80- -", SITES[WWW].host),
                    1 => "- https://10.0.0.5:443- -".into(),
                    _ => "- - -".into(),
                });
                (spec.conn_type, spec.scheme) = match v {
                    0 => ("http", "http"),
                    1 => ("https", "https"),
                    _ => (spec.conn_type, spec.scheme),
                };
                Self::not_forwarded(spec);
                spec.min_fields = 20;
                spec.actions = "-";
                spec.elb_status = 400;
                spec.agent = b"-".to_vec();
                ["host", "ip", "dashes"][v].into()
            }
            Reject::Method => {
                let m = ["POST", "PUT", "HEAD", "OPTIONS"][self.next("method", 4)];
                spec.method = m;
                if m == "POST" || m == "PUT" {
                    *spec = Spec {
                        method: m,
                        ..self.base(rng, SHOP, b"/cart/items?id=3".to_vec())
                    };
                    spec.elb_status = 200;
                    spec.target_status = Some(200);
                }
                m.into()
            }
            Reject::NotForwarded => {
                let v = self.next("not_forwarded", 4);
                Self::not_forwarded(spec);
                match v {
                    0 => {
                        spec.actions = "waf";
                        spec.elb_status = 403;
                        "waf"
                    }
                    1 => {
                        let (site, path) = (WWW_HTTP, spec.path.clone());
                        *spec = self.base(rng, site, path);
                        Self::not_forwarded(spec);
                        spec.actions = "redirect";
                        spec.elb_status = 301;
                        let mut url = format!("https://{}:443", SITES[WWW].host).into_bytes();
                        url.extend_from_slice(&spec.path);
                        spec.redirect_url = url;
                        "redirect"
                    }
                    2 => {
                        spec.actions = "fixed-response";
                        spec.elb_status = 200;
                        "fixed_response"
                    }
                    _ => {
                        spec.actions = "authenticate";
                        spec.elb_status = 302;
                        "authenticate"
                    }
                }
                .into()
            }
            Reject::NoTargetResponse => match self.next("no_target", 3) {
                0 => {
                    spec.target = false;
                    spec.target_status = None;
                    spec.elb_status = 502;
                    spec.error_reason = "LambdaInvalidResponse";
                    "lambda_502".into()
                }
                1 => {
                    spec.target_status = None;
                    spec.elb_status = 504;
                    "timeout_504".into()
                }
                _ => {
                    spec.target_status = None;
                    spec.elb_status = 502;
                    "reset_502".into()
                }
            },
            Reject::Status => {
                let code = [404, 500, 503, 404][self.next("status", 4)];
                if code == 404 {
                    let n = pick(rng, 1000);
                    spec.path = format!("/wp-login.php?x={n}").into_bytes();
                }
                spec.elb_status = code;
                spec.target_status = Some(code);
                code.to_string()
            }
            Reject::Severe => {
                spec.classification = ("Severe", "BothTeClPresent");
                spec.min_fields = 29;
                String::new()
            }
            Reject::HostIpLiteral => {
                let v = self.next("ip_literal", 5);
                let (scheme, host, port, path): (_, _, _, &[u8]) = match v {
                    0 => ("http", "10.0.2.15", 80, b"/"),
                    1 => ("https", "203.0.113.9", 443, b"/admin/"),
                    2 => ("http", "[::1]", 80, b"/"),
                    3 => ("http", "[::ffff:a9fe:a9fe]", 80, b"/latest/meta-data/"),
                    _ => ("https", "[2001:db8::5]", 443, b"/index.html"),
                };
                spec.scheme = scheme;
                spec.conn_type = if scheme == "http" { "http" } else { "https" };
                if spec.protocol == "HTTP/2.0" {
                    spec.protocol = "HTTP/1.1";
                }
                spec.host = host.into();
                spec.port = port;
                spec.path = path.to_vec();
                [
                    "ipv4_http",
                    "ipv4_https",
                    "ipv6_loopback",
                    "ipv6_mapped",
                    "ipv6_https",
                ][v]
                    .into()
            }
            Reject::HostAlbName => {
                let v = self.next("alb_name", 2);
                let prefix = if v == 0 { "" } else { "internal-" };
                spec.host = format!(
                    "{prefix}{}-{}.{}.elb.amazonaws.com",
                    self.ident.lb_name, self.ident.alb_dns_number, self.ident.region
                );
                ["public", "internal"][v].into()
            }
            Reject::Agent => {
                let v = self.next("agent", MONITORS.len());
                spec.agent = MONITORS[v].to_vec();
                let (site, path): (usize, &[u8]) =
                    [(WWW, &b"/health"[..]), (SHOP, b"/status")][pick(rng, 2)];
                let agent = std::mem::take(&mut spec.agent);
                *spec = self.base(rng, site, path.to_vec());
                spec.agent = agent;
                [
                    "elb_health_checker",
                    "kube_probe",
                    "pingdom",
                    "uptime_robot",
                ][v]
                    .into()
            }
            Reject::Credential => {
                let v = self.next("credential", 5);
                let (site, path) = match v {
                    0 => (WWW, format!("/account?token={}", hex(rng, 32))),
                    1 => (WWW, format!("/api/v1/me?access_token={}", hex(rng, 40))),
                    2 => (
                        WWW,
                        format!("/login?user=bob&password=hunter{}", pick(rng, 100)),
                    ),
                    3 => (
                        SHOP,
                        format!(
                            "/cart;jsessionid={}?item=3",
                            hex(rng, 32).to_ascii_uppercase()
                        ),
                    ),
                    _ => (
                        STATIC,
                        format!(
                            "/reports/q1.pdf?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date=20260301T000000Z&X-Amz-Expires=300&X-Amz-Signature={}",
                            hex(rng, 64)
                        ),
                    ),
                };
                *spec = self.base(rng, site, path.into_bytes());
                [
                    "token",
                    "access_token",
                    "password",
                    "jsessionid",
                    "x_amz_signature",
                ][v]
                    .into()
            }
            Reject::OtherDay | Reject::BadUrl | Reject::HostNotAllowed => String::new(),
        }
    }

    fn layout(&self, rng: &mut ChaCha8Rng, age: f64, min_fields: usize) -> usize {
        if let Some(n) = self.fixed_fields {
            return n.max(min_fields);
        }
        let weight = |&(n, w): &(usize, f64)| if n <= 29 { w * (1.0 + 6.0 * age) } else { w };
        let total: f64 = LAYOUTS.iter().map(weight).sum();
        let mut x = rng.random::<f64>() * total;
        let mut chosen = LAYOUTS[LAYOUTS.len() - 1].0;
        for l in &LAYOUTS {
            if x < weight(l) {
                chosen = l.0;
                break;
            }
            x -= weight(l);
        }
        if chosen < min_fields {
            chosen = LAYOUTS
                .iter()
                .map(|l| l.0)
                .find(|&n| n >= min_fields)
                .unwrap_or(34);
        }
        chosen
    }

    fn write(
        &self,
        rng: &mut ChaCha8Rng,
        spec: &Spec,
        time: NaiveDateTime,
        node_ip: &str,
        fields: usize,
    ) -> Vec<u8> {
        let id = &self.ident;
        let upper = rng.random_bool(0.2);
        let https = spec.scheme == "https";
        let client = if rng.random_bool(0.1) {
            format!(
                "2001:db8:{:x}:{:x}::{:x}:{}",
                pick(rng, 0xffff),
                pick(rng, 0xffff),
                pick(rng, 0xffff) + 1,
                rng.random_range(1024..65535u32)
            )
        } else {
            format!(
                "{}.{}.{}.{}:{}",
                [81, 92, 109, 151, 185, 198, 203][pick(rng, 7)],
                pick(rng, 256),
                pick(rng, 256),
                pick(rng, 254) + 1,
                rng.random_range(1024..65535u32)
            )
        };
        let target_ip = format!("10.0.{}.{}", pick(rng, 3) + 1, pick(rng, 240) + 10);
        let target_port = if spec.target_group == Some("static") {
            80
        } else {
            8080
        };
        let target = if spec.target {
            format!("{target_ip}:{target_port}")
        } else {
            "-".into()
        };
        let (t_req, t_target, t_resp) = if spec.target && spec.target_status.is_some() {
            (
                format!("0.{:03}", pick(rng, 3)),
                format!("0.{:03}", pick(rng, 800) + 1),
                "0.000".to_string(),
            )
        } else if spec.target {
            ("0.000".into(), "-1".into(), "-1".into())
        } else {
            ("-1".into(), "-1".into(), "-1".into())
        };
        let mut request = Vec::new();
        match &spec.malformed {
            Some(m) => request.extend_from_slice(m.as_bytes()),
            None => {
                request.extend_from_slice(
                    format!(
                        "{} {}://{}:{}",
                        spec.method, spec.scheme, spec.host, spec.port
                    )
                    .as_bytes(),
                );
                request.extend_from_slice(&spec.path);
                request.push(b' ');
                request.extend_from_slice(spec.protocol.as_bytes());
                if spec.trailing_space {
                    request.push(b' ');
                }
            }
        }
        let (cipher, tls) = if https {
            ("ECDHE-RSA-AES128-GCM-SHA256", "TLSv1.2")
        } else {
            ("-", "-")
        };
        let tg_arn = match spec.target_group {
            Some(tg) => {
                let i = SITES.iter().position(|s| s.target_group == tg).unwrap_or(0);
                format!(
                    "arn:aws:elasticloadbalancing:{}:{}:targetgroup/{tg}-tg/{}",
                    id.region, id.account, id.tg_ids[i]
                )
            }
            None => "-".into(),
        };
        let trace = format!("Root=1-{:08x}-{}", time.and_utc().timestamp(), hex(rng, 24));
        let ip_host = spec.host.starts_with('[') || spec.host.parse::<std::net::IpAddr>().is_ok();
        let sni = if https && spec.malformed.is_none() && !ip_host {
            spec.host.to_ascii_lowercase()
        } else {
            "-".into()
        };
        let cert = if !https {
            "-".to_string()
        } else if rng.random_bool(0.3) {
            "session-reused".into()
        } else {
            format!(
                "arn:aws:acm:{}:{}:certificate/{}",
                id.region, id.account, id.cert_id
            )
        };
        let priority = if spec.malformed.is_some() {
            "-1".to_string()
        } else {
            pick(rng, 6).to_string()
        };
        let created = time - chrono::Duration::microseconds(rng.random_range(200..900_000i64));
        let status_str = spec
            .target_status
            .map_or("-".to_string(), |s| s.to_string());
        let (t_host, t_uri, t_status) = match &spec.transformed {
            Some((h, u)) => (h.as_str(), u.as_str(), "TRANSFORMED"),
            None => ("-", "-", "-"),
        };
        let mut f: Vec<Vec<u8>> = vec![
            spec.conn_type.into(),
            fmt_time(time).into(),
            format!("app/{}/{}", id.lb_name, id.lb_id).into(),
            client.into(),
            target.clone().into(),
            t_req.into(),
            t_target.into(),
            t_resp.into(),
            spec.elb_status.to_string().into(),
            status_str.clone().into(),
            rng.random_range(80..2000u32).to_string().into(),
            rng.random_range(200..90_000u32).to_string().into(),
            quoted(&request, upper),
            quoted(&spec.agent, upper),
            cipher.into(),
            tls.into(),
            tg_arn.into(),
            q(&trace),
            q(&sni),
            q(&cert),
            priority.into(),
            fmt_time(created).into(),
            q(spec.actions),
            quoted(&spec.redirect_url, upper),
            q(spec.error_reason),
            q(&target),
            q(&status_str),
            q(spec.classification.0),
            q(spec.classification.1),
            format!("TID_{}", hex(rng, 32)).into(),
            q(t_host),
            q(t_uri),
            q(t_status),
            node_ip.into(),
            q("-"),
            b"-".to_vec(),
        ];
        f.truncate(fields);
        f.join(&b' ')
    }

    /// A line that must not parse. `kind`: 0 binary junk, 1 a line cut in the middle of its
    /// request, 2 a 2017-layout line missing its last field (19 fields).
    pub fn garbage(
        &mut self,
        rng: &mut ChaCha8Rng,
        kind: usize,
        time: NaiveDateTime,
        node_ip: &str,
    ) -> Generated {
        let (line, label) = match kind % 3 {
            0 => {
                let mut junk = vec![0x00, 0x1f, 0x8b];
                for _ in 0..rng.random_range(30..80u32) {
                    let b = rng.random::<u8>();
                    junk.push(if b == b'\n' { 0 } else { b });
                }
                (junk, "binary")
            }
            1 => {
                let spec = self.base(rng, WWW, b"/news?page=2".to_vec());
                let mut l = self.write(rng, &spec, time, node_ip, 34);
                let cut = l
                    .windows(5)
                    .position(|w| w == b"GET h")
                    .map_or(l.len() / 2, |p| p + 12);
                l.truncate(cut);
                (l, "truncated")
            }
            _ => {
                let spec = self.base(rng, WWW, b"/about".to_vec());
                (self.write(rng, &spec, time, node_ip, 19), "short")
            }
        };
        Generated {
            line,
            fate: Fate::Garbage,
            fields: None,
            labels: vec![format!("garbage:{label}")],
        }
    }
}
