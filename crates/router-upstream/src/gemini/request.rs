//! Writes the `generateContent` body from the canonical request.
//!
//! System and developer messages become `systemInstruction`; the rest become `contents` with
//! roles `user` and `model` and parts: text, `inlineData` for a base64 image, `fileData` for an
//! image URL, `functionCall` for an assistant's tool calls and `functionResponse` for a tool
//! result (named after the call it answers). Tools become `functionDeclarations` with their JSON
//! schema as `parametersJsonSchema`; `response_format` becomes `responseMimeType` and
//! `responseJsonSchema`; reasoning becomes `thinkingConfig`. Consecutive messages of one role
//! are merged into one content, as Gemini expects turns to alternate.

use std::borrow::Cow;

use router_core::catalog::Endpoint;
use router_core::request::ChatRequest;
use serde::Serialize;
use serde_json::value::RawValue;

use crate::canonical::input::{self, Image, Input, InputError, ToolChoice};
use crate::canonical::options::{OptionError, Options, ResponseFormat};

/// `format` of Gemini's thought signatures in `reasoning_details`.
pub(crate) const FORMAT: &str = "google-gemini-v1";

/// Why a request could not be written in Gemini's format.
#[derive(Debug, thiserror::Error)]
pub(crate) enum WriteError {
    /// The conversation could not be read.
    #[error(transparent)]
    Input(#[from] InputError),
    /// A translated field could not be read.
    #[error(transparent)]
    Option(#[from] OptionError),
    /// Something the format cannot carry.
    #[error("{0}")]
    Unsupported(String),
}

use crate::exchange::Written;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Body<'a> {
    contents: Vec<Content<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    system_instruction: Option<Content<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tools: Vec<Tools<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_config: Option<ToolConfig<'a>>,
    generation_config: GenerationConfig<'a>,
}

#[derive(Serialize)]
struct Content<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    role: Option<&'static str>,
    parts: Vec<Part<'a>>,
}

#[derive(Serialize, Default)]
#[serde(rename_all = "camelCase")]
struct Part<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    text: Option<Cow<'a, str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    inline_data: Option<InlineData<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    file_data: Option<FileData<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    function_call: Option<FunctionCall<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    function_response: Option<FunctionResponse<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    thought_signature: Option<Cow<'a, str>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct InlineData<'a> {
    mime_type: Cow<'a, str>,
    data: Cow<'a, str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct FileData<'a> {
    mime_type: &'static str,
    file_uri: Cow<'a, str>,
}

#[derive(Serialize)]
struct FunctionCall<'a> {
    #[serde(skip_serializing_if = "str::is_empty")]
    id: Cow<'a, str>,
    name: Cow<'a, str>,
    args: Box<RawValue>,
}

#[derive(Serialize)]
struct FunctionResponse<'a> {
    #[serde(skip_serializing_if = "str::is_empty")]
    id: Cow<'a, str>,
    name: Cow<'a, str>,
    response: Box<RawValue>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Tools<'a> {
    function_declarations: Vec<FunctionDeclaration<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct FunctionDeclaration<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    parameters_json_schema: Option<&'a RawValue>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ToolConfig<'a> {
    function_calling_config: FunctionCallingConfig<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct FunctionCallingConfig<'a> {
    mode: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    allowed_function_names: Option<[&'a str; 1]>,
}

#[derive(Serialize, Default)]
#[serde(rename_all = "camelCase")]
struct GenerationConfig<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    top_p: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    top_k: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_output_tokens: Option<u32>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    stop_sequences: &'a [Cow<'a, str>],
    #[serde(skip_serializing_if = "Option::is_none")]
    seed: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    presence_penalty: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    frequency_penalty: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    response_mime_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    response_json_schema: Option<&'a RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    thinking_config: Option<ThinkingConfig>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ThinkingConfig {
    thinking_budget: u32,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    include_thoughts: bool,
}

/// The max output Gemini's budgets are a share of when neither request nor catalog says.
const DEFAULT_MAX_OUTPUT: u32 = 8192;

