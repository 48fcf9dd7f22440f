//! An Anthropic Messages request, translated into the canonical chat completions request.
//!
//! | Anthropic | chat completions |
//! |---|---|
//! | `system` (string or text blocks) | a first `system` message (text parts keep `cache_control`) |
//! | `text`, `image`, `document` blocks | `text`, `image_url`, `file` parts, `cache_control` kept |
//! | `tool_use` blocks | the assistant's `tool_calls` (`input` becomes `arguments`) |
//! | `tool_result` blocks | `tool` messages, before the rest of their user turn |
//! | `thinking`, `redacted_thinking` blocks | the assistant's `reasoning_details` (`reasoning.text` with `signature`, `reasoning.encrypted`) |
//! | `tools` | function tools (`input_schema` becomes `parameters`) |
//! | `tool_choice` `auto`/`any`/`tool`/`none` | `auto`/`required`/the function/`none`; `disable_parallel_tool_use` becomes `parallel_tool_calls: false` |
//! | `thinking` `enabled` with `budget_tokens` / `adaptive` | `reasoning: {max_tokens}` / `reasoning: {enabled: true}` |
//! | `stop_sequences`, `metadata.user_id` | `stop`, `user` |
//! | `fallbacks: [{model}]` | `models` |
//!
//! `max_tokens`, `temperature`, `top_p`, `top_k`, `stream`, a top-level `cache_control` and
//! OpenRouter's `models`, `provider`, `plugins`, `route` and `session_id` keep their names.
//! `service_tier` and `context_management` are accepted and ignored; any other field is a 400.

use std::borrow::Cow;

use router_core::request::RequestError;
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::value::RawValue;

use crate::config::FrontSettings;
use crate::front::json::{
    self, ChatMessage, Content, File, Function, FunctionTool, Object, Part, ReasoningDetail, Text,
    Tool, ToolCall, Url, invalid, string,
};
use crate::front::{catalog_id, catalog_ids};

/// Most entries of `fallbacks`, as OpenRouter.
const MAX_FALLBACKS: usize = 3;

/// The format of the thinking blocks Anthropic's models sign.
const THINKING_FORMAT: &str = "anthropic-claude-v1";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Request<'a> {
    #[serde(borrow)]
    model: Cow<'a, str>,
    max_tokens: u64,
    #[serde(borrow)]
    messages: Vec<InMessage<'a>>,
    #[serde(borrow, default)]
    system: Option<&'a RawValue>,
    #[serde(borrow, default)]
    tools: Option<Vec<InTool<'a>>>,
    #[serde(borrow, default)]
    tool_choice: Option<ToolChoice<'a>>,
    #[serde(borrow, default)]
    thinking: Option<Thinking<'a>>,
    #[serde(borrow, default)]
    stop_sequences: Option<&'a RawValue>,
    #[serde(default)]
    stream: Option<bool>,
    #[serde(borrow, default)]
    temperature: Option<&'a RawValue>,
    #[serde(borrow, default)]
    top_p: Option<&'a RawValue>,
    #[serde(borrow, default)]
    top_k: Option<&'a RawValue>,
    #[serde(borrow, default)]
    metadata: Option<Metadata<'a>>,
    #[serde(borrow, default)]
    cache_control: Option<&'a RawValue>,
    #[serde(borrow, default)]
    models: Option<Vec<Cow<'a, str>>>,
    #[serde(borrow, default)]
    fallbacks: Option<Vec<Fallback<'a>>>,
    #[serde(borrow, default)]
    provider: Option<&'a RawValue>,
    #[serde(borrow, default)]
    plugins: Option<&'a RawValue>,
    #[serde(borrow, default)]
    route: Option<&'a RawValue>,
    #[serde(borrow, default)]
    session_id: Option<&'a RawValue>,
    #[serde(default, rename = "service_tier")]
    _service_tier: Option<IgnoredAny>,
    #[serde(default, rename = "context_management")]
    _context_management: Option<IgnoredAny>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InMessage<'a> {
    #[serde(borrow)]
    role: Cow<'a, str>,
    #[serde(borrow)]
    content: &'a RawValue,
}

