//! Fuzz target: any bytes as JSON text for the scanner that reads provider responses.
//!
//! The scanner must never panic, must accept exactly the texts serde_json accepts, and the value
//! text it returns must be the whole text without the whitespace around it. Resuming an object
//! after any of its members must read the rest as the scan from the start did.

#![no_main]

use libfuzzer_sys::fuzz_target;
use router_core::json::{Kind, RawJson, Scanner};
use serde::de::IgnoredAny;

fuzz_target!(|bytes: &[u8]| {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return;
    };
    let scanned = RawJson::parse(text);
    // serde_json refuses nesting deeper than 128, as the scanner does; both count differently
    // near the limit, so only shallower texts are compared.
    let depth = text
        .bytes()
        .filter(|byte| matches!(byte, b'[' | b'{'))
        .count();
    if depth < 120 {
        let serde = serde_json::from_str::<IgnoredAny>(text);
        assert_eq!(scanned.is_ok(), serde.is_ok(), "{text:?}");
    }
    if let Ok(raw) = scanned {
        assert_eq!(raw.get(), text.trim_matches([' ', '\t', '\n', '\r']));
    }
    let mut scanner = Scanner::new(text);
    if matches!(scanner.kind(), Ok(Kind::Object)) {
        let (mut ends, mut names) = (Vec::new(), Vec::new());
        let full = scanner
            .object(|name, scanner| {
                scanner.value()?;
                ends.push(scanner.position());
                names.push(name.into_owned());
                Ok(())
            })
            .and_then(|()| scanner.finish());
        for (idx, end) in ends.iter().enumerate() {
            let mut rest = Vec::new();
            let mut scanner = Scanner::resume(text, *end).expect("members end at a boundary");
            let resumed = scanner
                .rest_of_object(|name, scanner| {
                    scanner.value()?;
                    rest.push(name.into_owned());
                    Ok(())
                })
                .and_then(|()| scanner.finish());
            assert_eq!(resumed.is_ok(), full.is_ok(), "{text:?}");
            assert_eq!(rest, names[idx + 1..], "{text:?}");
        }
    }
});