/// The body for `endpoint`.
pub(crate) fn write_body<'a>(
    endpoint: &'a Endpoint,
    request: &ChatRequest<'a>,
) -> Result<Written, WriteError> {
    let input = Input::read(request)?;
    let options = Options::read(request, endpoint)?;
    let mut system: Vec<Part<'_>> = Vec::new();
    let mut contents: Vec<Content<'_>> = Vec::with_capacity(input.messages.len());
    for (idx, message) in input.messages.iter().enumerate() {
        match message.role.as_ref() {
            "system" | "developer" => {
                for part in message.parts(idx)? {
                    if let Some(text) = part.text {
                        system.push(Part {
                            text: Some(text),
                            ..Part::default()
                        });
                    }
                }
            }
            "user" => {
                let parts = user_parts(message.parts(idx)?, idx)?;
                push(&mut contents, "user", parts);
            }
            "tool" => {
                let call_id = message.tool_call_id.clone().unwrap_or_default();
                let name = called_name(&input, &call_id).ok_or_else(|| InputError {
                    field: format!("messages[{idx}].tool_call_id"),
                    why: "does not name a tool call of an earlier assistant message".to_owned(),
                })?;
                let text = message.text(idx)?;
                let response = match serde_json::from_str::<Box<RawValue>>(&text) {
                    Ok(raw) if raw.get().starts_with('{') => raw,
                    _ => json_object("content", &text),
                };
                let part = Part {
                    function_response: Some(FunctionResponse {
                        id: synthetic_free(call_id),
                        name,
                        response,
                    }),
                    ..Part::default()
                };
                push(&mut contents, "user", vec![part]);
            }
            "assistant" => {
                let parts = model_parts(message, idx)?;
                if !parts.is_empty() {
                    push(&mut contents, "model", parts);
                }
            }
            other => {
                return Err(WriteError::Unsupported(format!(
                    "messages[{idx}].role: `{other}` is not supported"
                )));
            }
        }
    }
    let declarations: Vec<FunctionDeclaration<'_>> = input
        .tools
        .iter()
        .filter_map(|tool| {
            let function = tool.function.as_ref()?;
            Some(FunctionDeclaration {
                name: &function.name,
                description: function.description.as_deref(),
                parameters_json_schema: function.parameters,
            })
        })
        .collect();
    let tool_config = match (&input.tool_choice, declarations.is_empty()) {
        (Some(choice), false) => Some(ToolConfig {
            function_calling_config: match choice {
                ToolChoice::None => FunctionCallingConfig {
                    mode: "NONE",
                    allowed_function_names: None,
                },
                ToolChoice::Auto => FunctionCallingConfig {
                    mode: "AUTO",
                    allowed_function_names: None,
                },
                ToolChoice::Required => FunctionCallingConfig {
                    mode: "ANY",
                    allowed_function_names: None,
                },
                ToolChoice::Function(name) => FunctionCallingConfig {
                    mode: "ANY",
                    allowed_function_names: Some([name.as_ref()]),
                },
            },
        }),
        _ => None,
    };
    let tools = match declarations.is_empty() {
        true => Vec::new(),
        false => vec![Tools {
            function_declarations: declarations,
        }],
    };
    let reasoning = options.reasoning;
    let thinking_config = if reasoning.enabled {
        let max_output = request
            .max_tokens
            .or(endpoint.max_output)
            .unwrap_or(DEFAULT_MAX_OUTPUT);
        Some(ThinkingConfig {
            thinking_budget: reasoning.budget(max_output),
            include_thoughts: !reasoning.exclude,
        })
    } else if reasoning.disabled {
        Some(ThinkingConfig {
            thinking_budget: 0,
            include_thoughts: false,
        })
    } else {
        None
    };
    let (response_mime_type, response_json_schema) = match &options.response_format {
        None => (None, None),
        Some(ResponseFormat::JsonObject) => (Some("application/json"), None),
        Some(ResponseFormat::JsonSchema { schema, .. }) => {
            (Some("application/json"), Some(*schema))
        }
    };
    let body = Body {
        contents,
        system_instruction: (!system.is_empty()).then_some(Content {
            role: None,
            parts: system,
        }),
        tools,
        tool_config,
        generation_config: GenerationConfig {
            temperature: options.temperature,
            top_p: options.top_p,
            top_k: options.top_k,
            max_output_tokens: request.max_tokens,
            stop_sequences: &options.stop,
            seed: options.seed,
            presence_penalty: options.presence_penalty,
            frequency_penalty: options.frequency_penalty,
            response_mime_type,
            response_json_schema,
            thinking_config,
        },
    };
    let body = serde_json::to_vec(&body).map_err(|err| WriteError::Unsupported(err.to_string()))?;
    Ok(Written {
        body,
        exclude_reasoning: reasoning.exclude,
    })
}

/// Ids Turnout made up for calls Gemini gave none (`call_<n>`) are not Gemini's: not sent back.
fn synthetic_free(id: Cow<'_, str>) -> Cow<'_, str> {
    match id.strip_prefix(super::SYNTHETIC_ID_PREFIX) {
        Some(_) => Cow::Borrowed(""),
        None => id,
    }
}

/// `{"<key>": "<text>"}`.
fn json_object(key: &str, text: &str) -> Box<RawValue> {
    let mut object = serde_json::Map::new();
    object.insert(key.to_owned(), serde_json::Value::String(text.to_owned()));
    let text = serde_json::Value::Object(object).to_string();
    RawValue::from_string(text).unwrap_or_else(|_| RawValue::NULL.to_owned())
}

/// The function name of the earlier tool call `call_id`.
fn called_name<'a>(input: &Input<'a>, call_id: &str) -> Option<Cow<'a, str>> {
    input
        .messages
        .iter()
        .filter_map(|message| message.tool_calls.as_ref())
        .flatten()
        .find(|call| call.id == call_id)
        .map(|call| call.function.name.clone())
}

