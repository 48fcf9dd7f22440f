//! Writes the Messages API body from the canonical request.
//!
//! System and developer messages become `system` blocks; user, assistant and tool messages
//! become `messages` with content blocks (consecutive user-side messages, tool results among
//! them, are merged into one, since Anthropic expects turns to alternate). `cache_control`,
//! tool schemas and tool-call arguments are copied from the client's body byte for byte.
//! `max_tokens` is required upstream: the request's, else the endpoint's max output, else
//! [`DEFAULT_MAX_TOKENS`]. Reasoning becomes `thinking.budget_tokens`.

use std::borrow::Cow;

use router_core::catalog::Endpoint;
use router_core::request::ChatRequest;
use serde::Serialize;
use serde_json::value::RawValue;

use crate::canonical::input::{self, Image, Input, InputError, ToolChoice};
use crate::canonical::options::{Options, ResponseFormat};

/// `max_tokens` when neither the request nor the catalog gives one.
pub(crate) const DEFAULT_MAX_TOKENS: u32 = 4096;

/// Why a request could not be written in Anthropic's format.
#[derive(Debug, thiserror::Error)]
pub(crate) enum WriteError {
    /// The conversation could not be read.
    #[error(transparent)]
    Input(#[from] InputError),
    /// A translated field could not be read.
    #[error(transparent)]
    Option(#[from] crate::canonical::options::OptionError),
    /// Something the format cannot carry.
    #[error("{0}")]
    Unsupported(String),
}

use crate::exchange::Written;

#[derive(Serialize)]
struct Body<'a> {
    model: &'a str,
    max_tokens: u32,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    system: Vec<Block<'a>>,
    messages: Vec<Turn<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tools: Vec<ToolDecl<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_choice: Option<WireToolChoice<'a>>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    stop_sequences: &'a [Cow<'a, str>],
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    top_p: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    top_k: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    thinking: Option<Thinking>,
    #[serde(skip_serializing_if = "Option::is_none")]
    metadata: Option<Metadata<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    output_config: Option<OutputConfig<'a>>,
    /// Top-level `cache_control` (automatic caching), as sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    cache_control: Option<&'a RawValue>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    stream: bool,
}

#[derive(Serialize)]
struct Turn<'a> {
    role: &'static str,
    content: Vec<Block<'a>>,
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Block<'a> {
    Text {
        text: Cow<'a, str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        cache_control: Option<&'a RawValue>,
    },
    Image {
        source: ImageSource<'a>,
        #[serde(skip_serializing_if = "Option::is_none")]
        cache_control: Option<&'a RawValue>,
    },
    Thinking {
        thinking: Cow<'a, str>,
        signature: Cow<'a, str>,
    },
    RedactedThinking {
        data: Cow<'a, str>,
    },
    ToolUse {
        id: Cow<'a, str>,
        name: Cow<'a, str>,
        input: Box<RawValue>,
    },
    ToolResult {
        tool_use_id: Cow<'a, str>,
        content: Vec<Block<'a>>,
    },
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ImageSource<'a> {
    Base64 {
        media_type: Cow<'a, str>,
        data: Cow<'a, str>,
    },
    Url {
        url: Cow<'a, str>,
    },
}

#[derive(Serialize)]
struct ToolDecl<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
    input_schema: &'a RawValue,
    #[serde(skip_serializing_if = "Option::is_none")]
    cache_control: Option<&'a RawValue>,
}

#[derive(Serialize)]
struct WireToolChoice<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    disable_parallel_tool_use: bool,
}

#[derive(Serialize)]
struct Thinking {
    #[serde(rename = "type")]
    kind: &'static str,
    budget_tokens: u32,
}

#[derive(Serialize)]
struct Metadata<'a> {
    user_id: &'a str,
}

#[derive(Serialize)]
struct OutputConfig<'a> {
    format: OutputFormat<'a>,
}

#[derive(Serialize)]
struct OutputFormat<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    schema: &'a RawValue,
}

/// An empty object schema, for `{"type":"object"}` tools without `parameters` and
/// `json_object` answers.
fn any_object() -> &'static RawValue {
    // A literal that is valid JSON; `from_str` cannot fail on it.
    static ANY: std::sync::LazyLock<Box<RawValue>> = std::sync::LazyLock::new(|| {
        RawValue::from_string("{\"type\":\"object\"}".to_owned())
            .unwrap_or_else(|_| RawValue::NULL.to_owned())
    });
    &ANY
}

