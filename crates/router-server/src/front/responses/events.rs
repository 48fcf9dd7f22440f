//! The Responses API's typed event stream, rendered from the exchange's chunks.
//!
//! ```text
//! response.created, response.in_progress              (at the first chunk)
//! response.output_item.added                          (reasoning, message or function_call)
//!   response.reasoning_summary_part.added / response.reasoning_summary_text.delta ... .done / part.done
//!   response.content_part.added / response.output_text.delta ... / response.output_text.done / response.content_part.done
//!   response.function_call_arguments.delta ... / response.function_call_arguments.done
//! response.output_item.done
//! ...
//! response.completed                                  (the whole response, with usage)
//! ```
//!
//! Every event carries its `sequence_number`, counted from 0. An item is done when output of
//! another kind (or another call) starts, or at the end. A stream that fails after it committed
//! ends with `response.failed` (status `failed`, `error: {code, message}`). Keep-alive comments
//! stay comments.

use serde_json::{Value, json};

use super::{
    function_call_id, function_call_item, message_id, output_text, reasoning_id, reasoning_item,
    response_object, status,
};
use crate::front::answer::{Chunk, Message, Usage};
use crate::front::sse::{Event, Events, push_event};

/// The stream renderer of one response.
#[derive(Debug, Default)]
pub(crate) struct ResponseEvents {
    /// The next `sequence_number`.
    sequence: u64,
    /// The response's id, model and creation time, once the first chunk came.
    identity: Option<(String, String, u64)>,
    /// Whether the stream has ended.
    ended: bool,
    /// The output items so far, the last one possibly open.
    items: Vec<Item>,
    /// Whether the last item is still open.
    open: bool,
    finish_reason: Option<String>,
    usage: Option<Usage>,
}

/// An output item being streamed or done.
#[derive(Debug)]
enum Item {
    Reasoning(String),
    Message(String),
    /// A call: the index of its pieces in the chunks, its id, name and arguments.
    Call {
        index: u32,
        call_id: String,
        name: String,
        arguments: String,
    },
}

impl Events for ResponseEvents {
    fn event(&mut self, event: Event<'_>, out: &mut Vec<u8>) {
        if self.ended {
            return;
        }
        match event {
            Event::KeepAlive => out.extend_from_slice(b": OPENROUTER PROCESSING\n\n"),
            Event::Chunk(chunk) => self.chunk(&chunk, out),
            Event::Done => self.finish(out),
        }
    }
}

impl ResponseEvents {
    /// Appends one event with the next sequence number.
    fn push(&mut self, kind: &str, mut data: Value, out: &mut Vec<u8>) {
        if let Some(object) = data.as_object_mut() {
            object.insert("type".to_owned(), json!(kind));
            object.insert("sequence_number".to_owned(), json!(self.sequence));
        }
        self.sequence += 1;
        push_event(out, kind, &data);
    }

    fn id(&self) -> &str {
        self.identity.as_ref().map_or("", |(id, _, _)| id)
    }

    /// The response object as it stands.
    fn response(&self, status: &str) -> Value {
        let (id, model, created) = self
            .identity
            .as_ref()
            .map_or(("", "", 0), |(id, model, created)| {
                (id.as_str(), model.as_str(), *created)
            });
        let output = self
            .items
            .iter()
            .map(|item| self.item_json(item, "completed"))
            .collect();
        response_object(id, model, created, status, output, self.usage.as_ref())
    }

    fn item_json(&self, item: &Item, status: &str) -> Value {
        match item {
            Item::Reasoning(text) => reasoning_item(self.id(), text),
            Item::Message(text) => json!({
                "type": "message",
                "id": message_id(self.id()),
                "status": status,
                "role": "assistant",
                "content": if status == "completed" { json!([output_text(text)]) } else { json!([]) },
            }),
            Item::Call {
                call_id,
                name,
                arguments,
                ..
            } => function_call_item(call_id, name, arguments, status),
        }
    }

    fn chunk(&mut self, chunk: &Chunk<'_>, out: &mut Vec<u8>) {
        if self.identity.is_none() {
            self.identity = Some((chunk.id.to_string(), chunk.model.to_string(), chunk.created));
            let response = self.response("in_progress");
            self.push("response.created", json!({ "response": response }), out);
            let response = self.response("in_progress");
            self.push("response.in_progress", json!({ "response": response }), out);
        }
        if let Some(error) = &chunk.error {
            self.ended = true;
            let mut response = self.response("failed");
            if let Some(object) = response.as_object_mut() {
                object.insert(
                    "error".to_owned(),
                    json!({
                        "code": error.error_type().unwrap_or("server_error"),
                        "message": error.message,
                    }),
                );
            }
            self.push("response.failed", json!({ "response": response }), out);
            return;
        }
        if let Some(usage) = chunk.usage() {
            self.usage = Some(usage);
        }
        let Some(choice) = chunk.choices.first() else {
            return;
        };
        if let Some(delta) = &choice.delta {
            self.delta(delta, out);
        }
        if let Some(reason) = choice.finish_reason.as_deref() {
            self.finish_reason = Some(reason.to_owned());
        }
    }

