//! The conversation of a request, decoded from its raw `messages`, `tools` and `tool_choice`.
//!
//! Only the native formats decode messages (they must rebuild them); the OpenAI-compatible path
//! never comes here. Strings are borrowed where the body has no escapes, and whatever a provider
//! takes unchanged stays a [`RawValue`] slice of the body, so it goes upstream byte for byte:
//! `cache_control`, a tool's `parameters` schema.

use std::borrow::Cow;

use router_core::request::ChatRequest;
use router_core::response::ReasoningDetail;
use serde::Deserialize;
use serde_json::value::RawValue;

/// Why the conversation could not be read; names the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {why}")]
pub(crate) struct InputError {
    /// The offending field, such as `messages[2].content`.
    pub(crate) field: String,
    /// What is wrong with it.
    pub(crate) why: String,
}

/// One message, as OpenRouter's `messages` holds it.
#[derive(Debug, Deserialize)]
pub(crate) struct Message<'a> {
    /// `system`, `developer`, `user`, `assistant` or `tool`.
    #[serde(borrow)]
    pub(crate) role: Cow<'a, str>,
    /// A string, or an array of content parts; read with [`Message::parts`].
    #[serde(borrow, default)]
    content: Option<&'a RawValue>,
    /// An assistant's tool calls.
    #[serde(borrow, default)]
    pub(crate) tool_calls: Option<Vec<ToolCall<'a>>>,
    /// A tool result's call id.
    #[serde(borrow, default)]
    pub(crate) tool_call_id: Option<Cow<'a, str>>,
    /// An assistant's reasoning blocks with their signatures (sent back from an earlier answer).
    #[serde(borrow, default)]
    pub(crate) reasoning_details: Option<Vec<ReasoningDetail<'a>>>,
}

/// A content part.
#[derive(Debug, Deserialize)]
pub(crate) struct Part<'a> {
    /// `text`, `image_url`, ...
    #[serde(rename = "type", borrow)]
    pub(crate) kind: Cow<'a, str>,
    /// The text of a `text` part.
    #[serde(borrow, default)]
    pub(crate) text: Option<Cow<'a, str>>,
    /// The image of an `image_url` part.
    #[serde(borrow, default)]
    pub(crate) image_url: Option<ImageUrl<'a>>,
    /// Anthropic's cache breakpoint, kept as sent.
    #[serde(borrow, default)]
    pub(crate) cache_control: Option<&'a RawValue>,
}

/// `image_url` of a part: an `https://` URL or a `data:` URL.
#[derive(Debug, Deserialize)]
pub(crate) struct ImageUrl<'a> {
    /// The URL.
    #[serde(borrow)]
    pub(crate) url: Cow<'a, str>,
}

/// An image, read from an `image_url`.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Image<'p> {
    /// A `data:<media type>;base64,<data>` URL.
    Inline {
        /// Such as `image/png`.
        media_type: &'p str,
        /// The base64 data.
        data: &'p str,
    },
    /// Any other URL.
    Url(&'p str),
}

/// An assistant's tool call: `{"id","type":"function","function":{"name","arguments"}}`.
#[derive(Debug, Deserialize)]
pub(crate) struct ToolCall<'a> {
    /// The call id.
    #[serde(borrow, default)]
    pub(crate) id: Cow<'a, str>,
    /// The function called.
    #[serde(borrow)]
    pub(crate) function: FunctionCall<'a>,
}

/// The function of a tool call.
#[derive(Debug, Deserialize)]
pub(crate) struct FunctionCall<'a> {
    /// Its name.
    #[serde(borrow)]
    pub(crate) name: Cow<'a, str>,
    /// Its arguments, a JSON object encoded as a string.
    #[serde(borrow, default)]
    pub(crate) arguments: Cow<'a, str>,
}

