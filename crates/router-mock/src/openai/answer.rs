//! Rendering an answer in OpenAI's shape: the `chat.completion` body, and the
//! `chat.completion.chunk` stream played out frame by frame with pacing, a scripted cut, and a
//! guard that records how it ended.

use std::io;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::stream;
use serde::Serialize;

use super::{SYSTEM_FINGERPRINT, json_response};
use crate::recorder::{CallGuard, CallOutcome};
use crate::script::Behavior;

/// What to answer, shared by the JSON and the SSE rendering.
pub(super) struct Answer<'a> {
    /// `chatcmpl-mock-N`.
    pub(super) id: String,
    /// Unix seconds.
    pub(super) created: u64,
    /// The request's model, echoed.
    pub(super) model: &'a str,
    /// The reply text (empty for a tool call).
    pub(super) reply: &'a str,
    /// The reasoning, when asked for.
    pub(super) reasoning: Option<&'a str>,
    /// The function to call instead of answering with text, and its arguments.
    pub(super) tool_call: Option<(&'a str, &'a str)>,
    /// The finish reason to report instead of the natural one.
    pub(super) finish_reason: Option<&'a str>,
    pub(super) usage: Usage,
}

/// `usage` in OpenAI's shape.
#[derive(Serialize, Clone, Copy)]
pub(super) struct Usage {
    prompt_tokens: u32,
    completion_tokens: u32,
    total_tokens: u32,
    prompt_tokens_details: PromptTokensDetails,
    completion_tokens_details: CompletionTokensDetails,
}

#[derive(Serialize, Clone, Copy)]
struct PromptTokensDetails {
    cached_tokens: u32,
    audio_tokens: u32,
}

#[derive(Serialize, Clone, Copy)]
struct CompletionTokensDetails {
    reasoning_tokens: u32,
    audio_tokens: u32,
    accepted_prediction_tokens: u32,
    rejected_prediction_tokens: u32,
}

impl Usage {
    /// The same usage with `reasoning_tokens` of its completion tokens spent reasoning.
    pub(super) fn with_reasoning(mut self, reasoning_tokens: u32) -> Self {
        self.completion_tokens_details.reasoning_tokens = reasoning_tokens;
        self
    }

    pub(super) fn new(prompt_tokens: u32, completion_tokens: u32, cached_tokens: u32) -> Self {
        Self {
            prompt_tokens,
            completion_tokens,
            total_tokens: prompt_tokens.saturating_add(completion_tokens),
            prompt_tokens_details: PromptTokensDetails {
                cached_tokens,
                audio_tokens: 0,
            },
            completion_tokens_details: CompletionTokensDetails {
                reasoning_tokens: 0,
                audio_tokens: 0,
                accepted_prediction_tokens: 0,
                rejected_prediction_tokens: 0,
            },
        }
    }
}

#[derive(Serialize)]
struct Completion<'a> {
    id: &'a str,
    object: &'static str,
    created: u64,
    model: &'a str,
    choices: [Choice<'a>; 1],
    usage: Usage,
    service_tier: &'static str,
    system_fingerprint: &'static str,
}

#[derive(Serialize)]
struct Choice<'a> {
    index: u32,
    message: AssistantMessage<'a>,
    logprobs: Option<()>,
    finish_reason: &'a str,
}

#[derive(Serialize)]
struct AssistantMessage<'a> {
    role: &'static str,
    content: Option<&'a str>,
    refusal: Option<()>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reasoning: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_calls: Option<[ToolCall<'a>; 1]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reasoning_details: Option<[ReasoningDetail<'a>; 1]>,
}

/// A signed `reasoning.text` piece of `reasoning_details`, as OpenRouter sends Anthropic's.
#[derive(Serialize)]
struct ReasoningDetail<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    text: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    signature: Option<&'static str>,
    format: &'static str,
    index: u32,
}

impl<'a> ReasoningDetail<'a> {
    fn new(text: Option<&'a str>, signature: Option<&'static str>) -> Self {
        Self {
            kind: "reasoning.text",
            text,
            signature,
            format: "anthropic-claude-v1",
            index: 0,
        }
    }
}