/// Appends `parts` to the last content when it has the same role, else starts one.
fn push<'a>(contents: &mut Vec<Content<'a>>, role: &'static str, parts: Vec<Part<'a>>) {
    match contents.last_mut() {
        Some(last) if last.role == Some(role) => last.parts.extend(parts),
        _ => contents.push(Content {
            role: Some(role),
            parts,
        }),
    }
}

/// A user's parts: text and images.
fn user_parts<'a>(parts: Vec<input::Part<'a>>, idx: usize) -> Result<Vec<Part<'a>>, WriteError> {
    let mut out = Vec::with_capacity(parts.len());
    for part in parts {
        match part.kind.as_ref() {
            "text" => out.push(Part {
                text: Some(part.text.unwrap_or_default()),
                ..Part::default()
            }),
            "image_url" => {
                let Some(image_url) = part.image_url else {
                    return Err(InputError {
                        field: format!("messages[{idx}].content"),
                        why: "an `image_url` part needs `image_url.url`".to_owned(),
                    }
                    .into());
                };
                out.push(image_part(image_url.url));
            }
            other => {
                return Err(WriteError::Unsupported(format!(
                    "messages[{idx}].content: parts of type `{other}` cannot be sent to this provider"
                )));
            }
        }
    }
    Ok(out)
}

/// An image part: `inlineData` for a base64 `data:` URL, else `fileData`.
fn image_part(url: Cow<'_, str>) -> Part<'_> {
    let owned = |text: &str| Cow::Owned(text.to_owned());
    let (inline_data, file_data) = match &url {
        Cow::Borrowed(url) => match input::image_of(url) {
            Image::Inline { media_type, data } => (
                Some(InlineData {
                    mime_type: Cow::Borrowed(media_type),
                    data: Cow::Borrowed(data),
                }),
                None,
            ),
            Image::Url(url) => (
                None,
                Some(FileData {
                    mime_type: image_mime_type(url),
                    file_uri: Cow::Borrowed(url),
                }),
            ),
        },
        Cow::Owned(url) => match input::image_of(url) {
            Image::Inline { media_type, data } => (
                Some(InlineData {
                    mime_type: owned(media_type),
                    data: owned(data),
                }),
                None,
            ),
            Image::Url(url) => (
                None,
                Some(FileData {
                    mime_type: image_mime_type(url),
                    file_uri: owned(url),
                }),
            ),
        },
    };
    Part {
        inline_data,
        file_data,
        ..Part::default()
    }
}

/// The image type an URL's extension suggests (Gemini's `fileData` wants one).
fn image_mime_type(url: &str) -> &'static str {
    let path = url
        .split(['?', '#'])
        .next()
        .unwrap_or(url)
        .to_ascii_lowercase();
    if path.ends_with(".png") {
        "image/png"
    } else if path.ends_with(".webp") {
        "image/webp"
    } else if path.ends_with(".gif") {
        "image/gif"
    } else {
        "image/jpeg"
    }
}

/// An assistant message as `model` parts: text and function calls (the first carrying the
/// thought signature sent back in `reasoning_details`).
fn model_parts<'a>(message: &input::Message<'a>, idx: usize) -> Result<Vec<Part<'a>>, WriteError> {
    let mut parts = Vec::new();
    let text = message.text(idx)?;
    if !text.is_empty() {
        parts.push(Part {
            text: Some(Cow::Owned(text)),
            ..Part::default()
        });
    }
    let mut signature = message
        .reasoning_details
        .iter()
        .flatten()
        .find(|detail| detail.format.as_deref() == Some(FORMAT) && detail.data.is_some())
        .and_then(|detail| detail.data.clone());
    for (call_idx, call) in message.tool_calls.iter().flatten().enumerate() {
        let arguments = match call.function.arguments.trim() {
            "" => "{}",
            arguments => arguments,
        };
        let args = RawValue::from_string(arguments.to_owned()).map_err(|err| InputError {
            field: format!("messages[{idx}].tool_calls[{call_idx}].function.arguments"),
            why: format!("is not JSON: {err}"),
        })?;
        parts.push(Part {
            function_call: Some(FunctionCall {
                id: synthetic_free(call.id.clone()),
                name: call.function.name.clone(),
                args,
            }),
            thought_signature: signature.take(),
            ..Part::default()
        });
    }
    Ok(parts)
}
