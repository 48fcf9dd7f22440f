//! Tests of the JSON scanner: its grammar against RFC 8259 and serde_json, member reading,
//! string decoding and the nesting limit.

use std::collections::BTreeMap;

use proptest::prelude::*;
use serde::de::IgnoredAny;
use serde_json::value::RawValue;

use super::*;

/// Whether the scanner takes `text` as one JSON value.
fn scans(text: &str) -> bool {
    RawJson::parse(text).is_ok()
}

/// Whether serde_json does.
fn serde_takes(text: &str) -> bool {
    serde_json::from_str::<IgnoredAny>(text).is_ok()
}

#[test]
fn takes_what_rfc_8259_allows() {
    for text in [
        "0",
        "-0",
        "12.5e-3",
        "1E+9",
        "-0.0e0",
        "123456789012345678901234567890",
        "true",
        "false",
        "null",
        r#""""#,
        r#""a\"b\\c\/d\b\f\n\r\t\u00e9\uD83D\uDE00 lone \uD800""#,
        "\"caf\u{e9} \u{1f600}\"",
        "[]",
        "{}",
        " [ 1 , { \"a\" : [ ] } , \"x\" ]\n",
        r#"{"a":{"b":{"c":[null,true,false,-1]}},"":0}"#,
    ] {
        assert!(scans(text), "{text}");
        assert!(serde_takes(text), "{text}");
    }
}

#[test]
fn refuses_what_it_does_not() {
    for text in [
        "",
        " ",
        "01",
        "-",
        "1.",
        ".5",
        "1e",
        "1e+",
        "+1",
        "0x10",
        "NaN",
        "tru",
        "nul",
        "True",
        "\"abc",
        "\"a\\x\"",
        "\"\\u12G4\"",
        "\"\\u12\"",
        "\"tab\tinside\"",
        "\"new\nline\"",
        "[1,]",
        "[,1]",
        "[1 2]",
        "{\"a\":1,}",
        "{\"a\" 1}",
        "{a:1}",
        "{\"a\":}",
        "{1:2}",
        "[}",
        "{]",
        "[[1]",
        "[1]]",
        "1 2",
        "{}x",
    ] {
        assert!(!scans(text), "{text:?}");
        assert!(!serde_takes(text), "{text:?}");
    }
}

#[test]
fn nesting_is_limited_without_recursion() {
    let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
    assert!(scans(&deep(100)));
    let error = RawJson::parse(&deep(100_000)).unwrap_err();
    assert_eq!(error.what, "nested too deeply");
    let objects = format!("{}1{}", "{\"a\":".repeat(129), "}".repeat(129));
    assert!(!scans(&objects));
}

#[test]
fn members_and_elements_are_handed_over_in_order() {
    let text =
        r#" { "id" : "x\"y", "n": 12, "list": [1, "two", {"three": 3}], "skip": {"a": [1]} } "#;
    let mut scanner = Scanner::new(text);
    let mut seen = Vec::new();
    scanner
        .object(|name, scanner| {
            match name.as_ref() {
                "id" => seen.push(format!("id={}", scanner.string()?)),
                "n" => seen.push(format!("n={}", scanner.number()?)),
                "list" => scanner.array(|scanner| {
                    let kind = scanner.kind()?;
                    seen.push(format!("{kind:?}={}", scanner.value()?.get()));
                    Ok(())
                })?,
                _ => seen.push(format!("{name}:{}", scanner.value()?.get())),
            }
            Ok(())
        })
        .unwrap();
    scanner.finish().unwrap();
    assert_eq!(
        seen,
        [
            "id=x\"y",
            "n=12",
            "Number=1",
            "String=\"two\"",
            "Object={\"three\": 3}",
            "skip:{\"a\": [1]}",
        ]
    );
}

#[test]
fn a_read_of_the_wrong_kind_is_an_error_at_the_value() {
    let mut scanner = Scanner::new(r#"{"id": 5}"#);
    let error = scanner
        .object(|_, scanner| scanner.string().map(drop))
        .unwrap_err();
    assert_eq!(error.at, 7);
    assert_eq!(error.what, "expected a string");
    assert!(Scanner::new("[1]").object(|_, _| Ok(())).is_err());
    assert!(Scanner::new("{}").array(|_| Ok(())).is_err());
}

#[test]
fn escaped_names_are_decoded() {
    let mut names = Vec::new();
    Scanner::new(r#"{"i\u0064":1,"\ud83d\ude00":2,"a\nb":3}"#)
        .object(|name, scanner| {
            names.push(name.into_owned());
            scanner.value().map(drop)
        })
        .unwrap();
    assert_eq!(names, ["id", "\u{1f600}", "a\nb"]);
}

#[test]
fn resumes_only_at_character_boundaries() {
    let text = "{\"a\":\"\u{e9}\"}";
    assert!(
        Scanner::resume(text, 7).is_none(),
        "inside the two bytes of \u{e9}"
    );
    assert!(Scanner::resume(text, text.len()).is_some());
}

/// JSON values, from which texts are printed compactly or with whitespace.
fn values() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>()
            .prop_filter("finite", |x| x.is_finite())
            .prop_map(serde_json::Value::from),
        any::<String>().prop_map(serde_json::Value::from),
        "[\"\\\\/\\x00-\\x1f\u{e9}\u{1f600}a ]{0,6}".prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(6, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::from),
            prop::collection::btree_map("[a-z\"\\\\]{0,4}", inner, 0..6)
                .prop_map(|map| serde_json::Value::Object(map.into_iter().collect())),
        ]
    })
}