/// A content block; which members it has depends on its `type`.
#[derive(Deserialize)]
struct Block<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(borrow, default)]
    text: Option<&'a RawValue>,
    #[serde(borrow, default)]
    cache_control: Option<&'a RawValue>,
    #[serde(borrow, default)]
    source: Option<Source<'a>>,
    #[serde(borrow, default)]
    id: Option<&'a RawValue>,
    #[serde(borrow, default)]
    name: Option<&'a RawValue>,
    #[serde(borrow, default)]
    input: Option<&'a RawValue>,
    #[serde(borrow, default)]
    tool_use_id: Option<&'a RawValue>,
    #[serde(borrow, default)]
    content: Option<&'a RawValue>,
    #[serde(borrow, default)]
    thinking: Option<&'a RawValue>,
    #[serde(borrow, default)]
    signature: Option<&'a RawValue>,
    #[serde(borrow, default)]
    data: Option<&'a RawValue>,
}

/// The `source` of an image or document block.
#[derive(Deserialize)]
struct Source<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(borrow, default)]
    media_type: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    data: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    url: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InTool<'a> {
    #[serde(borrow)]
    name: &'a RawValue,
    #[serde(borrow, default)]
    description: Option<&'a RawValue>,
    #[serde(borrow, default)]
    input_schema: Option<&'a RawValue>,
    #[serde(borrow, default)]
    cache_control: Option<&'a RawValue>,
    #[serde(rename = "type", borrow, default)]
    kind: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ToolChoice<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(borrow, default)]
    name: Option<&'a RawValue>,
    #[serde(default)]
    disable_parallel_tool_use: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Thinking<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(default)]
    budget_tokens: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Metadata<'a> {
    #[serde(borrow, default)]
    user_id: Option<&'a RawValue>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Fallback<'a> {
    #[serde(borrow)]
    model: Cow<'a, str>,
}

/// The canonical request for an Anthropic Messages `body`.
pub(crate) fn translate(body: &[u8], front: &FrontSettings) -> Result<Vec<u8>, RequestError> {
    let request: Request<'_> =
        serde_json::from_slice(body).map_err(|err| json::unreadable(&err))?;
    let mut out = Object::with_capacity(body.len() + 256);
    out.value("model", catalog_id(front, &request.model));
    match (&request.models, &request.fallbacks) {
        (Some(_), Some(_)) => {
            return Err(invalid(
                "fallbacks",
                "send either `fallbacks` or `models`, not both",
            ));
        }
        (Some(models), None) => {
            out.value(
                "models",
                &catalog_ids(front, models.iter().map(AsRef::as_ref)),
            );
        }
        (None, Some(fallbacks)) => {
            if fallbacks.len() > MAX_FALLBACKS {
                return Err(invalid(
                    "fallbacks",
                    format!("at most {MAX_FALLBACKS} fallback models"),
                ));
            }
            let models = catalog_ids(front, fallbacks.iter().map(|it| it.model.as_ref()));
            out.value("models", &models);
        }
        (None, None) => {}
    }
    if request.messages.is_empty() {
        return Err(invalid("messages", "must contain at least one message"));
    }
    let mut messages = Vec::with_capacity(request.messages.len() + 1);
    if let Some(system) = request.system {
        messages.push(ChatMessage::new("system", system_content(system)?));
    }
    for (idx, message) in request.messages.iter().enumerate() {
        translate_message(message, idx, &mut messages)?;
    }
    out.value("messages", &messages);
    out.value("max_tokens", &request.max_tokens);
    out.value("stream", &request.stream.unwrap_or(false));
    if let Some(tools) = &request.tools {
        out.value("tools", &json::each(tools, translate_tool)?);
    }
    if let Some(choice) = &request.tool_choice {
        tool_choice(choice, &mut out)?;
    }
    if let Some(thinking) = &request.thinking {
        match (thinking.kind.as_ref(), thinking.budget_tokens) {
            ("enabled", Some(budget)) => {
                out.value("reasoning", &serde_json::json!({ "max_tokens": budget }));
            }
            ("enabled", None) => {
                return Err(invalid("thinking.budget_tokens", "is required"));
            }
            ("adaptive", _) => out.value("reasoning", &serde_json::json!({ "enabled": true })),
            ("disabled", _) => {}
            (other, _) => {
                return Err(invalid(
                    "thinking.type",
                    format!("`{other}` is not one of `enabled`, `adaptive`, `disabled`"),
                ));
            }
        }
    }
    out.raws(&[
        ("stop", request.stop_sequences),
        ("temperature", request.temperature),
        ("top_p", request.top_p),
        ("top_k", request.top_k),
        ("user", request.metadata.as_ref().and_then(|it| it.user_id)),
        ("cache_control", request.cache_control),
        ("provider", request.provider),
        ("plugins", request.plugins),
        ("route", request.route),
        ("session_id", request.session_id),
    ]);
    Ok(out.finish())
}

