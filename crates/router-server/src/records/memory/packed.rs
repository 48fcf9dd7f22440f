//! A generation record packed into bytes, as the in-memory store keeps it: one contiguous run
//! of bytes in the store's ring instead of a struct and the five allocations it owns, so that
//! keeping 100,000 records neither frees cold memory on every request nor spreads each
//! request's writes over the heap.
//!
//! The layout: unsigned integers as LEB128 varints, `f64` as 8 little-endian bytes, a string as
//! its length and its UTF-8 bytes, an option as a 0 or 1 byte before the value, a list as its
//! length before its items. The fields the store's scans filter on (id, key name, creation
//! time, session id) come first, so [`Peek`] reads them without unpacking the rest.

use std::borrow::Cow;

use super::super::{AttemptRecord, GenerationRecord};

/// Appends `record`, packed, to `out`.
pub(super) fn pack(record: &GenerationRecord, out: &mut Vec<u8>) {
    // Every field named, so a field added to the record cannot be forgotten here.
    let GenerationRecord {
        id,
        key_name,
        created_at_ms,
        requested_models,
        model,
        provider,
        attempts,
        prompt_tokens,
        completion_tokens,
        cached_tokens,
        reasoning_tokens,
        cost_usd,
        latency_ms,
        time_to_first_token_ms,
        finish_reason,
        streamed,
        cancelled,
        router,
        upstream_id,
        session_id,
        cache_savings_usd,
    } = record;
    put_str(out, id);
    put_str(out, key_name);
    put_u64(out, *created_at_ms);
    put_opt_str(out, session_id.as_deref());
    put_u64(out, requested_models.len() as u64);
    for name in requested_models {
        put_str(out, name);
    }
    put_opt_str(out, model.as_deref());
    put_opt_str(out, provider.as_deref());
    put_u64(out, attempts.len() as u64);
    for attempt in attempts {
        let AttemptRecord {
            model,
            provider,
            status,
            error_type,
            elapsed_ms,
        } = attempt;
        put_str(out, model);
        put_opt_str(out, provider.as_deref());
        put_opt_u64(out, status.map(u64::from));
        put_opt_str(out, error_type.as_deref());
        put_u64(out, *elapsed_ms);
    }
    for count in [
        prompt_tokens,
        completion_tokens,
        cached_tokens,
        reasoning_tokens,
    ] {
        put_u64(out, *count);
    }
    out.extend_from_slice(&cost_usd.to_le_bytes());
    put_u64(out, *latency_ms);
    put_opt_u64(out, *time_to_first_token_ms);
    put_opt_str(out, finish_reason.as_deref());
    out.push(u8::from(*streamed) | u8::from(*cancelled) << 1);
    put_opt_str(out, router.as_deref());
    put_opt_str(out, upstream_id.as_deref());
    out.extend_from_slice(&cache_savings_usd.to_le_bytes());
}

/// The record `bytes` hold (`None` if they are not what [`pack`] wrote).
pub(super) fn unpack(bytes: &[u8]) -> Option<GenerationRecord> {
    let mut reader = Reader(bytes);
    let peek = Peek::read(&mut reader)?;
    let requested = reader.u64()?;
    let mut requested_models = Vec::new();
    for _ in 0..requested {
        requested_models.push(reader.str()?.into());
    }
    let model = reader.opt_str()?.map(Into::into);
    let provider = reader.opt_str()?.map(Into::into);
    let tried = reader.u64()?;
    let mut attempts = Vec::new();
    for _ in 0..tried {
        attempts.push(AttemptRecord {
            model: reader.str()?.into(),
            provider: reader.opt_str()?.map(Into::into),
            status: match reader.opt_u64()? {
                Some(status) => Some(u16::try_from(status).ok()?),
                None => None,
            },
            error_type: reader.opt_str()?.map(owned_word),
            elapsed_ms: reader.u64()?,
        });
    }
    let prompt_tokens = reader.u64()?;
    let completion_tokens = reader.u64()?;
    let cached_tokens = reader.u64()?;
    let reasoning_tokens = reader.u64()?;
    let cost_usd = reader.f64()?;
    let latency_ms = reader.u64()?;
    let time_to_first_token_ms = reader.opt_u64()?;
    let finish_reason = reader.opt_str()?.map(owned_word);
    let flags = reader.take(1)?[0];
    if flags > 3 {
        return None;
    }
    let router = reader.opt_str()?.map(owned_word);
    let upstream_id = reader.opt_str()?.map(str::to_owned);
    let cache_savings_usd = reader.f64()?;
    let record = GenerationRecord {
        id: peek.id.to_owned(),
        key_name: peek.key_name.into(),
        created_at_ms: peek.created_at_ms,
        requested_models,
        model,
        provider,
        attempts,
        prompt_tokens,
        completion_tokens,
        cached_tokens,
        reasoning_tokens,
        cost_usd,
        latency_ms,
        time_to_first_token_ms,
        finish_reason,
        streamed: flags & 1 != 0,
        cancelled: flags & 2 != 0,
        router,
        upstream_id,
        session_id: peek.session_id.map(str::to_owned),
        cache_savings_usd,
    };
    reader.0.is_empty().then_some(record)
}

/// The leading fields of a packed record, read in place.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Peek<'a> {
    pub(super) id: &'a str,
    pub(super) key_name: &'a str,
    pub(super) created_at_ms: u64,
    pub(super) session_id: Option<&'a str>,
}

impl<'a> Peek<'a> {
    /// The leading fields of the record `bytes` hold.
    pub(super) fn of(bytes: &'a [u8]) -> Option<Self> {
        Self::read(&mut Reader(bytes))
    }

