//! A generated table of bad requests, each sent over a raw socket on its own connection and
//! followed by a pipelined `GET /smuggled` that asks to close: every one is answered with a 4xx
//! (but two, see [`Answer::ChunkedWinsThenClose`]), and the connection is left in a defined
//! state, checked on the wire:
//!
//! - [`Answer::ApiKeepAlive`]: a request framed correctly whose body is not a valid chat
//!   request: a 400 in OpenRouter's error shape (`error.code` equal to the status, JSON content
//!   type, `error.metadata.error_type`); the connection stays open, so the pipelined request is
//!   the next request and gets its own 404, then the close it asked for;
//! - [`Answer::Api`]: a head the router refuses (no `Host`, two `Host` or `Authorization`
//!   headers, another coding than one `chunked`, no key, a body over the limit) or a body it
//!   cannot read (bad chunk sizes, oversized trailers): the error in the API's shape, then the
//!   close, and the pipelined request is never served;
//! - [`Answer::Bare`]: a head hyper cannot parse: the 4xx status line and no body (hyper answers
//!   before any handler runs, so there is no JSON), then the close, nothing served after it.

use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::support::{CLIENT_KEY, Gateway};

/// How a case must be answered.
#[derive(Debug, Clone, Copy)]
enum Answer {
    /// In the API's error shape with this status.
    Api(u16),
    /// With a 4xx status line and no body, by hyper.
    Bare,
    /// In the API's error shape with this status, the request having been read whole: the
    /// connection stays open, so the pipelined request that follows is a request of its own and
    /// is answered (404) before the close it asks for.
    ApiKeepAlive(u16),
    /// `Content-Length` with `Transfer-Encoding: chunked`: hyper reads the body as chunked and
    /// drops the length (RFC 9112, section 6.3), answers, and closes the connection.
    ChunkedWinsThenClose,
}

/// One bad request.
struct Case {
    name: String,
    bytes: Vec<u8>,
    answer: Answer,
}

const SMUGGLED: &[u8] = b"GET /smuggled HTTP/1.1\r\nhost: a\r\nconnection: close\r\n\r\n";

