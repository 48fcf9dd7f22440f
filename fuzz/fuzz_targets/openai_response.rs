//! Fuzz target: any bytes as a provider's non-streaming answer for the OpenAI-compatible reader
//! (one pass of `router_core::json::Scanner` that copies `choices` raw).
//!
//! The reader must never panic; it must accept only JSON that serde_json accepts; and what it
//! accepts must agree with serde_json's reading of the same text: an object whose `choices` is
//! an array equal to the raw `choices` handed on, and whose `id` (when a string) is the
//! response's upstream id. Texts with a repeated top-level member are only checked for the first
//! two properties (which repeat wins is not specified by JSON).

#![no_main]

use std::collections::HashSet;

use libfuzzer_sys::fuzz_target;
use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::Value;

fuzz_target!(|bytes: &[u8]| {
    let read = router_upstream::fuzzing::read_completion(bytes);
    let Ok(text) = std::str::from_utf8(bytes) else {
        assert!(read.is_err(), "{bytes:?}");
        return;
    };
    // serde_json refuses nesting deeper than 128, as the scanner does; both count differently
    // near the limit, so only shallower texts are compared.
    let depth = text
        .bytes()
        .filter(|byte| matches!(byte, b'[' | b'{'))
        .count();
    if depth >= 120 {
        return;
    }
    let value = serde_json::from_str::<Value>(text);
    let Ok(response) = read else {
        return;
    };
    let value =
        value.unwrap_or_else(|err| panic!("accepted what serde_json refuses ({err}): {text:?}"));
    if repeats_a_member(text) {
        return;
    }
    let choices: Value = serde_json::from_str(response.choices.get()).expect("choices is JSON");
    assert!(choices.is_array(), "{text:?}");
    assert_eq!(choices, value["choices"], "{text:?}");
    if let Some(id) = value["id"].as_str() {
        assert_eq!(response.upstream_id.as_deref(), Some(id), "{text:?}");
    }
});

/// Whether the top-level object names a member twice.
fn repeats_a_member(text: &str) -> bool {
    struct Repeats(bool);
    impl<'de> Deserialize<'de> for Repeats {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            deserializer.deserialize_map(RepeatsVisitor)
        }
    }
    struct RepeatsVisitor;
    impl<'de> Visitor<'de> for RepeatsVisitor {
        type Value = Repeats;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("an object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Repeats, A::Error> {
            let mut names = HashSet::new();
            let mut repeats = false;
            while let Some((name, IgnoredAny)) = map.next_entry::<String, IgnoredAny>()? {
                repeats |= !names.insert(name);
            }
            Ok(Repeats(repeats))
        }
    }
    serde_json::from_str::<Repeats>(text).is_ok_and(|it| it.0)
}
