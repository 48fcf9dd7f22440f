//! Entry points for the fuzz targets in `fuzz/` (feature `fuzzing`, off by default): the
//! decoders of provider answers, which are private to the crate otherwise.
//!
//! Nothing here is API: the functions only expose what the crate's own readers make of some
//! bytes, in a form the targets can compare.

use router_core::response::ChatResponse;

use crate::openai_compat::{response, stream};

/// What the OpenAI-compatible reader makes of a non-streaming body: the response, or why it is
/// refused (`Debug` of the problem).
pub fn read_completion(body: &[u8]) -> Result<ChatResponse, String> {
    response::parse_response(body).map_err(|problem| format!("{problem:?}"))
}

/// Reads stream events as the stream decoder does: each one after the last, resuming after the
/// bytes a chunk shares with the start of the one before (`Scanner::resume`).
#[derive(Debug, Default)]
pub struct ChunkReader {
    seen: response::SeenPrefix,
}

impl ChunkReader {
    /// A reader that has seen no event yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// What the `data` of one event is (a chunk, `[DONE]`, skipped, a provider error, or
    /// invalid), as `Debug` text: two readings of the same event compare equal as text.
    pub fn read(&mut self, data: &[u8]) -> String {
        format!("{:?}", stream::parse_event(data, &mut self.seen))
    }
}