/// A function tool: `{"type":"function","function":{"name","description","parameters"}}`.
#[derive(Debug, Deserialize)]
pub(crate) struct Tool<'a> {
    /// Only `function` tools are translated.
    #[serde(rename = "type", borrow, default)]
    pub(crate) kind: Option<Cow<'a, str>>,
    /// The function.
    #[serde(borrow)]
    pub(crate) function: Option<FunctionDecl<'a>>,
    /// Anthropic's cache breakpoint, kept as sent.
    #[serde(borrow, default)]
    pub(crate) cache_control: Option<&'a RawValue>,
}

/// A function's declaration.
#[derive(Debug, Deserialize)]
pub(crate) struct FunctionDecl<'a> {
    /// Its name.
    #[serde(borrow)]
    pub(crate) name: Cow<'a, str>,
    /// What it does.
    #[serde(borrow, default)]
    pub(crate) description: Option<Cow<'a, str>>,
    /// Its JSON schema, as sent.
    #[serde(borrow, default)]
    pub(crate) parameters: Option<&'a RawValue>,
}

/// `tool_choice`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ToolChoice<'a> {
    /// `none`.
    None,
    /// `auto`.
    Auto,
    /// `required`.
    Required,
    /// `{"type":"function","function":{"name"}}`.
    Function(Cow<'a, str>),
}

/// The conversation of a request.
#[derive(Debug)]
pub(crate) struct Input<'a> {
    /// The messages, in order.
    pub(crate) messages: Vec<Message<'a>>,
    /// The function tools.
    pub(crate) tools: Vec<Tool<'a>>,
    /// `tool_choice`, when sent.
    pub(crate) tool_choice: Option<ToolChoice<'a>>,
    /// `parallel_tool_calls`, when sent.
    pub(crate) parallel_tool_calls: Option<bool>,
}

// === impl Input ===

impl<'a> Input<'a> {
    /// Decodes the conversation of `request`.
    pub(crate) fn read(request: &ChatRequest<'a>) -> Result<Self, InputError> {
        let messages: Vec<Message<'a>> = serde_json::from_str(request.messages_raw.get())
            .map_err(|err| InputError::new("messages", err))?;
        let tools: Vec<Tool<'a>> = match request.tools {
            Some(tools) => {
                serde_json::from_str(tools.get()).map_err(|err| InputError::new("tools", err))?
            }
            None => Vec::new(),
        };
        let mut tool_choice = None;
        let mut parallel_tool_calls = None;
        for (key, raw) in &request.passthrough {
            match key.as_ref() {
                "tool_choice" if !raw.is_null() => tool_choice = Some(read_tool_choice(raw.get())?),
                "parallel_tool_calls" => {
                    parallel_tool_calls = serde_json::from_str(raw.get())
                        .map_err(|err| InputError::new("parallel_tool_calls", err))?;
                }
                _ => {}
            }
        }
        Ok(Self {
            messages,
            tools: tools
                .into_iter()
                .filter(|tool| tool.kind.as_deref().is_none_or(|kind| kind == "function"))
                .filter(|tool| tool.function.is_some())
                .collect(),
            tool_choice,
            parallel_tool_calls,
        })
    }
}

fn read_tool_choice(raw: &str) -> Result<ToolChoice<'_>, InputError> {
    #[derive(Deserialize)]
    struct Named<'a> {
        #[serde(borrow)]
        function: NamedFunction<'a>,
    }
    #[derive(Deserialize)]
    struct NamedFunction<'a> {
        #[serde(borrow)]
        name: Cow<'a, str>,
    }
    let bad = |why: &str| InputError {
        field: "tool_choice".to_owned(),
        why: why.to_owned(),
    };
    if raw.starts_with('"') {
        let choice: Cow<'_, str> =
            serde_json::from_str(raw).map_err(|err| InputError::new("tool_choice", err))?;
        return match choice.as_ref() {
            "none" => Ok(ToolChoice::None),
            "auto" => Ok(ToolChoice::Auto),
            "required" | "any" => Ok(ToolChoice::Required),
            _ => Err(bad(
                "must be `none`, `auto`, `required` or a named function",
            )),
        };
    }
    let named: Named<'_> =
        serde_json::from_str(raw).map_err(|err| InputError::new("tool_choice", err))?;
    Ok(ToolChoice::Function(named.function.name))
}

