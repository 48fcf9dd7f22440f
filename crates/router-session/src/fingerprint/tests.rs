//! Golden values and properties of the fingerprint and its canonical encoding.

use proptest::prelude::*;
use router_core::request::ChatRequest;

use super::*;

fn fingerprint_of(body: &str) -> String {
    let request = ChatRequest::parse(body.as_bytes()).unwrap();
    hex(&Fingerprint::of(&request.messages).0)
}

fn encoding_of(body: &str) -> Vec<u8> {
    let request = ChatRequest::parse(body.as_bytes()).unwrap();
    canonical_encoding(&request.messages)
}

/// Changing one of these values changes every implicit pin: do it on purpose, and say so.
#[test]
fn golden_fingerprints() {
    let cases = [
        (
            r#"{"messages":[{"role":"user","content":"Hello"}]}"#,
            "8d0528c3aac9e8dbd416333295ab35d83f4ffb2ebaf8b99bcef9e963de748fab",
        ),
        (
            r#"{"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hello"}]}"#,
            "2955aea79466f9894e6177884b60134b13bbaa79394ed26cdc61b09e991cd258",
        ),
        (
            r#"{"messages":[{"role":"developer","content":"Be brief."},{"role":"user","content":[{"type":"text","text":"What is this?"},{"type":"image_url","image_url":{"url":"https://example.com/cat.png"}}]}]}"#,
            "87d09da0b6bacd21fa55455fbc9090d5cbd2edd696751abfcca88131fa2dd29d",
        ),
    ];
    for (body, expected) in cases {
        assert_eq!(fingerprint_of(body), expected, "{body}");
    }
}

#[test]
fn the_encoding_is_as_documented() {
    let encoding = encoding_of(
        r#"{"messages":[{"role":"system","content":"S"},{"role":"user","content":[{"type":"text","text":"hi"},{"type":"image_url","image_url":"u"},{"type":"input_audio"}]}]}"#,
    );
    let mut expected = b"turnout-fingerprint-v1".to_vec();
    expected.extend_from_slice(&[1, b'S', 1, 0, 0, 0, b'T', 1, 0, 0, 0, 0, 0, 0, 0, b'S']);
    expected.extend_from_slice(&[1, b'U', 2, 0, 0, 0, b'T', 2, 0, 0, 0, 0, 0, 0, 0]);
    expected.extend_from_slice(b"hi");
    expected.extend_from_slice(&[b'I', 1, 0, 0, 0, 0, 0, 0, 0, b'u']);
    assert_eq!(encoding, expected);
    // No system message: a 0 byte in its place.
    let encoding = encoding_of(r#"{"messages":[{"role":"user","content":null}]}"#);
    let mut expected = b"turnout-fingerprint-v1".to_vec();
    expected.extend_from_slice(&[0, 1, b'U', 0, 0, 0, 0]);
    assert_eq!(encoding, expected);
}

#[test]
fn equivalent_spellings_encode_alike() {
    let plain = encoding_of(
        r#"{"messages":[{"role":"system","content":"A"},{"role":"user","content":"hi"}]}"#,
    );
    for body in [
        r#"{"messages":[{"role":"developer","content":"\u0041"},{"role":"user","content":[{"type":"text","text":"hi","cache_control":{"type":"ephemeral"}}]}]}"#,
        r#"{"messages":[{"role":"system","content":"A"},{"role":"system","content":"B"},{"role":"user","content":"hi"},{"role":"system","content":"C"}]}"#,
    ] {
        assert_eq!(encoding_of(body), plain, "{body}");
    }
}

/// A message as the property tests build it: a role and text/image parts.
#[derive(Debug, Clone)]
struct TestMessage {
    role: &'static str,
    parts: Vec<(bool, String)>,
    as_string: bool,
}

impl TestMessage {
    fn to_json(&self) -> serde_json::Value {
        if self.as_string && self.parts.len() == 1 && !self.parts[0].0 {
            return serde_json::json!({"role": self.role, "content": self.parts[0].1});
        }
        let parts: Vec<_> = self
            .parts
            .iter()
            .map(|(image, text)| {
                if *image {
                    serde_json::json!({"type": "image_url", "image_url": {"url": text}})
                } else {
                    serde_json::json!({"type": "text", "text": text})
                }
            })
            .collect();
        serde_json::json!({"role": self.role, "content": parts})
    }
}

fn message(roles: &'static [&'static str]) -> impl Strategy<Value = TestMessage> {
    (
        proptest::sample::select(roles),
        proptest::collection::vec((any::<bool>(), ".{0,8}"), 1..3),
        any::<bool>(),
    )
        .prop_map(|(role, parts, as_string)| TestMessage {
            role,
            parts,
            as_string,
        })
}

const SYSTEM: &[&str] = &["system", "developer"];
const OTHER: &[&str] = &["user", "assistant", "tool"];
const ANY: &[&str] = &["system", "developer", "user", "assistant", "tool"];

fn fingerprint_of_messages(messages: &[TestMessage]) -> Fingerprint {
    let json: Vec<_> = messages.iter().map(TestMessage::to_json).collect();
    let body = serde_json::json!({ "messages": json }).to_string();
    let request = ChatRequest::parse(body.as_bytes()).unwrap();
    Fingerprint::of(&request.messages)
}

proptest! {
    #[test]
    fn ignores_everything_after_the_first_non_system_message(
        system in proptest::option::of(message(SYSTEM)),
        first in message(OTHER),
        rest in proptest::collection::vec(message(ANY), 0..4),
        more in proptest::collection::vec(message(ANY), 0..4),
    ) {
        let mut short: Vec<_> = system.into_iter().collect();
        short.push(first);
        let mut long = short.clone();
        long.extend(rest);
        let mut longer = short.clone();
        longer.extend(more);
        prop_assert_eq!(fingerprint_of_messages(&long), fingerprint_of_messages(&longer));
        prop_assert_eq!(fingerprint_of_messages(&short), fingerprint_of_messages(&long));
    }

    #[test]
    fn changes_with_any_change_to_the_first_system_or_first_non_system_message(
        system in message(SYSTEM),
        first in message(OTHER),
        other in message(ANY),
        which in any::<bool>(),
        rest in proptest::collection::vec(message(ANY), 0..3),
    ) {
        let canonical = |it: &TestMessage| {
            let role = if SYSTEM.contains(&it.role) { "system" } else { it.role };
            (role, it.parts.clone())
        };
        let mut before = vec![system.clone(), first.clone()];
        before.extend(rest.clone());
        let mut after = before.clone();
        let changed = if which { 0 } else { 1 };
        // Keep the shape (a system message first, a non-system one second).
        let roles_fit = SYSTEM.contains(&other.role) == (changed == 0);
        prop_assume!(roles_fit);
        prop_assume!(canonical(&other) != canonical(&after[changed]));
        after[changed] = other;
        prop_assert_ne!(fingerprint_of_messages(&before), fingerprint_of_messages(&after));
    }
}
