//! Reads an OpenAI-compatible chat completion body into a [`ChatResponse`].
//!
//! One pass of [`Scanner`] over the body checks all of it and reads only what Turnout needs:
//! `id`, `usage` as numbers, each choice's `finish_reason` (and, in a stream chunk, whether its
//! `delta` carries output), `system_fingerprint`, `service_tier` and `error`. `choices` itself is
//! kept as the provider's text and copied once into the response. The same reader serves the
//! stream decoder's chunks.

use std::borrow::Cow;

use router_core::json::{Json, Kind, RawJson, ScanError, Scanner};
use router_core::pricing::Usage;
use router_core::response::{ChatResponse, FinishReason};

use crate::error::ProviderErrorBody;

use crate::exchange::BodyProblem;

/// Reads a non-streaming response body; `exclude_reasoning` drops the message's reasoning.
pub(crate) fn parse_response(
    body: &[u8],
    exclude_reasoning: bool,
) -> Result<ChatResponse, BodyProblem> {
    let invalid = |err: &dyn std::fmt::Display| {
        BodyProblem::Invalid(format!("response body is not valid JSON: {err}"))
    };
    let body = crate::utf8::str_of(body).map_err(|err| invalid(&err))?;
    let wire = WireBody::read(body).map_err(|err| match err {
        ReadError::Json(err) => invalid(&err),
        ReadError::Shape(why) => BodyProblem::Invalid(why.to_owned()),
    })?;
    if let Some(error) = wire.error {
        return Err(BodyProblem::Error(error_member(error)));
    }
    let Some((choices, summary)) = wire.choices else {
        return Err(BodyProblem::Invalid(
            "response body has no `choices`".to_owned(),
        ));
    };
    Ok(ChatResponse {
        upstream_id: wire.id.map(Cow::into_owned),
        choices: normalized(choices, &summary, exclude_reasoning),
        usage: wire.usage.unwrap_or_default(),
        finish_reason: summary
            .finish_reason
            .as_deref()
            .map(FinishReason::normalize),
        system_fingerprint: wire.system_fingerprint.map(Cow::into_owned),
        service_tier: wire.service_tier.map(Cow::into_owned),
    })
}

/// Reads the `error` member of a body or chunk.
pub(crate) fn error_member(error: Json<'_>) -> ProviderErrorBody {
    match serde_json::from_str::<serde_json::Value>(error.get()) {
        Ok(value) => ProviderErrorBody::from_error_member(&value),
        Err(_) => ProviderErrorBody::default(),
    }
}

/// Why a body could not be read.
#[derive(Debug)]
pub(crate) enum ReadError {
    /// It is not JSON.
    Json(ScanError),
    /// It is JSON, but a member Turnout reads has the wrong shape; says which.
    Shape(&'static str),
}

impl From<ScanError> for ReadError {
    fn from(err: ScanError) -> Self {
        ReadError::Json(err)
    }
}

/// The members of a chat completion body (or stream chunk) that Turnout reads, borrowed.
///
/// A member that is `null` reads as absent. So does an `id`, `system_fingerprint`,
/// `service_tier` or `usage` of another type than expected: they only inform the receipt.
#[derive(Debug, Default)]
pub(crate) struct WireBody<'a> {
    pub(crate) id: Option<Cow<'a, str>>,
    /// `choices` as the provider wrote it, and what was read off it.
    pub(crate) choices: Option<(Json<'a>, ChoicesSummary<'a>)>,
    pub(crate) usage: Option<Usage>,
    pub(crate) system_fingerprint: Option<Cow<'a, str>>,
    pub(crate) service_tier: Option<Cow<'a, str>>,
    pub(crate) error: Option<Json<'a>>,
}

impl<'a> WireBody<'a> {
    /// Reads a whole body: one JSON object, nothing after it.
    pub(crate) fn read(text: &'a str) -> Result<Self, ReadError> {
        let mut wire = WireBody::default();
        let mut shape = None;
        let mut scanner = Scanner::new(text);
        scanner.object(|name, scanner| wire.member(&name, scanner, &mut shape))?;
        scanner.finish()?;
        wire.checked(shape)
    }

