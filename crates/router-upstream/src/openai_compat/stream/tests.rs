//! Tests for reading stream events into chunks.

use std::time::Duration;

use futures_util::{StreamExt, stream};
use proptest::prelude::*;
use router_core::fallback::FailureClass;
use router_core::pricing::Usage;
use router_core::secret::Secret;

use super::*;
use crate::client::{ProviderClient, ProviderKind, ProviderSettings};
use crate::error::UpstreamError;

/// Reads one event as the first of a stream.
fn fresh(data: &[u8]) -> Event {
    parse_event(data, &mut SeenPrefix::default(), false)
}

fn chunk(data: &str) -> ChatChunk {
    match fresh(data.as_bytes()) {
        Event::Chunk(chunk) => chunk,
        other => panic!("expected a chunk, got {other:?}"),
    }
}

#[test]
fn reads_content_chunks() {
    let data = r#"{"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"Hel"},"finish_reason":null}],"usage":null}"#;
    let chunk = chunk(data);
    assert!(chunk.has_output);
    assert_eq!(chunk.finish_reason, None);
    assert_eq!(chunk.usage, None);
    assert_eq!(
        chunk.choices.get(),
        r#"[{"index":0,"delta":{"content":"Hel"},"finish_reason":null}]"#
    );
}

#[test]
fn reads_role_finish_and_usage_chunks() {
    let role = chunk(r#"{"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}"#);
    assert!(!role.has_output);

    let finish = chunk(r#"{"choices":[{"index":0,"delta":{},"finish_reason":"max_tokens"}]}"#);
    assert_eq!(finish.finish_reason, Some(FinishReason::Length));
    assert!(!finish.has_output);

    let usage = chunk(
        r#"{"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5,"prompt_tokens_details":{"cached_tokens":1}}}"#,
    );
    assert_eq!(usage.choices.get(), "[]");
    assert_eq!(
        usage.usage,
        Some(Usage {
            prompt_tokens: 3,
            completion_tokens: 2,
            total_tokens: 5,
            cached_tokens: 1,
            ..Usage::default()
        })
    );

    let bare_usage = chunk(r#"{"usage":{"prompt_tokens":1}}"#);
    assert_eq!(bare_usage.choices.get(), "[]");
    assert_eq!(bare_usage.usage.map(|it| it.prompt_tokens), Some(1));
}

#[test]
fn done_skip_error_and_invalid() {
    assert!(matches!(fresh(b"[DONE]"), Event::Done));
    assert!(matches!(fresh(b" [DONE] "), Event::Done));
    assert!(matches!(fresh(b"{\"object\":\"ping\"}"), Event::Skip));
    assert!(matches!(
        fresh(b"{\"choices\":[{\"delta\""),
        Event::Invalid(_)
    ));
    assert!(matches!(fresh(b"{\"choices\":\"no\"}"), Event::Invalid(_)));
    assert!(matches!(fresh(b"not json"), Event::Invalid(_)));
    let Event::Error(error) = fresh(
        br#"{"error":{"code":429,"message":"Rate limit exceeded","metadata":{"error_type":"rate_limit_exceeded"}},"choices":[{"index":0,"delta":{"content":""},"finish_reason":"error"}]}"#,
    ) else {
        panic!("expected an error");
    };
    assert_eq!(error.numeric_code, Some(429));
    assert_eq!(error.message.as_deref(), Some("Rate limit exceeded"));
}

// === the decoder, over a scripted body ===

const KEY: &str = "sk-stream-secret";

fn inner() -> Arc<Inner> {
    let mut settings = ProviderSettings::new(
        "acme",
        ProviderKind::OpenAiCompatible,
        "http://127.0.0.1:9/v1",
        Secret::new(KEY),
    );
    settings.idle_timeout = Duration::from_secs(5);
    ProviderClient::new(settings).unwrap().inner
}

/// Decodes `pieces` as the network chunks of a body.
fn decode_pieces(pieces: Vec<&'static [u8]>) -> ChunkStream {
    let body = stream::iter(pieces.into_iter().map(|it| Ok(Bytes::from_static(it))));
    decode(inner(), body, false)
}

async fn collect(mut stream: ChunkStream) -> (Vec<ChatChunk>, Option<UpstreamError>) {
    let mut chunks = Vec::new();
    while let Some(item) = stream.next().await {
        match item {
            Ok(chunk) => chunks.push(chunk),
            Err(err) => {
                assert!(stream.next().await.is_none(), "nothing after an error");
                return (chunks, Some(err));
            }
        }
    }
    (chunks, None)
}

const CONTENT: &[u8] = b"data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"}}]}\n\n";
const FINISH: &[u8] =
    b"data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n";
