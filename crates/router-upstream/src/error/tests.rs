//! Tests for error classification, client mapping, `Retry-After` and scrubbing.

use std::time::{Duration, SystemTime};

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, HeaderValue};
use router_core::fallback::FailureClass;

use super::*;

const KEY: &str = "sk-secret-key-123";

fn error_for(status: u16, body: &str) -> UpstreamError {
    from_response(
        "acme",
        &Scrubber::new(KEY),
        Some(StatusCode::from_u16(status).unwrap()),
        None,
        body.as_bytes(),
    )
}

fn openai_error(message: &str, kind: &str, code: &str) -> String {
    serde_json::json!({"error": {"message": message, "type": kind, "code": code}}).to_string()
}

#[test]
fn classifies_http_errors() {
    let context = openai_error(
        "This model's maximum context length is 8192 tokens. However, your messages resulted in 9000 tokens.",
        "invalid_request_error",
        "context_length_exceeded",
    );
    let cases: &[(u16, &str, FailureClass)] = &[
        (429, "{}", FailureClass::RateLimited),
        (400, &context, FailureClass::ContextLength),
        (
            400,
            r#"{"error":{"message":"prompt is too long: 300000 tokens > 200000 maximum","type":"invalid_request_error"}}"#,
            FailureClass::ContextLength,
        ),
        (
            400,
            r#"{"error":{"message":"Too many tokens in request"}}"#,
            FailureClass::ContextLength,
        ),
        (
            413,
            r#"{"error":{"code":"context_length_exceeded"}}"#,
            FailureClass::ContextLength,
        ),
        (
            400,
            r#"{"error":{"message":"Your request was flagged by our moderation system","code":"content_policy_violation"}}"#,
            FailureClass::Moderation,
        ),
        (
            403,
            r#"{"error":{"code":403,"message":"Input was flagged","metadata":{"reasons":["violence"]}}}"#,
            FailureClass::Moderation,
        ),
        (
            403,
            r#"{"error":{"message":"You are not allowed to sample from this model"}}"#,
            FailureClass::Auth,
        ),
        (
            401,
            &openai_error(
                "Incorrect API key provided",
                "invalid_request_error",
                "invalid_api_key",
            ),
            FailureClass::Auth,
        ),
        (
            402,
            r#"{"error":{"message":"Insufficient credits"}}"#,
            FailureClass::Auth,
        ),
        (
            404,
            &openai_error(
                "The model `gpt-9` does not exist",
                "invalid_request_error",
                "model_not_found",
            ),
            FailureClass::NotFound,
        ),
        (408, "", FailureClass::Timeout),
        (504, "<html>gateway timeout</html>", FailureClass::Timeout),
        (
            500,
            r#"{"error":{"message":"The server had an error","type":"server_error"}}"#,
            FailureClass::Unavailable,
        ),
        (502, "bad gateway", FailureClass::Unavailable),
        (503, "", FailureClass::Unavailable),
        (
            529,
            r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
            FailureClass::Unavailable,
        ),
        (
            400,
            &openai_error(
                "Invalid value for 'temperature'",
                "invalid_request_error",
                "invalid_value",
            ),
            FailureClass::BadRequest,
        ),
        (
            422,
            r#"{"detail":"unprocessable"}"#,
            FailureClass::BadRequest,
        ),
        (409, "", FailureClass::BadRequest),
        (302, "", FailureClass::InvalidResponse),
    ];
    for (status, body, expected) in cases {
        let err = error_for(*status, body);
        assert_eq!(err.class, *expected, "{status} {body}");
        assert_eq!(err.status, Some(*status));
    }
}