    /// Reads a stream chunk, going on after the bytes it shares with the start of the last
    /// chunk read with `seen` (see [`SeenPrefix`]); `id`, `system_fingerprint` and
    /// `service_tier` are only read when they come after `choices`, `usage` or `error`.
    #[inline]
    pub(crate) fn read_chunk(text: &'a str, seen: &mut SeenPrefix) -> Result<Self, ReadError> {
        let mut wire = WireBody::default();
        let mut shape = None;
        let resumed = (!seen.bytes.is_empty() && text.as_bytes().starts_with(&seen.bytes))
            .then(|| Scanner::resume(text, seen.bytes.len()))
            .flatten();
        let read = match resumed {
            Some(mut scanner) => scanner
                .rest_of_object(|name, scanner| wire.member(&name, scanner, &mut shape))
                .and_then(|()| scanner.finish()),
            None => {
                // Where the members the stream does not read, from the first on, end.
                let mut leading = true;
                let mut ignored_until = 0;
                let mut scanner = Scanner::new(text);
                scanner
                    .object(|name, scanner| {
                        leading &= !matches!(name.as_ref(), "choices" | "usage" | "error");
                        wire.member(&name, scanner, &mut shape)?;
                        if leading {
                            ignored_until = scanner.position();
                        }
                        Ok(())
                    })
                    .and_then(|()| scanner.finish())
                    .map(|()| {
                        seen.bytes.clear();
                        seen.bytes
                            .extend_from_slice(&text.as_bytes()[..ignored_until]);
                    })
            }
        };
        if read.is_err() {
            seen.bytes.clear();
        }
        read?;
        wire.checked(shape)
    }

    /// Reads the member `name`, with the scanner at its value.
    fn member(
        &mut self,
        name: &str,
        scanner: &mut Scanner<'a>,
        shape: &mut Option<&'static str>,
    ) -> Result<(), ScanError> {
        match name {
            "id" => self.id = optional_string(scanner)?,
            "choices" => match scanner.kind()? {
                Kind::Array => {
                    let (choices, summary) = summarize(scanner)?;
                    match summary {
                        Some(summary) => self.choices = Some((choices, summary)),
                        None => drop(
                            shape
                                .get_or_insert("`choices` is malformed: a choice is not an object"),
                        ),
                    }
                }
                Kind::Null => drop(scanner.value()?),
                _ => {
                    scanner.value()?;
                    shape.get_or_insert("`choices` is not an array");
                }
            },
            "usage" => self.usage = read_usage(scanner)?,
            "system_fingerprint" => self.system_fingerprint = optional_string(scanner)?,
            "service_tier" => self.service_tier = optional_string(scanner)?,
            "error" => {
                let error = scanner.value()?;
                self.error = (!error.is_null()).then_some(error);
            }
            _ => drop(scanner.value()?),
        }
        Ok(())
    }

    fn checked(self, shape: Option<&'static str>) -> Result<Self, ReadError> {
        match shape {
            Some(why) => Err(ReadError::Shape(why)),
            None => Ok(self),
        }
    }
}

/// The start of the last stream chunk read, up to the end of the members before its first
/// `choices`, `usage` or `error` (`{"id":…,"object":…,"created":…,"model":…`), which the stream
/// does not read. Providers repeat those bytes in every chunk of a stream; once a chunk has
/// been checked whole, the next one that starts with the same bytes is read from where they
/// end ([`Scanner::resume`]), which reads it exactly as from the start would.
#[derive(Debug, Default)]
pub(crate) struct SeenPrefix {
    bytes: Vec<u8>,
}

impl SeenPrefix {
    /// How many bytes are remembered.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.bytes.len()
    }
}

/// A string member; anything else reads as absent.
fn optional_string<'a>(scanner: &mut Scanner<'a>) -> Result<Option<Cow<'a, str>>, ScanError> {
    if scanner.kind()? == Kind::String {
        scanner.string().map(Some)
    } else {
        scanner.value().map(|_| None)
    }
}

