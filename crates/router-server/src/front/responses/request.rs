//! A Responses API request, translated into the canonical chat completions request.
//!
//! | Responses | chat completions |
//! |---|---|
//! | `instructions` | a first `system` message |
//! | `input` as a string | one `user` message |
//! | `message` items (`user`, `assistant`, `system`, `developer`; `input_text`, `output_text`, `input_image`, `input_file` parts) | messages with `text`, `image_url` and `file` parts |
//! | `function_call` items | the assistant's `tool_calls` (consecutive calls share one message) |
//! | `function_call_output` items | `tool` messages |
//! | function `tools`, `tool_choice` | function tools, `tool_choice` |
//! | `text.format` `json_schema` / `json_object` | `response_format` |
//! | `text.verbosity`, `reasoning.effort`, `max_output_tokens` | `verbosity`, `reasoning: {effort}`, `max_tokens` |
//!
//! `temperature`, `top_p`, `parallel_tool_calls`, `user`, `prompt_cache_key`, `stream` and
//! OpenRouter's `models`, `provider`, `plugins`, `route` and `session_id` keep their names.
//! Turnout stores no responses, so `previous_response_id`, `store: true` and `background: true`
//! are 400s, as on OpenRouter. `reasoning` input items (earlier reasoning sent back), `include`,
//! `metadata`, `truncation`, `service_tier`, `safety_identifier`, `stream_options`,
//! `top_logprobs` and `reasoning.summary` are accepted and ignored. Tools other than functions
//! are 400s.

use std::borrow::Cow;

use router_core::request::RequestError;
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::json;
use serde_json::value::RawValue;

use crate::config::FrontSettings;
use crate::front::json::{
    self, ChatMessage, Content, File, Function, FunctionTool, Object, Part, Text, Tool, ToolCall,
    Url, invalid, string,
};
use crate::front::{catalog_id, catalog_ids};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Request<'a> {
    #[serde(borrow)]
    model: Cow<'a, str>,
    #[serde(borrow)]
    input: &'a RawValue,
    #[serde(borrow, default)]
    instructions: Option<&'a RawValue>,
    #[serde(borrow, default)]
    tools: Option<Vec<InTool<'a>>>,
    #[serde(borrow, default)]
    tool_choice: Option<&'a RawValue>,
    #[serde(borrow, default)]
    text: Option<TextConfig<'a>>,
    #[serde(borrow, default)]
    reasoning: Option<Reasoning<'a>>,
    #[serde(borrow, default)]
    max_output_tokens: Option<&'a RawValue>,
    #[serde(default)]
    stream: Option<bool>,
    #[serde(borrow, default)]
    previous_response_id: Option<&'a RawValue>,
    #[serde(default)]
    store: Option<bool>,
    #[serde(default)]
    background: Option<bool>,
    #[serde(borrow, default)]
    temperature: Option<&'a RawValue>,
    #[serde(borrow, default)]
    top_p: Option<&'a RawValue>,
    #[serde(borrow, default)]
    parallel_tool_calls: Option<&'a RawValue>,
    #[serde(borrow, default)]
    user: Option<&'a RawValue>,
    #[serde(borrow, default)]
    prompt_cache_key: Option<&'a RawValue>,
    #[serde(borrow, default)]
    models: Option<Vec<Cow<'a, str>>>,
    #[serde(borrow, default)]
    provider: Option<&'a RawValue>,
    #[serde(borrow, default)]
    plugins: Option<&'a RawValue>,
    #[serde(borrow, default)]
    route: Option<&'a RawValue>,
    #[serde(borrow, default)]
    session_id: Option<&'a RawValue>,
    #[serde(default, rename = "include")]
    _include: Option<IgnoredAny>,
    #[serde(default, rename = "metadata")]
    _metadata: Option<IgnoredAny>,
    #[serde(default, rename = "truncation")]
    _truncation: Option<IgnoredAny>,
    #[serde(default, rename = "service_tier")]
    _service_tier: Option<IgnoredAny>,
    #[serde(default, rename = "safety_identifier")]
    _safety_identifier: Option<IgnoredAny>,
    #[serde(default, rename = "stream_options")]
    _stream_options: Option<IgnoredAny>,
    #[serde(default, rename = "top_logprobs")]
    _top_logprobs: Option<IgnoredAny>,
}

/// An input item; which members it has depends on its `type` (a message when absent).
#[derive(Deserialize)]
struct Item<'a> {
    #[serde(rename = "type", borrow, default)]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    role: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    content: Option<&'a RawValue>,
    #[serde(borrow, default)]
    call_id: Option<&'a RawValue>,
    #[serde(borrow, default)]
    name: Option<&'a RawValue>,
    #[serde(borrow, default)]
    arguments: Option<&'a RawValue>,
    #[serde(borrow, default)]
    output: Option<&'a RawValue>,
}

