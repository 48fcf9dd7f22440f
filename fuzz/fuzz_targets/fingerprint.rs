//! Fuzz target: the conversation key and the fingerprint's canonical encoding.
//!
//! Any body the request parser accepts must resolve to a conversation key without panicking;
//! its canonical encoding must be deterministic, start with the version tag, and hash to the
//! fingerprint; and the encoding must not depend on anything after the first non-system
//! message (dropping the messages after it leaves it unchanged).

#![no_main]

use libfuzzer_sys::fuzz_target;
use router_core::request::{ChatRequest, Role};
use router_session::{ConversationKey, Fingerprint, canonical_encoding};

fuzz_target!(|data: &[u8]| {
    let Ok(request) = ChatRequest::parse(data) else {
        return;
    };
    let header = std::str::from_utf8(data).ok().filter(|it| it.len() < 300);
    let _ = ConversationKey::resolve(&request, header);
    let encoding = canonical_encoding(&request.messages);
    assert!(encoding.starts_with(b"turnout-fingerprint-v1"));
    assert_eq!(encoding, canonical_encoding(&request.messages));
    assert_eq!(
        Fingerprint::of(&request.messages).0,
        *blake3::hash(&encoding).as_bytes()
    );
    let first_other = request
        .messages
        .iter()
        .position(|it| !matches!(it.role, Role::System | Role::Developer));
    if let Some(idx) = first_other {
        assert_eq!(encoding, canonical_encoding(&request.messages[..=idx]));
    }
});
