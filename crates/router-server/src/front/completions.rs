//! The legacy completions (`POST /api/v1/completions`, `/v1/completions`): a `prompt` in, a
//! `text_completion` out, streaming and not.
//!
//! The prompt (a string, or an array holding one string) becomes the one user message of the
//! canonical request. `max_tokens`, `temperature`, `top_p`, `top_k`, `stop`, `seed`,
//! `frequency_penalty`, `presence_penalty`, `repetition_penalty`, `logit_bias`, `user`,
//! `stream` and OpenRouter's `models`, `provider`, `plugins`, `route` and `session_id` keep
//! their names; `stream_options` is accepted (the usage chunk always comes). More than one
//! prompt, token-id prompts, `suffix`, `echo`, `logprobs`, `best_of` and `n` above 1 are 400s.
//! Errors keep OpenRouter's shape, which is also OpenAI's.

use std::borrow::Cow;

use axum::http::StatusCode;
use router_core::request::RequestError;
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::value::RawValue;
use serde_json::{Value, json};

use super::answer::{Completion, ErrorObject};
use super::json::{self, ChatMessage, Content, Object, Text, invalid};
use super::sse::{Event, Events, push_data};
use super::{Front, catalog_id, catalog_ids};
use crate::config::FrontSettings;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Request<'a> {
    #[serde(borrow)]
    model: Cow<'a, str>,
    #[serde(borrow)]
    prompt: &'a RawValue,
    #[serde(default)]
    stream: Option<bool>,
    #[serde(default, rename = "stream_options")]
    _stream_options: Option<IgnoredAny>,
    #[serde(borrow, default)]
    max_tokens: Option<&'a RawValue>,
    #[serde(borrow, default)]
    temperature: Option<&'a RawValue>,
    #[serde(borrow, default)]
    top_p: Option<&'a RawValue>,
    #[serde(borrow, default)]
    top_k: Option<&'a RawValue>,
    #[serde(borrow, default)]
    stop: Option<&'a RawValue>,
    #[serde(borrow, default)]
    seed: Option<&'a RawValue>,
    #[serde(borrow, default)]
    frequency_penalty: Option<&'a RawValue>,
    #[serde(borrow, default)]
    presence_penalty: Option<&'a RawValue>,
    #[serde(borrow, default)]
    repetition_penalty: Option<&'a RawValue>,
    #[serde(borrow, default)]
    logit_bias: Option<&'a RawValue>,
    #[serde(borrow, default)]
    user: Option<&'a RawValue>,
    #[serde(default)]
    n: Option<u32>,
    #[serde(default)]
    best_of: Option<u32>,
    #[serde(default)]
    echo: Option<bool>,
    #[serde(borrow, default)]
    suffix: Option<&'a RawValue>,
    #[serde(borrow, default)]
    logprobs: Option<&'a RawValue>,
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
}

/// The legacy completions.
#[derive(Debug)]
pub(crate) struct TextCompletion;

impl Front for TextCompletion {
    type Events = TextEvents;

    fn translate(body: &[u8], front: &FrontSettings) -> Result<(Vec<u8>, Self), RequestError> {
        let request: Request<'_> =
            serde_json::from_slice(body).map_err(|err| json::unreadable(&err))?;
        if request.n.is_some_and(|n| n > 1) || request.best_of.is_some_and(|n| n > 1) {
            return Err(invalid("n", "only one completion per request is supported"));
        }
        if request.echo == Some(true) {
            return Err(invalid("echo", "is not supported"));
        }
        if request.suffix.is_some() {
            return Err(invalid("suffix", "is not supported"));
        }
        if request.logprobs.is_some() {
            return Err(invalid("logprobs", "is not supported"));
        }
        let prompt = prompt(request.prompt)?;
        let mut out = Object::with_capacity(body.len() + 128);
        out.value("model", catalog_id(front, &request.model));
        if let Some(models) = &request.models {
            out.value(
                "models",
                &catalog_ids(front, models.iter().map(AsRef::as_ref)),
            );
        }
        out.value(
            "messages",
            &[ChatMessage::new("user", Content::Text(prompt))],
        );
        out.value("stream", &request.stream.unwrap_or(false));
        out.raws(&[
            ("max_tokens", request.max_tokens),
            ("temperature", request.temperature),
            ("top_p", request.top_p),
            ("top_k", request.top_k),
            ("stop", request.stop),
            ("seed", request.seed),
            ("frequency_penalty", request.frequency_penalty),
            ("presence_penalty", request.presence_penalty),
            ("repetition_penalty", request.repetition_penalty),
            ("logit_bias", request.logit_bias),
            ("user", request.user),
            ("provider", request.provider),
            ("plugins", request.plugins),
            ("route", request.route),
            ("session_id", request.session_id),
        ]);
        Ok((out.finish(), TextCompletion))
    }