/// A content part of a message item.
#[derive(Deserialize)]
struct InPart<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(borrow, default)]
    text: Option<&'a RawValue>,
    #[serde(borrow, default)]
    refusal: Option<&'a RawValue>,
    #[serde(borrow, default)]
    image_url: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    detail: Option<&'a RawValue>,
    #[serde(borrow, default)]
    file_data: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    file_url: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct InTool<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(borrow, default)]
    name: Option<&'a RawValue>,
    #[serde(borrow, default)]
    description: Option<&'a RawValue>,
    #[serde(borrow, default)]
    parameters: Option<&'a RawValue>,
    #[serde(borrow, default)]
    strict: Option<&'a RawValue>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TextConfig<'a> {
    #[serde(borrow, default)]
    format: Option<Format<'a>>,
    #[serde(borrow, default)]
    verbosity: Option<&'a RawValue>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Format<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(borrow, default)]
    name: Option<&'a RawValue>,
    #[serde(borrow, default)]
    schema: Option<&'a RawValue>,
    #[serde(borrow, default)]
    strict: Option<&'a RawValue>,
    #[serde(borrow, default)]
    description: Option<&'a RawValue>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Reasoning<'a> {
    #[serde(borrow, default)]
    effort: Option<&'a RawValue>,
    #[serde(default, rename = "summary")]
    _summary: Option<IgnoredAny>,
    #[serde(default, rename = "generate_summary")]
    _generate_summary: Option<IgnoredAny>,
}

/// The canonical request for a Responses API `body`.
pub(crate) fn translate(body: &[u8], front: &FrontSettings) -> Result<Vec<u8>, RequestError> {
    let request: Request<'_> =
        serde_json::from_slice(body).map_err(|err| json::unreadable(&err))?;
    if request.previous_response_id.is_some() {
        return Err(invalid(
            "previous_response_id",
            "Turnout stores no responses: send the whole conversation in `input`",
        ));
    }
    if request.store == Some(true) {
        return Err(invalid(
            "store",
            "Turnout stores no responses: `store` must be false",
        ));
    }
    if request.background == Some(true) {
        return Err(invalid(
            "background",
            "background responses are not supported",
        ));
    }
    let mut out = Object::with_capacity(body.len() + 256);
    out.value("model", catalog_id(front, &request.model));
    if let Some(models) = &request.models {
        out.value(
            "models",
            &catalog_ids(front, models.iter().map(AsRef::as_ref)),
        );
    }
    let mut messages = Vec::new();
    if let Some(instructions) = request.instructions {
        let text = string(instructions, "instructions")?;
        messages.push(ChatMessage::new("system", Content::Text(text)));
    }
    if request.input.get().starts_with('"') {
        messages.push(ChatMessage::new(
            "user",
            Content::Text(Text::Raw(request.input)),
        ));
    } else {
        let items: Vec<Item<'_>> = serde_json::from_str(request.input.get())
            .map_err(|_| invalid("input", "must be a string or an array of input items"))?;
        for (idx, item) in items.iter().enumerate() {
            translate_item(item, idx, &mut messages)?;
        }
    }
    if messages.is_empty() {
        return Err(invalid("input", "must not be empty"));
    }
    out.value("messages", &messages);
    out.value("stream", &request.stream.unwrap_or(false));
    out.raw("max_tokens", request.max_output_tokens);
    if let Some(tools) = &request.tools {
        out.value("tools", &json::each(tools, translate_tool)?);
    }
    if let Some(choice) = request.tool_choice {
        tool_choice(choice, &mut out)?;
    }
    if let Some(text) = &request.text {
        if let Some(format) = &text.format {
            response_format(format, &mut out)?;
        }
        out.raw("verbosity", text.verbosity);
    }
    if let Some(effort) = request.reasoning.as_ref().and_then(|it| it.effort) {
        out.value("reasoning", &json!({ "effort": effort }));
    }
    out.raws(&[
        ("temperature", request.temperature),
        ("top_p", request.top_p),
        ("parallel_tool_calls", request.parallel_tool_calls),
        ("user", request.user),
        ("prompt_cache_key", request.prompt_cache_key),
        ("provider", request.provider),
        ("plugins", request.plugins),
        ("route", request.route),
        ("session_id", request.session_id),
    ]);
    Ok(out.finish())
}

/// Appends the canonical message(s) of one input item.
fn translate_item<'a>(
    item: &Item<'a>,
    idx: usize,
    messages: &mut Vec<ChatMessage<'a>>,
) -> Result<(), RequestError> {
    let field = format!("input[{idx}]");
    let required = |value: Option<&'a RawValue>, name: &str| {
        value.ok_or_else(|| invalid(format!("{field}.{name}"), "is required"))
    };
    match item.kind.as_deref().unwrap_or("message") {
        "message" => {
            let role = match item.role.as_deref() {
                Some("user") => "user",
                Some("assistant") => "assistant",
                Some("system") => "system",
                Some("developer") => "developer",
                Some(other) => {
                    return Err(invalid(
                        format!("{field}.role"),
                        format!(
                            "`{other}` is not one of `user`, `assistant`, `system`, `developer`"
                        ),
                    ));
                }
                None => return Err(invalid(format!("{field}.role"), "is required")),
            };
            let content = required(item.content, "content")?;
            let content = message_content(content, &format!("{field}.content"))?;
            messages.push(ChatMessage::new(role, content));
        }
        "function_call" => {
            let call = ToolCall {
                id: string(
                    required(item.call_id, "call_id")?,
                    &format!("{field}.call_id"),
                )?,
                kind: "function",
                function: Function {
                    name: string(required(item.name, "name")?, &format!("{field}.name"))?,
                    arguments: string(
                        required(item.arguments, "arguments")?,
                        &format!("{field}.arguments"),
                    )?,
                },
            };
            match messages.last_mut() {
                Some(last) if last.role == "assistant" => last.tool_calls.push(call),
                _ => {
                    let mut message = ChatMessage::new("assistant", Content::Null);
                    message.tool_calls.push(call);
                    messages.push(message);
                }
            }
        }
        "function_call_output" => {
            let id = string(
                required(item.call_id, "call_id")?,
                &format!("{field}.call_id"),
            )?;
            let output = required(item.output, "output")?;
            let content = message_content(output, &format!("{field}.output"))?;
            let mut message = ChatMessage::new("tool", content);
            message.tool_call_id = Some(id);
            messages.push(message);
        }
        // Earlier reasoning sent back: the chat format has no place for it in a request
        // without its provider's signature, so it is left out.
        "reasoning" => {}
        other => {
            return Err(invalid(
                format!("{field}.type"),
                format!("`{other}` items are not supported"),
            ));
        }
    }
    Ok(())
}

