//! The canonical chat completion request, parsed once from the body.
//!
//! [`ChatRequest::parse`] reads the body in one pass of [`Scanner`] into borrowed pieces: the
//! fields the router owns are typed, everything else is kept as [`Json`] slices of the body and
//! forwarded upstream byte for byte. Message text is only decoded when something asks for it
//! ([`Message::text`]), which the explicit-model path never does.
//!
//! Errors name the field (`messages[1].role: ...`) so the server can answer with a 400 that says
//! what to fix.

use std::borrow::Cow;

use serde::Deserialize;

use crate::fallback::FallbackPolicy;
use crate::json::{Json, Kind, ScanError, Scanner};

/// A chat completion request in OpenRouter's shape, borrowing from the body it was parsed from.
#[derive(Debug)]
pub struct ChatRequest<'a> {
    /// `model`: the primary model, a router slug (`openrouter/auto`), or absent.
    pub model: Option<Cow<'a, str>>,
    /// `models`: fallback models, in order.
    pub models: Vec<Cow<'a, str>>,
    /// `messages`, typed just enough for routing.
    pub messages: Vec<Message<'a>>,
    /// `messages` exactly as the client sent it; forwarded as is.
    pub messages_raw: Json<'a>,
    /// `stream`.
    pub stream: bool,
    /// `max_completion_tokens`, else `max_tokens`.
    pub max_tokens: Option<u32>,
    /// `tools`, when present and not `null`.
    pub tools: Option<Json<'a>>,
    /// `response_format`, when present and not `null`.
    pub response_format: Option<Json<'a>>,
    /// `provider` (provider preferences), unparsed.
    pub provider: Option<Json<'a>>,
    /// `plugins`, unparsed.
    pub plugins: Option<Json<'a>>,
    /// `session_id` (sticky routing key).
    pub session_id: Option<Cow<'a, str>>,
    /// `fallback_policy` (router-owned, never forwarded): which failures move on to the next
    /// model, `{"except": [...]}` or `{"on": [...]}`. `None` leaves the key's or the default
    /// policy in force.
    pub fallback_policy: Option<FallbackPolicy>,
    /// Every other field, forwarded to the provider unchanged and in body order.
    pub passthrough: Vec<(Cow<'a, str>, Json<'a>)>,
}

/// One message of the conversation.
#[derive(Debug)]
pub struct Message<'a> {
    /// Who wrote it.
    pub role: Role,
    /// `content`: a string or an array of content parts; `None` when absent or `null`.
    pub content: Option<Json<'a>>,
    /// `tool_calls` of an assistant message; `None` when absent or `null`.
    pub tool_calls: Option<Json<'a>>,
    /// The `model` attribute of an assistant message (read by the Auto Router's `pin_model`).
    pub model: Option<Cow<'a, str>>,
}

/// The role of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Instructions from the application.
    System,
    /// Instructions from the application (OpenAI's newer name for `system`).
    Developer,
    /// The end user.
    User,
    /// The model.
    Assistant,
    /// A tool result.
    Tool,
}

/// What routing needs to know about a request, computed without decoding message text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RequestFeatures {
    /// `tools` is a non-empty array.
    pub needs_tools: bool,
    /// Some message has an image content part.
    pub needs_vision: bool,
    /// `response_format` asks for `json_schema`.
    pub needs_structured_output: bool,
    /// A rough count of prompt tokens (`analysis::tokens`: about four bytes of text a token).
    pub prompt_tokens_estimate: u32,
    /// `max_completion_tokens` or `max_tokens`, when given.
    pub max_output_tokens: Option<u32>,
}

/// Why a request body was rejected. The server turns it into a 400.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// The body is not JSON.
    #[error("request body is not valid JSON: {0}")]
    Json(String),
    /// The body is JSON but not an object.
    #[error("request body must be a JSON object")]
    NotAnObject,
    /// A required field is missing.
    #[error("`{0}` is required")]
    Missing(&'static str),
    /// A field has the wrong type or value.
    #[error("`{field}`: {message}")]
    Invalid {
        /// The field's path, such as `messages[1].role`.
        field: String,
        /// What is wrong and what is expected.
        message: String,
    },
}

impl RequestError {
    /// The field the error is about, if any.
    pub fn field(&self) -> Option<&str> {
        match self {
            RequestError::Missing(field) => Some(field),
            RequestError::Invalid { field, .. } => Some(field),
            RequestError::Json(_) | RequestError::NotAnObject => None,
        }
    }

    fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        RequestError::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl<'a> ChatRequest<'a> {
    /// Parses a request body.
    pub fn parse(body: &'a [u8]) -> Result<Self, RequestError> {
        let fields = top_level(body)?;
        let mut model = None;
        let mut models = Vec::new();
        let mut messages = None;
        let mut stream = false;
        let mut max_tokens = None;
        let mut max_completion_tokens = None;
        let mut tools = None;
        let mut response_format = None;
        let mut provider = None;
        let mut plugins = None;
        let mut session_id = None;
        let mut fallback_policy = None;
        let mut passthrough = Vec::with_capacity(fields.len());
        for (key, field) in fields {
            let raw = match field {
                Field::Messages(raw, parsed) => {
                    messages = Some((raw, parsed));
                    continue;
                }
                Field::Other(raw) => raw,
            };
            let is_null = raw.is_null();
            match key.as_ref() {
                "model" => model = optional_string("model", raw)?,
                "models" => models = parse_models(raw)?,
                "messages" => messages = Some((raw, None)),
                "stream" => stream = optional_bool("stream", raw)?.unwrap_or(false),
                "session_id" => session_id = optional_string("session_id", raw)?,
                "provider" if !is_null => provider = Some(expect_object("provider", raw)?),
                "plugins" if !is_null => plugins = Some(expect_array("plugins", raw)?),
                "fallback_policy" if !is_null => fallback_policy = Some(parse_policy(raw)?),
                // Owned by the router and never forwarded: `stream_options` and `usage` are
                // set by the upstream client, the rest are routing inputs or legacy no-ops.
                "provider" | "plugins" | "fallback_policy" | "stream_options" | "usage"
                | "route" | "transforms" | "preset" | "debug" => {}
                _ => {
                    match key.as_ref() {
                        "max_tokens" => max_tokens = positive_int("max_tokens", raw)?,
                        "max_completion_tokens" => {
                            max_completion_tokens = positive_int("max_completion_tokens", raw)?;
                        }
                        "tools" if !is_null => tools = Some(expect_array("tools", raw)?),
                        "response_format" if !is_null => {
                            response_format = Some(expect_object("response_format", raw)?);
                        }
                        _ => {}
                    }
                    passthrough.push((key, raw));
                }
            }
        }
        let (messages_raw, messages) = messages.ok_or(RequestError::Missing("messages"))?;
        let messages = match messages {
            Some(messages) if !messages.is_empty() => messages,
            Some(_) => {
                return Err(RequestError::invalid(
                    "messages",
                    "must contain at least one message",
                ));
            }
            None => return Err(locate_message_error(messages_raw)),
        };
        Ok(ChatRequest {
            model,
            models,
            messages,
            messages_raw,
            stream,
            max_tokens: max_completion_tokens.or(max_tokens),
            tools,
            response_format,
            provider,
            plugins,
            session_id,
            fallback_policy,
            passthrough,
        })
    }
    /// What routing needs to know about this request.
    pub fn features(&self) -> RequestFeatures {
        RequestFeatures {
            needs_tools: self.tools.is_some_and(|raw| raw.get().trim() != "[]"),
            needs_vision: self.messages.iter().any(Message::has_image),
            needs_structured_output: self
                .response_format
                .is_some_and(|raw| raw.get().contains("json_schema")),
            prompt_tokens_estimate: crate::analysis::tokens::request_tokens(
                &self.messages,
                self.tools,
            ),
            max_output_tokens: self.max_tokens,
        }
    }

    /// The models a client named, `model` first, then `models`, as written (duplicates kept).
    pub fn requested_models(&self) -> impl Iterator<Item = &str> {
        self.model
            .iter()
            .chain(self.models.iter())
            .map(|it| it.as_ref())
    }
}

impl Message<'_> {
    /// The message's text: the string content, or its text parts joined by newlines.
    pub fn text(&self) -> Cow<'_, str> {
        let Some(raw) = self.content else {
            return Cow::Borrowed("");
        };
        let json = raw.get();
        if json.starts_with('"') {
            return serde_json::from_str::<Cow<'_, str>>(json).unwrap_or(Cow::Borrowed(""));
        }
        let Ok(parts) = serde_json::from_str::<Vec<ContentPart<'_>>>(json) else {
            return Cow::Borrowed("");
        };
        let mut texts = parts.into_iter().filter_map(|part| part.text);
        match (texts.next(), texts.next()) {
            (None, _) => Cow::Borrowed(""),
            (Some(only), None) => only,
            (Some(first), Some(second)) => {
                let mut joined = first.into_owned();
                for text in std::iter::once(second).chain(texts) {
                    joined.push('\n');
                    joined.push_str(&text);
                }
                Cow::Owned(joined)
            }
        }
    }

    /// Whether the content has an image part.
    pub fn has_image(&self) -> bool {
        let Some(raw) = self.content else {
            return false;
        };
        let json = raw.get();
        json.starts_with('[')
            && json.contains("image_url")
            && serde_json::from_str::<Vec<ContentPart<'_>>>(json)
                .is_ok_and(|parts| parts.iter().any(|part| part.kind == "image_url"))
    }
}

