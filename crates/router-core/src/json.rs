//! Reading a few members out of a JSON document without building the rest of it.
//!
//! A router forwards most of a provider's response verbatim (`choices`) and reads only a handful
//! of members (`id`, `usage`, each choice's `finish_reason`). [`Scanner`] walks the text once,
//! checks the grammar of everything it passes over (RFC 8259: strings and their escapes,
//! numbers, literals, nesting), and hands the caller each object member's key with the scanner
//! positioned at its value. A value the caller does not read is skipped as a [`Json`] span: text
//! that is known to be one valid JSON value, which [`RawJson`] keeps without checking it again.
//!
//! [`write`](mod@write) goes the other way: JSON text written straight into a byte buffer.

mod raw;
mod scan;
pub mod write;

pub use raw::{Json, RawJson};
pub use scan::{Kind, ScanError, Scanner};

#[cfg(test)]
mod tests;