/// The system message's content: a string, or text blocks as text parts.
fn system_content(system: &RawValue) -> Result<Content<'_>, RequestError> {
    if system.get().starts_with('"') {
        return Ok(Content::Text(Text::Raw(system)));
    }
    let blocks: Vec<Block<'_>> = serde_json::from_str(system.get())
        .map_err(|_| invalid("system", "must be a string or an array of text blocks"))?;
    let parts = blocks
        .iter()
        .enumerate()
        .map(|(idx, block)| {
            let field = format!("system[{idx}]");
            if block.kind != "text" {
                return Err(invalid(field, "must be a text block"));
            }
            let text = block
                .text
                .ok_or_else(|| invalid(format!("{field}.text"), "is required"))?;
            Ok(Part::text(
                string(text, &format!("{field}.text"))?,
                block.cache_control,
            ))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Content::Parts(parts))
}

/// Appends the canonical messages of one Anthropic message.
fn translate_message<'a>(
    message: &InMessage<'a>,
    idx: usize,
    messages: &mut Vec<ChatMessage<'a>>,
) -> Result<(), RequestError> {
    let field = format!("messages[{idx}]");
    let role = match message.role.as_ref() {
        "user" => "user",
        "assistant" => "assistant",
        other => {
            return Err(invalid(
                format!("{field}.role"),
                format!("`{other}` is not one of `user`, `assistant`"),
            ));
        }
    };
    if message.content.get().starts_with('"') {
        messages.push(ChatMessage::new(
            role,
            Content::Text(Text::Raw(message.content)),
        ));
        return Ok(());
    }
    let blocks: Vec<Block<'a>> = serde_json::from_str(message.content.get()).map_err(|_| {
        invalid(
            format!("{field}.content"),
            "must be a string or an array of content blocks",
        )
    })?;
    if role == "assistant" {
        messages.push(assistant_message(&blocks, &field)?);
        return Ok(());
    }
    let mut parts = Vec::with_capacity(blocks.len());
    for (block_idx, block) in blocks.iter().enumerate() {
        let field = format!("{field}.content[{block_idx}]");
        if block.kind == "tool_result" {
            messages.push(tool_result(block, &field)?);
        } else {
            parts.push(user_part(block, &field)?);
        }
    }
    if !parts.is_empty() {
        messages.push(ChatMessage::new("user", Content::Parts(parts)));
    }
    Ok(())
}