/// `usage` in OpenAI's shape, or `None` when it is not an object. Counts that are missing,
/// `null` or not numbers read as zero; negatives are zero and fractions are truncated.
fn read_usage(scanner: &mut Scanner<'_>) -> Result<Option<Usage>, ScanError> {
    if scanner.kind()? != Kind::Object {
        return scanner.value().map(|_| None);
    }
    let mut usage = Usage::default();
    scanner.object(|name, scanner| {
        match name.as_ref() {
            "prompt_tokens" => usage.prompt_tokens = count(scanner)?,
            "completion_tokens" => usage.completion_tokens = count(scanner)?,
            "total_tokens" => usage.total_tokens = count(scanner)?,
            "prompt_tokens_details" => details(scanner, |name, scanner| {
                match name.as_ref() {
                    "cached_tokens" => usage.cached_tokens = count(scanner)?,
                    "cache_write_tokens" => usage.cache_write_tokens = count(scanner)?,
                    _ => drop(scanner.value()?),
                }
                Ok(())
            })?,
            "completion_tokens_details" => details(scanner, |name, scanner| {
                match name.as_ref() {
                    "reasoning_tokens" => usage.reasoning_tokens = count(scanner)?,
                    _ => drop(scanner.value()?),
                }
                Ok(())
            })?,
            _ => drop(scanner.value()?),
        }
        Ok(())
    })?;
    Ok(Some(usage))
}

/// An object of details, read member by member; anything else is skipped.
fn details<'a>(
    scanner: &mut Scanner<'a>,
    member: impl FnMut(Cow<'a, str>, &mut Scanner<'a>) -> Result<(), ScanError>,
) -> Result<(), ScanError> {
    if scanner.kind()? == Kind::Object {
        scanner.object(member)
    } else {
        scanner.value().map(drop)
    }
}

/// A token count: a non-negative integer; other values read as zero, a fraction is truncated
/// and a count too large for 64 bits saturates.
fn count(scanner: &mut Scanner<'_>) -> Result<u64, ScanError> {
    if scanner.kind()? != Kind::Number {
        return scanner.value().map(|_| 0);
    }
    let text = scanner.number()?;
    if text.starts_with('-') {
        return Ok(0);
    }
    if text.bytes().all(|byte| byte.is_ascii_digit()) {
        return Ok(text.parse().unwrap_or(u64::MAX));
    }
    // `as` saturates.
    Ok(text.parse::<f64>().map_or(0, |value| value as u64))
}

/// What the stream and the response need to know about `choices`.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct ChoicesSummary<'a> {
    /// The first non-null `finish_reason`, as the provider wrote it.
    pub(crate) finish_reason: Option<Cow<'a, str>>,
    /// Whether some `delta` carries output (content, tool calls, reasoning, a refusal, audio).
    pub(crate) has_output: bool,
    /// Each string `finish_reason`: where its value is, as a slice of the text, and whether
    /// its choice already has a `native_finish_reason`.
    pub(crate) finishes: Vec<(Json<'a>, bool)>,
    /// A choice lacks `index`, or a `message` lacks `role`: the choices are rebuilt.
    pub(crate) incomplete: bool,
    /// A `message` or `delta` carries reasoning.
    pub(crate) has_reasoning: bool,
}

/// The members of a message or delta that hold reasoning.
const REASONING_MEMBERS: &[&str] = &["reasoning", "reasoning_content", "reasoning_details"];

/// `choices` in OpenRouter's shape: each string `finish_reason` normalized with the provider's
/// value added as `native_finish_reason` (spliced in, so the rest stays the provider's bytes),
/// and, only when needed, rebuilt: a choice without `index` or a message without `role` gets
/// them, and `exclude_reasoning` removes the reasoning members.
#[inline]
pub(crate) fn normalized(
    choices: Json<'_>,
    summary: &ChoicesSummary<'_>,
    exclude_reasoning: bool,
) -> RawJson {
    let rebuild = summary.incomplete || (exclude_reasoning && summary.has_reasoning);
    if !rebuild && summary.finishes.is_empty() {
        // Every chunk but the last: copied as the provider wrote it.
        return RawJson::from(choices);
    }
    normalized_slowly(choices, summary, rebuild, exclude_reasoning)
}

/// [`normalized`] for the chunk with the finish, and for choices to rebuild.
#[cold]
#[inline(never)]
fn normalized_slowly(
    choices: Json<'_>,
    summary: &ChoicesSummary<'_>,
    rebuild: bool,
    exclude_reasoning: bool,
) -> RawJson {
    if rebuild {
        return rebuilt(choices, exclude_reasoning).unwrap_or_else(|| RawJson::from(choices));
    }
    let text = choices.get();
    let mut out = String::with_capacity(text.len() + 48 * summary.finishes.len());
    let mut copied = 0;
    for (span, has_native) in &summary.finishes {
        let start = span.get().as_ptr() as usize - text.as_ptr() as usize;
        let end = start + span.get().len();
        let native: Cow<'_, str> = serde_json::from_str(span.get()).unwrap_or_default();
        out.push_str(&text[copied..start]);
        out.push('"');
        out.push_str(FinishReason::normalize(&native).as_str());
        out.push('"');
        if !has_native {
            out.push_str(",\"native_finish_reason\":");
            out.push_str(span.get());
        }
        copied = end;
    }
    out.push_str(&text[copied..]);
    RawJson::parse(&out).unwrap_or_else(|_| RawJson::from(choices))
}

