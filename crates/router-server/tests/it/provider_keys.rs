//! A provider's key never leaves the server: not in a client's message, not in the debug log,
//! whatever letter case a provider echoes it in.

use std::io;
use std::sync::{Arc, Mutex, PoisonError};

use router_mock::{Behavior, Failure, FailureKind};

use crate::support::{Gateway, PROVIDER_KEY, chat_body, error_response, read_events};

/// Log lines written by the server, kept for the test to read.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(PoisonError::into_inner)).into_owned()
    }
}

fn echoes_the_key() -> Behavior {
    Behavior {
        fail: Some(Failure {
            status: 400,
            retry_after: None,
            kind: FailureKind::EchoKey,
        }),
        ..Behavior::default()
    }
}

/// Asserts the key is nowhere in `text`, in any letter case.
fn assert_no_key_in_any_case(text: &str) {
    assert!(
        !text
            .to_ascii_lowercase()
            .contains(&PROVIDER_KEY.to_ascii_lowercase()),
        "the provider key leaked: {text}"
    );
}

#[tokio::test]
async fn a_key_echoed_upper_cased_reaches_neither_the_client_nor_the_debug_log() {
    // The test's runtime runs on this thread only, the server's tasks included.
    let log = Captured::default();
    let writer = log.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _logging = tracing::subscriber::set_default(subscriber);

    let gateway = Gateway::start().await;
    gateway.behave("one-upstream", echoes_the_key());

    let response = gateway.chat(&chat_body("test/one", false)).await;
    let text_status = response.status().as_u16();
    let (status, body) = error_response(response).await;
    assert_eq!((text_status, status), (400, 400), "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.starts_with("Incorrect API key provided: ***."),
        "{message}"
    );
    assert_no_key_in_any_case(&body.to_string());

    let response = gateway.chat(&chat_body("test/one", true)).await;
    let status = response.status().as_u16();
    let text = match status {
        200 => format!("{:?}", read_events(response).await),
        _ => error_response(response).await.1.to_string(),
    };
    assert!(text.contains("***"), "{text}");
    assert_no_key_in_any_case(&text);

    let logged = log.text();
    assert!(logged.contains("attempt failed"), "{logged}");
    assert!(
        logged.contains("Incorrect API key provided: ***"),
        "{logged}"
    );
    assert_no_key_in_any_case(&logged);
    // The mock did see the key: what was scrubbed really was sent back.
    assert!(
        gateway.alpha.calls()[0]
            .authorization
            .as_deref()
            .is_some_and(|it| it.ends_with(PROVIDER_KEY))
    );
}