// === impl Message ===

impl<'a> Message<'a> {
    /// The content as parts: a string is one `text` part; absent or `null` is none.
    pub(crate) fn parts(&self, idx: usize) -> Result<Vec<Part<'a>>, InputError> {
        let field = || format!("messages[{idx}].content");
        let Some(raw) = self.content else {
            return Ok(Vec::new());
        };
        let text = raw.get();
        if text == "null" {
            return Ok(Vec::new());
        }
        if text.starts_with('"') {
            let text: Cow<'a, str> = serde_json::from_str(text).map_err(|err| InputError {
                field: field(),
                why: err.to_string(),
            })?;
            return Ok(vec![Part {
                kind: Cow::Borrowed("text"),
                text: Some(text),
                image_url: None,
                cache_control: None,
            }]);
        }
        serde_json::from_str(text).map_err(|err| InputError {
            field: field(),
            why: format!("expected a string or an array of content parts: {err}"),
        })
    }

    /// The text of the content (text parts joined with a newline).
    pub(crate) fn text(&self, idx: usize) -> Result<String, InputError> {
        let parts = self.parts(idx)?;
        let mut text = String::new();
        for part in parts.iter().filter_map(|part| part.text.as_deref()) {
            if !text.is_empty() {
                text.push('\n');
            }
            text.push_str(part);
        }
        Ok(text)
    }
}

// === images ===

/// The image at `url`: inline data for a base64 `data:` URL, else the URL.
pub(crate) fn image_of(url: &str) -> Image<'_> {
    if let Some(rest) = url.strip_prefix("data:")
        && let Some((meta, data)) = rest.split_once(',')
        && let Some(media_type) = meta.strip_suffix(";base64")
    {
        return Image::Inline { media_type, data };
    }
    Image::Url(url)
}

impl InputError {
    fn new(field: &str, err: serde_json::Error) -> Self {
        Self {
            field: field.to_owned(),
            why: err.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_messages_tools_and_choice() {
        let body = r#"{"messages":[{"role":"system","content":[{"type":"text","text":"Be brief","cache_control":{"type":"ephemeral", "ttl":"1h"}}]},{"role":"user","content":"hi"},{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{\"a\":1}"}}]},{"role":"tool","tool_call_id":"c1","content":"42"}],"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"}}}],"tool_choice":{"type":"function","function":{"name":"f"}}}"#;
        let request = ChatRequest::parse(body.as_bytes()).unwrap();
        let input = Input::read(&request).unwrap();
        assert_eq!(input.messages.len(), 4);
        let system = input.messages[0].parts(0).unwrap();
        assert_eq!(
            system[0].cache_control.unwrap().get(),
            r#"{"type":"ephemeral", "ttl":"1h"}"#
        );
        assert_eq!(input.messages[1].text(1).unwrap(), "hi");
        let calls = input.messages[2].tool_calls.as_ref().unwrap();
        assert_eq!(calls[0].function.arguments, r#"{"a":1}"#);
        assert_eq!(input.tools.len(), 1);
        assert_eq!(input.tool_choice, Some(ToolChoice::Function("f".into())));
    }

    #[test]
    fn reads_data_urls_as_inline_images() {
        assert_eq!(
            image_of("data:image/png;base64,iVBOR"),
            Image::Inline {
                media_type: "image/png",
                data: "iVBOR"
            }
        );
        assert_eq!(image_of("https://x/y.png"), Image::Url("https://x/y.png"));
    }

    #[test]
    fn a_bad_content_names_its_message() {
        let body = r#"{"messages":[{"role":"user","content":5}]}"#;
        let request = ChatRequest::parse(body.as_bytes());
        // The core parser may already refuse it; when it does not, the input does.
        if let Ok(request) = request {
            let input = Input::read(&request).unwrap();
            let err = input.messages[0].parts(0).unwrap_err();
            assert_eq!(err.field, "messages[0].content");
        }
    }
}
