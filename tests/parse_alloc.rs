//! `alb::parse_line` does not allocate, on success or on error. (Its own test binary, since it
//! installs a counting global allocator.)

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use greenlight::alb::parse_line;

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator, only counting calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::SeqCst);
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn parsing_allocates_nothing() {
    let lines: [&[u8]; 8] = [
        br#"http 2018-07-02T22:23:00.186641Z app/my-loadbalancer/50dc6c495c0c9188 192.168.131.39:2817 10.0.0.1:80 0.000 0.001 0.000 200 200 34 366 "GET http://www.example.com:80/ HTTP/1.1" "curl/7.46.0" - - arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/my-targets/73e2d6bc24d8a067 "Root=1-58337262-36d228ad5d99923122bbe354" "-" "-" 0 2018-07-02T22:22:48.364000Z "forward" "-" "-" "10.0.0.1:80" "200" "-" "-""#,
        br#"h2 2026-03-14T09:26:53.589793Z app/x/0 2001:db8::7:51234 - 0.001 0.123 0.000 200 - 512 1024 "GET https://[::1]:443/a b?\x22 HTTP/2.0 " "UA" - - arn "Root" "x" "y" 10 2026-03-14T09:26:53.465000Z "waf,forward" "-" "-" "-" "-" "Acceptable" "-" TID_0 "h" "/a" "s" 10.1.0.9 x "y z" w"#,
        b"",
        b"{\"type\":\"http\"}",
        b"2023-10-04T17:05:15.514108Z 203.0.113.1 36280 443",
        b"http 2025-10-31T12:44:59.875678Z 0.019584011 172.31.20.97:80 HCLogsTestIPs PASS 200 -",
        b"Enable AccessLog for ELB: app/my-alb/959dfdbaed241613 at 2020-11-20T09:55:52.806Z",
        b"http 2018 \"unterminated",
    ];
    let before = ALLOCATIONS.load(Ordering::SeqCst);
    let mut ok = 0;
    for line in lines {
        if std::hint::black_box(parse_line(line)).is_ok() {
            ok += 1;
        }
    }
    let after = ALLOCATIONS.load(Ordering::SeqCst);
    assert_eq!(ok, 2);
    assert_eq!(after - before, 0, "parse_line allocated");

    // The counter does count.
    let boxed = std::hint::black_box(Box::new(after));
    assert!(ALLOCATIONS.load(Ordering::SeqCst) > after, "{boxed}");
}