/// A content part of a user turn.
fn user_part<'a>(block: &Block<'a>, field: &str) -> Result<Part<'a>, RequestError> {
    match block.kind.as_ref() {
        "text" => {
            let text = block
                .text
                .ok_or_else(|| invalid(format!("{field}.text"), "is required"))?;
            Ok(Part::text(
                string(text, &format!("{field}.text"))?,
                block.cache_control,
            ))
        }
        "image" => {
            let url = source_url(block, field)?;
            Ok(Part::image(Url { url, detail: None }, block.cache_control))
        }
        "document" => {
            let source = block
                .source
                .as_ref()
                .ok_or_else(|| invalid(format!("{field}.source"), "is required"))?;
            if source.kind == "text" {
                let text = source.data.clone().unwrap_or_default();
                return Ok(Part::text(Text::Str(text), block.cache_control));
            }
            let file_data = source_url(block, field)?;
            Ok(Part::file(
                File {
                    filename: "document.pdf",
                    file_data,
                },
                block.cache_control,
            ))
        }
        other => Err(invalid(
            format!("{field}.type"),
            format!("`{other}` blocks are not supported in a user turn"),
        )),
    }
}

/// The URL of an image or document block: its `url`, or a `data:` URL of its base64 data.
fn source_url<'a>(block: &Block<'a>, field: &str) -> Result<Cow<'a, str>, RequestError> {
    let source = block
        .source
        .as_ref()
        .ok_or_else(|| invalid(format!("{field}.source"), "is required"))?;
    match (source.kind.as_ref(), &source.url, &source.data) {
        ("url", Some(url), _) => Ok(url.clone()),
        ("base64", _, Some(data)) => {
            let media_type = source
                .media_type
                .as_deref()
                .ok_or_else(|| invalid(format!("{field}.source.media_type"), "is required"))?;
            Ok(Cow::Owned(format!("data:{media_type};base64,{data}")))
        }
        (kind, _, _) => Err(invalid(
            format!("{field}.source"),
            format!("a `{kind}` source needs `url` (type `url`) or `data` (type `base64`)"),
        )),
    }
}

/// The `tool` message of a `tool_result` block.
fn tool_result<'a>(block: &Block<'a>, field: &str) -> Result<ChatMessage<'a>, RequestError> {
    let id = block
        .tool_use_id
        .ok_or_else(|| invalid(format!("{field}.tool_use_id"), "is required"))?;
    let id = string(id, &format!("{field}.tool_use_id"))?;
    let content = match block.content {
        None => Content::Text(Text::Str(Cow::Borrowed(""))),
        Some(raw) if raw.get().starts_with('"') => Content::Text(Text::Raw(raw)),
        Some(raw) => {
            let blocks: Vec<Block<'a>> = serde_json::from_str(raw.get()).map_err(|_| {
                invalid(
                    format!("{field}.content"),
                    "must be a string or an array of content blocks",
                )
            })?;
            let parts = blocks
                .iter()
                .enumerate()
                .map(|(idx, block)| user_part(block, &format!("{field}.content[{idx}]")))
                .collect::<Result<Vec<_>, _>>()?;
            Content::Parts(parts)
        }
    };
    let mut message = ChatMessage::new("tool", content);
    message.tool_call_id = Some(id);
    Ok(message)
}