    fn delta(&mut self, delta: &Message<'_>, out: &mut Vec<u8>) {
        let reasoning: String = if delta.has_reasoning_details() {
            delta
                .reasoning_details
                .iter()
                .flatten()
                .filter_map(|it| it.text.as_deref().or(it.summary.as_deref()))
                .collect()
        } else {
            delta.reasoning.as_deref().unwrap_or_default().to_owned()
        };
        if !reasoning.is_empty() {
            if !matches!(self.items.last(), Some(Item::Reasoning(_))) || !self.open {
                self.open_item(Item::Reasoning(String::new()), out);
            }
            self.reasoning_delta(&reasoning, out);
        }
        let text = delta.content.as_deref().or(delta.refusal.as_deref());
        if let Some(text) = text.filter(|it| !it.is_empty()) {
            if !matches!(self.items.last(), Some(Item::Message(_))) || !self.open {
                self.open_item(Item::Message(String::new()), out);
            }
            self.text_delta(text, out);
        }
        for call in delta.tool_calls.iter().flatten() {
            let index = call.index.unwrap_or(0);
            let is_open = self.open
                && matches!(self.items.last(), Some(Item::Call { index: open, .. }) if *open == index);
            let function = call.function.as_ref();
            if !is_open {
                let call_id = call.id.as_deref().unwrap_or_default().to_owned();
                let name = function
                    .and_then(|it| it.name.as_deref())
                    .unwrap_or_default()
                    .to_owned();
                self.open_item(
                    Item::Call {
                        index,
                        call_id,
                        name,
                        arguments: String::new(),
                    },
                    out,
                );
            }
            if let Some(arguments) = function
                .and_then(|it| it.arguments.as_deref())
                .filter(|it| !it.is_empty())
            {
                self.arguments_delta(arguments, out);
            }
        }
    }

    /// Closes the open item and opens `item`.
    fn open_item(&mut self, item: Item, out: &mut Vec<u8>) {
        self.close(out);
        let output_index = self.items.len();
        let json = self.item_json(&item, "in_progress");
        let item_id = json["id"].clone();
        self.push(
            "response.output_item.added",
            json!({ "output_index": output_index, "item": json }),
            out,
        );
        match &item {
            Item::Reasoning(_) => self.push(
                "response.reasoning_summary_part.added",
                json!({
                    "item_id": item_id, "output_index": output_index, "summary_index": 0,
                    "part": { "type": "summary_text", "text": "" },
                }),
                out,
            ),
            Item::Message(_) => self.push(
                "response.content_part.added",
                json!({
                    "item_id": item_id, "output_index": output_index, "content_index": 0,
                    "part": output_text(""),
                }),
                out,
            ),
            Item::Call { .. } => {}
        }
        self.items.push(item);
        self.open = true;
    }

    fn reasoning_delta(&mut self, text: &str, out: &mut Vec<u8>) {
        let output_index = self.items.len() - 1;
        if let Some(Item::Reasoning(all)) = self.items.last_mut() {
            all.push_str(text);
        }
        let item_id = reasoning_id(self.id());
        self.push(
            "response.reasoning_summary_text.delta",
            json!({ "item_id": item_id, "output_index": output_index, "summary_index": 0, "delta": text }),
            out,
        );
    }

    fn text_delta(&mut self, text: &str, out: &mut Vec<u8>) {
        let output_index = self.items.len() - 1;
        if let Some(Item::Message(all)) = self.items.last_mut() {
            all.push_str(text);
        }
        let item_id = message_id(self.id());
        self.push(
            "response.output_text.delta",
            json!({
                "item_id": item_id, "output_index": output_index, "content_index": 0,
                "delta": text, "logprobs": [],
            }),
            out,
        );
    }

    fn arguments_delta(&mut self, arguments: &str, out: &mut Vec<u8>) {
        let output_index = self.items.len() - 1;
        let mut item_id = String::new();
        if let Some(Item::Call {
            arguments: all,
            call_id,
            ..
        }) = self.items.last_mut()
        {
            all.push_str(arguments);
            item_id = function_call_id(call_id);
        }
        self.push(
            "response.function_call_arguments.delta",
            json!({ "item_id": item_id, "output_index": output_index, "delta": arguments }),
            out,
        );
    }

