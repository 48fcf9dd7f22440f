//! The implicit conversation key: a blake3 hash over a canonical encoding of the start of a
//! conversation.
//!
//! # The canonical encoding (version 1)
//!
//! Only two messages count: the first message whose role is `system` or `developer` among
//! those before the first other message, and the first message whose role is neither (usually
//! the first `user` message). Everything after that first non-system message is ignored, so
//! every turn of one conversation has the same fingerprint.
//!
//! The encoding is the bytes `turnout-fingerprint-v1`, then each of the two messages in that
//! order as:
//!
//! - `0x00` when the conversation has no such message; otherwise
//! - `0x01`, one role byte (`S` for system and developer alike, `U` user, `A` assistant,
//!   `T` tool), the number of parts as a little-endian `u32`, and each part as a kind byte
//!   (`T` text, `I` image URL, `R` content that is not valid content JSON, kept as its raw
//!   text), the length of its bytes as a little-endian `u64`, and the bytes.
//!
//! A string `content` is one text part; an array's `text` parts are text parts and its
//! `image_url` parts (`{"url": …}` or a bare string) image parts, in order; other parts (audio,
//! files) and other part fields (`cache_control`) are left out. JSON escapes are decoded first,
//! so `"\u0041"` and `"A"` encode alike. Lengths make the encoding unambiguous: two different
//! pairs of messages never share an encoding.
//!
//! Changing any of this changes every fingerprint (and so drops every implicit pin): the
//! golden values in the tests make such a change deliberate.

use std::borrow::Cow;
use std::fmt;

use router_core::request::{Message, Role};
use serde::Deserialize;

/// The first bytes of every version-1 encoding.
const DOMAIN: &[u8] = b"turnout-fingerprint-v1";

/// The blake3 hash of a conversation's canonical encoding.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint(pub [u8; 32]);

impl Fingerprint {
    /// The fingerprint of `messages` (see the module docs). Hashes as it encodes: nothing is
    /// buffered.
    pub fn of(messages: &[Message<'_>]) -> Self {
        let mut hasher = blake3::Hasher::new();
        encode(messages, &mut hasher);
        Fingerprint(*hasher.finalize().as_bytes())
    }

    /// The first 16 bytes in lowercase hex: how records and the API name an implicit session.
    pub fn short_hex(&self) -> String {
        hex(&self.0[..16])
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({})", hex(&self.0))
    }
}

/// The canonical encoding of `messages` (see the module docs), for tests and fuzzing; the
/// request path hashes it without building it ([`Fingerprint::of`]).
pub fn canonical_encoding(messages: &[Message<'_>]) -> Vec<u8> {
    let mut out = Vec::new();
    encode(messages, &mut out);
    out
}

/// Where the encoding goes: a buffer or a hasher.
trait Out {
    fn put(&mut self, bytes: &[u8]);
}

impl Out for Vec<u8> {
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

impl Out for blake3::Hasher {
    fn put(&mut self, bytes: &[u8]) {
        self.update(bytes);
    }
}

/// Writes the canonical encoding of `messages` to `out`.
fn encode(messages: &[Message<'_>], out: &mut impl Out) {
    let is_system = |message: &&Message<'_>| matches!(message.role, Role::System | Role::Developer);
    let first_other = messages.iter().position(|it| !is_system(&it));
    let before = &messages[..first_other.unwrap_or(messages.len())];
    out.put(DOMAIN);
    encode_message(before.iter().find(is_system), out);
    encode_message(first_other.map(|idx| &messages[idx]), out);
}

fn encode_message(message: Option<&Message<'_>>, out: &mut impl Out) {
    let Some(message) = message else {
        out.put(&[0]);
        return;
    };
    let role = match message.role {
        Role::System | Role::Developer => b'S',
        Role::User => b'U',
        Role::Assistant => b'A',
        Role::Tool => b'T',
    };
    out.put(&[1, role]);
    let Some(content) = message.content else {
        out.put(&0u32.to_le_bytes());
        return;
    };
    let json = content.get();
    // The common case, a string without escapes, is its own text: no decoding, no copy.
    if let Some(text) = json
        .strip_prefix('"')
        .and_then(|it| it.strip_suffix('"'))
        .filter(|it| !it.contains('\\'))
    {
        out.put(&1u32.to_le_bytes());
        put_part(b'T', text, out);
        return;
    }
    let parts: Vec<(u8, Cow<'_, str>)> = match parse_content(json) {
        Some(parts) => parts,
        None => vec![(b'R', Cow::Borrowed(json))],
    };
    let count = u32::try_from(parts.len()).unwrap_or(u32::MAX);
    out.put(&count.to_le_bytes());
    for (kind, bytes) in &parts {
        put_part(*kind, bytes, out);
    }
}

/// One part: its kind byte, its length, its bytes.
fn put_part(kind: u8, bytes: &str, out: &mut impl Out) {
    out.put(&[kind]);
    out.put(&(bytes.len() as u64).to_le_bytes());
    out.put(bytes.as_bytes());
}

/// The text and image parts of a `content` value; `None` when it is neither a string nor an
/// array of objects.
fn parse_content(json: &str) -> Option<Vec<(u8, Cow<'_, str>)>> {
    if json.starts_with('"') {
        let text: Cow<'_, str> = serde_json::from_str(json).ok()?;
        return Some(vec![(b'T', text)]);
    }
    let parts: Vec<Part<'_>> = serde_json::from_str(json).ok()?;
    Some(
        parts
            .into_iter()
            .filter_map(|part| match (&*part.kind, part.text, part.image_url) {
                ("text", Some(text), _) => Some((b'T', text)),
                ("image_url", _, Some(ImageUrl::Bare(url) | ImageUrl::Object { url })) => {
                    Some((b'I', url))
                }
                _ => None,
            })
            .collect(),
    )
}

/// One content part, as much as the encoding reads.
#[derive(Deserialize)]
struct Part<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(borrow, default)]
    text: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    image_url: Option<ImageUrl<'a>>,
}

/// `image_url`: OpenAI's `{"url": …}`, or a bare string.
#[derive(Deserialize)]
#[serde(untagged)]
enum ImageUrl<'a> {
    Bare(#[serde(borrow)] Cow<'a, str>),
    Object {
        #[serde(borrow)]
        url: Cow<'a, str>,
    },
}

/// Lowercase hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push(char::from(DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(DIGITS[usize::from(byte & 15)]));
    }
    out
}

#[cfg(test)]
mod tests;