/// Tokens in `bytes` of JSON text, at about four bytes a token.
pub fn estimate_tokens(bytes: usize) -> u32 {
    u32::try_from(bytes.div_ceil(4)).unwrap_or(u32::MAX)
}

#[derive(Deserialize)]
struct ContentPart<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(borrow, default)]
    text: Option<Cow<'a, str>>,
}

impl Role {
    /// The role named `name` (lowercase, as on the wire).
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "system" => Some(Role::System),
            "developer" => Some(Role::Developer),
            "user" => Some(Role::User),
            "assistant" => Some(Role::Assistant),
            "tool" => Some(Role::Tool),
            _ => None,
        }
    }
}

/// A top-level member's value.
enum Field<'a> {
    /// An array `messages`, read as it was scanned: its text, and its messages, or `None` when
    /// one is not well formed ([`locate_message_error`] then says which and why).
    Messages(Json<'a>, Option<Vec<Message<'a>>>),
    /// Anything else, as text.
    Other(Json<'a>),
}

/// The top level of a body: its members, in order.
fn top_level(body: &[u8]) -> Result<Vec<(Cow<'_, str>, Field<'_>)>, RequestError> {
    let text = std::str::from_utf8(body).map_err(|err| RequestError::Json(err.to_string()))?;
    let json_error = |err: ScanError| RequestError::Json(err.to_string());
    let mut scanner = Scanner::new(text);
    if scanner.kind().map_err(json_error)? != Kind::Object {
        scanner.value().map_err(json_error)?;
        scanner.finish().map_err(json_error)?;
        return Err(RequestError::NotAnObject);
    }
    let mut fields = Vec::with_capacity(16);
    scanner
        .object(|name, scanner| {
            let field = if name == "messages" && scanner.kind()? == Kind::Array {
                let (raw, messages) = scanner.spanned(read_messages)?;
                Field::Messages(raw, messages)
            } else {
                Field::Other(scanner.value()?)
            };
            fields.push((name, field));
            Ok(())
        })
        .map_err(json_error)?;
    scanner.finish().map_err(json_error)?;
    Ok(fields)
}

/// The messages of an array, or `None` when one is not well formed.
fn read_messages<'a>(scanner: &mut Scanner<'a>) -> Result<Option<Vec<Message<'a>>>, ScanError> {
    let mut messages = Vec::with_capacity(4);
    let mut well_formed = true;
    scanner.array(|scanner| {
        if !well_formed || scanner.kind()? != Kind::Object {
            well_formed = false;
            return scanner.value().map(drop);
        }
        match read_message(scanner)? {
            Some(message) => messages.push(message),
            None => well_formed = false,
        }
        Ok(())
    })?;
    Ok(well_formed.then_some(messages))
}

