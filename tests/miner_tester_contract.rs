//! The contract between the two binaries: every URL the miner can list is one the tester
//! accepts and can put on the wire unchanged, whatever bytes a client sent.

use greenlight::list::check_origin_form;
use greenlight::mine::normalize::{NormalizeOptions, normalize};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    #[test]
    fn every_listed_target_is_sendable(path in proptest::collection::vec(any::<u8>(), 0..200)) {
        let mut url = b"https://www.example.com:443/".to_vec();
        url.extend_from_slice(&path);
        let mut scratch = Vec::new();
        if let Ok(n) = normalize(&url, &NormalizeOptions::default(), &mut scratch) {
            let target = n.target(&scratch);
            prop_assert!(
                check_origin_form(target).is_ok(),
                "{:?} -> {:?}: {:?}",
                String::from_utf8_lossy(&path),
                String::from_utf8_lossy(target),
                check_origin_form(target)
            );
        }
    }

    #[test]
    fn printable_ascii_targets_are_sendable(path in "[ -~]{0,120}") {
        let url = format!("http://shop.example.com:8080/{path}");
        let mut scratch = Vec::new();
        if let Ok(n) = normalize(url.as_bytes(), &NormalizeOptions::default(), &mut scratch) {
            let target = n.target(&scratch);
            prop_assert!(check_origin_form(target).is_ok(), "{:?}", String::from_utf8_lossy(target));
        }
    }
}
