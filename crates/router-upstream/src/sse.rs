//! An incremental server-sent-events parser, independent of any provider.
//!
//! Feed it network chunks as they arrive ([`SseParser::push`]) and take complete events out
//! ([`SseParser::next_event`]). Events may be split across chunks at any byte and a chunk may
//! hold many events. Lines end in `\n`, `\r\n` or `\r`; comment lines (`:` first) are skipped;
//! several `data:` lines of one event are joined with `\n`, as the
//! [WHATWG spec](https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation)
//! says. `id:` and `retry:` are ignored.
//!
//! Only the unfinished tail of the stream is buffered, never the whole body: consumed lines are
//! split off the buffer, and an event whose `data` is a single line (the usual case) is handed
//! out as a slice of the buffer without copying. One event may not exceed a size limit
//! ([`SseParser::DEFAULT_MAX_EVENT_BYTES`]), so a provider cannot make us buffer without bound.

use bytes::{Buf, Bytes, BytesMut};

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    event: Option<Bytes>,
    data: Bytes,
}

/// Why the parser gave up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SseError {
    /// An event (or a single line) grew past the limit.
    #[error("server-sent event larger than {limit} bytes")]
    EventTooLarge {
        /// The limit, in bytes.
        limit: usize,
    },
}

/// The incremental parser. See the [module docs](self).
#[derive(Debug)]
pub struct SseParser {
    /// Bytes received but not yet consumed as complete lines.
    buf: BytesMut,
    /// How much of `buf` is known to hold no line terminator.
    scanned: usize,
    /// The last line ended in `\r` at the end of a chunk: drop a `\n` that starts the next one.
    skip_lf: bool,
    /// Nothing has been received yet (a leading byte-order mark is dropped).
    at_start: bool,
    /// The `event:` field of the event being read.
    event: Option<Bytes>,
    /// The `data:` lines of the event being read.
    data: Data,
    max_event_bytes: usize,
}

/// The `data` of the event being read.
#[derive(Debug)]
enum Data {
    /// No `data:` line yet.
    Empty,
    /// One line, a slice of the input.
    One(Bytes),
    /// Several lines joined with `\n`.
    Many(Vec<u8>),
}

// === impl SseEvent ===

impl SseEvent {
    /// The `event:` field, when the event had one (and it is UTF-8).
    pub fn event_type(&self) -> Option<&str> {
        self.event
            .as_deref()
            .and_then(|it| std::str::from_utf8(it).ok())
    }

    /// The `data:` lines, joined with `\n`.
    pub fn data(&self) -> &[u8] {
        &self.data
    }
}

// === impl SseParser ===

impl Default for SseParser {
    fn default() -> Self {
        Self::new()
    }
}

impl SseParser {
    /// The default limit on one event: large enough for base64 images in a stream.
    pub const DEFAULT_MAX_EVENT_BYTES: usize = 32 * 1024 * 1024;

    /// A parser with the default event size limit.
    pub fn new() -> Self {
        Self::with_max_event_bytes(Self::DEFAULT_MAX_EVENT_BYTES)
    }

    /// A parser that fails on events larger than `max_event_bytes`.
    pub fn with_max_event_bytes(max_event_bytes: usize) -> Self {
        Self {
            buf: BytesMut::with_capacity(8 * 1024),
            scanned: 0,
            skip_lf: false,
            at_start: true,
            event: None,
            data: Data::Empty,
            max_event_bytes,
        }
    }

    /// Adds bytes received from the network.
    pub fn push(&mut self, chunk: &[u8]) {
        self.buf.extend_from_slice(chunk);
    }

    /// The next complete event, or `None` until more bytes arrive.
    pub fn next_event(&mut self) -> Result<Option<SseEvent>, SseError> {
        while let Some(line) = self.next_line()? {
            if let Some(event) = self.process_line(line)? {
                return Ok(Some(event));
            }
        }
        Ok(None)
    }

    /// At the end of the stream: the event that was still being read, if any.
    ///
    /// Browsers drop an event that is not followed by a blank line; LLM providers sometimes end
    /// the body right after the last `data:` line, so the unfinished event is dispatched instead.
    /// Call [`SseParser::next_event`] until it returns `None` first.
    pub fn finish(&mut self) -> Result<Option<SseEvent>, SseError> {
        if !self.buf.is_empty() {
            // Only a byte-order mark still being waited for can have escaped `next_event`'s check.
            if self.buf.len() > self.max_event_bytes {
                return Err(self.too_large());
            }
            let line = self.buf.split().freeze();
            self.scanned = 0;
            if let Some(event) = self.process_line(line)? {
                return Ok(Some(event));
            }
        }
        Ok(self.dispatch())
    }