/// The assistant message of an assistant turn's blocks.
fn assistant_message<'a>(
    blocks: &[Block<'a>],
    field: &str,
) -> Result<ChatMessage<'a>, RequestError> {
    let mut parts = Vec::new();
    let mut tool_calls = Vec::new();
    let mut reasoning = Vec::new();
    for (idx, block) in blocks.iter().enumerate() {
        let field = format!("{field}.content[{idx}]");
        let required = |value: Option<&'a RawValue>, name: &str| {
            value.ok_or_else(|| invalid(format!("{field}.{name}"), "is required"))
        };
        match block.kind.as_ref() {
            "text" => {
                let text = string(required(block.text, "text")?, &format!("{field}.text"))?;
                parts.push(Part::text(text, block.cache_control));
            }
            "tool_use" => {
                let input = required(block.input, "input")?;
                tool_calls.push(ToolCall {
                    id: string(required(block.id, "id")?, &format!("{field}.id"))?,
                    kind: "function",
                    function: Function {
                        name: string(required(block.name, "name")?, &format!("{field}.name"))?,
                        arguments: json::json_string(input),
                    },
                });
            }
            "thinking" => reasoning.push(ReasoningDetail {
                kind: "reasoning.text",
                text: Some(string(
                    required(block.thinking, "thinking")?,
                    &format!("{field}.thinking"),
                )?),
                signature: block
                    .signature
                    .map(|it| string(it, &format!("{field}.signature")))
                    .transpose()?,
                data: None,
                format: Some(THINKING_FORMAT),
                index: reasoning.len(),
            }),
            "redacted_thinking" => reasoning.push(ReasoningDetail {
                kind: "reasoning.encrypted",
                text: None,
                signature: None,
                data: Some(string(
                    required(block.data, "data")?,
                    &format!("{field}.data"),
                )?),
                format: Some(THINKING_FORMAT),
                index: reasoning.len(),
            }),
            other => {
                return Err(invalid(
                    format!("{field}.type"),
                    format!("`{other}` blocks are not supported in an assistant turn"),
                ));
            }
        }
    }
    let content = match parts.len() {
        0 if !tool_calls.is_empty() => Content::Null,
        0 => Content::Text(Text::Str(Cow::Borrowed(""))),
        1 if parts[0].cache_control.is_none() => match parts.pop().and_then(|it| it.text) {
            Some(text) => Content::Text(text),
            None => Content::Null,
        },
        _ => Content::Parts(parts),
    };
    let mut message = ChatMessage::new("assistant", content);
    message.tool_calls = tool_calls;
    message.reasoning_details = reasoning;
    Ok(message)
}

/// A function tool; Anthropic's server tools (typed other than `custom`) are refused.
fn translate_tool<'a>(tool: &InTool<'a>, idx: usize) -> Result<Tool<'a>, RequestError> {
    let field = format!("tools[{idx}]");
    if let Some(kind) = tool.kind.as_deref()
        && kind != "custom"
    {
        return Err(invalid(
            format!("{field}.type"),
            format!("`{kind}`: only custom (function) tools are supported"),
        ));
    }
    Ok(Tool {
        kind: "function",
        function: FunctionTool {
            name: string(tool.name, &format!("{field}.name"))?,
            description: tool.description,
            parameters: tool.input_schema,
            strict: None,
        },
        cache_control: tool.cache_control,
    })
}