/// The slow path of [`normalized`], for the rare answer that needs more than a splice.
fn rebuilt(choices: Json<'_>, exclude_reasoning: bool) -> Option<RawJson> {
    use serde_json::Value;
    let mut value: Value = serde_json::from_str(choices.get()).ok()?;
    for (idx, choice) in value.as_array_mut()?.iter_mut().enumerate() {
        let choice = choice.as_object_mut()?;
        choice.entry("index").or_insert(Value::from(idx));
        if let Some(Value::Object(message)) = choice.get_mut("message") {
            message
                .entry("role")
                .or_insert(Value::String("assistant".to_owned()));
        }
        if exclude_reasoning {
            for member in ["message", "delta"] {
                if let Some(Value::Object(message)) = choice.get_mut(member) {
                    for name in REASONING_MEMBERS {
                        message.remove(*name);
                    }
                }
            }
        }
        if let Some(Value::String(native)) = choice.get("finish_reason").cloned() {
            choice.insert(
                "finish_reason".to_owned(),
                Value::String(FinishReason::normalize(&native).as_str().to_owned()),
            );
            choice
                .entry("native_finish_reason")
                .or_insert(Value::String(native));
        }
    }
    RawJson::parse(&value.to_string()).ok()
}

/// Reads `choices` (an array) for its finish reason and output; returns its text with the
/// summary, which is `None` when a choice is not an object.
fn summarize<'a>(
    scanner: &mut Scanner<'a>,
) -> Result<(Json<'a>, Option<ChoicesSummary<'a>>), ScanError> {
    let mut summary = ChoicesSummary::default();
    let mut malformed = false;
    let (choices, ()) = scanner.spanned(|scanner| {
        scanner.array(|scanner| {
            if scanner.kind()? != Kind::Object {
                malformed = true;
                return scanner.value().map(drop);
            }
            let mut has_index = false;
            let mut has_native = false;
            let mut finish = None;
            scanner.object(|name, scanner| {
                match name.as_ref() {
                    "index" => {
                        has_index = true;
                        scanner.value()?;
                    }
                    "native_finish_reason" => {
                        has_native = true;
                        scanner.value()?;
                    }
                    // Every chunk but the last: nothing to keep.
                    "finish_reason" if scanner.kind()? == Kind::Null => drop(scanner.value()?),
                    "finish_reason" => {
                        let (span, reason) = scanner.spanned(optional_string)?;
                        if reason.is_some() {
                            finish = Some(span);
                        }
                        if summary.finish_reason.is_none() {
                            summary.finish_reason = reason;
                        }
                    }
                    "delta" if scanner.kind()? == Kind::Object => {
                        scanner.object(|name, scanner| {
                            let value = scanner.value()?;
                            let (output, reasoning) = delta_member(&name);
                            if output && !matches!(value.get(), "null" | "\"\"" | "[]" | "{}") {
                                summary.has_output = true;
                                summary.has_reasoning |= reasoning;
                            }
                            Ok(())
                        })?;
                    }
                    "message" if scanner.kind()? == Kind::Object => {
                        let mut has_role = false;
                        scanner.object(|name, scanner| {
                            let value = scanner.value()?;
                            has_role |= name == "role";
                            summary.has_reasoning |=
                                REASONING_MEMBERS.contains(&name.as_ref()) && !value.is_null();
                            Ok(())
                        })?;
                        summary.incomplete |= !has_role;
                    }
                    _ => drop(scanner.value()?),
                }
                Ok(())
            })?;
            summary.incomplete |= !has_index;
            if let Some(span) = finish {
                summary.finishes.push((span, has_native));
            }
            Ok(())
        })
    })?;
    Ok((choices, (!malformed).then_some(summary)))
}

