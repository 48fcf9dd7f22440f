//! Tests for the SSE parser: line endings, comments, multi-line data, and every split point.

use proptest::prelude::*;

use super::*;

/// All events of `input` fed in the given pieces, then the stream's end.
fn parse_pieces<'a>(pieces: impl IntoIterator<Item = &'a [u8]>) -> Vec<(Option<String>, String)> {
    let mut parser = SseParser::new();
    let mut events = Vec::new();
    let mut take = |event: SseEvent| {
        events.push((
            event.event_type().map(str::to_owned),
            String::from_utf8(event.data().to_vec()).unwrap(),
        ));
    };
    for piece in pieces {
        parser.push(piece);
        while let Some(event) = parser.next_event().unwrap() {
            take(event);
        }
    }
    if let Some(event) = parser.finish().unwrap() {
        take(event);
    }
    events
}

fn parse(input: &str) -> Vec<(Option<String>, String)> {
    parse_pieces([input.as_bytes()])
}

fn data(items: &[&str]) -> Vec<(Option<String>, String)> {
    items.iter().map(|it| (None, (*it).to_owned())).collect()
}

/// An OpenAI-style stream with every feature the parser must handle.
const SAMPLE: &str = concat!(
    "\u{feff}: OPENROUTER PROCESSING\r\n\r\n",
    "data: {\"choices\":[{\"delta\":{\"content\":\"Hé\"}}]}\n\n",
    "data:{\"n\":2}\r\n\r\n",
    "event: message_delta\ndata: {\"a\":1}\ndata: {\"b\":2}\nid: 7\nretry: 10\n\n",
    ":comment\n",
    "data\n\n",
    "data: x\rdata: y\r\r",
    "data: [DONE]\n\n",
);

fn sample_events() -> Vec<(Option<String>, String)> {
    vec![
        (
            None,
            "{\"choices\":[{\"delta\":{\"content\":\"Hé\"}}]}".to_owned(),
        ),
        (None, "{\"n\":2}".to_owned()),
        (
            Some("message_delta".to_owned()),
            "{\"a\":1}\n{\"b\":2}".to_owned(),
        ),
        (None, String::new()),
        (None, "x\ny".to_owned()),
        (None, "[DONE]".to_owned()),
    ]
}

#[test]
fn parses_the_sample_in_one_piece() {
    assert_eq!(parse(SAMPLE), sample_events());
}

#[test]
fn every_split_point_gives_the_same_events() {
    let bytes = SAMPLE.as_bytes();
    for split in 0..=bytes.len() {
        let (head, tail) = bytes.split_at(split);
        assert_eq!(
            parse_pieces([head, tail]),
            sample_events(),
            "split at {split}"
        );
    }
}

#[test]
fn byte_by_byte_gives_the_same_events() {
    let bytes = SAMPLE.as_bytes();
    assert_eq!(parse_pieces(bytes.chunks(1)), sample_events());
}

proptest! {
    #[test]
    fn any_chunking_gives_the_same_events(cuts in proptest::collection::vec(0..SAMPLE.len(), 0..12)) {
        let bytes = SAMPLE.as_bytes();
        let mut cuts = cuts;
        cuts.sort_unstable();
        let mut pieces = Vec::new();
        let mut start = 0;
        for cut in cuts {
            pieces.push(&bytes[start..cut]);
            start = cut;
        }
        pieces.push(&bytes[start..]);
        prop_assert_eq!(parse_pieces(pieces), sample_events());
    }
}

#[test]
fn crlf_split_between_cr_and_lf_is_one_line_end() {
    let events = parse_pieces([&b"data: a\r"[..], b"\n", b"\r", b"\ndata: b\n\n"]);
    assert_eq!(events, data(&["a", "b"]));
}

#[test]
fn many_events_in_one_chunk() {
    let input = "data: 1\n\ndata: 2\n\ndata: 3\n\n";
    assert_eq!(parse(input), data(&["1", "2", "3"]));
}

#[test]
fn a_blank_line_without_data_dispatches_nothing() {
    assert_eq!(
        parse("\n\n: ping\n\nevent: ping\n\ndata: z\n\n"),
        data(&["z"])
    );
}

#[test]
fn strips_only_one_space_after_the_colon() {
    assert_eq!(parse("data:  two\n\n"), data(&[" two"]));
}

#[test]
fn an_unterminated_last_event_is_dispatched_at_the_end() {
    assert_eq!(parse("data: a\n\ndata: [DONE]"), data(&["a", "[DONE]"]));
    assert_eq!(parse("data: a\n\ndata: b\n"), data(&["a", "b"]));
}

#[test]
fn keeps_only_the_unfinished_tail() {
    let mut parser = SseParser::new();
    for _ in 0..1000 {
        parser.push(b"data: {\"choices\":[]}\n\n");
        assert!(parser.next_event().unwrap().is_some());
    }
    parser.push(b"data: partial");
    assert!(parser.next_event().unwrap().is_none());
    assert_eq!(parser.buf.len(), b"data: partial".len());
}

#[test]
fn rejects_events_over_the_limit() {
    let mut parser = SseParser::with_max_event_bytes(16);
    parser.push(b"data: 0123456789abcdefghij");
    assert_eq!(
        parser.next_event(),
        Err(SseError::EventTooLarge { limit: 16 })
    );

    let mut parser = SseParser::with_max_event_bytes(16);
    parser.push(b"data: 0123456789\ndata: 0123456789\n");
    assert_eq!(
        parser.next_event(),
        Err(SseError::EventTooLarge { limit: 16 })
    );
}

#[test]
fn a_long_line_is_refused_even_when_its_end_arrives_with_it() {
    let mut parser = SseParser::with_max_event_bytes(16);
    parser.push(b"data: 0123456789abcdefghij\n\n");
    assert_eq!(
        parser.next_event(),
        Err(SseError::EventTooLarge { limit: 16 })
    );
    let mut parser = SseParser::with_max_event_bytes(16);
    parser.push(b": a comment longer than the limit\n");
    assert_eq!(
        parser.next_event(),
        Err(SseError::EventTooLarge { limit: 16 })
    );
}

#[test]
fn an_endless_line_is_buffered_no_further_than_the_limit() {
    let limit = 64 * 1024;
    let mut parser = SseParser::with_max_event_bytes(limit);
    parser.push(b"data: {\"choices\":[{\"delta\":{\"content\":\"");
    let piece = [b'a'; 1000];
    let mut pushed = 0;
    let err = loop {
        parser.push(&piece);
        pushed += piece.len();
        match parser.next_event() {
            Ok(None) => assert!(pushed <= limit, "{pushed} bytes buffered"),
            Ok(Some(event)) => panic!("an unfinished line gave {event:?}"),
            Err(err) => break err,
        }
    };
    assert_eq!(err, SseError::EventTooLarge { limit });
    assert!(parser.buf.len() <= limit + piece.len());
}

#[test]
fn an_unfinished_line_at_the_end_is_held_to_the_limit_too() {
    // Two bytes that could start a byte-order mark wait for more, unchecked until the end.
    let mut parser = SseParser::with_max_event_bytes(1);
    parser.push(b"\xEF\xBB");
    assert_eq!(parser.next_event(), Ok(None));
    assert_eq!(parser.finish(), Err(SseError::EventTooLarge { limit: 1 }));
}