    fn answer(&self, completion: &Completion<'_>) -> Vec<u8> {
        let choice = completion.choices.first();
        let message = choice.map(super::answer::Choice::message);
        let text = message
            .and_then(|it| it.content.as_deref())
            .unwrap_or_default();
        let body = json!({
            "id": completion.id,
            "object": "text_completion",
            "created": completion.created,
            "model": completion.model,
            "choices": [{
                "text": text,
                "index": 0,
                "logprobs": null,
                "finish_reason": choice.and_then(|it| it.finish_reason.as_deref()),
            }],
            "usage": completion.usage,
        });
        serde_json::to_vec(&body).unwrap_or_default()
    }

    fn events(self) -> TextEvents {
        TextEvents
    }

    fn error(
        status: StatusCode,
        _error: &ErrorObject<'_>,
        _generation_id: Option<&str>,
        body: &[u8],
    ) -> (StatusCode, Vec<u8>) {
        (status, body.to_vec())
    }
}

/// The prompt's text: a string, or an array of exactly one string.
fn prompt(raw: &RawValue) -> Result<Text<'_>, RequestError> {
    if raw.get().starts_with('"') {
        return Ok(Text::Raw(raw));
    }
    let prompts: Vec<&RawValue> = serde_json::from_str(raw.get())
        .map_err(|_| invalid("prompt", "must be a string or an array of strings"))?;
    match prompts.as_slice() {
        [one] => json::string(one, "prompt[0]"),
        [] => Err(invalid("prompt", "must not be empty")),
        _ => Err(invalid(
            "prompt",
            "only one prompt per request is supported",
        )),
    }
}

/// The legacy stream: each chunk's text delta as a `text_completion` chunk, the usage chunk,
/// `[DONE]`; a failure after commit is OpenRouter's error chunk.
#[derive(Debug)]
pub(crate) struct TextEvents;

impl Events for TextEvents {
    fn event(&mut self, event: Event<'_>, out: &mut Vec<u8>) {
        let chunk = match event {
            Event::KeepAlive => return out.extend_from_slice(b": OPENROUTER PROCESSING\n\n"),
            Event::Done => return out.extend_from_slice(b"data: [DONE]\n\n"),
            Event::Chunk(chunk) => chunk,
        };
        let mut data = json!({
            "id": chunk.id,
            "object": "text_completion",
            "created": chunk.created,
            "model": chunk.model,
        });
        let choices: Vec<Value> = chunk
            .choices
            .iter()
            .map(|choice| {
                let text = choice.delta.as_ref().and_then(|it| it.content.as_deref());
                json!({
                    "text": text.unwrap_or_default(),
                    "index": 0,
                    "logprobs": null,
                    "finish_reason": choice.finish_reason,
                })
            })
            .collect();
        if let Some(object) = data.as_object_mut() {
            object.insert("choices".to_owned(), Value::Array(choices));
            if let Some(usage) = chunk.usage {
                object.insert("usage".to_owned(), json!(usage));
            }
            if let Some(error) = &chunk.error {
                object.insert(
                    "error".to_owned(),
                    json!({
                        "code": error.code,
                        "message": error.message,
                        "metadata": {"error_type": error.error_type()},
                    }),
                );
            }
        }
        push_data(out, &data);
    }
}