/// A chat request carrying `body` (raw bytes) with its length.
fn chat_bytes(body: &[u8]) -> Vec<u8> {
    let mut bytes = format!(
        "POST /api/v1/chat/completions HTTP/1.1\r\nhost: turnout\r\n\
         authorization: Bearer {CLIENT_KEY}\r\ncontent-type: application/json\r\n\
         content-length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

/// A valid request body with `field` set to `value` (raw JSON).
fn with_field(field: &str, value: &str) -> String {
    let mut base = vec![
        ("model", r#""test/one""#.to_owned()),
        (
            "messages",
            r#"[{"role":"user","content":"Hello"}]"#.to_owned(),
        ),
    ];
    match base.iter_mut().find(|(key, _)| *key == field) {
        Some(slot) => slot.1 = value.to_owned(),
        None => base.push((field_static(field), value.to_owned())),
    }
    let members: Vec<String> = base
        .iter()
        .map(|(key, value)| format!("\"{key}\":{value}"))
        .collect();
    format!("{{{}}}", members.join(","))
}

fn field_static(field: &str) -> &'static str {
    Box::leak(field.to_owned().into_boxed_str())
}

/// Malformed JSON bodies.
fn malformed_json() -> Vec<Case> {
    let bodies: &[&str] = &[
        "",
        " ",
        "{",
        "}",
        "[",
        "[]",
        "null",
        "true",
        "1",
        "\"text\"",
        "{\"model\":}",
        "{\"model\" \"test/one\"}",
        "{,}",
        "{\"model\":\"test/one\",}",
        "{'model':'test/one'}",
        "{model:\"test/one\"}",
        "{\"model\":\"test/one\"",
        "{\"model\":\"test/one\"}x",
        "{}{}",
        "{\"messages\":[}",
        "{\"messages\":[{]}",
        "{\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]]",
        "{\"model\":NaN}",
        "{\"model\":Infinity}",
        "{\"max_tokens\":01}",
        "{\"max_tokens\":-}",
        "{\"max_tokens\":1.}",
        "{\"max_tokens\":.5}",
        "{\"max_tokens\":1e}",
        "// comment\n{}",
        "{\"model\":\"test/one\" /* c */}",
        "{\"model\":\"a\nb\"}",
        "{\"model\":\"\\x41\"}",
        "{\"model\":\"\\u12\"}",
        "{\"model\":\"\\\"}",
        "{\"a\":[1,2,]}",
        "\u{feff}{}",
        "{\"model\":\"test/one\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],}",
        "{\"model\":tru}",
        "{\"model\":nul}",
    ];
    let mut cases: Vec<Case> = bodies
        .iter()
        .map(|body| Case {
            name: format!("malformed JSON {body:?}"),
            bytes: chat_bytes(body.as_bytes()),
            answer: Answer::ApiKeepAlive(400),
        })
        .collect();
    // A valid body cut short anywhere is not JSON.
    let valid = with_field("model", "\"test/one\"");
    for end in (1..valid.len()).step_by(3) {
        cases.push(Case {
            name: format!("a body cut after {end} bytes"),
            bytes: chat_bytes(&valid.as_bytes()[..end]),
            answer: Answer::ApiKeepAlive(400),
        });
    }
    cases
}

/// Every field the router reads, with values of every wrong type.
fn wrong_types() -> Vec<Case> {
    let string = &["1", "true", "[]", "{}", "[\"test/one\"]"][..];
    let boolean = &["1", "\"true\"", "[]", "{}", "0"][..];
    let positive_int = &["\"5\"", "true", "[]", "{}", "-1", "0", "1.5", "1e400"][..];
    let array = &["1", "\"x\"", "true", "{}"][..];
    let object = &["1", "\"x\"", "true", "[]"][..];
    let fields: &[(&str, &[&str])] = &[
        ("model", string),
        (
            "models",
            &["1", "\"test/one\"", "true", "{}", "[1]", "[null]", "[[]]"],
        ),
        (
            "messages",
            &[
                "null",
                "1",
                "\"Hello\"",
                "true",
                "{}",
                "[]",
                "[1]",
                "[\"Hello\"]",
                "[null]",
                "[[]]",
                "[{}]",
                "[{\"content\":\"Hi\"}]",
                "[{\"role\":1,\"content\":\"Hi\"}]",
                "[{\"role\":\"wizard\",\"content\":\"Hi\"}]",
                "[{\"role\":\"user\",\"content\":1}]",
                "[{\"role\":\"user\",\"content\":true}]",
                "[{\"role\":\"user\",\"content\":{}}]",
                "[{\"role\":\"user\",\"content\":[1]}]",
            ],
        ),
        ("stream", boolean),
        ("session_id", string),
        ("provider", object),
        ("plugins", array),
        (
            "fallback_policy",
            &["1", "true", "{}", "[1]", "\"sometimes\""],
        ),
        ("max_tokens", positive_int),
        ("max_completion_tokens", positive_int),
        ("tools", array),
        ("response_format", object),
    ];
    let mut cases = Vec::new();
    for (field, values) in fields {
        for value in *values {
            cases.push(Case {
                name: format!("{field}: {value}"),
                bytes: chat_bytes(with_field(field, value).as_bytes()),
                answer: Answer::ApiKeepAlive(400),
            });
        }
    }
    cases
}

/// Deep nesting, bad text encodings, NUL bytes, huge numbers and strings.
fn hostile_values() -> Vec<Case> {
    let mut cases = Vec::new();
    let mut push = |name: &str, body: Vec<u8>, status: u16| {
        cases.push(Case {
            name: name.to_owned(),
            bytes: chat_bytes(&body),
            // A body read whole leaves the connection open; one refused by its length does not.
            answer: match status {
                413 => Answer::Api(status),
                _ => Answer::ApiKeepAlive(status),
            },
        });
    };
    for depth in [200, 1000, 1900] {
        let nested = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        push(
            &format!("{depth} nested arrays in a passed-through field"),
            with_field("metadata_x", &nested).into_bytes(),
            400,
        );
        let objects = format!("{}1{}", "{\"a\":".repeat(depth / 3), "}".repeat(depth / 3));
        push(
            &format!("{depth} nested objects in messages"),
            with_field("messages", &objects).into_bytes(),
            400,
        );
        push(
            &format!("{depth} unclosed arrays"),
            "[".repeat(depth).into_bytes(),
            400,
        );
    }
    let valid = with_field("model", "\"test/one\"");
    for (name, bad) in [
        ("invalid UTF-8 in a string", &b"\xff\xfe"[..]),
        ("a lone continuation byte", b"\x80"),
        ("an overlong encoding", b"\xc0\xaf"),
        ("an encoded surrogate", b"\xed\xa0\x80"),
        ("a truncated sequence", b"\xe2\x82"),
        ("a raw NUL", b"\x00"),
        ("a raw control character", b"\x01"),
        ("a raw tab", b"\t"),
    ] {
        let mut body = valid.replace("Hello", "Hel@lo").into_bytes();
        let at = body.iter().position(|&byte| byte == b'@').unwrap();
        body.splice(at..=at, bad.iter().copied());
        push(name, body, 400);
    }
    for (name, escape) in [
        ("a lone high surrogate", "\\ud800"),
        ("a lone low surrogate", "\\udc00"),
        ("two high surrogates", "\\ud800\\ud800"),
        ("a reversed pair", "\\udc00\\ud800"),
        ("a surrogate in the model id", "MODEL"),
    ] {
        let body = if escape == "MODEL" {
            with_field("model", "\"test/\\ud800one\"")
        } else {
            valid.replace("Hello", &format!("Hel{escape}lo"))
        };
        push(name, body.into_bytes(), 400);
    }
    push(
        "a NUL byte outside strings",
        format!("{valid}\u{0}").into_bytes(),
        400,
    );
    push(
        "a NUL byte between members",
        valid.replacen(',', ",\u{0}", 1).into_bytes(),
        400,
    );
    for number in [
        "1e400",
        "-1e400",
        "99999999999999999999999999",
        "18446744073709551616",
        "-9223372036854775809",
        "1e-400",
        &"9".repeat(3000),
    ] {
        push(
            &format!("max_tokens {}", &number[..number.len().min(30)]),
            with_field("max_tokens", number).into_bytes(),
            400,
        );
    }
    push(
        "a 3000-character model id",
        with_field("model", &format!("\"{}\"", "m".repeat(3000))).into_bytes(),
        400,
    );
    push(
        "a model id of NUL escapes",
        with_field("model", "\"\\u0000\\u0000\"").into_bytes(),
        400,
    );
    push(
        "a body over the limit",
        with_field(
            "messages",
            &format!(
                "[{{\"role\":\"user\",\"content\":\"{}\"}}]",
                "x".repeat(5000)
            ),
        )
        .into_bytes(),
        413,
    );
    push(
        "a string over the limit",
        format!("\"{}\"", "x".repeat(8000)).into_bytes(),
        413,
    );
    cases
}

/// A chat head with `extra` header lines and the body framed by them.
fn head_with(extra: &str, body: &str) -> Vec<u8> {
    format!(
        "POST /api/v1/chat/completions HTTP/1.1\r\n{extra}\
         authorization: Bearer {CLIENT_KEY}\r\ncontent-type: application/json\r\n\r\n{body}"
    )
    .into_bytes()
}

/// Framing, smuggling and head cases.
fn framing() -> Vec<Case> {
    let body = with_field("model", "\"test/one\"");
    let len = body.len();
    let chunked = format!("{len:x}\r\n{body}\r\n0\r\n\r\n");
    let api = |name: &str, bytes: Vec<u8>, status: u16| Case {
        name: name.to_owned(),
        bytes,
        answer: Answer::Api(status),
    };
    let bare = |name: &str, bytes: Vec<u8>| Case {
        name: name.to_owned(),
        bytes,
        answer: Answer::Bare,
    };
    let chunked_wins = |name: &str, bytes: Vec<u8>| Case {
        name: name.to_owned(),
        bytes,
        answer: Answer::ChunkedWinsThenClose,
    };
    let mut cases =
        vec![
        chunked_wins(
            "Content-Length and Transfer-Encoding",
            head_with(
                &format!("host: a\r\ncontent-length: {len}\r\ntransfer-encoding: chunked\r\n"),
                &chunked,
            ),
        ),
        chunked_wins(
            "Transfer-Encoding and Content-Length",
            head_with(
                &format!("host: a\r\ntransfer-encoding: chunked\r\ncontent-length: {len}\r\n"),
                &chunked,
            ),
        ),
        api(
            "Transfer-Encoding: chunked, chunked",
            head_with("host: a\r\ntransfer-encoding: chunked, chunked\r\n", &chunked),
            400,
        ),
        api(
            "two Transfer-Encoding headers",
            head_with(
                "host: a\r\ntransfer-encoding: chunked\r\ntransfer-encoding: chunked\r\n",
                &chunked,
            ),
            400,
        ),
        api(
            "no Host",
            head_with(&format!("content-length: {len}\r\n"), &body),
            400,
        ),
        api(
            "two Host headers",
            head_with(&format!("host: a\r\nhost: b\r\ncontent-length: {len}\r\n"), &body),
            400,
        ),
        api(
            "two Authorization headers",
            head_with(
                &format!("host: a\r\nauthorization: Bearer sk-other\r\ncontent-length: {len}\r\n"),
                &body,
            ),
            400,
        ),
        api(
            "no key, body pending",
            b"POST /api/v1/chat/completions HTTP/1.1\r\nhost: a\r\ncontent-length: 1000\r\n\r\n{"
                .to_vec(),
            401,
        ),
        api(
            "declared body over the limit",
            head_with("host: a\r\ncontent-length: 10485760\r\n", "{"),
            413,
        ),
        api(
            "chunked body over the limit",
            head_with(
                "host: a\r\ntransfer-encoding: chunked\r\n",
                &format!("1388\r\n{}\r\n0\r\n\r\n", "x".repeat(5000)),
            ),
            413,
        ),
    ];
    for coding in [
        "gzip",
        "gzip, chunked",
        "identity",
        "chunked;q=1",
        "xchunked",
        "chunked, gzip",
    ] {
        let mut case = api(
            &format!("Transfer-Encoding: {coding}"),
            head_with(
                &format!("host: a\r\ntransfer-encoding: {coding}\r\n"),
                &chunked,
            ),
            400,
        );
        // hyper refuses some codings itself, before our check.
        if coding != "gzip, chunked" {
            case.answer = Answer::Bare;
        }
        cases.push(case);
    }
    // Chunk sizes hyper must refuse.
    for size in [
        "zz",
        "-1",
        "0x5",
        "ffffffffffffffffff",
        "1 2",
        "\r",
        "5\rx",
        "",
        "+5",
    ] {
        cases.push(api(
            &format!("chunk size {size:?}"),
            head_with(
                "host: a\r\ntransfer-encoding: chunked\r\n",
                &format!("{size}\r\nhello\r\n0\r\n\r\n"),
            ),
            400,
        ));
    }
    // hyper skips a chunk extension without checking its characters: the chunk is read as
    // `hello`, which is not JSON, and the connection stays in step.
    cases.push(Case {
        name: "a NUL in a chunk extension".to_owned(),
        bytes: head_with(
            "host: a\r\ntransfer-encoding: chunked\r\n",
            "5;\0\r\nhello\r\n0\r\n\r\n",
        ),
        answer: Answer::ApiKeepAlive(400),
    });
    // A chunk longer than it says, and one without its CRLF.
    cases.push(api(
        "chunk data longer than its size",
        head_with(
            "host: a\r\ntransfer-encoding: chunked\r\n",
            "2\r\nhello\r\n0\r\n\r\n",
        ),
        400,
    ));
    cases.push(api(
        "chunk data without CRLF",
        head_with(
            "host: a\r\ntransfer-encoding: chunked\r\n",
            "5\r\nhelloXX0\r\n\r\n",
        ),
        400,
    ));
    // Oversized and smuggling trailers.
    let many_trailers: String = (0..10_000).map(|n| format!("t{n}: v\r\n")).collect();
    cases.push(api(
        "10,000 trailer lines",
        head_with(
            "host: a\r\ntransfer-encoding: chunked\r\n",
            &format!("{len:x}\r\n{body}\r\n0\r\n{many_trailers}\r\n"),
        ),
        400,
    ));
    cases.push(api(
        "a 100 KiB trailer",
        head_with(
            "host: a\r\ntransfer-encoding: chunked\r\n",
            &format!(
                "{len:x}\r\n{body}\r\n0\r\nt: {}\r\n\r\n",
                "v".repeat(100 * 1024)
            ),
        ),
        400,
    ));
    // Heads.
    let many: String = (0..101).map(|n| format!("x-{n}: v\r\n")).collect();
    let repeated: String = (0..101).map(|_| "x-same: v\r\n".to_owned()).collect();
    for (name, head) in [
        (
            "HTTP/1.2",
            "GET /health HTTP/1.2\r\nhost: a\r\n\r\n".to_owned(),
        ),
        (
            "HTTP/2.0 in a request line",
            "GET /health HTTP/2.0\r\nhost: a\r\n\r\n".to_owned(),
        ),
        ("HTTP/0.9", "GET /health\r\n\r\n".to_owned()),
        ("HTTP/3", "GET /health HTTP/3\r\nhost: a\r\n\r\n".to_owned()),
        (
            "lowercase version",
            "GET /health http/1.1\r\nhost: a\r\n\r\n".to_owned(),
        ),
        ("no target", "GET HTTP/1.1\r\nhost: a\r\n\r\n".to_owned()),
        (
            "two spaces",
            "GET  /health HTTP/1.1\r\nhost: a\r\n\r\n".to_owned(),
        ),
        (
            "a header without a colon",
            "GET /health HTTP/1.1\r\nhost a\r\n\r\n".to_owned(),
        ),
        (
            "a space before the colon",
            "GET /health HTTP/1.1\r\nhost : a\r\n\r\n".to_owned(),
        ),
        (
            "an obs-fold line",
            "GET /health HTTP/1.1\r\nhost: a\r\nx: 1\r\n  2\r\n\r\n".to_owned(),
        ),
        (
            "a NUL in a header value",
            "GET /health HTTP/1.1\r\nhost: a\r\nx: a\0b\r\n\r\n".to_owned(),
        ),
        (
            "a NUL in the target",
            "GET /hea\0lth HTTP/1.1\r\nhost: a\r\n\r\n".to_owned(),
        ),
        (
            "a control character in a name",
            "GET /health HTTP/1.1\r\nhost: a\r\nx\x01y: 1\r\n\r\n".to_owned(),
        ),
        (
            "an empty header name",
            "GET /health HTTP/1.1\r\nhost: a\r\n: v\r\n\r\n".to_owned(),
        ),
        (
            "a method with a slash",
            "G/T /health HTTP/1.1\r\nhost: a\r\n\r\n".to_owned(),
        ),
        (
            "101 headers",
            format!("GET /health HTTP/1.1\r\nhost: a\r\n{many}\r\n"),
        ),
        (
            "one header repeated 101 times",
            format!("GET /health HTTP/1.1\r\nhost: a\r\n{repeated}\r\n"),
        ),
        (
            "a 70 KB header value",
            format!(
                "GET /health HTTP/1.1\r\nhost: a\r\nx: {}\r\n\r\n",
                "a".repeat(70_000)
            ),
        ),
        (
            "a 70 KB target",
            format!("GET /{} HTTP/1.1\r\nhost: a\r\n\r\n", "a".repeat(70_000)),
        ),
        (
            "a 70 KB header name",
            format!(
                "GET /health HTTP/1.1\r\nhost: a\r\n{}: v\r\n\r\n",
                "a".repeat(70_000)
            ),
        ),
        (
            "content-length: -1",
            "POST /health HTTP/1.1\r\nhost: a\r\ncontent-length: -1\r\n\r\n".to_owned(),
        ),
        (
            "content-length: +5",
            "POST /health HTTP/1.1\r\nhost: a\r\ncontent-length: +5\r\n\r\nhello".to_owned(),
        ),
        (
            "content-length: 0x5",
            "POST /health HTTP/1.1\r\nhost: a\r\ncontent-length: 0x5\r\n\r\nhello".to_owned(),
        ),
        (
            "content-length: 1, 2",
            "POST /health HTTP/1.1\r\nhost: a\r\ncontent-length: 1, 2\r\n\r\nhe".to_owned(),
        ),
        (
            "two different content-lengths",
            "POST /health HTTP/1.1\r\nhost: a\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\nhe"
                .to_owned(),
        ),
        (
            "a huge content-length",
            "POST /health HTTP/1.1\r\nhost: a\r\ncontent-length: 99999999999999999999999\r\n\r\n"
                .to_owned(),
        ),
        (
            "content-length with letters",
            "POST /health HTTP/1.1\r\nhost: a\r\ncontent-length: 5a\r\n\r\nhello".to_owned(),
        ),
    ] {
        cases.push(bare(name, head.into_bytes()));
    }
    // Separators and spaces are not allowed in a header name, nor in a method.
    for separator in "()<>@,;\\\"/[]?={} ".chars() {
        cases.push(bare(
            &format!("{separator:?} in a header name"),
            format!("GET /health HTTP/1.1\r\nhost: a\r\nx{separator}y: 1\r\n\r\n").into_bytes(),
        ));
        if separator != ' ' {
            cases.push(bare(
                &format!("{separator:?} in the method"),
                format!("G{separator}T /health HTTP/1.1\r\nhost: a\r\n\r\n").into_bytes(),
            ));
        }
    }
    cases
}

/// Every case.
fn table() -> Vec<Case> {
    let mut cases = malformed_json();
    cases.extend(wrong_types());
    cases.extend(hostile_values());
    cases.extend(framing());
    cases
}

/// What came back on a connection: its bytes up to the close.
async fn exchange(gateway: &Gateway, bytes: &[u8]) -> Vec<u8> {
    let mut socket = TcpStream::connect(gateway.server.addr()).await.unwrap();
    let mut request = bytes.to_vec();
    request.extend_from_slice(SMUGGLED);
    // The server may refuse and close before taking everything: a failed write is fine.
    let _ = socket.write_all(&request).await;
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(20), async {
        let mut buf = [0_u8; 16 * 1024];
        loop {
            match socket.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => answer.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(
        read.is_ok(),
        "the connection was neither answered nor closed"
    );
    answer
}

/// One response off the wire: status, lowercased head, body.
fn response(text: &str) -> Result<(u16, String, &str, &str), String> {
    let head_end = text.find("\r\n\r\n").ok_or("no complete response")?;
    let head = &text[..head_end];
    let status: u16 = head
        .get(9..12)
        .and_then(|it| it.parse().ok())
        .ok_or("no status line")?;
    let lower = head.to_ascii_lowercase();
    let length: usize = lower
        .lines()
        .find_map(|line| line.strip_prefix("content-length: "))
        .map_or(Ok(0), str::parse)
        .map_err(|_| "unreadable content-length")?;
    let rest = &text[head_end + 4..];
    if rest.len() < length {
        return Err(format!(
            "{} body bytes for a length of {length}",
            rest.len()
        ));
    }
    Ok((status, lower, &rest[..length], &rest[length..]))
}

/// Whether `body` is an error in the API's shape with `status`.
fn api_error(status: u16, head: &str, body: &str) -> Result<(), String> {
    if !head.contains("content-type: application/json") {
        return Err("not JSON".to_owned());
    }
    let json: serde_json::Value =
        serde_json::from_str(body).map_err(|err| format!("{err}: {body}"))?;
    if json["error"]["code"] != status || !json["error"]["message"].is_string() {
        return Err(format!("not in the error shape: {body}"));
    }
    if !json["error"]["metadata"]["error_type"].is_string() {
        return Err(format!("no error_type: {body}"));
    }
    Ok(())
}

/// Checks `answer` (everything up to the close) against `case`; `Err` says what is wrong.
fn check(case: &Case, answer: &[u8]) -> Result<(), String> {
    let text = String::from_utf8_lossy(answer);
    let (status, head, body, rest) = response(&text)?;
    if let Answer::ApiKeepAlive(expected) = case.answer {
        if status != expected {
            return Err(format!("status {status}, expected {expected}: {body}"));
        }
        api_error(status, &head, body)?;
        let (next, head, body, rest) = response(rest)?;
        if next != 404 || !rest.is_empty() {
            return Err(format!("the pipelined request got {next}, then {rest:?}"));
        }
        return api_error(next, &head, body);
    }
    if !rest.is_empty() {
        return Err(format!(
            "more after the answer: the pipelined request was served: {rest:?}"
        ));
    }
    match case.answer {
        Answer::ChunkedWinsThenClose => Ok(()),
        _ if !(400..500).contains(&status) => Err(format!("status {status}, not 4xx")),
        Answer::Bare if !body.is_empty() => Err(format!("a body from hyper: {body}")),
        Answer::Bare => Ok(()),
        Answer::Api(expected) if status != expected => {
            Err(format!("status {status}, expected {expected}: {body}"))
        }
        Answer::Api(_) => api_error(status, &head, body),
        Answer::ApiKeepAlive(_) => Ok(()),
    }
}

#[tokio::test]
async fn every_bad_request_is_answered_once_with_a_4xx_then_closed() {
    let gateway = Gateway::start_with("request_read_timeout_ms = 2000").await;
    let cases = table();
    assert!(cases.len() >= 250, "only {} cases", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        let answer = exchange(&gateway, &case.bytes).await;
        if let Err(why) = check(case, &answer) {
            failures.push(format!("{}: {why}", case.name));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    // Only well-formed chat requests reached a provider: the two read as chunked, and those
    // whose message content the router forwards without decoding (lone surrogate escapes, a
    // content part that is not an object), which the provider refused and the router relayed
    // as a 4xx.
    let calls = gateway.alpha.calls();
    let completed = calls
        .iter()
        .filter(|call| call.outcome == router_mock::CallOutcome::Completed)
        .count();
    assert_eq!(completed, 2, "{calls:?}");
    assert!(
        calls.iter().all(|call| matches!(
            call.outcome,
            router_mock::CallOutcome::Completed | router_mock::CallOutcome::Rejected
        )),
        "{calls:?}"
    );
    // And the server still serves.
    let response = gateway
        .chat(&crate::support::chat_body("test/one", false))
        .await;
    assert_eq!(response.status(), 200);
}