const USAGE: &[u8] = b"data: {\"choices\":[],\"usage\":{\"prompt_tokens\":2,\"completion_tokens\":1,\"total_tokens\":3}}\n\n";

#[tokio::test]
async fn ends_at_done_and_ignores_what_follows() {
    let (chunks, err) = collect(decode_pieces(vec![
        CONTENT,
        b": keep-alive\n\n",
        FINISH,
        USAGE,
        b"data: [DONE]\n\n",
        CONTENT,
    ]))
    .await;
    assert!(err.is_none());
    assert_eq!(chunks.len(), 3);
    assert_eq!(chunks[2].usage.map(|it| it.total_tokens), Some(3));
}

#[tokio::test]
async fn network_chunking_does_not_matter() {
    let whole: Vec<u8> = [CONTENT, FINISH, USAGE, b"data: [DONE]\n\n"].concat();
    let bytewise: Vec<Result<Bytes, TransportError>> = whole
        .chunks(1)
        .map(|byte| Ok(Bytes::copy_from_slice(byte)))
        .collect();
    let (chunks, err) = collect(decode(inner(), stream::iter(bytewise), false)).await;
    assert!(err.is_none());
    let shapes: Vec<_> = chunks
        .iter()
        .map(|it| (it.has_output, it.finish_reason.clone(), it.usage.is_some()))
        .collect();
    assert_eq!(
        shapes,
        [
            (true, None, false),
            (false, Some(FinishReason::Stop), false),
            (false, None, true)
        ]
    );
}

#[tokio::test]
async fn a_clean_end_after_the_finish_is_not_an_interruption() {
    let (chunks, err) = collect(decode_pieces(vec![CONTENT, FINISH])).await;
    assert!(err.is_none(), "{err:?}");
    assert_eq!(chunks.len(), 2);
    // The last event may even lack its blank line.
    let (chunks, err) = collect(decode_pieces(vec![
        CONTENT,
        b"data: {\"choices\":[{\"delta\":{},\"finish_reason\":\"length\"}]}",
    ]))
    .await;
    assert!(err.is_none(), "{err:?}");
    assert_eq!(chunks[1].finish_reason, Some(FinishReason::Length));
}

#[tokio::test]
async fn an_end_before_any_finish_is_an_interruption() {
    let (chunks, err) = collect(decode_pieces(vec![CONTENT, CONTENT])).await;
    assert_eq!(chunks.len(), 2);
    assert_eq!(err.unwrap().class, FailureClass::StreamInterrupted);

    let (chunks, err) = collect(decode_pieces(vec![])).await;
    assert!(chunks.is_empty());
    assert_eq!(err.unwrap().class, FailureClass::StreamInterrupted);
}

#[tokio::test]
async fn an_error_event_is_classified_and_scrubbed() {
    let (chunks, err) = collect(decode_pieces(vec![
        CONTENT,
        b"data: {\"error\":{\"code\":429,\"message\":\"slow down, sk-stream-secret\",\"metadata\":{\"error_type\":\"rate_limit_exceeded\"}},\"choices\":[{\"index\":0,\"delta\":{\"content\":\"\"},\"finish_reason\":\"error\"}]}\n\n",
        b"data: [DONE]\n\n",
    ]))
    .await;
    assert_eq!(chunks.len(), 1);
    let err = err.unwrap();
    assert_eq!(err.class, FailureClass::RateLimited);
    assert_eq!(err.status, Some(429));
    assert_eq!(err.provider, "acme");
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains(KEY), "{shown}");
}

