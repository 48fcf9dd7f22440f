//! Fuzz target: any bytes as a server-sent-events stream for [`SseParser`], the parser under
//! every provider stream.
//!
//! The parser must never panic; fed the stream in any pieces it must give the same events as
//! fed it whole; and those must be the events a plain, line-by-line reading of the WHATWG
//! algorithm gives (lines end in CRLF, LF or CR; a leading byte-order mark is dropped; `:` starts
//! a comment; one space after the colon is dropped; `data` lines join with LF; a blank line
//! dispatches an event with data; the unfinished event is dispatched at the end). With a small
//! event limit, it must refuse an event or line as soon as it grows past it, never buffering
//! more than the limit and one piece.

#![no_main]

use libfuzzer_sys::fuzz_target;
use router_upstream::sse::{SseError, SseParser};

/// An event as compared: its `event:` field and its data.
type Event = (Option<Vec<u8>>, Vec<u8>);

fuzz_target!(|input: (Vec<u16>, u8, &[u8])| {
    let (cuts, small_limit, stream) = input;
    let expected = reference(stream);
    let whole = parse(stream, &[], usize::MAX);
    assert_eq!(whole.as_ref(), Ok(&expected.events), "{stream:?}");
    let pieces = parse(stream, &cuts, usize::MAX);
    assert_eq!(pieces, whole, "{stream:?} cut at {cuts:?}");

    // With a small limit it refuses the stream exactly when a line or an event's data is longer.
    let limit = usize::from(small_limit);
    let too_large = expected.longest_line > limit || expected.longest_data > limit;
    match parse(stream, &cuts, limit) {
        Ok(events) => {
            assert!(!too_large, "{stream:?} accepted with limit {limit}");
            assert_eq!(events, expected.events, "{stream:?}");
        }
        Err(SseError::EventTooLarge { limit: reported }) => {
            assert!(too_large, "{stream:?} refused with limit {limit}");
            assert_eq!(reported, limit);
        }
    }
});

/// The events the parser gives for `stream` fed in pieces ending at `cuts` (taken modulo the
/// length), then finished.
fn parse(stream: &[u8], cuts: &[u16], limit: usize) -> Result<Vec<Event>, SseError> {
    let mut parser = SseParser::with_max_event_bytes(limit);
    let mut points: Vec<usize> = cuts
        .iter()
        .map(|cut| usize::from(*cut) % (stream.len() + 1))
        .collect();
    points.sort_unstable();
    points.push(stream.len());
    let mut events = Vec::new();
    let mut fed = 0;
    for point in points {
        parser.push(&stream[fed..point]);
        fed = point;
        while let Some(event) = parser.next_event()? {
            events.push(owned(&event));
        }
    }
    while let Some(event) = parser.finish()? {
        events.push(owned(&event));
    }
    Ok(events)
}

fn owned(event: &router_upstream::sse::SseEvent) -> Event {
    (
        event.event_type().map(|it| it.as_bytes().to_vec()),
        event.data().to_vec(),
    )
}

/// What a plain reading of a whole stream finds.
struct Expected {
    events: Vec<Event>,
    /// The longest line, without its terminator.
    longest_line: usize,
    /// The longest data of an event (its lines joined).
    longest_data: usize,
}

/// The events of a whole stream, read line by line as the WHATWG algorithm does (with the
/// unfinished event dispatched at the end, as providers need).
fn reference(stream: &[u8]) -> Expected {
    let stream = stream.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(stream);
    let mut lines = Vec::new();
    let mut start = 0;
    let mut at = 0;
    while at < stream.len() {
        match stream[at] {
            b'\n' => {
                lines.push(&stream[start..at]);
                start = at + 1;
            }
            b'\r' => {
                lines.push(&stream[start..at]);
                if stream.get(at + 1) == Some(&b'\n') {
                    at += 1;
                }
                start = at + 1;
            }
            _ => {}
        }
        at += 1;
    }
    if start < stream.len() {
        lines.push(&stream[start..]);
    }
    let mut expected = Expected {
        events: Vec::new(),
        longest_line: lines.iter().map(|line| line.len()).max().unwrap_or(0),
        longest_data: 0,
    };
    let mut event_type: Option<&[u8]> = None;
    let mut data: Option<Vec<u8>> = None;
    for line in lines {
        if line.is_empty() {
            dispatch(&mut expected.events, &mut event_type, &mut data);
            continue;
        }
        if line[0] == b':' {
            continue;
        }
        let (field, value) = match line.iter().position(|byte| *byte == b':') {
            Some(colon) => {
                let value = &line[colon + 1..];
                (&line[..colon], value.strip_prefix(b" ").unwrap_or(value))
            }
            None => (line, &b""[..]),
        };
        match field {
            b"data" => {
                let joined = match &mut data {
                    Some(joined) => {
                        joined.push(b'\n');
                        joined.extend_from_slice(value);
                        joined
                    }
                    None => data.insert(value.to_vec()),
                };
                expected.longest_data = expected.longest_data.max(joined.len());
            }
            b"event" => event_type = Some(value),
            _ => {}
        }
    }
    dispatch(&mut expected.events, &mut event_type, &mut data);
    expected
}

/// A blank line, or the end: the event read so far goes out if it has data.
fn dispatch(events: &mut Vec<Event>, event_type: &mut Option<&[u8]>, data: &mut Option<Vec<u8>>) {
    // The parser gives the type only when it is UTF-8.
    let event_type = event_type
        .take()
        .filter(|it| std::str::from_utf8(it).is_ok())
        .map(<[u8]>::to_vec);
    if let Some(data) = data.take() {
        events.push((event_type, data));
    }
}
