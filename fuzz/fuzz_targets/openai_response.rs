//! Fuzz target: any bytes as a provider's non-streaming answer for the OpenAI-compatible reader
//! (one pass of `router_core::json::Scanner` that copies `choices` raw).
//!
//! The reader must never panic; it must accept only JSON that serde_json accepts; and what it
//! accepts must agree with serde_json's reading of the same text: an object whose `choices` is
//! an array equal to the `choices` handed on once normalized as OpenRouter answers (each string
//! `finish_reason` normalized with the provider's value as `native_finish_reason`, a missing
//! `index` or message `role` filled in; see [`normalized`]), and whose `id` (when a string) is
//! the response's upstream id. Texts with a repeated member in any object are only checked for
//! the first two properties (which repeat wins is not specified by JSON).

#![no_main]

use std::collections::HashSet;

use libfuzzer_sys::fuzz_target;
use router_core::response::FinishReason;
use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
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
    assert_eq!(choices, normalized(&value["choices"]), "{text:?}");
    if let Some(id) = value["id"].as_str() {
        assert_eq!(response.upstream_id.as_deref(), Some(id), "{text:?}");
    }
});

/// `choices` as the reader hands them on, modelled on serde_json's reading: in each choice a
/// string `finish_reason` normalized, the provider's value kept as `native_finish_reason` unless
/// the choice has one; a missing `index` set to the choice's position and a `message` without
/// `role` given `"assistant"`. Reasoning is kept (the fuzzing entry point does not exclude it).
fn normalized(choices: &Value) -> Value {
    let mut choices = choices.clone();
    for (idx, choice) in choices.as_array_mut().into_iter().flatten().enumerate() {
        let Some(choice) = choice.as_object_mut() else {
            continue;
        };
        choice.entry("index").or_insert(Value::from(idx));
        if let Some(Value::Object(message)) = choice.get_mut("message") {
            message.entry("role").or_insert(Value::from("assistant"));
        }
        if let Some(Value::String(native)) = choice.get("finish_reason").cloned() {
            let normal = FinishReason::normalize(&native).as_str();
            choice.insert("finish_reason".to_owned(), Value::from(normal));
            choice
                .entry("native_finish_reason")
                .or_insert(Value::String(native));
        }
    }
    choices
}

/// Whether some object in the text, at any depth, names a member twice.
fn repeats_a_member(text: &str) -> bool {
    struct Repeats(bool);
    impl<'de> Deserialize<'de> for Repeats {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            deserializer.deserialize_any(RepeatsVisitor)
        }
    }
    struct RepeatsVisitor;
    impl<'de> Visitor<'de> for RepeatsVisitor {
        type Value = Repeats;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a JSON value")
        }
        fn visit_bool<E>(self, _: bool) -> Result<Repeats, E> {
            Ok(Repeats(false))
        }
        fn visit_i64<E>(self, _: i64) -> Result<Repeats, E> {
            Ok(Repeats(false))
        }
        fn visit_u64<E>(self, _: u64) -> Result<Repeats, E> {
            Ok(Repeats(false))
        }
        fn visit_f64<E>(self, _: f64) -> Result<Repeats, E> {
            Ok(Repeats(false))
        }
        fn visit_str<E>(self, _: &str) -> Result<Repeats, E> {
            Ok(Repeats(false))
        }
        fn visit_unit<E>(self) -> Result<Repeats, E> {
            Ok(Repeats(false))
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Repeats, A::Error> {
            let mut repeats = false;
            while let Some(Repeats(inner)) = seq.next_element::<Repeats>()? {
                repeats |= inner;
            }
            Ok(Repeats(repeats))
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Repeats, A::Error> {
            let mut names = HashSet::new();
            let mut repeats = false;
            while let Some((name, Repeats(inner))) = map.next_entry::<String, Repeats>()? {
                repeats |= inner | !names.insert(name);
            }
            Ok(Repeats(repeats))
        }
    }
    serde_json::from_str::<Repeats>(text).is_ok_and(|it| it.0)
}