    /// Takes one complete line (without its terminator) off the buffer.
    fn next_line(&mut self) -> Result<Option<Bytes>, SseError> {
        if self.at_start {
            if self.buf.len() < 3 && b"\xEF\xBB\xBF".starts_with(&self.buf) {
                // Could still be the start of a byte-order mark: wait for more.
                return Ok(None);
            }
            if self.buf.starts_with(b"\xEF\xBB\xBF") {
                self.buf.advance(3);
            }
            self.at_start = false;
        }
        if self.skip_lf && !self.buf.is_empty() {
            if self.buf[0] == b'\n' {
                self.buf.advance(1);
            }
            self.skip_lf = false;
        }
        let Some(offset) = memchr::memchr2(b'\n', b'\r', &self.buf[self.scanned..]) else {
            self.scanned = self.buf.len();
            if self.scanned > self.max_event_bytes {
                return Err(self.too_large());
            }
            return Ok(None);
        };
        let end = self.scanned + offset;
        if end > self.max_event_bytes {
            return Err(self.too_large());
        }
        self.scanned = 0;
        let line = self.buf.split_to(end).freeze();
        let terminator = self.buf[0];
        self.buf.advance(1);
        if terminator == b'\r' {
            match self.buf.first() {
                Some(b'\n') => self.buf.advance(1),
                Some(_) => {}
                None => self.skip_lf = true,
            }
        }
        Ok(Some(line))
    }

    /// Applies one line to the event being read; a blank line dispatches it.
    fn process_line(&mut self, line: Bytes) -> Result<Option<SseEvent>, SseError> {
        if line.is_empty() {
            return Ok(self.dispatch());
        }
        if line[0] == b':' {
            return Ok(None);
        }
        // The field's name ends at the first colon; its value starts after it and one space.
        let (name_end, value_start) = match memchr::memchr(b':', &line) {
            Some(colon) => (
                colon,
                colon + 1 + usize::from(line.get(colon + 1) == Some(&b' ')),
            ),
            None => (line.len(), line.len()),
        };
        let field = Field::of(&line[..name_end]);
        // The value, in the line's own buffer (no copy, no second reference to count).
        let mut value = line;
        value.advance(value_start);
        match field {
            Field::Data => {
                self.data = match std::mem::replace(&mut self.data, Data::Empty) {
                    Data::Empty => Data::One(value),
                    Data::One(first) => {
                        let mut joined = Vec::with_capacity(first.len() + 1 + value.len());
                        joined.extend_from_slice(&first);
                        joined.push(b'\n');
                        joined.extend_from_slice(&value);
                        Data::Many(joined)
                    }
                    Data::Many(mut joined) => {
                        joined.push(b'\n');
                        joined.extend_from_slice(&value);
                        Data::Many(joined)
                    }
                };
                if let Data::Many(joined) = &self.data
                    && joined.len() > self.max_event_bytes
                {
                    return Err(self.too_large());
                }
            }
            Field::Event => self.event = Some(value),
            Field::Other => {}
        }
        Ok(None)
    }

    /// Ends the event being read: returns it if it had data, and resets for the next one.
    fn dispatch(&mut self) -> Option<SseEvent> {
        let event = self.event.take();
        let data = match std::mem::replace(&mut self.data, Data::Empty) {
            Data::Empty => return None,
            Data::One(data) => data,
            Data::Many(joined) => Bytes::from(joined),
        };
        Some(SseEvent { event, data })
    }

    fn too_large(&self) -> SseError {
        SseError::EventTooLarge {
            limit: self.max_event_bytes,
        }
    }
}

/// The fields of an event that the parser keeps; the others (`id`, `retry`, unknown names)
/// are ignored.
enum Field {
    Data,
    Event,
    Other,
}

impl Field {
    fn of(name: &[u8]) -> Self {
        match name {
            b"data" => Self::Data,
            b"event" => Self::Event,
            _ => Self::Other,
        }
    }
}

#[cfg(test)]
mod tests;
