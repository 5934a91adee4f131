//! Fuzz target: one ALB access-log line (`alb::parse_line`, the `\xHH` decoder, and the replay
//! filter on what parses). The checks are in `greenlight_fuzz::parse_line_holds`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| greenlight_fuzz::parse_line_holds(data));
