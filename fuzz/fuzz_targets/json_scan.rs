//! Fuzz target: any bytes as JSON text for the scanner that reads provider responses.
//!
//! The scanner must never panic, must accept exactly the texts serde_json accepts, and the value
//! text it returns must be the whole text without the whitespace around it.

#![no_main]

use libfuzzer_sys::fuzz_target;
use router_core::json::RawJson;
use serde::de::IgnoredAny;

fuzz_target!(|bytes: &[u8]| {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return;
    };
    let scanned = RawJson::parse(text);
    // serde_json refuses nesting deeper than 128, as the scanner does; both count differently
    // near the limit, so only shallower texts are compared.
    let depth = text.bytes().filter(|byte| matches!(byte, b'[' | b'{')).count();
    if depth < 120 {
        let serde = serde_json::from_str::<IgnoredAny>(text);
        assert_eq!(scanned.is_ok(), serde.is_ok(), "{text:?}");
    }
    if let Ok(raw) = scanned {
        assert_eq!(raw.get(), text.trim_matches([' ', '\t', '\n', '\r']));
    }
});