#[test]
fn classifies_errors_without_a_status_by_code() {
    let cases = [
        (
            r#"{"code":429,"message":"Rate limit exceeded"}"#,
            FailureClass::RateLimited,
        ),
        (
            r#"{"code":502,"message":"upstream died"}"#,
            FailureClass::Unavailable,
        ),
        (
            r#"{"message":"slow down","type":"rate_limit_error"}"#,
            FailureClass::RateLimited,
        ),
        (
            r#"{"message":"x","code":"context_length_exceeded"}"#,
            FailureClass::ContextLength,
        ),
        (
            r#"{"message":"Overloaded","type":"overloaded_error"}"#,
            FailureClass::Unavailable,
        ),
        (
            r#"{"message":"x","type":"server_error"}"#,
            FailureClass::Unavailable,
        ),
        (r#"{"message":"request timed out"}"#, FailureClass::Timeout),
        (
            r#"{"message":"bad","type":"invalid_request_error"}"#,
            FailureClass::BadRequest,
        ),
        (r#""something broke""#, FailureClass::Unavailable),
    ];
    for (member, expected) in cases {
        let value: serde_json::Value = serde_json::from_str(member).unwrap();
        let parsed = ProviderErrorBody::from_error_member(&value);
        assert_eq!(classify(None, &parsed), expected, "{member}");
    }
}

#[test]
fn reads_code_and_message_from_the_body() {
    let err = error_for(
        400,
        &openai_error("Bad temperature", "invalid_request_error", "invalid_value"),
    );
    assert_eq!(err.provider_code.as_deref(), Some("invalid_value"));
    assert_eq!(err.provider_message.as_deref(), Some("Bad temperature"));
    assert_eq!(err.detail, "Bad temperature");

    let err = error_for(
        503,
        r#"{"error":{"message":"busy","type":"overloaded_error"}}"#,
    );
    assert_eq!(err.provider_code.as_deref(), Some("overloaded_error"));

    let err = error_for(500, "<html>oops</html>");
    assert_eq!(err.provider_code, None);
    assert_eq!(err.provider_message, None);
    assert_eq!(err.detail, "<html>oops</html>");
}

#[test]
fn maps_each_kind_for_our_clients() {
    let with = |kind, status: Option<u16>| {
        let mut err = UpstreamError::new("acme", kind, "");
        err.status = status;
        err
    };
    let cases = [
        (
            FailureClass::RateLimited,
            Some(429),
            429,
            "rate_limit_exceeded",
            Fault::Upstream,
        ),
        (
            FailureClass::ContextLength,
            Some(400),
            400,
            "context_length_exceeded",
            Fault::Client,
        ),
        (
            FailureClass::Moderation,
            Some(403),
            403,
            "content_policy_violation",
            Fault::Client,
        ),
        (
            FailureClass::Unavailable,
            Some(500),
            502,
            "provider_unavailable",
            Fault::Upstream,
        ),
        (
            FailureClass::Unavailable,
            Some(503),
            503,
            "provider_overloaded",
            Fault::Upstream,
        ),
        (
            FailureClass::Unavailable,
            Some(529),
            503,
            "provider_overloaded",
            Fault::Upstream,
        ),
        (FailureClass::Timeout, None, 408, "timeout", Fault::Upstream),
        (
            FailureClass::Connect,
            None,
            502,
            "provider_unavailable",
            Fault::Upstream,
        ),
        (
            FailureClass::Auth,
            Some(401),
            401,
            "authentication",
            Fault::Internal,
        ),
        (
            FailureClass::Auth,
            Some(402),
            402,
            "payment_required",
            Fault::Internal,
        ),
        (
            FailureClass::Auth,
            Some(403),
            502,
            "provider_unavailable",
            Fault::Internal,
        ),
        (
            FailureClass::BadRequest,
            Some(400),
            400,
            "invalid_request",
            Fault::Client,
        ),
        (
            FailureClass::NotFound,
            Some(404),
            502,
            "provider_unavailable",
            Fault::Internal,
        ),
        (
            FailureClass::InvalidResponse,
            Some(200),
            502,
            "provider_unavailable",
            Fault::Upstream,
        ),
        (
            FailureClass::StreamInterrupted,
            None,
            502,
            "provider_unavailable",
            Fault::Upstream,
        ),
        (
            FailureClass::Unsupported,
            None,
            404,
            "not_found",
            Fault::Client,
        ),
    ];
    for (kind, status, client_status, error_type, fault) in cases {
        let err = with(kind, status);
        assert_eq!(err.client_status(), client_status, "{kind}");
        assert_eq!(err.error_type(), error_type, "{kind}");
        assert_eq!(err.fault(), fault, "{kind}");
    }
    let mut overloaded = with(FailureClass::Unavailable, Some(500));
    overloaded.provider_code = Some("overloaded_error".to_owned());
    assert_eq!(overloaded.client_status(), 503);
}

#[test]
fn client_message_shows_the_providers_words_only_for_client_errors() {
    let err = error_for(
        400,
        &openai_error(
            &format!("maximum context length is 10 tokens (key {KEY})"),
            "invalid_request_error",
            "context_length_exceeded",
        ),
    );
    assert_eq!(
        err.client_message(),
        "maximum context length is 10 tokens (key ***)"
    );

    let err = error_for(
        500,
        r#"{"error":{"message":"db at 10.0.0.5:5432 is down","type":"server_error"}}"#,
    );
    assert_eq!(err.client_message(), "the provider is unavailable");
    assert!(
        err.detail.contains("10.0.0.5"),
        "the detail keeps it for logs"
    );

    let err = error_for(
        401,
        &openai_error(
            &format!("Incorrect API key provided: {KEY}"),
            "x",
            "invalid_api_key",
        ),
    );
    assert!(!err.client_message().contains("API key provided"));

    let mut err = error_for(429, "{}");
    err.retry_after = Some(Duration::from_millis(2500));
    assert_eq!(
        err.client_message(),
        "the provider is rate limited; retry after 3 seconds"
    );
}

#[test]
fn the_key_never_survives_into_an_error() {
    let body = format!(r#"{{"error":{{"message":"bad key {KEY}","type":"auth","code":"{KEY}"}}}}"#);
    for status in [400, 401, 403, 429, 500] {
        let err = error_for(status, &body);
        let shown = format!("{err} {err:?} {} {}", err.client_message(), err.detail);
        assert!(!shown.contains(KEY), "{shown}");
    }
    let err = error_for(500, &format!("<html>{KEY}</html>"));
    assert!(!format!("{err:?}").contains(KEY));
}

#[test]
fn display_names_provider_kind_and_status() {
    let err = error_for(503, r#"{"error":{"message":"try later"}}"#);
    assert_eq!(
        err.to_string(),
        "provider `acme`: unavailable (HTTP 503): try later"
    );
    let err = UpstreamError::new("acme", FailureClass::Connect, "connection refused");
    assert_eq!(
        err.to_string(),
        "provider `acme`: connect: connection refused"
    );
}

#[test]
fn scrubber_truncates_on_a_char_boundary() {
    let long = "é".repeat(1000);
    let clean = Scrubber::new("").clean(&long);
    assert!(clean.len() <= MAX_DETAIL_BYTES + '…'.len_utf8());
    assert!(clean.ends_with('…'));
    assert!(clean.starts_with("éé"));
    // The key is removed before truncating, so no prefix of it is left at the cut.
    let text = format!("{}{KEY}", "a".repeat(MAX_DETAIL_BYTES - 4));
    assert!(!Scrubber::new(KEY).clean(&text).contains("sk-s"));
}

#[test]
fn reads_retry_after_in_every_form() {
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let headers = |pairs: &[(&'static str, &str)]| {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    };
    type Case<'a> = (&'a [(&'static str, &'a str)], Option<Duration>);
    let cases: &[Case<'_>] = &[
        (&[("retry-after", "7")], Some(Duration::from_secs(7))),
        (&[("retry-after", "1.5")], Some(Duration::from_millis(1500))),
        (
            &[("retry-after-ms", "250"), ("retry-after", "9")],
            Some(Duration::from_millis(250)),
        ),
        (
            &[(
                "retry-after",
                &httpdate::fmt_http_date(now + Duration::from_secs(30)),
            )],
            Some(Duration::from_secs(30)),
        ),
        (
            &[(
                "retry-after",
                &httpdate::fmt_http_date(now - Duration::from_secs(30)),
            )],
            Some(Duration::ZERO),
        ),
        (&[("retry-after", "soon")], None),
        (&[("retry-after", "-3")], None),
        (&[], None),
    ];
    for (pairs, expected) in cases {
        assert_eq!(retry_after(&headers(pairs), now), *expected, "{pairs:?}");
    }
}

#[test]
fn scrubber_removes_the_key_in_any_letter_case() {
    let scrubber = Scrubber::new(KEY);
    let upper = KEY.to_ascii_uppercase();
    let mixed: String = KEY
        .chars()
        .enumerate()
        .map(|(idx, c)| match idx % 2 {
            0 => c.to_ascii_uppercase(),
            _ => c,
        })
        .collect();
    for text in [
        format!("bad key {upper}"),
        format!("{mixed}!"),
        format!("{KEY}{upper}{mixed}"),
        format!("é {upper} é {KEY}"),
    ] {
        let clean = scrubber.clean(&text);
        assert!(
            !clean.to_ascii_lowercase().contains(KEY),
            "{text} -> {clean}"
        );
        assert!(clean.contains("***"), "{clean}");
    }
    assert_eq!(
        scrubber.clean("é bad key SK-SECRET-KEY-123 é"),
        "é bad key *** é"
    );
    assert_eq!(scrubber.clean("sk-secret-key-12"), "sk-secret-key-12");
    assert_eq!(Scrubber::new("").clean("SK-anything"), "SK-anything");
}

#[test]
fn a_provider_error_echoing_the_key_upper_cased_keeps_no_trace_of_it() {
    let upper = KEY.to_ascii_uppercase();
    let body = openai_error(
        &format!("Incorrect API key provided: {upper}."),
        "invalid_request_error",
        &upper,
    );
    for status in [400, 401] {
        let err = error_for(status, &body);
        let shown = format!("{err} {err:?} {}", err.client_message()).to_ascii_lowercase();
        assert!(!shown.contains(KEY), "{shown}");
        assert_eq!(
            err.provider_message.as_deref(),
            Some("Incorrect API key provided: ***.")
        );
    }
    let err = error_for(500, &format!("<html>{upper}</html>"));
    assert_eq!(err.detail, "<html>***</html>");
}
