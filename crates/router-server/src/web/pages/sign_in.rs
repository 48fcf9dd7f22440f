//! Signing in and out: `GET /ui`, `GET|POST /ui/sign-in`, `POST /ui/sign-out`.

use std::fmt::Write as _;

use axum::Form;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;

use crate::app::AppState;
use crate::auth::{constant_time_eq, find_key};
use crate::web::html::{self, Nav, esc};
use crate::web::store::{Principal, random_token};

use super::{
    SESSION_COOKIE, SETTINGS_PATH, SIGN_IN_COOKIE, cookie, csrf_ok, forbidden, signed, to_sign_in,
};

/// `GET /ui`.
pub(crate) async fn home(State(app): State<AppState>, headers: HeaderMap) -> Response {
    match signed(&app, &headers) {
        Some(_) => Redirect::to(SETTINGS_PATH).into_response(),
        None => to_sign_in(),
    }
}

/// `GET /ui/sign-in`: the form, with a fresh CSRF cookie.
pub(crate) async fn sign_in_page() -> Response {
    sign_in_form(StatusCode::OK, None)
}

fn sign_in_form(status: StatusCode, error: Option<&str>) -> Response {
    let csrf = random_token();
    let mut body = String::from("<div class=\"card\">");
    if let Some(error) = error {
        let _ = write!(body, "<p class=\"error\" role=\"alert\">{}</p>", esc(error));
    }
    let _ = write!(
        body,
        "<form method=\"post\" action=\"/ui/sign-in\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <label for=\"key\">Client key or admin key</label>\
         <input type=\"password\" id=\"key\" name=\"key\" autocomplete=\"current-password\" required autofocus>\
         <p class=\"hint\">A client key (from the config or made through <code>/api/v1/keys</code>) sees and edits its own settings and activity; the admin key \
         (<code>[settings] admin_key</code>) sees every key. The key is not shown again.</p>\
         <button type=\"submit\">Sign in</button></form></div>"
    );
    let cookie = format!("{SIGN_IN_COOKIE}={csrf}; HttpOnly; SameSite=Strict; Path=/ui");
    let mut response =
        (status, Html(html::page("Sign in", Nav::None, None, &body))).into_response();
    if let Ok(value) = HeaderValue::try_from(cookie) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

/// The sign-in form.
#[derive(Deserialize)]
pub(crate) struct SignInForm {
    #[serde(default)]
    key: String,
    #[serde(default)]
    csrf: String,
}

/// `POST /ui/sign-in`.
pub(crate) async fn sign_in(
    State(app): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<SignInForm>,
) -> Response {
    let expected = cookie(&headers, SIGN_IN_COOKIE).unwrap_or_default();
    if expected.is_empty() || !constant_time_eq(expected.as_bytes(), form.csrf.as_bytes()) {
        return forbidden("The form's CSRF token is missing or wrong: reload the sign-in page.");
    }
    let key = form.key.trim().as_bytes();
    let admin = app
        .config()
        .settings
        .admin_key
        .as_ref()
        .is_some_and(|it| !key.is_empty() && constant_time_eq(it.expose().as_bytes(), key));
    let principal = match find_key(&app.config().keys, key) {
        _ if admin => Principal::Admin,
        Some(idx) => Principal::Key(app.key(idx).name.to_string()),
        // A key made through the provisioning API (`/api/v1/keys`) and enabled.
        None => match app.api_keys().find(key) {
            Some(made) if !key.is_empty() => Principal::Key(made.name.to_string()),
            _ => {
                return sign_in_form(
                    StatusCode::UNAUTHORIZED,
                    Some("That key is not configured."),
                );
            }
        },
    };
    let token = app.settings().sign_in(principal);
    let cookie = format!(
        "{SESSION_COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/ui; Max-Age={}",
        crate::web::store::SESSION_LIFETIME.as_secs()
    );
    let mut response = Redirect::to(SETTINGS_PATH).into_response();
    if let Ok(value) = HeaderValue::try_from(cookie) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

/// A form with only its CSRF token.
#[derive(Deserialize)]
pub(crate) struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

/// `POST /ui/sign-out`.
pub(crate) async fn sign_out(
    State(app): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Response {
    let Some(signed) = signed(&app, &headers) else {
        return to_sign_in();
    };
    if !csrf_ok(&signed, &form.csrf) {
        return forbidden("The form's CSRF token is missing or wrong.");
    }
    app.settings().sign_out(&signed.token);
    let mut response = to_sign_in();
    let expire = format!("{SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/ui; Max-Age=0");
    if let Ok(value) = HeaderValue::try_from(expire) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}