/// Bytes that matter to the grammar, for mutating valid texts.
const GRAMMAR_BYTES: &[u8] = b"{}[]:,\"\\/ \t\n01-+.eEtrufalsn\x01x";

proptest! {
    #[test]
    fn takes_every_value_serde_json_prints(value in values(), pretty in any::<bool>()) {
        let text = if pretty {
            serde_json::to_string_pretty(&value).unwrap()
        } else {
            serde_json::to_string(&value).unwrap()
        };
        let raw = RawJson::parse(&text).unwrap();
        prop_assert_eq!(raw.get(), text.trim());
    }

    #[test]
    fn agrees_with_serde_json_on_damaged_texts(
        value in values(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), 0..3u8, prop::sample::select(GRAMMAR_BYTES)), 1..4),
    ) {
        let mut bytes = serde_json::to_string(&value).unwrap().into_bytes();
        for (at, op, byte) in edits {
            let at = at.index(bytes.len() + 1);
            match op {
                0 => bytes.insert(at, byte),
                1 if at < bytes.len() => { bytes.remove(at); }
                _ if at < bytes.len() => bytes[at] = byte,
                _ => bytes.push(byte),
            }
        }
        if let Ok(text) = std::str::from_utf8(&bytes) {
            prop_assert_eq!(scans(text), serde_takes(text), "{:?}", text);
        }
    }

    #[test]
    fn agrees_with_serde_json_on_short_texts_of_grammar_bytes(
        bytes in prop::collection::vec(prop::sample::select(GRAMMAR_BYTES), 0..10),
    ) {
        let text = std::str::from_utf8(&bytes).unwrap();
        prop_assert_eq!(scans(text), serde_takes(text), "{:?}", text);
    }

    #[test]
    fn member_spans_and_strings_match_serde_json(
        map in prop::collection::btree_map("[a-z\\\\\"\u{e9}]{0,5}", values(), 0..8),
    ) {
        let text = serde_json::to_string_pretty(&map).unwrap();
        let expected: BTreeMap<String, &RawValue> = serde_json::from_str(&text).unwrap();
        let mut seen = BTreeMap::new();
        let mut scanner = Scanner::new(&text);
        scanner.object(|name, scanner| {
            let value = scanner.value()?;
            seen.insert(name.into_owned(), value.get());
            Ok(())
        }).unwrap();
        scanner.finish().unwrap();
        let expected: BTreeMap<String, &str> =
            expected.into_iter().map(|(name, raw)| (name, raw.get())).collect();
        prop_assert_eq!(seen, expected);
    }

    #[test]
    fn resuming_after_a_member_reads_the_rest_as_a_scan_from_the_start(
        map in prop::collection::btree_map("[a-z\\\\\"\u{e9}]{0,5}", values(), 1..6),
        pretty in any::<bool>(),
        after in any::<prop::sample::Index>(),
        tail in "[ ,}\\]\"a:0-9]{0,3}",
    ) {
        let mut text = if pretty {
            serde_json::to_string_pretty(&map).unwrap()
        } else {
            serde_json::to_string(&map).unwrap()
        };
        // Damage the end sometimes: resuming must fail where a full scan fails.
        if !tail.is_empty() {
            text.truncate(text.len() - 1);
            text.push_str(&tail);
        }
        let after = after.index(map.len());
        // A full scan, noting where each member's value ends.
        let mut ends = Vec::new();
        let mut names = Vec::new();
        let mut scanner = Scanner::new(&text);
        let full = scanner.object(|name, scanner| {
            scanner.value()?;
            ends.push(scanner.position());
            names.push(name.into_owned());
            Ok(())
        }).and_then(|()| scanner.finish());
        prop_assume!(ends.len() > after);
        let mut rest = Vec::new();
        let mut scanner = Scanner::resume(&text, ends[after]).unwrap();
        let resumed = scanner.rest_of_object(|name, scanner| {
            scanner.value()?;
            rest.push(name.into_owned());
            Ok(())
        }).and_then(|()| scanner.finish());
        prop_assert_eq!(resumed.is_ok(), full.is_ok(), "{:?}", text);
        prop_assert_eq!(&rest[..], &names[after + 1..], "{:?}", text);
    }

    #[test]
    fn strings_decode_as_serde_json_decodes_them(text in any::<String>()) {
        let json = serde_json::to_string(&text).unwrap();
        let decoded = Scanner::new(&json).string().unwrap();
        prop_assert_eq!(decoded.as_ref(), text.as_str());
    }
}