/// One message object, or `None` when its role is missing or unknown or a member it owns has
/// the wrong type.
fn read_message<'a>(scanner: &mut Scanner<'a>) -> Result<Option<Message<'a>>, ScanError> {
    let mut role = None;
    let mut content = None;
    let mut tool_calls = None;
    let mut model = None;
    let mut well_formed = true;
    scanner.object(|name, scanner| {
        match name.as_ref() {
            "role" => {
                role = match scanner.kind()? {
                    Kind::String => Role::parse(&scanner.string()?),
                    _ => scanner.value().map(|_| None)?,
                };
                well_formed &= role.is_some();
            }
            "content" => {
                let value = scanner.value()?;
                match value.get().as_bytes().first() {
                    Some(b'"' | b'[') => content = Some(value),
                    Some(b'n') => content = None,
                    _ => well_formed = false,
                }
            }
            "tool_calls" => {
                let value = scanner.value()?;
                tool_calls = (!value.is_null()).then_some(value);
            }
            "model" => match scanner.kind()? {
                Kind::String => model = Some(scanner.string()?),
                Kind::Null => model = scanner.value().map(|_| None)?,
                _ => {
                    scanner.value()?;
                    well_formed = false;
                }
            },
            _ => drop(scanner.value()?),
        }
        Ok(())
    })?;
    Ok(match role {
        Some(role) if well_formed => Some(Message {
            role,
            content,
            tool_calls,
            model,
        }),
        _ => None,
    })
}

fn optional_string<'a>(
    field: &'static str,
    raw: Json<'a>,
) -> Result<Option<Cow<'a, str>>, RequestError> {
    match raw.get().as_bytes().first() {
        Some(b'n') => Ok(None),
        Some(b'"') => Scanner::new(raw.get())
            .string()
            .map(Some)
            .map_err(|_| RequestError::invalid(field, "expected a string")),
        _ => Err(RequestError::invalid(field, "expected a string")),
    }
}

fn optional_bool(field: &'static str, raw: Json<'_>) -> Result<Option<bool>, RequestError> {
    match raw.get() {
        "null" => Ok(None),
        "true" => Ok(Some(true)),
        "false" => Ok(Some(false)),
        _ => Err(RequestError::invalid(field, "expected a boolean")),
    }
}

fn positive_int(field: &'static str, raw: Json<'_>) -> Result<Option<u32>, RequestError> {
    if raw.is_null() {
        return Ok(None);
    }
    // A JSON number's text has no sign but `-`, and no leading zeros: `u32`'s parser reads
    // exactly the integers among them.
    match raw.get().parse::<u32>() {
        Ok(n) if n >= 1 => Ok(Some(n)),
        _ => Err(RequestError::invalid(
            field,
            "expected an integer of at least 1",
        )),
    }
}

fn expect_object<'a>(field: &'static str, raw: Json<'a>) -> Result<Json<'a>, RequestError> {
    if raw.get().starts_with('{') {
        Ok(raw)
    } else {
        Err(RequestError::invalid(field, "expected an object"))
    }
}

fn expect_array<'a>(field: &'static str, raw: Json<'a>) -> Result<Json<'a>, RequestError> {
    if raw.get().starts_with('[') {
        Ok(raw)
    } else {
        Err(RequestError::invalid(field, "expected an array"))
    }
}

fn parse_policy(raw: Json<'_>) -> Result<FallbackPolicy, RequestError> {
    FallbackPolicy::parse_json(raw.get()).map_err(|err| {
        let field = match err.path.as_str() {
            "" => "fallback_policy".to_owned(),
            path => format!("fallback_policy.{path}"),
        };
        RequestError::invalid(field, err.message)
    })
}

