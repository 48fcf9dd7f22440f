//! The Messages API's event stream, rendered from the exchange's chunks.
//!
//! ```text
//! message_start                      (at the first chunk: id, model, empty content)
//! ping
//! content_block_start  index 0       (thinking, text or tool_use, as the output changes kind)
//! content_block_delta  index 0       (thinking_delta / signature_delta, text_delta, input_json_delta)
//! content_block_stop   index 0
//! ...
//! message_delta                      (stop_reason, usage)
//! message_stop
//! ```
//!
//! A stream that fails after it committed ends with one `error` event in Anthropic's envelope
//! instead of `message_delta` and `message_stop`. Keep-alive comments before the first chunk
//! stay comments (Anthropic's stream accumulators want `message_start` first); after it they
//! are `ping` events.

use serde_json::{Value, json};

use super::{error_object, error_type, stop_reason, usage};
use crate::front::answer::{Chunk, Message, Usage};
use crate::front::sse::{Event, Events, push_event};

/// The stream renderer of one answer.
#[derive(Debug, Default)]
pub(crate) struct MessageEvents {
    /// Whether `message_start` went out.
    started: bool,
    /// Whether the stream has ended (`message_stop` or `error` went out).
    ended: bool,
    /// The open content block.
    open: Option<Open>,
    /// The index of the next content block.
    next_index: u32,
    /// The answer's finish reason.
    finish_reason: Option<&'static str>,
    /// The answer's usage.
    usage: Usage,
}

/// The kind of the open content block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Open {
    Thinking,
    Text,
    /// A tool call, by the index of its pieces in the chunks.
    Tool(u32),
}

impl Events for MessageEvents {
    fn event(&mut self, event: Event<'_>, out: &mut Vec<u8>) {
        if self.ended {
            return;
        }
        match event {
            Event::KeepAlive if self.started => push_event(out, "ping", &json!({"type": "ping"})),
            Event::KeepAlive => out.extend_from_slice(b": OPENROUTER PROCESSING\n\n"),
            Event::Chunk(chunk) => self.chunk(&chunk, out),
            Event::Done => self.finish(out),
        }
    }
}

impl MessageEvents {
    fn chunk(&mut self, chunk: &Chunk<'_>, out: &mut Vec<u8>) {
        if let Some(error) = &chunk.error {
            let (_, kind) = error_type(
                axum::http::StatusCode::from_u16(error.code)
                    .unwrap_or(axum::http::StatusCode::BAD_GATEWAY),
            );
            push_event(
                out,
                "error",
                &json!({ "type": "error", "error": error_object(kind, error) }),
            );
            self.ended = true;
            return;
        }
        if !self.started {
            self.start(chunk, out);
        }
        if let Some(usage) = chunk.usage() {
            self.usage = usage;
        }
        let Some(choice) = chunk.choices.first() else {
            return;
        };
        if let Some(delta) = &choice.delta {
            self.delta(delta, out);
        }
        if let Some(reason) = choice.finish_reason.as_deref() {
            self.finish_reason = Some(stop_reason(Some(reason)));
        }
    }

    fn start(&mut self, chunk: &Chunk<'_>, out: &mut Vec<u8>) {
        self.started = true;
        let message = json!({
            "type": "message_start",
            "message": {
                "id": chunk.id,
                "type": "message",
                "role": "assistant",
                "model": chunk.model,
                "content": [],
                "stop_reason": null,
                "stop_sequence": null,
                "usage": {"input_tokens": 0, "output_tokens": 0},
            },
        });
        push_event(out, "message_start", &message);
        push_event(out, "ping", &json!({"type": "ping"}));
    }