#[tokio::test]
async fn invalid_json_ends_the_stream_with_an_error() {
    let (chunks, err) = collect(decode_pieces(vec![CONTENT, b"data: {oops\n\n", CONTENT])).await;
    assert_eq!(chunks.len(), 1);
    assert_eq!(err.unwrap().class, FailureClass::InvalidResponse);
}

#[tokio::test(start_paused = true)]
async fn a_silent_body_times_out() {
    let body = stream::iter([Ok(Bytes::from_static(CONTENT))]).chain(stream::pending());
    let (chunks, err) = collect(decode(inner(), body, false)).await;
    assert_eq!(chunks.len(), 1);
    assert_eq!(err.unwrap().class, FailureClass::Timeout);
}

/// Pieces of stream chunks: starts that providers repeat, and what follows them.
const STARTS: &[&str] = &[
    r#"{"id":"c1","object":"chat.completion.chunk","created":1,"model":"m""#,
    r#"{"id":"c1","object":"chat.completion.chunk","created":2,"model":"m""#,
    r#"{"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","system_fingerprint":"fp""#,
    r#"{ "id" : "c1" , "model":"m""#,
    r#"{"object":"ping""#,
    "{",
];
const RESTS: &[&str] = &[
    r#","choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]}"#,
    r#","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"id":"late"}"#,
    r#","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2}}"#,
    r#","usage":{"prompt_tokens":1},"object":"x"}"#,
    r#","error":{"message":"overloaded","code":529}}"#,
    r#","choices":"no"}"#,
    r#","x":1}"#,
    "}",
    r#","choices":[{"index":0,"delta":{"content":"Hi"}]}"#,
    r#","choices":[{"#,
];

proptest! {
    #[test]
    fn a_stream_reads_each_chunk_as_if_it_came_first(
        chunks in prop::collection::vec(
            (0..STARTS.len(), 0..RESTS.len(), 0..4u8, 1..3usize),
            1..12,
        ),
    ) {
        let mut seen = SeenPrefix::default();
        for (start, rest, damage, times) in chunks {
            let mut text = format!("{}{}", STARTS[start], RESTS[rest]);
            match damage {
                // Cut inside the repeated start, or drop its opening brace.
                0 => text.truncate(STARTS[start].len().saturating_sub(3)),
                1 => drop(text.remove(0)),
                _ => {}
            }
            // Some chunks come twice in a row: all of a chunk is then a repeated start.
            for _ in 0..times {
                let in_stream = format!("{:?}", parse_event(text.as_bytes(), &mut seen, false));
                let alone = format!("{:?}", fresh(text.as_bytes()));
                prop_assert_eq!(in_stream, alone, "{}", text);
            }
        }
    }
}

#[test]
fn a_repeated_start_is_remembered_and_a_different_one_read_whole() {
    let mut seen = SeenPrefix::default();
    let first = format!("{}{}", STARTS[2], RESTS[0]);
    assert!(matches!(
        parse_event(first.as_bytes(), &mut seen, false),
        Event::Chunk(_)
    ));
    assert_eq!(seen.len(), STARTS[2].len());
    // The same start with a bad rest is still an error, and forgets the start.
    let bad = format!("{}{}", STARTS[2], RESTS[9]);
    assert!(matches!(
        parse_event(bad.as_bytes(), &mut seen, false),
        Event::Invalid(_)
    ));
    assert_eq!(seen.len(), 0);
    // A start that differs only in a value is read whole.
    let other = format!("{}{}", STARTS[1], RESTS[2]);
    assert!(matches!(
        parse_event(other.as_bytes(), &mut seen, false),
        Event::Chunk(_)
    ));
    assert_eq!(seen.len(), STARTS[1].len());
}
