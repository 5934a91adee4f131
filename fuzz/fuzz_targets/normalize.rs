//! Fuzz target: one request URL (`mine::normalize`); the first byte picks the options. The
//! checks are in `greenlight_fuzz::normalize_holds`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| greenlight_fuzz::normalize_holds(data));
