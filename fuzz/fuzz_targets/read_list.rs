//! Fuzz target: one acceptance list as the tester reads it (`list::read_list`,
//! `list::check_origin_form`). The checks are in `greenlight_fuzz::read_list_holds`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| greenlight_fuzz::read_list_holds(data));