fn parse_models(raw: Json<'_>) -> Result<Vec<Cow<'_, str>>, RequestError> {
    if raw.is_null() {
        return Ok(Vec::new());
    }
    serde_json::from_str::<Vec<Cow<'_, str>>>(raw.get())
        .map_err(|_| RequestError::invalid("models", "expected an array of model ids (strings)"))
}

/// The slow path of a bad `messages`: finds the first bad message and says what is wrong with it.
fn locate_message_error(raw: Json<'_>) -> RequestError {
    let not_an_array = || RequestError::invalid("messages", "expected an array of messages");
    let Ok(items) = serde_json::from_str::<Vec<serde_json::Value>>(raw.get()) else {
        return not_an_array();
    };
    for (idx, item) in items.iter().enumerate() {
        let Some(object) = item.as_object() else {
            return RequestError::invalid(format!("messages[{idx}]"), "expected an object");
        };
        match object.get("role") {
            None => return RequestError::invalid(format!("messages[{idx}].role"), "is required"),
            Some(role) if role.as_str().and_then(Role::parse).is_none() => {
                return RequestError::invalid(
                    format!("messages[{idx}].role"),
                    "expected one of `system`, `developer`, `user`, `assistant`, `tool`",
                );
            }
            Some(_) => {}
        }
        if let Some(content) = object.get("content")
            && !(content.is_string() || content.is_array() || content.is_null())
        {
            return RequestError::invalid(
                format!("messages[{idx}].content"),
                "expected a string or an array of content parts",
            );
        }
        if let Some(model) = object.get("model")
            && !(model.is_string() || model.is_null())
        {
            return RequestError::invalid(format!("messages[{idx}].model"), "expected a string");
        }
    }
    not_an_array()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: &str) -> Result<ChatRequest<'_>, RequestError> {
        ChatRequest::parse(body.as_bytes())
    }

    #[test]
    fn keeps_unknown_fields_verbatim_and_in_order() {
        let body = r#"{"model":"a/b","temperature":0.25,"messages":[{"role":"user","content":"hi"}],"stream":true,"x_custom":{"k":[1, 2]},"stream_options":{"include_usage":false}}"#;
        let request = parse(body).unwrap();
        assert_eq!(request.model.as_deref(), Some("a/b"));
        assert!(request.stream);
        let passthrough: Vec<_> = request
            .passthrough
            .iter()
            .map(|(k, v)| (k.as_ref(), v.get()))
            .collect();
        assert_eq!(
            passthrough,
            [("temperature", "0.25"), ("x_custom", r#"{"k":[1, 2]}"#)]
        );
        assert_eq!(
            request.messages_raw.get(),
            r#"[{"role":"user","content":"hi"}]"#
        );
    }

    #[test]
    fn names_the_field_that_is_wrong() {
        let cases = [
            (r#"{"model":5,"messages":[]}"#, Some("model")),
            (r#"{"model":"a/b"}"#, Some("messages")),
            (r#"{"model":"a/b","messages":[]}"#, Some("messages")),
            (r#"{"model":"a/b","messages":"hi"}"#, Some("messages")),
            (
                r#"{"messages":[{"role":"user","content":"a"},{"role":"robot","content":"b"}]}"#,
                Some("messages[1].role"),
            ),
            (
                r#"{"messages":[{"content":"a"}]}"#,
                Some("messages[0].role"),
            ),
            (
                r#"{"messages":[{"role":"user","content":7}]}"#,
                Some("messages[0].content"),
            ),
            (
                r#"{"messages":[{"role":"user","content":"a"}],"stream":"yes"}"#,
                Some("stream"),
            ),
            (
                r#"{"messages":[{"role":"user","content":"a"}],"max_tokens":0}"#,
                Some("max_tokens"),
            ),
            (
                r#"{"messages":[{"role":"user","content":"a"}],"models":"a/b"}"#,
                Some("models"),
            ),
            (
                r#"{"messages":[{"role":"user","content":"a"}],"tools":{}}"#,
                Some("tools"),
            ),
            (r#"[1,2]"#, None),
            (r#"{"model": "#, None),
        ];
        for (body, field) in cases {
            let err = parse(body).unwrap_err();
            assert_eq!(err.field(), field, "{body}: {err}");
        }
    }

    #[test]
    fn reads_text_and_features() {
        let body = r#"{"messages":[{"role":"system","content":"be brief"},{"role":"user","content":[{"type":"text","text":"what is"},{"type":"image_url","image_url":{"url":"data:x"}},{"type":"text","text":"this?"}]}],"tools":[{"type":"function","function":{"name":"f"}}],"response_format":{"type":"json_schema","json_schema":{"name":"x","schema":{}}},"max_completion_tokens":50,"max_tokens":10}"#;
        let request = parse(body).unwrap();
        assert_eq!(request.messages[0].text(), "be brief");
        assert_eq!(request.messages[1].text(), "what is\nthis?");
        let features = request.features();
        assert!(features.needs_tools && features.needs_vision && features.needs_structured_output);
        assert_eq!(features.max_output_tokens, Some(50));
        assert!(features.prompt_tokens_estimate > 10);
    }

    #[test]
    fn fallback_policy_is_router_owned() {
        let request = parse(
            r#"{"messages":[{"role":"user","content":"x"}],"fallback_policy":{"except":["moderation"]},"top_p":1}"#,
        )
        .unwrap();
        let policy = request.fallback_policy.unwrap();
        assert!(!policy.should_fall_back(crate::fallback::FailureClass::Moderation));
        assert!(policy.should_fall_back(crate::fallback::FailureClass::Timeout));
        let forwarded: Vec<_> = request
            .passthrough
            .iter()
            .map(|(k, _)| k.as_ref())
            .collect();
        assert_eq!(forwarded, ["top_p"]);

        let err = parse(
            r#"{"messages":[{"role":"user","content":"x"}],"fallback_policy":{"on":["timeout","sometimes"]}}"#,
        )
        .unwrap_err();
        assert_eq!(err.field(), Some("fallback_policy.on[1]"), "{err}");
        let err = parse(r#"{"messages":[{"role":"user","content":"x"}],"fallback_policy":true}"#)
            .unwrap_err();
        assert_eq!(err.field(), Some("fallback_policy"), "{err}");
        let request =
            parse(r#"{"messages":[{"role":"user","content":"x"}],"fallback_policy":null}"#)
                .unwrap();
        assert!(request.fallback_policy.is_none());
    }

    #[test]
    fn escaped_keys_and_strings_are_decoded() {
        let request =
            parse(r#"{"mod\u0065l":"a/\u0062","messages":[{"role":"user","content":"x"}]}"#)
                .unwrap();
        assert_eq!(request.model.as_deref(), Some("a/b"));
    }

    #[test]
    fn messages_of_the_wrong_shape_are_located() {
        let cases = [
            (r#"{"messages":[{"role":"user"},5]}"#, "messages[1]"),
            (r#"{"messages":[{"role":5}]}"#, "messages[0].role"),
            (
                r#"{"messages":[{"role":"assistant","model":7,"content":"x"}]}"#,
                "messages[0].model",
            ),
            (r#"{"messages":null}"#, "messages"),
        ];
        for (body, field) in cases {
            let err = parse(body).unwrap_err();
            assert_eq!(err.field(), Some(field), "{body}: {err}");
        }
        let request = parse(
            r#"{"messages":[{"role":"assistant","content":null,"tool_calls":[{"id":"t"}],"model":"a/b"},{"role":"tool","content":"r","tool_calls":null}]}"#,
        )
        .unwrap();
        let [first, second] = &request.messages[..] else {
            panic!("two messages");
        };
        assert_eq!(first.role, Role::Assistant);
        assert!(first.content.is_none());
        assert_eq!(first.tool_calls.map(Json::get), Some(r#"[{"id":"t"}]"#));
        assert_eq!(first.model.as_deref(), Some("a/b"));
        assert_eq!(second.role, Role::Tool);
        assert!(second.tool_calls.is_none());
    }

    proptest::proptest! {
        #[test]
        fn reads_back_any_conversation_and_forwards_the_rest_verbatim(
            turns in proptest::collection::vec(
                (proptest::sample::select(&["system", "developer", "user", "assistant", "tool"][..]), ".{0,12}"),
                1..6,
            ),
            extra in proptest::collection::btree_map("x_[a-z\"\\\\]{0,4}", proptest::num::i32::ANY, 0..4),
            pretty in proptest::bool::ANY,
        ) {
            let messages: Vec<serde_json::Value> = turns
                .iter()
                .map(|(role, text)| serde_json::json!({"role": role, "content": text}))
                .collect();
            let mut body = serde_json::json!({"model": "a/b", "messages": messages});
            for (key, value) in &extra {
                body[key] = serde_json::json!(value);
            }
            let text = if pretty {
                serde_json::to_string_pretty(&body).unwrap()
            } else {
                body.to_string()
            };
            let request = parse(&text).unwrap();
            proptest::prop_assert_eq!(request.messages.len(), turns.len());
            for (message, (role, content)) in request.messages.iter().zip(&turns) {
                proptest::prop_assert_eq!(Some(message.role), Role::parse(role));
                proptest::prop_assert_eq!(message.text(), content.as_str());
            }
            let forwarded: Vec<(String, i64)> = request
                .passthrough
                .iter()
                .map(|(key, raw)| (key.to_string(), raw.get().parse().unwrap()))
                .collect();
            let expected: Vec<(String, i64)> =
                extra.iter().map(|(key, value)| (key.clone(), i64::from(*value))).collect();
            proptest::prop_assert_eq!(forwarded, expected);
            let reparsed: serde_json::Value = serde_json::from_str(request.messages_raw.get()).unwrap();
            proptest::prop_assert_eq!(&reparsed, &body["messages"]);
        }
    }
}