#[derive(Serialize)]
struct ToolCall<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    index: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    kind: Option<&'static str>,
    function: FunctionCall<'a>,
}

#[derive(Serialize)]
struct FunctionCall<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    arguments: &'a str,
}

#[derive(Serialize)]
struct Chunk<'a> {
    id: &'a str,
    object: &'static str,
    created: u64,
    model: &'a str,
    system_fingerprint: &'static str,
    choices: &'a [ChunkChoice<'a>],
    #[serde(skip_serializing_if = "Option::is_none")]
    usage: Option<Usage>,
}

#[derive(Serialize)]
struct ChunkChoice<'a> {
    index: u32,
    delta: Delta<'a>,
    logprobs: Option<()>,
    finish_reason: Option<&'a str>,
}

#[derive(Serialize, Default)]
struct Delta<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    role: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    content: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reasoning: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_calls: Option<[ToolCall<'a>; 1]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reasoning_details: Option<[ReasoningDetail<'a>; 1]>,
}

impl Answer<'_> {
    fn finish_reason(&self) -> &str {
        match (self.finish_reason, self.tool_call) {
            (Some(reason), _) => reason,
            (None, Some(_)) => "tool_calls",
            (None, None) => "stop",
        }
    }

    fn tool_call_id(&self) -> String {
        format!("call_{}", self.id.trim_start_matches("chatcmpl-"))
    }

    fn chunk<'c>(&'c self, choices: &'c [ChunkChoice<'c>], usage: Option<Usage>) -> Chunk<'c> {
        Chunk {
            id: &self.id,
            object: "chat.completion.chunk",
            created: self.created,
            model: self.model,
            system_fingerprint: SYSTEM_FINGERPRINT,
            choices,
            usage,
        }
    }
}

/// The non-streaming `chat.completion` response.
pub(super) fn completion_response(answer: &Answer<'_>) -> Response {
    let tool_call_id = answer.tool_call.map(|_| answer.tool_call_id());
    let tool_calls = answer.tool_call.map(|(name, arguments)| {
        [ToolCall {
            index: None,
            id: tool_call_id.as_deref(),
            kind: Some("function"),
            function: FunctionCall {
                name: Some(name),
                arguments,
            },
        }]
    });
    let completion = Completion {
        id: &answer.id,
        object: "chat.completion",
        created: answer.created,
        model: answer.model,
        choices: [Choice {
            index: 0,
            message: AssistantMessage {
                role: "assistant",
                content: match tool_calls {
                    Some(_) => None,
                    None => Some(answer.reply),
                },
                refusal: None,
                tool_calls,
                reasoning: answer.reasoning,
                reasoning_details: answer.reasoning.map(|text| {
                    [ReasoningDetail::new(
                        Some(text),
                        Some(crate::REASONING_SIGNATURE),
                    )]
                }),
            },
            logprobs: None,
            finish_reason: answer.finish_reason(),
        }],
        usage: answer.usage,
        service_tier: "default",
        system_fingerprint: SYSTEM_FINGERPRINT,
    };
    json_response(StatusCode::OK, &completion)
}

/// One frame of a scripted stream.
pub(crate) enum Frame {
    /// A content chunk, sent after the pacing interval (except the first).
    Content(Bytes),
    /// Sent at once: finish chunk, usage chunk, `[DONE]`.
    Tail(Bytes),
    /// `fail_after_chunks` reached: cut the connection.
    Cut,
}

