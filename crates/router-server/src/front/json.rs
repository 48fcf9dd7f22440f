//! Writing the canonical chat completions request: a top-level object written member by member
//! ([`Object`]), and the messages, content parts and tool calls it holds.
//!
//! Values the client sent that the chat format carries as they are (text, `cache_control`,
//! schemas, signatures) are [`RawValue`]s of the client's body, written byte for byte.

use std::borrow::Cow;

use router_core::request::RequestError;
use serde::{Serialize, Serializer};
use serde_json::value::RawValue;

/// A JSON object written member by member.
pub(crate) struct Object {
    out: Vec<u8>,
}

impl Object {
    /// An empty object, with room for `capacity` bytes.
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        let mut out = Vec::with_capacity(capacity);
        out.push(b'{');
        Self { out }
    }

    fn key(&mut self, key: &str) {
        if self.out.len() > 1 {
            self.out.push(b',');
        }
        self.out.push(b'"');
        self.out.extend_from_slice(key.as_bytes());
        self.out.extend_from_slice(b"\":");
    }

    /// `"key": <raw>`, when `raw` is given.
    pub(crate) fn raw(&mut self, key: &str, raw: Option<&RawValue>) {
        if let Some(raw) = raw {
            self.key(key);
            self.out.extend_from_slice(raw.get().as_bytes());
        }
    }

    /// `"key": <raw>` for each member that is given, in order: the fields a format passes on as
    /// the client sent them.
    pub(crate) fn raws(&mut self, members: &[(&str, Option<&RawValue>)]) {
        for (key, raw) in members {
            self.raw(key, *raw);
        }
    }

    /// `"key": <value>`.
    pub(crate) fn value<T: Serialize + ?Sized>(&mut self, key: &str, value: &T) {
        self.key(key);
        // Our own values of strings, numbers and raw JSON always serialize.
        let _ = serde_json::to_writer(&mut self.out, value);
    }

    /// The object's text.
    pub(crate) fn finish(mut self) -> Vec<u8> {
        self.out.push(b'}');
        self.out
    }
}

/// Each of `items` translated by `translate`, with its index (for the error's field path); the
/// first error stops.
pub(crate) fn each<T, U>(
    items: &[T],
    translate: impl Fn(&T, usize) -> Result<U, RequestError>,
) -> Result<Vec<U>, RequestError> {
    items
        .iter()
        .enumerate()
        .map(|(idx, item)| translate(item, idx))
        .collect()
}

/// A JSON string: a string token of the client's body, or one of ours.
#[derive(Debug, Clone)]
pub(crate) enum Text<'a> {
    /// A string token, written as it was sent.
    Raw(&'a RawValue),
    /// A string to encode.
    Str(Cow<'a, str>),
}

impl Serialize for Text<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Text::Raw(raw) => raw.serialize(serializer),
            Text::Str(text) => serializer.serialize_str(text),
        }
    }
}

/// A message of the canonical request.
#[derive(Debug, Serialize)]
pub(crate) struct ChatMessage<'a> {
    /// `system`, `user`, `assistant` or `tool`.
    pub(crate) role: &'static str,
    /// The content; `null` for an assistant message with only tool calls.
    pub(crate) content: Content<'a>,
    /// An assistant's function calls.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) tool_calls: Vec<ToolCall<'a>>,
    /// The call a `tool` message answers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) tool_call_id: Option<Text<'a>>,
    /// An assistant's reasoning, with its signatures, to send back.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) reasoning_details: Vec<ReasoningDetail<'a>>,
}

/// A message's content.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub(crate) enum Content<'a> {
    /// `null`.
    Null,
    /// A string.
    Text(Text<'a>),
    /// Content parts.
    Parts(Vec<Part<'a>>),
}

/// A content part: `text`, `image_url` or `file`.
#[derive(Debug, Serialize)]
pub(crate) struct Part<'a> {
    /// The part's type.
    #[serde(rename = "type")]
    pub(crate) kind: &'static str,
    /// The text of a `text` part.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) text: Option<Text<'a>>,
    /// The image of an `image_url` part.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) image_url: Option<Url<'a>>,
    /// The document of a `file` part.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) file: Option<File<'a>>,
    /// A prompt-cache breakpoint, as the client sent it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) cache_control: Option<&'a RawValue>,
}

/// `image_url` of a part.
#[derive(Debug, Serialize)]
pub(crate) struct Url<'a> {
    /// An `https:` or `data:` URL.
    pub(crate) url: Cow<'a, str>,
    /// `auto`, `low` or `high`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) detail: Option<&'a RawValue>,
}

