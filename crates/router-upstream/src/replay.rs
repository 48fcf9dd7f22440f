//! Reads a provider's stream that is already in memory, with the same readers as a live stream:
//! for benchmarks (the per-chunk cost of each wire format's translation) and fuzzing, without a
//! socket or a runtime.

use router_core::response::ChatChunk;

use crate::client::ProviderKind;
use crate::event_stream::{Event, EventReader};
use crate::sse::SseParser;
use crate::{anthropic, gemini, openai_compat};

/// How a replayed stream ended early.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplayError {
    /// The provider reported an error in the stream.
    #[error("the provider reported an error: {0}")]
    Provider(String),
    /// An event could not be read.
    #[error("invalid stream: {0}")]
    Invalid(String),
}

/// Reads `wire`, a whole SSE body in `kind`'s format, fed to the parser in `segment`-byte pieces,
/// and hands each chunk to `each`. Returns how many chunks there were.
pub fn read_stream(
    kind: ProviderKind,
    wire: &[u8],
    segment: usize,
    each: impl FnMut(ChatChunk),
) -> Result<usize, ReplayError> {
    match kind {
        ProviderKind::OpenAiCompatible => replay(openai_compat::reader(false), wire, segment, each),
        ProviderKind::Anthropic => replay(anthropic::StreamReader::new(false), wire, segment, each),
        ProviderKind::Gemini => replay(gemini::StreamReader::new(false), wire, segment, each),
    }
}

fn replay(
    mut reader: impl EventReader,
    wire: &[u8],
    segment: usize,
    mut each: impl FnMut(ChatChunk),
) -> Result<usize, ReplayError> {
    let mut parser = SseParser::new();
    let mut n_chunks = 0;
    let mut pieces = wire.chunks(segment.max(1)).peekable();
    while let Some(piece) = pieces.next() {
        parser.push(piece);
        let last = pieces.peek().is_none();
        loop {
            let next = match last {
                false => parser.next_event(),
                true => match parser.next_event() {
                    Ok(None) => parser.finish(),
                    other => other,
                },
            };
            let event = match next {
                Ok(Some(event)) => event,
                Ok(None) => break,
                Err(err) => return Err(ReplayError::Invalid(err.to_string())),
            };
            match reader.read(&event) {
                Event::Chunk(chunk) => {
                    n_chunks += 1;
                    each(chunk);
                }
                Event::Done => return Ok(n_chunks),
                Event::Skip => {}
                Event::Error(body) => {
                    return Err(ReplayError::Provider(body.message.unwrap_or_default()));
                }
                Event::Invalid(why) => return Err(ReplayError::Invalid(why)),
            }
        }
    }
    Ok(n_chunks)
}