/// The body for `endpoint`.
pub(crate) fn write_body<'a>(
    endpoint: &'a Endpoint,
    request: &ChatRequest<'a>,
    stream: bool,
) -> Result<Written, WriteError> {
    let input = Input::read(request)?;
    let options = Options::read(request, endpoint)?;
    let mut system = Vec::new();
    let mut messages: Vec<Turn<'_>> = Vec::with_capacity(input.messages.len());
    for (idx, message) in input.messages.iter().enumerate() {
        match message.role.as_ref() {
            "system" | "developer" => {
                for part in message.parts(idx)? {
                    if let Some(text) = part.text {
                        system.push(Block::Text {
                            text,
                            cache_control: part.cache_control,
                        });
                    }
                }
            }
            "user" => {
                let blocks = user_blocks(message.parts(idx)?, idx)?;
                push(&mut messages, "user", blocks);
            }
            "tool" => {
                let content = user_blocks(message.parts(idx)?, idx)?;
                let tool_use_id = message.tool_call_id.clone().ok_or_else(|| InputError {
                    field: format!("messages[{idx}].tool_call_id"),
                    why: "a tool message needs the id of the call it answers".to_owned(),
                })?;
                push(
                    &mut messages,
                    "user",
                    vec![Block::ToolResult {
                        tool_use_id,
                        content,
                    }],
                );
            }
            "assistant" => {
                let blocks = assistant_blocks(message, idx)?;
                if !blocks.is_empty() {
                    push(&mut messages, "assistant", blocks);
                }
            }
            other => {
                return Err(WriteError::Unsupported(format!(
                    "messages[{idx}].role: `{other}` is not supported"
                )));
            }
        }
    }
    let reasoning = options.reasoning;
    let mut max_tokens = request
        .max_tokens
        .or(endpoint.max_output)
        .unwrap_or(DEFAULT_MAX_TOKENS);
    let thinking = reasoning.enabled.then(|| {
        let budget = reasoning.budget(max_tokens);
        // Anthropic requires `budget_tokens < max_tokens`: the answer keeps its own room.
        if budget >= max_tokens {
            max_tokens = max_tokens.saturating_add(budget);
        }
        Thinking {
            kind: "enabled",
            budget_tokens: budget,
        }
    });
    let tools: Vec<ToolDecl<'_>> = input
        .tools
        .iter()
        .filter_map(|tool| {
            let function = tool.function.as_ref()?;
            Some(ToolDecl {
                name: &function.name,
                description: function.description.as_deref(),
                input_schema: function.parameters.unwrap_or_else(|| any_object()),
                cache_control: tool.cache_control,
            })
        })
        .collect();
    let disable_parallel_tool_use = input.parallel_tool_calls == Some(false);
    let tool_choice = match (&input.tool_choice, tools.is_empty()) {
        (_, true) => None,
        (None, false) => disable_parallel_tool_use.then_some(WireToolChoice {
            kind: "auto",
            name: None,
            disable_parallel_tool_use,
        }),
        (Some(choice), false) => Some(WireToolChoice {
            kind: match choice {
                ToolChoice::None => "none",
                ToolChoice::Auto => "auto",
                ToolChoice::Required => "any",
                ToolChoice::Function(_) => "tool",
            },
            name: match choice {
                ToolChoice::Function(name) => Some(name.as_ref()),
                _ => None,
            },
            disable_parallel_tool_use: disable_parallel_tool_use && *choice != ToolChoice::None,
        }),
    };
    let output_config = options.response_format.as_ref().map(|format| OutputConfig {
        format: OutputFormat {
            kind: "json_schema",
            schema: match format {
                ResponseFormat::JsonObject => any_object(),
                ResponseFormat::JsonSchema { schema, .. } => schema,
            },
        },
    });
    let cache_control = request
        .passthrough
        .iter()
        .find(|(key, raw)| key == "cache_control" && !raw.is_null())
        .and_then(|(_, raw)| serde_json::from_str::<&RawValue>(raw.get()).ok());
    // With thinking on, Anthropic takes neither `temperature` other than 1 nor `top_k`.
    let thinking_on = thinking.is_some();
    let body = Body {
        model: &endpoint.upstream_model,
        max_tokens,
        system,
        messages,
        tools,
        tool_choice,
        stop_sequences: &options.stop,
        temperature: options.temperature.filter(|_| !thinking_on),
        top_p: options.top_p.filter(|_| !thinking_on),
        top_k: options.top_k.filter(|_| !thinking_on),
        thinking,
        metadata: options.user.as_deref().map(|user_id| Metadata { user_id }),
        output_config,
        cache_control,
        stream,
    };
    let body = serde_json::to_vec(&body).map_err(|err| WriteError::Unsupported(err.to_string()))?;
    Ok(Written {
        body,
        exclude_reasoning: reasoning.exclude,
    })
}