/// A message's content: a string, or content parts.
fn message_content<'a>(raw: &'a RawValue, field: &str) -> Result<Content<'a>, RequestError> {
    if raw.get().starts_with('"') {
        return Ok(Content::Text(Text::Raw(raw)));
    }
    let parts: Vec<InPart<'a>> = serde_json::from_str(raw.get())
        .map_err(|_| invalid(field, "must be a string or an array of content parts"))?;
    let parts = parts
        .iter()
        .enumerate()
        .map(|(idx, part)| {
            let field = format!("{field}[{idx}]");
            match part.kind.as_ref() {
                "input_text" | "output_text" | "text" => {
                    let text = part
                        .text
                        .ok_or_else(|| invalid(format!("{field}.text"), "is required"))?;
                    Ok(Part::text(string(text, &format!("{field}.text"))?, None))
                }
                "refusal" => {
                    let text = part
                        .refusal
                        .ok_or_else(|| invalid(format!("{field}.refusal"), "is required"))?;
                    Ok(Part::text(string(text, &format!("{field}.refusal"))?, None))
                }
                "input_image" => {
                    let url = part.image_url.clone().ok_or_else(|| {
                        invalid(format!("{field}.image_url"), "is required (file ids are not supported)")
                    })?;
                    Ok(Part::image(
                        Url {
                            url,
                            detail: part.detail,
                        },
                        None,
                    ))
                }
                "input_file" => {
                    let file_data = part
                        .file_data
                        .clone()
                        .or_else(|| part.file_url.clone())
                        .ok_or_else(|| {
                            invalid(
                                format!("{field}.file_data"),
                                "`file_data` or `file_url` is required (file ids are not supported)",
                            )
                        })?;
                    Ok(Part::file(
                        File {
                            filename: "document.pdf",
                            file_data,
                        },
                        None,
                    ))
                }
                other => Err(invalid(
                    format!("{field}.type"),
                    format!("`{other}` parts are not supported"),
                )),
            }
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Content::Parts(parts))
}

/// A function tool; other tool types are refused.
fn translate_tool<'a>(tool: &InTool<'a>, idx: usize) -> Result<Tool<'a>, RequestError> {
    let field = format!("tools[{idx}]");
    if tool.kind != "function" {
        return Err(invalid(
            format!("{field}.type"),
            format!("`{}`: only function tools are supported", tool.kind),
        ));
    }
    let name = tool
        .name
        .ok_or_else(|| invalid(format!("{field}.name"), "is required"))?;
    Ok(Tool {
        kind: "function",
        function: FunctionTool {
            name: string(name, &format!("{field}.name"))?,
            description: tool.description,
            parameters: tool.parameters,
            strict: tool.strict,
        },
        cache_control: None,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NamedChoice<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(borrow)]
    name: &'a RawValue,
}