/// Whether a stream delta's member `name` counts as output (content, tool calls, reasoning, a
/// refusal, audio), and whether it is reasoning (one of [`REASONING_MEMBERS`]).
fn delta_member(name: &str) -> (bool, bool) {
    match name {
        "content" | "tool_calls" | "refusal" | "audio" => (true, false),
        "reasoning" | "reasoning_content" | "reasoning_details" => (true, true),
        _ => (false, false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reasoning_members_of_a_delta_are_output_and_reasoning() {
        for name in REASONING_MEMBERS {
            assert_eq!(delta_member(name), (true, true), "{name}");
        }
        for name in ["content", "tool_calls", "refusal", "audio"] {
            assert_eq!(delta_member(name), (true, false), "{name}");
        }
        for name in ["role", "index", "Content", ""] {
            assert_eq!(delta_member(name), (false, false), "{name}");
        }
    }

    /// What a chunk with these `choices` reads as.
    fn summary_of(choices: &str) -> ChoicesSummary<'_> {
        let mut scanner = Scanner::new(choices);
        let (text, summary) = summarize(&mut scanner).unwrap();
        assert_eq!(text.get(), choices);
        summary.unwrap()
    }

    #[test]
    fn reads_usage_ids_and_finish_reason() {
        let body = br#"{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"gpt","system_fingerprint":"fp_1","service_tier":"default","choices":[{"index":0,"message":{"role":"assistant","content":"Hi \"there\""},"finish_reason":"length"}],"usage":{"prompt_tokens":12,"completion_tokens":5,"total_tokens":17,"prompt_tokens_details":{"cached_tokens":8,"cache_write_tokens":2,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":3}}}"#;
        let response = parse_response(body, false).unwrap();
        assert_eq!(response.upstream_id.as_deref(), Some("chatcmpl-1"));
        assert_eq!(response.system_fingerprint.as_deref(), Some("fp_1"));
        assert_eq!(response.service_tier.as_deref(), Some("default"));
        assert_eq!(response.finish_reason, Some(FinishReason::Length));
        assert_eq!(
            response.choices.get(),
            r#"[{"index":0,"message":{"role":"assistant","content":"Hi \"there\""},"finish_reason":"length","native_finish_reason":"length"}]"#
        );
        assert_eq!(
            response.usage,
            Usage {
                prompt_tokens: 12,
                completion_tokens: 5,
                total_tokens: 17,
                cached_tokens: 8,
                cache_write_tokens: 2,
                reasoning_tokens: 3,
            }
        );
    }

    #[test]
    fn missing_or_odd_usage_counts_read_as_zero() {
        let body = br#"{"choices":[{"finish_reason":"tool_calls","message":{}}],"usage":{"prompt_tokens":4,"completion_tokens":null,"total_tokens":4.0,"prompt_tokens_details":null,"completion_tokens_details":{"reasoning_tokens":-1}}}"#;
        let response = parse_response(body, false).unwrap();
        assert_eq!(response.finish_reason, Some(FinishReason::ToolCalls));
        assert_eq!(
            response.usage,
            Usage {
                prompt_tokens: 4,
                total_tokens: 4,
                ..Usage::default()
            }
        );
        let response = parse_response(br#"{"choices":[]}"#, false).unwrap();
        assert_eq!(response.usage, Usage::default());
        assert_eq!(response.finish_reason, None);
        assert_eq!(response.upstream_id, None);
    }

    #[test]
    fn members_of_another_type_read_as_absent() {
        let body = br#"{"id":5,"choices":[{"finish_reason":7,"message":{}}],"usage":"lots","system_fingerprint":["x"],"service_tier":null,"error":null}"#;
        let response = parse_response(body, false).unwrap();
        assert_eq!(response.upstream_id, None);
        assert_eq!(response.finish_reason, None);
        assert_eq!(response.usage, Usage::default());
        assert_eq!(response.system_fingerprint, None);
        assert_eq!(response.service_tier, None);
        let body = br#"{"choices":[],"usage":{"prompt_tokens":1e3,"completion_tokens":99999999999999999999999,"total_tokens":-0.5,"prompt_tokens_details":{"cached_tokens":"2"}}}"#;
        let usage = parse_response(body, false).unwrap().usage;
        assert_eq!(usage.prompt_tokens, 1000);
        assert_eq!(usage.completion_tokens, u64::MAX);
        assert_eq!(usage.total_tokens, 0);
        assert_eq!(usage.cached_tokens, 0);
    }

    #[test]
    fn rejects_bodies_that_are_not_completions() {
        for body in [
            &b"<html>bad gateway</html>"[..],
            b"",
            b"{\"id\":\"x\"}",
            b"{\"choices\":null}",
            b"{\"choices\":{\"0\":1}}",
            b"[1,2]",
            b"{\"choices\":[1]}",
            b"{\"choices\":[{\"message\":{}}]} trailing",
            b"{\"choices\":[{\"message\":{\"content\":\"cut",
        ] {
            assert!(
                matches!(parse_response(body, false), Err(BodyProblem::Invalid(_))),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn an_error_object_in_a_2xx_body_is_an_error() {
        let body = br#"{"error":{"message":"Rate limit reached","type":"requests","code":"rate_limit_exceeded"}}"#;
        let Err(BodyProblem::Error(error)) = parse_response(body, false) else {
            panic!("expected an error");
        };
        assert_eq!(error.message.as_deref(), Some("Rate limit reached"));
        assert_eq!(error.code.as_deref(), Some("rate_limit_exceeded"));
    }

    #[test]
    fn output_is_content_tool_calls_reasoning_or_refusal() {
        let cases = [
            (r#"[{"delta":{"role":"assistant","content":""}}]"#, false),
            (r#"[{"delta":{"content":null,"tool_calls":[]}}]"#, false),
            (r#"[]"#, false),
            (r#"[{"delta":{},"finish_reason":"stop"}]"#, false),
            (r#"[{"delta":{"content":"a"}}]"#, true),
            (r#"[{"delta":{"content":"\n"}}]"#, true),
            (r#"[{"delta":{"tool_calls":[{"index":0}]}}]"#, true),
            (r#"[{"delta":{"reasoning":"hmm"}}]"#, true),
            (r#"[{"delta":{"reasoning_content":"hmm"}}]"#, true),
            (r#"[{"delta":{"refusal":"no"}}]"#, true),
            (r#"[{"delta":{}},{"delta":{"content":"b"}}]"#, true),
        ];
        for (choices, expected) in cases {
            let summary = summary_of(choices);
            assert_eq!(summary.has_output, expected, "{choices}");
        }
    }

    #[test]
    fn finish_reason_is_the_first_non_null_one() {
        let summary = summary_of(
            r#"[{"delta":{},"finish_reason":null},{"delta":{},"finish_reason":"end_turn"}]"#,
        );
        assert_eq!(summary.finish_reason.as_deref(), Some("end_turn"));
    }

    #[test]
    fn finish_reasons_are_normalized_in_place_and_the_native_one_kept() {
        let body = br#"{"choices":[{"index":0,"message":{"role":"assistant","content":"caf\u00e9"},"finish_reason":"max_tokens"},{"index":1,"message":{"role":"assistant","content":"x"},"finish_reason":"stop","native_finish_reason":"end_turn"}]}"#;
        let response = parse_response(body, false).unwrap();
        assert_eq!(response.finish_reason, Some(FinishReason::Length));
        assert_eq!(
            response.choices.get(),
            r#"[{"index":0,"message":{"role":"assistant","content":"caf\u00e9"},"finish_reason":"length","native_finish_reason":"max_tokens"},{"index":1,"message":{"role":"assistant","content":"x"},"finish_reason":"stop","native_finish_reason":"end_turn"}]"#
        );
    }

    #[test]
    fn missing_index_or_role_and_excluded_reasoning_rebuild_the_choices() {
        let body = br#"{"choices":[{"message":{"content":"Hi","reasoning":"hmm"},"finish_reason":"end_turn"}]}"#;
        let choices: serde_json::Value =
            serde_json::from_str(parse_response(body, true).unwrap().choices.get()).unwrap();
        assert_eq!(
            choices,
            serde_json::json!([{"index":0,"message":{"role":"assistant","content":"Hi"},"finish_reason":"stop","native_finish_reason":"end_turn"}])
        );
        let complete = br#"{"choices":[{"index":0,"message":{"role":"assistant","content":"Hi","reasoning":"hmm"},"finish_reason":null}]}"#;
        let kept = parse_response(complete, false).unwrap();
        assert_eq!(
            kept.choices.get(),
            r#"[{"index":0,"message":{"role":"assistant","content":"Hi","reasoning":"hmm"},"finish_reason":null}]"#
        );
    }
}