/// Appends `blocks` to the last turn when it has the same role, else starts a turn.
fn push<'a>(messages: &mut Vec<Turn<'a>>, role: &'static str, blocks: Vec<Block<'a>>) {
    match messages.last_mut() {
        Some(last) if last.role == role => last.content.extend(blocks),
        _ => messages.push(Turn {
            role,
            content: blocks,
        }),
    }
}

/// A user's (or a tool result's) parts as blocks: text and images.
fn user_blocks<'a>(parts: Vec<input::Part<'a>>, idx: usize) -> Result<Vec<Block<'a>>, WriteError> {
    let mut blocks = Vec::with_capacity(parts.len());
    for part in parts {
        match part.kind.as_ref() {
            "text" => blocks.push(Block::Text {
                text: part.text.unwrap_or_default(),
                cache_control: part.cache_control,
            }),
            "image_url" => {
                let Some(image_url) = part.image_url else {
                    return Err(InputError {
                        field: format!("messages[{idx}].content"),
                        why: "an `image_url` part needs `image_url.url`".to_owned(),
                    }
                    .into());
                };
                blocks.push(Block::Image {
                    source: image_source(image_url.url),
                    cache_control: part.cache_control,
                });
            }
            other => {
                return Err(WriteError::Unsupported(format!(
                    "messages[{idx}].content: parts of type `{other}` cannot be sent to this provider"
                )));
            }
        }
    }
    Ok(blocks)
}

/// The image source of `url`: inline base64 data for a `data:` URL, else the URL.
fn image_source(url: Cow<'_, str>) -> ImageSource<'_> {
    match url {
        Cow::Borrowed(url) => match input::image_of(url) {
            Image::Inline { media_type, data } => ImageSource::Base64 {
                media_type: Cow::Borrowed(media_type),
                data: Cow::Borrowed(data),
            },
            Image::Url(url) => ImageSource::Url {
                url: Cow::Borrowed(url),
            },
        },
        Cow::Owned(url) => match input::image_of(&url) {
            Image::Inline { media_type, data } => ImageSource::Base64 {
                media_type: Cow::Owned(media_type.to_owned()),
                data: Cow::Owned(data.to_owned()),
            },
            Image::Url(_) => ImageSource::Url {
                url: Cow::Owned(url),
            },
        },
    }
}

/// An assistant message as blocks: its thinking blocks (from `reasoning_details`), text, and
/// tool calls.
fn assistant_blocks<'a>(
    message: &input::Message<'a>,
    idx: usize,
) -> Result<Vec<Block<'a>>, WriteError> {
    let mut blocks = Vec::new();
    for detail in message.reasoning_details.iter().flatten() {
        match (detail.kind.as_ref(), &detail.signature, &detail.data) {
            ("reasoning.text", Some(signature), _) => blocks.push(Block::Thinking {
                thinking: detail.text.clone().unwrap_or_default(),
                signature: signature.clone(),
            }),
            ("reasoning.encrypted", _, Some(data)) => {
                blocks.push(Block::RedactedThinking { data: data.clone() });
            }
            // Unsigned reasoning cannot be sent back to Anthropic: it is dropped.
            _ => {}
        }
    }
    let text = message.text(idx)?;
    if !text.is_empty() {
        blocks.push(Block::Text {
            text: Cow::Owned(text),
            cache_control: None,
        });
    }
    for (call_idx, call) in message.tool_calls.iter().flatten().enumerate() {
        let arguments = match call.function.arguments.trim() {
            "" => "{}",
            arguments => arguments,
        };
        let input = RawValue::from_string(arguments.to_owned()).map_err(|err| InputError {
            field: format!("messages[{idx}].tool_calls[{call_idx}].function.arguments"),
            why: format!("is not JSON: {err}"),
        })?;
        blocks.push(Block::ToolUse {
            id: call.id.clone(),
            name: call.function.name.clone(),
            input,
        });
    }
    Ok(blocks)
}
