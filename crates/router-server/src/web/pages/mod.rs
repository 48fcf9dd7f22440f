//! The pages' handlers, one module per page: sign-in (`sign_in.rs`), Settings > Plugins > Auto
//! Router (`settings.rs`), Activity (`activity.rs`), Models & providers (`models.rs`); here, what
//! they share: who signed in, the CSRF check, the week of records.

mod activity;
mod models;
mod settings;
mod sign_in;

pub(crate) use activity::{activity, generation};
pub(crate) use models::models;
pub(crate) use settings::{patterns, save_settings, settings_page};
pub(crate) use sign_in::{home, sign_in, sign_in_page, sign_out};

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};

use super::html::{self, Nav, Viewer, esc};
use super::store::{Principal, Session};
use crate::app::AppState;
use crate::auth::constant_time_eq;
use crate::config::ClientKey;
use crate::records::GenerationRecord;

/// The session cookie.
const SESSION_COOKIE: &str = "turnout_session";
/// The sign-in form's CSRF cookie.
const SIGN_IN_COOKIE: &str = "turnout_sign_in";
/// Where signing in leads.
const SETTINGS_PATH: &str = "/ui/settings/plugins/auto-router";
/// The most records the activity page reads (the charts' week).
const ACTIVITY_RECORDS: usize = 20_000;
const MS_PER_HOUR: u64 = 3_600_000;
const MS_PER_DAY: u64 = 24 * MS_PER_HOUR;

/// A signed-in request.
struct Signed {
    token: String,
    session: Session,
}

impl Signed {
    fn viewer(&self) -> Viewer<'_> {
        Viewer {
            principal: &self.session.principal,
            csrf: &self.session.csrf,
        }
    }

    fn is_admin(&self) -> bool {
        self.session.principal == Principal::Admin
    }

    /// The key this request acts for: its own, or for the admin the `wanted` key (else the
    /// first of [`client_keys`]).
    fn target_key(&self, app: &AppState, wanted: Option<&str>) -> Option<String> {
        match &self.session.principal {
            Principal::Key(name) => Some(name.clone()),
            Principal::Admin => {
                let keys = client_keys(app);
                wanted
                    .and_then(|it| keys.iter().find(|key| *key.name == *it))
                    .or(keys.first())
                    .map(|it| it.name.to_string())
            }
        }
    }
}

/// Every key that may sign in: the config's keys in their order, then the enabled keys made
/// through the provisioning API (`/api/v1/keys`), by name.
fn client_keys(app: &AppState) -> Vec<Arc<ClientKey>> {
    let mut keys: Vec<Arc<ClientKey>> = (0..app.config().keys.len())
        .map(|idx| app.config_key(idx).clone())
        .collect();
    let mut made = app.api_keys().enabled();
    made.sort_by(|a, b| a.name.cmp(&b.name));
    for key in made {
        if !keys.iter().any(|it| it.name == key.name) {
            keys.push(key);
        }
    }
    keys
}

/// The key named `name`, from the config or the provisioning API.
fn key_named(app: &AppState, name: &str) -> Option<Arc<ClientKey>> {
    client_keys(app).into_iter().find(|it| *it.name == *name)
}

/// The session of the request's cookie, if it is live and its key still configured (or, for
/// a key made through the provisioning API, still enabled).
fn signed(app: &AppState, headers: &HeaderMap) -> Option<Signed> {
    let token = cookie(headers, SESSION_COOKIE)?;
    let session = app.settings().session(token)?;
    if let Principal::Key(name) = &session.principal
        && key_named(app, name).is_none()
    {
        return None;
    }
    Some(Signed {
        token: token.to_owned(),
        session,
    })
}

/// The value of cookie `name`.
fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|it| it.to_str().ok())
        .flat_map(|it| it.split(';'))
        .filter_map(|it| it.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

fn to_sign_in() -> Response {
    Redirect::to("/ui/sign-in").into_response()
}

fn forbidden(message: &str) -> Response {
    let body = html::page(
        "Forbidden",
        Nav::None,
        None,
        &format!(
            "<div class=\"card\"><p class=\"error\">{}</p><p><a href=\"/ui\">Back</a></p></div>",
            esc(message)
        ),
    );
    (StatusCode::FORBIDDEN, Html(body)).into_response()
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |it| u64::try_from(it.as_millis()).unwrap_or(u64::MAX))
}

/// Whether `token` is the session's CSRF token.
fn csrf_ok(signed: &Signed, token: &str) -> bool {
    !token.is_empty() && constant_time_eq(signed.session.csrf.as_bytes(), token.as_bytes())
}

/// Records of the week of `key` (`None`: every key).
async fn week_records(app: &AppState, key: Option<String>) -> Vec<GenerationRecord> {
    let records = app.records().clone();
    let since = now_ms().saturating_sub(7 * MS_PER_DAY);
    let read = tokio::task::spawn_blocking(move || {
        records.recent(key.as_deref(), since, ACTIVITY_RECORDS)
    })
    .await;
    match read {
        Ok(Ok(records)) => records,
        Ok(Err(err)) => {
            tracing::error!(error = %err, "cannot read the generation records");
            Vec::new()
        }
        Err(_) => Vec::new(),
    }
}