    fn delta(&mut self, delta: &Message<'_>, out: &mut Vec<u8>) {
        if delta.has_reasoning_details() {
            for detail in delta.reasoning_details.iter().flatten() {
                if detail.kind == "reasoning.encrypted" {
                    let data = detail.data.as_deref().unwrap_or_default();
                    self.close(out);
                    let block = json!({ "type": "redacted_thinking", "data": data });
                    let index = self.open_block(None, &block, out);
                    push_event(
                        out,
                        "content_block_stop",
                        &json!({"type": "content_block_stop", "index": index}),
                    );
                    continue;
                }
                let text = detail.text.as_deref().or(detail.summary.as_deref());
                if let Some(text) = text.filter(|it| !it.is_empty()) {
                    self.thinking(json!({"type": "thinking_delta", "thinking": text}), out);
                }
                if let Some(signature) = detail.signature.as_deref().filter(|it| !it.is_empty()) {
                    self.thinking(
                        json!({"type": "signature_delta", "signature": signature}),
                        out,
                    );
                }
            }
        } else if let Some(reasoning) = delta.reasoning.as_deref().filter(|it| !it.is_empty()) {
            self.thinking(
                json!({"type": "thinking_delta", "thinking": reasoning}),
                out,
            );
        }
        let text = delta.content.as_deref().or(delta.refusal.as_deref());
        if let Some(text) = text.filter(|it| !it.is_empty()) {
            if self.open != Some(Open::Text) {
                self.close(out);
                self.open_block(Some(Open::Text), &json!({"type": "text", "text": ""}), out);
            }
            self.block_delta(json!({"type": "text_delta", "text": text}), out);
        }
        for call in delta.tool_calls.iter().flatten() {
            let index = call.index.unwrap_or(0);
            let function = call.function.as_ref();
            if self.open != Some(Open::Tool(index)) {
                self.close(out);
                let block = json!({
                    "type": "tool_use",
                    "id": call.id.as_deref().unwrap_or_default(),
                    "name": function.and_then(|it| it.name.as_deref()).unwrap_or_default(),
                    "input": {},
                });
                self.open_block(Some(Open::Tool(index)), &block, out);
            }
            let arguments = function.and_then(|it| it.arguments.as_deref());
            if let Some(arguments) = arguments.filter(|it| !it.is_empty()) {
                self.block_delta(
                    json!({"type": "input_json_delta", "partial_json": arguments}),
                    out,
                );
            }
        }
    }

    /// A delta of the thinking block, opening it first when needed.
    fn thinking(&mut self, delta: Value, out: &mut Vec<u8>) {
        if self.open != Some(Open::Thinking) {
            self.close(out);
            let block = json!({"type": "thinking", "thinking": "", "signature": ""});
            self.open_block(Some(Open::Thinking), &block, out);
        }
        self.block_delta(delta, out);
    }

    /// Starts a content block; returns its index.
    fn open_block(&mut self, open: Option<Open>, block: &Value, out: &mut Vec<u8>) -> u32 {
        let index = self.next_index;
        self.next_index += 1;
        self.open = open;
        push_event(
            out,
            "content_block_start",
            &json!({"type": "content_block_start", "index": index, "content_block": block}),
        );
        index
    }

    fn block_delta(&self, delta: Value, out: &mut Vec<u8>) {
        let index = self.next_index.saturating_sub(1);
        push_event(
            out,
            "content_block_delta",
            &json!({"type": "content_block_delta", "index": index, "delta": delta}),
        );
    }

    /// Stops the open block, if any.
    fn close(&mut self, out: &mut Vec<u8>) {
        if self.open.take().is_some() {
            let index = self.next_index.saturating_sub(1);
            push_event(
                out,
                "content_block_stop",
                &json!({"type": "content_block_stop", "index": index}),
            );
        }
    }