/// The streaming response; `guard` records how the stream ends.
pub(super) fn stream_response(
    answer: &Answer<'_>,
    behavior: &Behavior,
    include_usage: bool,
    guard: CallGuard,
) -> Response {
    let mut frames = Vec::new();
    if let Some(reasoning) = answer.reasoning {
        let text = [ChunkChoice {
            index: 0,
            delta: Delta {
                role: Some("assistant"),
                reasoning: Some(reasoning),
                reasoning_details: Some([ReasoningDetail::new(Some(reasoning), None)]),
                ..Delta::default()
            },
            logprobs: None,
            finish_reason: None,
        }];
        frames.push(Frame::Content(sse_event(&answer.chunk(&text, None))));
        let signature = [ChunkChoice {
            index: 0,
            delta: Delta {
                reasoning_details: Some([ReasoningDetail::new(
                    None,
                    Some(crate::REASONING_SIGNATURE),
                )]),
                ..Delta::default()
            },
            logprobs: None,
            finish_reason: None,
        }];
        frames.push(Frame::Content(sse_event(&answer.chunk(&signature, None))));
    }
    match answer.tool_call {
        Some((name, arguments)) => {
            let tool_call_id = answer.tool_call_id();
            let head = [ChunkChoice {
                index: 0,
                delta: Delta {
                    role: Some("assistant"),
                    tool_calls: Some([ToolCall {
                        index: Some(0),
                        id: Some(&tool_call_id),
                        kind: Some("function"),
                        function: FunctionCall {
                            name: Some(name),
                            arguments: "",
                        },
                    }]),
                    ..Delta::default()
                },
                logprobs: None,
                finish_reason: None,
            }];
            frames.push(Frame::Content(sse_event(&answer.chunk(&head, None))));
            let arguments = [ChunkChoice {
                index: 0,
                delta: Delta {
                    tool_calls: Some([ToolCall {
                        index: Some(0),
                        id: None,
                        kind: None,
                        function: FunctionCall {
                            name: None,
                            arguments,
                        },
                    }]),
                    ..Delta::default()
                },
                logprobs: None,
                finish_reason: None,
            }];
            frames.push(Frame::Content(sse_event(&answer.chunk(&arguments, None))));
        }
        None => {
            let mut words = answer.reply.split_whitespace().peekable();
            let mut word_with_space = String::new();
            let mut first = true;
            while let Some(word) = words.next() {
                word_with_space.clear();
                word_with_space.push_str(word);
                if words.peek().is_some() {
                    word_with_space.push(' ');
                }
                let choice = [ChunkChoice {
                    index: 0,
                    delta: Delta {
                        // The first chunk also says who speaks, as OpenAI's do.
                        role: first.then_some("assistant"),
                        content: Some(&word_with_space),
                        ..Delta::default()
                    },
                    logprobs: None,
                    finish_reason: None,
                }];
                frames.push(Frame::Content(sse_event(&answer.chunk(&choice, None))));
                first = false;
            }
        }
    }
    if let Some(n_chunks) = behavior.error_after_chunks {
        frames.truncate(n_chunks);
        frames.push(Frame::Tail(Bytes::from_static(
            b"data: {\"error\":{\"message\":\"The server had an error while processing your request.\",\"type\":\"server_error\",\"code\":\"server_error\"}}\n\n",
        )));
        frames.push(Frame::Tail(Bytes::from_static(b"data: [DONE]\n\n")));
    } else if let Some(n_chunks) = behavior.fail_after_chunks {
        frames.truncate(n_chunks);
        frames.push(Frame::Cut);
    } else {
        let finish = [ChunkChoice {
            index: 0,
            delta: Delta {
                content: Some(""),
                ..Delta::default()
            },
            logprobs: None,
            finish_reason: Some(answer.finish_reason()),
        }];
        frames.push(Frame::Tail(sse_event(&answer.chunk(&finish, None))));
        if include_usage {
            frames.push(Frame::Tail(sse_event(
                &answer.chunk(&[], Some(answer.usage)),
            )));
        }
        frames.push(Frame::Tail(Bytes::from_static(b"data: [DONE]\n\n")));
    }
    let interval = behavior
        .tokens_per_second
        .filter(|tps| tps.is_finite() && *tps > 0.0)
        .map(|tps| Duration::from_secs_f64(1.0 / tps));
    sse_response(Playback {
        frames: frames.into_iter(),
        interval,
        sent_content: false,
        guard: Some(guard),
    })
}

/// A stream being played: its frames, the pacing, and the guard that records how it ends.
pub(crate) struct Playback {
    frames: std::vec::IntoIter<Frame>,
    interval: Option<Duration>,
    sent_content: bool,
    guard: Option<CallGuard>,
}