    /// Finishes the open item, if any.
    fn close(&mut self, out: &mut Vec<u8>) {
        if !self.open {
            return;
        }
        self.open = false;
        let Some(item) = self.items.last() else {
            return;
        };
        let output_index = self.items.len() - 1;
        let json = self.item_json(item, "completed");
        let item_id = json["id"].clone();
        let done = match item {
            Item::Reasoning(text) => vec![
                (
                    "response.reasoning_summary_text.done",
                    json!({ "item_id": item_id, "output_index": output_index, "summary_index": 0, "text": text }),
                ),
                (
                    "response.reasoning_summary_part.done",
                    json!({
                        "item_id": item_id, "output_index": output_index, "summary_index": 0,
                        "part": { "type": "summary_text", "text": text },
                    }),
                ),
            ],
            Item::Message(text) => vec![
                (
                    "response.output_text.done",
                    json!({
                        "item_id": item_id, "output_index": output_index, "content_index": 0,
                        "text": text, "logprobs": [],
                    }),
                ),
                (
                    "response.content_part.done",
                    json!({
                        "item_id": item_id, "output_index": output_index, "content_index": 0,
                        "part": output_text(text),
                    }),
                ),
            ],
            Item::Call {
                name, arguments, ..
            } => vec![(
                "response.function_call_arguments.done",
                json!({
                    "item_id": item_id, "output_index": output_index,
                    "name": name, "arguments": arguments,
                }),
            )],
        };
        for (kind, data) in done {
            self.push(kind, data, out);
        }
        self.push(
            "response.output_item.done",
            json!({ "output_index": output_index, "item": json }),
            out,
        );
    }

    fn finish(&mut self, out: &mut Vec<u8>) {
        self.ended = true;
        if self.identity.is_none() {
            return;
        }
        self.close(out);
        let status = status(self.finish_reason.as_deref());
        let kind = match status {
            "incomplete" => "response.incomplete",
            _ => "response.completed",
        };
        let response = self.response(status);
        self.push(kind, json!({ "response": response }), out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(chunks: &[Value]) -> Vec<Value> {
        let mut events = ResponseEvents::default();
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
                let (_, data) = event.split_once("\ndata: ").unwrap();
                serde_json::from_str(data).unwrap()
            })
            .collect()
    }

    fn chunk(delta: Value, finish_reason: Option<&str>) -> Value {
        json!({"id": "gen-1", "model": "test/one", "created": 5, "choices": [
            {"index": 0, "delta": delta, "finish_reason": finish_reason}
        ]})
    }

    #[test]
    fn text_then_a_call_is_two_items_with_numbered_events() {
        let events = render(&[
            chunk(json!({"role": "assistant", "content": "Hi "}), None),
            chunk(json!({"content": "there"}), None),
            chunk(
                json!({"tool_calls": [{"index": 0, "id": "call_1", "function": {"name": "f", "arguments": "{\"a\""}}]}),
                None,
            ),
            chunk(
                json!({"tool_calls": [{"index": 0, "function": {"arguments": ":1}"}}]}),
                Some("tool_calls"),
            ),
            json!({"id": "gen-1", "model": "test/one", "choices": [],
                   "usage": {"prompt_tokens": 4, "completion_tokens": 2}}),
        ]);
        let kinds: Vec<&str> = events
            .iter()
            .map(|it| it["type"].as_str().unwrap())
            .collect();
        assert_eq!(
            kinds,
            [
                "response.created",
                "response.in_progress",
                "response.output_item.added",
                "response.content_part.added",
                "response.output_text.delta",
                "response.output_text.delta",
                "response.output_text.done",
                "response.content_part.done",
                "response.output_item.done",
                "response.output_item.added",
                "response.function_call_arguments.delta",
                "response.function_call_arguments.delta",
                "response.function_call_arguments.done",
                "response.output_item.done",
                "response.completed",
            ]
        );
        for (idx, event) in events.iter().enumerate() {
            assert_eq!(event["sequence_number"], idx);
        }
        assert_eq!(events[6]["text"], "Hi there");
        assert_eq!(events[12]["arguments"], "{\"a\":1}");
        let response = &events[14]["response"];
        assert_eq!(response["status"], "completed");
        assert_eq!(response["output"][0]["content"][0]["text"], "Hi there");
        assert_eq!(response["output"][1]["call_id"], "call_1");
        assert_eq!(response["usage"]["total_tokens"], 6);
    }
}
