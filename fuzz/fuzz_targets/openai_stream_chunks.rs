//! Fuzz target: any bytes as a provider's event stream, each event read as the stream decoder
//! reads it: `SseParser` splits the events, and each `data` goes through the chunk reader that
//! resumes after the bytes a chunk shares with the start of the one before.
//!
//! Nothing may panic, and reading an event after the others (the resume path) must give exactly
//! what reading it on its own from the start gives.

#![no_main]

use libfuzzer_sys::fuzz_target;
use router_upstream::fuzzing::ChunkReader;
use router_upstream::sse::SseParser;

fuzz_target!(|stream: &[u8]| {
    let mut parser = SseParser::new();
    parser.push(stream);
    let mut in_turn = ChunkReader::new();
    loop {
        let event = match parser.next_event() {
            Ok(Some(event)) => event,
            Ok(None) => match parser.finish() {
                Ok(Some(event)) => event,
                Ok(None) | Err(_) => break,
            },
            Err(_) => break,
        };
        let resumed = in_turn.read(event.data());
        let fresh = ChunkReader::new().read(event.data());
        assert_eq!(
            resumed,
            fresh,
            "{:?}",
            String::from_utf8_lossy(event.data())
        );
    }
});