    fn read(reader: &mut Reader<'a>) -> Option<Self> {
        Some(Self {
            id: reader.str()?,
            key_name: reader.str()?,
            created_at_ms: reader.u64()?,
            session_id: reader.opt_str()?,
        })
    }
}

/// The id of the packed record `bytes` (empty if they are not a packed record), unchecked.
pub(super) fn id_bytes(bytes: &[u8]) -> &[u8] {
    let mut reader = Reader(bytes);
    reader
        .u64()
        .and_then(|len| reader.take(usize::try_from(len).ok()?))
        .unwrap_or_default()
}

fn owned_word(word: &str) -> Cow<'static, str> {
    Cow::Owned(word.to_owned())
}

fn put_u64(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn put_str(out: &mut Vec<u8>, text: &str) {
    put_u64(out, text.len() as u64);
    out.extend_from_slice(text.as_bytes());
}

fn put_opt_str(out: &mut Vec<u8>, text: Option<&str>) {
    match text {
        Some(text) => {
            out.push(1);
            put_str(out, text);
        }
        None => out.push(0),
    }
}

fn put_opt_u64(out: &mut Vec<u8>, value: Option<u64>) {
    match value {
        Some(value) => {
            out.push(1);
            put_u64(out, value);
        }
        None => out.push(0),
    }
}

/// Reads what the `put_` functions wrote, front to back.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.0.len() {
            return None;
        }
        let (taken, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(taken)
    }

    fn u64(&mut self) -> Option<u64> {
        let mut value = 0_u64;
        for shift in (0..64).step_by(7) {
            let byte = self.take(1)?[0];
            value |= u64::from(byte & 0x7f).checked_shl(shift)?;
            if byte & 0x80 == 0 {
                return Some(value);
            }
        }
        None
    }

    fn f64(&mut self) -> Option<f64> {
        Some(f64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }

    fn str(&mut self) -> Option<&'a str> {
        let len = usize::try_from(self.u64()?).ok()?;
        std::str::from_utf8(self.take(len)?).ok()
    }

    fn flag(&mut self) -> Option<bool> {
        match self.take(1)?[0] {
            0 => Some(false),
            1 => Some(true),
            _ => None,
        }
    }

    fn opt_str(&mut self) -> Option<Option<&'a str>> {
        Some(if self.flag()? {
            Some(self.str()?)
        } else {
            None
        })
    }

    fn opt_u64(&mut self) -> Option<Option<u64>> {
        Some(if self.flag()? {
            Some(self.u64()?)
        } else {
            None
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::super::tests::{bare_record, record};
    use super::*;

    /// Records with every field set, every option empty, and extreme values.
    fn samples() -> Vec<GenerationRecord> {
        let full = record("gen-1790000000-abc", "team ü", 1_790_000_000_123, 0.25);
        let empty = bare_record("", "", 0);
        let mut extreme = full.clone();
        extreme.created_at_ms = u64::MAX;
        extreme.prompt_tokens = u64::MAX;
        extreme.cost_usd = -1.5e300;
        extreme.cancelled = true;
        extreme.router = Some("openrouter/auto".into());
        extreme.attempts[0].status = Some(u16::MAX);
        extreme.attempts[1].provider = None;
        extreme.session_id = Some("😀".repeat(100));
        vec![full, empty, extreme]
    }

    #[test]
    fn unpacks_what_was_packed() {
        for sample in samples() {
            let mut bytes = Vec::new();
            pack(&sample, &mut bytes);
            assert_eq!(unpack(&bytes), Some(sample.clone()));
            let peek = Peek::of(&bytes).unwrap();
            assert_eq!(peek.id, sample.id);
            assert_eq!(id_bytes(&bytes), sample.id.as_bytes());
            assert_eq!(peek.key_name, &*sample.key_name);
            assert_eq!(peek.created_at_ms, sample.created_at_ms);
            assert_eq!(peek.session_id, sample.session_id.as_deref());
        }
    }

    #[test]
    fn a_record_of_a_fallback_fits_the_stores_budget() {
        // Two models asked, the first refused: more than most records hold.
        let mut sample = record(
            "gen-1790000000-0123456789ABCDEFGHIJ",
            "team",
            1_790_000_000_123,
            0.25,
        );
        sample.session_id = Some(format!("fp-{}", "0f".repeat(16)));
        let mut bytes = Vec::new();
        pack(&sample, &mut bytes);
        assert!(
            bytes.len() <= super::super::BYTES_PER_RECORD,
            "{} bytes",
            bytes.len()
        );
        // One model asked and answering on its first attempt: the usual record.
        sample.requested_models.truncate(1);
        sample.attempts.remove(0);
        bytes.clear();
        pack(&sample, &mut bytes);
        assert!(bytes.len() <= 240, "{} bytes", bytes.len());
    }

    #[test]
    fn truncated_or_altered_bytes_unpack_to_nothing_or_something_without_panicking() {
        for sample in samples() {
            let mut bytes = Vec::new();
            pack(&sample, &mut bytes);
            for len in 0..bytes.len() {
                assert_eq!(
                    unpack(&bytes[..len]),
                    None,
                    "{len} of {} bytes",
                    bytes.len()
                );
            }
            let mut longer = bytes.clone();
            longer.push(0);
            assert_eq!(unpack(&longer), None, "trailing bytes");
            for at in 0..bytes.len() {
                let mut altered = bytes.clone();
                altered[at] ^= 0xff;
                let _ = unpack(&altered);
                let _ = Peek::of(&altered);
            }
        }
    }
}