/// `tool_choice`: `auto`, `none`, `required`, or `{"type": "function", "name": …}`.
fn tool_choice(raw: &RawValue, out: &mut Object) -> Result<(), RequestError> {
    if matches!(raw.get(), r#""auto""# | r#""none""# | r#""required""#) {
        out.raw("tool_choice", Some(raw));
        return Ok(());
    }
    let choice: NamedChoice<'_> = serde_json::from_str(raw.get()).map_err(|_| {
        invalid(
            "tool_choice",
            "must be `auto`, `none`, `required` or {\"type\": \"function\", \"name\": …}",
        )
    })?;
    if choice.kind != "function" {
        return Err(invalid("tool_choice.type", "only `function` is supported"));
    }
    let name = string(choice.name, "tool_choice.name")?;
    out.value(
        "tool_choice",
        &json!({ "type": "function", "function": { "name": name } }),
    );
    Ok(())
}

/// `text.format` as `response_format`.
fn response_format(format: &Format<'_>, out: &mut Object) -> Result<(), RequestError> {
    match format.kind.as_ref() {
        "text" => {}
        "json_object" => out.value("response_format", &json!({ "type": "json_object" })),
        "json_schema" => {
            let name = format
                .name
                .ok_or_else(|| invalid("text.format.name", "is required"))?;
            let schema = format
                .schema
                .ok_or_else(|| invalid("text.format.schema", "is required"))?;
            let mut json_schema = json!({ "name": name, "schema": schema });
            if let Some(object) = json_schema.as_object_mut() {
                if let Some(strict) = format.strict {
                    object.insert("strict".to_owned(), json!(strict));
                }
                if let Some(description) = format.description {
                    object.insert("description".to_owned(), json!(description));
                }
            }
            out.value(
                "response_format",
                &json!({ "type": "json_schema", "json_schema": json_schema }),
            );
        }
        other => {
            return Err(invalid(
                "text.format.type",
                format!("`{other}` is not one of `text`, `json_object`, `json_schema`"),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;

    fn canonical(request: &Value) -> Result<Value, RequestError> {
        let body = serde_json::to_vec(request).unwrap();
        let out = translate(&body, &FrontSettings::default())?;
        Ok(serde_json::from_slice(&out).unwrap())
    }

    #[test]
    fn items_become_chat_messages() {
        let out = canonical(&json!({
            "model": "test/one",
            "instructions": "Be brief.",
            "input": [
                {"role": "user", "content": [{"type": "input_text", "text": "Weather?"}]},
                {"type": "function_call", "call_id": "call_1", "name": "weather", "arguments": "{}"},
                {"type": "function_call_output", "call_id": "call_1", "output": "sunny"}
            ],
            "tools": [{"type": "function", "name": "weather", "parameters": {"type": "object"}}],
            "tool_choice": {"type": "function", "name": "weather"},
            "text": {"format": {"type": "json_schema", "name": "w", "schema": {"type": "object"}, "strict": true}},
            "reasoning": {"effort": "low", "summary": "auto"},
            "max_output_tokens": 100,
            "store": false
        }))
        .unwrap();
        assert_eq!(
            out["messages"],
            json!([
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": [{"type": "text", "text": "Weather?"}]},
                {"role": "assistant", "content": null, "tool_calls": [
                    {"id": "call_1", "type": "function", "function": {"name": "weather", "arguments": "{}"}}
                ]},
                {"role": "tool", "content": "sunny", "tool_call_id": "call_1"}
            ])
        );
        assert_eq!(
            out["tools"],
            json!([{"type": "function", "function": {"name": "weather", "parameters": {"type": "object"}}}])
        );
        assert_eq!(
            out["tool_choice"],
            json!({"type": "function", "function": {"name": "weather"}})
        );
        assert_eq!(
            out["response_format"],
            json!({"type": "json_schema", "json_schema": {"name": "w", "schema": {"type": "object"}, "strict": true}})
        );
        assert_eq!(out["reasoning"], json!({"effort": "low"}));
        assert_eq!(out["max_tokens"], 100);
    }

    #[test]
    fn stored_responses_are_refused() {
        for (request, field) in [
            (
                json!({"model": "m", "input": "hi", "previous_response_id": "resp_1"}),
                "previous_response_id",
            ),
            (json!({"model": "m", "input": "hi", "store": true}), "store"),
            (
                json!({"model": "m", "input": "hi", "tools": [{"type": "web_search"}]}),
                "tools[0].type",
            ),
        ] {
            let err = canonical(&request).unwrap_err();
            assert_eq!(err.field(), Some(field), "{err}");
        }
    }
}