/// `file` of a part.
#[derive(Debug, Serialize)]
pub(crate) struct File<'a> {
    /// The file's name.
    pub(crate) filename: &'static str,
    /// An `https:` or `data:` URL.
    pub(crate) file_data: Cow<'a, str>,
}

/// A function call of an assistant message.
#[derive(Debug, Serialize)]
pub(crate) struct ToolCall<'a> {
    /// The call id.
    pub(crate) id: Text<'a>,
    /// Always `function`.
    #[serde(rename = "type")]
    pub(crate) kind: &'static str,
    /// The function and its arguments.
    pub(crate) function: Function<'a>,
}

/// The function of a call.
#[derive(Debug, Serialize)]
pub(crate) struct Function<'a> {
    /// The function's name.
    pub(crate) name: Text<'a>,
    /// The arguments, a JSON text in a string.
    pub(crate) arguments: Text<'a>,
}

/// One piece of an assistant's `reasoning_details`.
#[derive(Debug, Serialize)]
pub(crate) struct ReasoningDetail<'a> {
    /// `reasoning.text` or `reasoning.encrypted`.
    #[serde(rename = "type")]
    pub(crate) kind: &'static str,
    /// The reasoning text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) text: Option<Text<'a>>,
    /// Its signature.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) signature: Option<Text<'a>>,
    /// Redacted reasoning.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) data: Option<Text<'a>>,
    /// The format the reasoning came in (`anthropic-claude-v1`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) format: Option<&'static str>,
    /// Its position among the pieces.
    pub(crate) index: usize,
}

/// A function tool of the canonical request.
#[derive(Debug, Serialize)]
pub(crate) struct Tool<'a> {
    /// Always `function`.
    #[serde(rename = "type")]
    pub(crate) kind: &'static str,
    /// The function.
    pub(crate) function: FunctionTool<'a>,
    /// A prompt-cache breakpoint, as the client sent it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) cache_control: Option<&'a RawValue>,
}

/// A function tool's declaration.
#[derive(Debug, Serialize)]
pub(crate) struct FunctionTool<'a> {
    /// Its name.
    pub(crate) name: Text<'a>,
    /// What it does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) description: Option<&'a RawValue>,
    /// The JSON schema of its arguments.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) parameters: Option<&'a RawValue>,
    /// Whether the arguments must follow the schema exactly.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) strict: Option<&'a RawValue>,
}

impl<'a> ChatMessage<'a> {
    /// A message of `role` with `content` and nothing else.
    pub(crate) fn new(role: &'static str, content: Content<'a>) -> Self {
        Self {
            role,
            content,
            tool_calls: Vec::new(),
            tool_call_id: None,
            reasoning_details: Vec::new(),
        }
    }
}

impl<'a> Part<'a> {
    /// A `text` part.
    pub(crate) fn text(text: Text<'a>, cache_control: Option<&'a RawValue>) -> Self {
        Self {
            kind: "text",
            text: Some(text),
            image_url: None,
            file: None,
            cache_control,
        }
    }

    /// An `image_url` part.
    pub(crate) fn image(url: Url<'a>, cache_control: Option<&'a RawValue>) -> Self {
        Self {
            kind: "image_url",
            text: None,
            image_url: Some(url),
            file: None,
            cache_control,
        }
    }

    /// A `file` part.
    pub(crate) fn file(file: File<'a>, cache_control: Option<&'a RawValue>) -> Self {
        Self {
            kind: "file",
            text: None,
            image_url: None,
            file: Some(file),
            cache_control,
        }
    }
}

/// A 400 about `field`.
pub(crate) fn invalid(field: impl Into<String>, message: impl Into<String>) -> RequestError {
    RequestError::Invalid {
        field: field.into(),
        message: message.into(),
    }
}

/// A body that does not read as the format's request: serde's message (which names the field
/// and the position).
pub(crate) fn unreadable(err: &serde_json::Error) -> RequestError {
    if err.is_syntax() || err.is_eof() {
        return RequestError::Json(err.to_string());
    }
    invalid("body", err.to_string())
}

/// `raw` when it is a JSON string; otherwise a 400 about `field`.
pub(crate) fn string<'a>(raw: &'a RawValue, field: &str) -> Result<Text<'a>, RequestError> {
    if raw.get().starts_with('"') {
        Ok(Text::Raw(raw))
    } else {
        Err(invalid(field, "must be a string"))
    }
}

/// `value` as a JSON string token (for a function call's `arguments`, which is JSON in a string).
pub(crate) fn json_string(value: &RawValue) -> Text<'_> {
    Text::Str(Cow::Borrowed(value.get()))
}
