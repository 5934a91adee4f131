//! Throughput of `alb::parse_line` over a realistic mix of access-log lines (built here, no I/O).

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use greenlight::alb::{AlbRecord, parse_into, parse_line};

const LINES: usize = 4000;

/// A small deterministic generator (xorshift64*), so every run parses the same lines.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

const AGENTS: [&str; 5] = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
    "curl/8.5.0",
    "ELB-HealthChecker/2.0",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
];
const PATHS: [&str; 8] = [
    "/",
    "/products/1234567?color=blue&size=m",
    "/search?q=caf\\xC3\\xA9%20au%20lait&page=2",
    "/static/js/app.3f9a1c2b.js",
    "/api/v2/orders/98765/items?expand=product,price&limit=50",
    "/a b/with raw spaces?x=1",
    "/images/banner_2026_spring.webp",
    "/account/login?next=%2Faccount%2Forders",
];
const ACTIONS: [&str; 5] = [
    "forward",
    "waf,forward",
    "authenticate,forward",
    "redirect",
    "fixed-response",
];
/// Field counts seen over the years, weighted towards current layouts, plus one with unknowns.
const LAYOUTS: [usize; 10] = [20, 24, 25, 27, 29, 30, 33, 34, 34, 36];

fn line(rng: &mut Rng) -> String {
    let ty = rng.pick(&[
        "https", "https", "https", "http", "h2", "h2", "wss", "grpcs",
    ]);
    let client = if rng.below(5) == 0 {
        format!(
            "2001:db8:{:x}::{:x}:{}",
            rng.below(65536),
            rng.below(65536),
            rng.below(65536)
        )
    } else {
        format!(
            "{}.{}.{}.{}:{}",
            rng.below(256),
            rng.below(256),
            rng.below(256),
            rng.below(256),
            rng.below(65536)
        )
    };
    let malformed = rng.below(100) == 0;
    let target = if malformed || rng.below(20) == 0 {
        "-".to_string()
    } else {
        format!("10.0.{}.{}:8080", rng.below(256), rng.below(256))
    };
    let (elb, tgt) = if target == "-" {
        (rng.pick(&["400", "403", "460", "502"]), "-")
    } else {
        let s = rng.pick(&["200", "200", "200", "304", "301", "404", "500"]);
        (s, s)
    };
    let host = rng.pick(&[
        "www.example.com",
        "shop.example.com",
        "my-alb-1234567890.eu-west-1.elb.amazonaws.com",
        "[::ffff:a9fe:a9fe]",
    ]);
    let request = if malformed {
        format!("- http://{host}:80- -")
    } else {
        let method = rng.pick(&["GET", "GET", "GET", "GET", "POST", "HEAD", "OPTIONS"]);
        let proto = rng.pick(&["HTTP/1.1", "HTTP/2.0", "HTTP/1.0 "]);
        format!("{method} https://{host}:443{} {proto}", rng.pick(&PATHS))
    };
    let fields: Vec<String> = vec![
        ty.into(),
        format!("2026-03-14T{:02}:{:02}:{:02}.{:06}Z", rng.below(24), rng.below(60), rng.below(60), rng.below(1_000_000)),
        "app/shop-prod/50dc6c495c0c9188".into(),
        client,
        target.clone(),
        "0.000".into(),
        format!("0.{:03}", rng.below(1000)),
        "0.000".into(),
        elb.into(),
        tgt.into(),
        rng.below(4000).to_string(),
        rng.below(200_000).to_string(),
        format!("\"{request}\""),
        format!("\"{}\"", rng.pick(&AGENTS)),
        "ECDHE-RSA-AES128-GCM-SHA256".into(),
        "TLSv1.2".into(),
        "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/shop-prod/73e2d6bc24d8a067".into(),
        format!("\"Root=1-65f2c0d5-{:024x}\"", rng.next() as u128 * 7919),
        format!("\"{host}\""),
        "\"arn:aws:acm:eu-west-1:123456789012:certificate/12345678-1234-1234-1234-123456789012\"".into(),
        rng.below(50).to_string(),
        "2026-03-14T12:00:00.000000Z".into(),
        format!("\"{}\"", rng.pick(&ACTIONS)),
        "\"-\"".into(),
        "\"-\"".into(),
        format!("\"{}\"", if target == "-" { "-" } else { &target }),
        format!("\"{tgt}\""),
        "\"Acceptable\"".into(),
        "\"-\"".into(),
        format!("TID_{:032x}", rng.next()),
        "\"-\"".into(),
        "\"-\"".into(),
        "\"-\"".into(),
        "10.0.0.9".into(),
        "future-field".into(),
        "\"another one\"".into(),
    ];
    let n = LAYOUTS[rng.below(LAYOUTS.len() as u64) as usize];
    fields[..n].join(" ")
}

fn corpus() -> Vec<String> {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    (0..LINES).map(|_| line(&mut rng)).collect()
}

/// Each line into a record of its own, as the scan parses (`parse_into`).
fn parse_all(lines: &[String]) -> usize {
    let mut ok = 0;
    for l in lines {
        let line = black_box(l.as_bytes());
        let mut r = AlbRecord::empty(line);
        if parse_into(line, &mut r).is_ok() {
            ok += r.field_count + r.request.url.raw().len();
        }
    }
    ok
}

fn bench(c: &mut Criterion) {
    let lines = corpus();
    assert!(lines.iter().all(|l| parse_line(l.as_bytes()).is_ok()));
    let bytes: usize = lines.iter().map(|l| l.len() + 1).sum();

    let mut g = c.benchmark_group("parse_bytes");
    g.throughput(Throughput::Bytes(bytes as u64));
    g.bench_function("mixed_lines", |b| b.iter(|| parse_all(&lines)));
    g.finish();

    let mut g = c.benchmark_group("parse_lines");
    g.throughput(Throughput::Elements(lines.len() as u64));
    g.bench_function("mixed_lines", |b| b.iter(|| parse_all(&lines)));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