impl Playback {
    /// Plays `frames` at the pace of `behavior`; `guard` records how the stream ends.
    pub(crate) fn new(frames: Vec<Frame>, behavior: &Behavior, guard: CallGuard) -> Self {
        let interval = behavior
            .tokens_per_second
            .filter(|tps| tps.is_finite() && *tps > 0.0)
            .map(|tps| Duration::from_secs_f64(1.0 / tps));
        Self {
            frames: frames.into_iter(),
            interval,
            sent_content: false,
            guard: Some(guard),
        }
    }

    fn finish(&mut self, outcome: CallOutcome) {
        if let Some(guard) = self.guard.take() {
            guard.finish(outcome);
        }
    }
}

/// The `text/event-stream` response that plays `playback`.
pub(crate) fn sse_response(playback: Playback) -> Response {
    let body = stream::unfold(playback, |mut playback| async move {
        let bytes = match playback.frames.next()? {
            Frame::Content(bytes) => {
                if let Some(interval) = playback.interval
                    && playback.sent_content
                {
                    tokio::time::sleep(interval).await;
                }
                playback.sent_content = true;
                bytes
            }
            Frame::Tail(bytes) => bytes,
            Frame::Cut => {
                // Returning `Pending` once lets the server flush the headers and the chunks
                // before it: an error right away would abort with them still in its buffer.
                tokio::task::yield_now().await;
                playback.finish(CallOutcome::Failed);
                // An error from the body makes the server abort the connection: the client
                // sees the stream end without a finish chunk or `[DONE]`.
                let cut = io::Error::new(io::ErrorKind::ConnectionAborted, "scripted stream cut");
                return Some((Err(cut), playback));
            }
        };
        if playback.frames.len() == 0 {
            playback.finish(CallOutcome::Completed);
        }
        Some((Ok(bytes), playback))
    });
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/event-stream"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        Body::from_stream(body),
    )
        .into_response()
}

/// A 200 whose body is not JSON (or, streaming, an event whose data is not).
pub(super) fn non_json_response(stream: bool, guard: CallGuard) -> Response {
    if stream {
        let playback = Playback {
            frames: vec![
                Frame::Tail(Bytes::from_static(b"data: not-json\n\n")),
                Frame::Tail(Bytes::from_static(b"data: [DONE]\n\n")),
            ]
            .into_iter(),
            interval: None,
            sent_content: false,
            guard: Some(guard),
        };
        return sse_response(playback);
    }
    guard.finish(CallOutcome::Completed);
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        "<html>oops</html>",
    )
        .into_response()
}

/// The piece a huge body repeats.
const FILLER: &[u8] = &[b'a'; 64 * 1024];

/// A 200 of `bytes` bytes: the start of a completion (or of a stream's `data:` line) whose
/// content string goes on to the end, produced piece by piece as the connection takes them.
/// The native formats' mocks send it too: a body that never ends is no format's answer, and a
/// client must stop reading it at its limit whatever format it expected.
pub(crate) fn huge_response(stream: bool, bytes: u64, guard: CallGuard) -> Response {
    let (content_type, start): (_, &'static [u8]) = match stream {
        true => (
            "text/event-stream",
            b"data: {\"id\":\"chatcmpl-huge\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"",
        ),
        false => (
            "application/json",
            b"{\"id\":\"chatcmpl-huge\",\"object\":\"chat.completion\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"",
        ),
    };
    let pieces = stream::unfold(
        (bytes, Some(start), Some(guard)),
        |(left, start, mut guard)| async move {
            if left == 0 {
                if let Some(guard) = guard.take() {
                    guard.finish(CallOutcome::Completed);
                }
                return None;
            }
            let piece = start.unwrap_or(FILLER);
            let len = usize::try_from(left).map_or(piece.len(), |left| left.min(piece.len()));
            let piece = Bytes::from_static(&piece[..len]);
            Some((Ok::<_, io::Error>(piece), (left - len as u64, None, guard)))
        },
    );
    (
        [(header::CONTENT_TYPE, HeaderValue::from_static(content_type))],
        Body::from_stream(pieces),
    )
        .into_response()
}

fn sse_event(chunk: &Chunk<'_>) -> Bytes {
    let mut buf = Vec::with_capacity(256);
    buf.extend_from_slice(b"data: ");
    // Writing our own structs into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut buf, chunk);
    buf.extend_from_slice(b"\n\n");
    Bytes::from(buf)
}