    /// `message_delta` with the stop reason and usage, then `message_stop`.
    fn finish(&mut self, out: &mut Vec<u8>) {
        if !self.started {
            // The body ended without a chunk: nothing to close.
            self.ended = true;
            return;
        }
        self.close(out);
        let delta = json!({
            "type": "message_delta",
            "delta": {
                "stop_reason": self.finish_reason.unwrap_or("end_turn"),
                "stop_sequence": null,
            },
            "usage": usage(&self.usage),
        });
        push_event(out, "message_delta", &delta);
        push_event(out, "message_stop", &json!({"type": "message_stop"}));
        self.ended = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(chunks: &[Value]) -> Vec<(String, Value)> {
        let mut events = MessageEvents::default();
        let mut out = Vec::new();
        for chunk in chunks {
            let bytes = serde_json::to_vec(chunk).unwrap();
            let chunk: Chunk<'_> = serde_json::from_slice(&bytes).unwrap();
            events.event(Event::Chunk(chunk), &mut out);
        }
        events.event(Event::Done, &mut out);
        String::from_utf8(out)
            .unwrap()
            .split_terminator("\n\n")
            .map(|event| {
                let (name, data) = event.split_once('\n').unwrap();
                let name = name.strip_prefix("event: ").unwrap().to_owned();
                let data = serde_json::from_str(data.strip_prefix("data: ").unwrap()).unwrap();
                (name, data)
            })
            .collect()
    }

    fn chunk(delta: Value, finish_reason: Option<&str>) -> Value {
        json!({"id": "gen-1", "model": "test/one", "choices": [
            {"index": 0, "delta": delta, "finish_reason": finish_reason}
        ]})
    }

    #[test]
    fn thinking_text_and_a_tool_call_become_three_blocks() {
        let events = render(&[
            chunk(
                json!({"role": "assistant", "reasoning": "Hm", "reasoning_details": [
                {"type": "reasoning.text", "text": "Hm"}]}),
                None,
            ),
            chunk(
                json!({"reasoning_details": [{"type": "reasoning.text", "signature": "sig"}]}),
                None,
            ),
            chunk(json!({"content": "Hi"}), None),
            chunk(
                json!({"tool_calls": [{"index": 0, "id": "call_1", "type": "function",
                                         "function": {"name": "f", "arguments": ""}}]}),
                None,
            ),
            chunk(
                json!({"tool_calls": [{"index": 0, "function": {"arguments": "{}"}}]}),
                Some("tool_calls"),
            ),
            json!({"id": "gen-1", "model": "test/one", "choices": [],
                   "usage": {"prompt_tokens": 9, "completion_tokens": 3}}),
        ]);
        let names: Vec<&str> = events.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(
            names,
            [
                "message_start",
                "ping",
                "content_block_start",
                "content_block_delta",
                "content_block_delta",
                "content_block_stop",
                "content_block_start",
                "content_block_delta",
                "content_block_stop",
                "content_block_start",
                "content_block_delta",
                "content_block_stop",
                "message_delta",
                "message_stop",
            ]
        );
        assert_eq!(
            events[3].1["delta"],
            json!({"type": "thinking_delta", "thinking": "Hm"})
        );
        assert_eq!(
            events[4].1["delta"],
            json!({"type": "signature_delta", "signature": "sig"})
        );
        assert_eq!(events[6].1["content_block"]["type"], "text");
        assert_eq!(events[6].1["index"], 1);
        assert_eq!(
            events[9].1["content_block"],
            json!({"type": "tool_use", "id": "call_1", "name": "f", "input": {}})
        );
        assert_eq!(
            events[10].1["delta"],
            json!({"type": "input_json_delta", "partial_json": "{}"})
        );
        assert_eq!(events[12].1["delta"]["stop_reason"], "tool_use");
        assert_eq!(events[12].1["usage"]["input_tokens"], 9);
        assert_eq!(events[12].1["usage"]["output_tokens"], 3);
    }

    #[test]
    fn an_error_chunk_ends_the_stream_with_an_error_event() {
        let events = render(&[
            chunk(json!({"content": "Hi"}), None),
            json!({"id": "gen-1", "model": "test/one",
                   "error": {"code": 502, "message": "cut", "metadata": {"error_type": "provider"}},
                   "choices": [{"index": 0, "delta": {"content": ""}, "finish_reason": "error"}]}),
        ]);
        let (name, data) = events.last().unwrap();
        assert_eq!(name, "error");
        assert_eq!(
            data,
            &json!({"type": "error", "error": {"type": "api_error", "message": "cut", "error_type": "provider"}})
        );
        assert!(events.iter().all(|(name, _)| name != "message_stop"));
    }
}