/// `tool_choice` (and `parallel_tool_calls`).
fn tool_choice(choice: &ToolChoice<'_>, out: &mut Object) -> Result<(), RequestError> {
    match choice.kind.as_ref() {
        "auto" => out.value("tool_choice", "auto"),
        "any" => out.value("tool_choice", "required"),
        "none" => out.value("tool_choice", "none"),
        "tool" => {
            let name = choice
                .name
                .ok_or_else(|| invalid("tool_choice.name", "is required"))?;
            let name = string(name, "tool_choice.name")?;
            out.value(
                "tool_choice",
                &serde_json::json!({ "type": "function", "function": { "name": name } }),
            );
        }
        other => {
            return Err(invalid(
                "tool_choice.type",
                format!("`{other}` is not one of `auto`, `any`, `tool`, `none`"),
            ));
        }
    }
    if choice.disable_parallel_tool_use == Some(true) {
        out.value("parallel_tool_calls", &false);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    fn canonical(request: &Value) -> Value {
        let body = serde_json::to_vec(request).unwrap();
        let mut front = FrontSettings::default();
        front
            .model_aliases
            .insert("claude-sonnet-4-5".to_owned(), "test/one".to_owned());
        let out = translate(&body, &front).unwrap();
        serde_json::from_slice(&out).unwrap()
    }

    #[test]
    fn a_conversation_with_tools_and_thinking_becomes_chat_messages() {
        let out = canonical(&json!({
            "model": "claude-sonnet-4-5-20250929",
            "max_tokens": 1024,
            "system": [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}],
            "messages": [
                {"role": "user", "content": "Weather in Paris?"},
                {"role": "assistant", "content": [
                    {"type": "thinking", "thinking": "Use the tool.", "signature": "sig=="},
                    {"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {"city": "Paris"}}
                ]},
                {"role": "user", "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_1", "content": "sunny"},
                    {"type": "text", "text": "And tomorrow?"}
                ]}
            ],
            "tools": [{"name": "weather", "input_schema": {"type": "object"}}],
            "tool_choice": {"type": "any", "disable_parallel_tool_use": true},
            "thinking": {"type": "enabled", "budget_tokens": 2048},
            "stop_sequences": ["END"],
            "metadata": {"user_id": "u-1"},
            "stream": true
        }));
        assert_eq!(out["model"], "test/one");
        assert_eq!(out["stream"], true);
        assert_eq!(out["max_tokens"], 1024);
        let messages = out["messages"].as_array().unwrap();
        assert_eq!(
            messages[0],
            json!({"role": "system", "content": [
                {"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}
            ]})
        );
        assert_eq!(
            messages[1],
            json!({"role": "user", "content": "Weather in Paris?"})
        );
        assert_eq!(
            messages[2],
            json!({"role": "assistant", "content": null,
                   "tool_calls": [{"id": "toolu_1", "type": "function",
                                   "function": {"name": "weather", "arguments": "{\"city\":\"Paris\"}"}}],
                   "reasoning_details": [{"type": "reasoning.text", "text": "Use the tool.",
                                          "signature": "sig==", "format": "anthropic-claude-v1", "index": 0}]})
        );
        assert_eq!(
            messages[3],
            json!({"role": "tool", "content": "sunny", "tool_call_id": "toolu_1"})
        );
        assert_eq!(
            messages[4],
            json!({"role": "user", "content": [{"type": "text", "text": "And tomorrow?"}]})
        );
        assert_eq!(
            out["tools"],
            json!([{"type": "function", "function": {"name": "weather", "parameters": {"type": "object"}}}])
        );
        assert_eq!(out["tool_choice"], "required");
        assert_eq!(out["parallel_tool_calls"], false);
        assert_eq!(out["reasoning"], json!({"max_tokens": 2048}));
        assert_eq!(out["stop"], json!(["END"]));
        assert_eq!(out["user"], "u-1");
    }

    #[test]
    fn cache_control_and_text_pass_byte_for_byte() {
        let body = br#"{"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"text","text":"caf\u00e9","cache_control": {"type":"ephemeral", "ttl":"1h"}}]}]}"#;
        let out = translate(body, &FrontSettings::default()).unwrap();
        let out = String::from_utf8(out).unwrap();
        assert!(out.contains(r#""text":"caf\u00e9""#), "{out}");
        assert!(
            out.contains(r#""cache_control":{"type":"ephemeral", "ttl":"1h"}"#),
            "{out}"
        );
    }

    #[test]
    fn images_become_data_urls() {
        let out = canonical(&json!({
            "model": "m", "max_tokens": 5,
            "messages": [{"role": "user", "content": [
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBOR"}}
            ]}]
        }));
        assert_eq!(
            out["messages"][0]["content"][0],
            json!({"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBOR"}})
        );
    }

    #[test]
    fn bad_requests_name_their_field() {
        let cases = [
            (json!({"model": "m", "messages": []}), "max_tokens"),
            (
                json!({"model": "m", "max_tokens": 5, "messages": [], "bogus": 1}),
                "bogus",
            ),
            (
                json!({"model": "m", "max_tokens": 5, "messages": [{"role": "system", "content": "x"}]}),
                "messages[0].role",
            ),
            (
                json!({"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}],
                       "tools": [{"type": "web_search_20250305", "name": "web_search"}]}),
                "tools[0].type",
            ),
            (
                json!({"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}],
                       "models": ["a"], "fallbacks": [{"model": "b"}]}),
                "fallbacks",
            ),
        ];
        for (request, expected) in cases {
            let body = serde_json::to_vec(&request).unwrap();
            let err = translate(&body, &FrontSettings::default()).unwrap_err();
            assert!(err.to_string().contains(expected), "{err} ({request})");
        }
    }
}
