//! The pages served by the router under `/ui`: server-rendered HTML with a little JavaScript
//! (live pattern validation), no build step.
//!
//! - `GET /ui/sign-in`, `POST /ui/sign-in`, `POST /ui/sign-out`: sign in with a client key, from
//!   the config or made through `/api/v1/keys` while enabled (sees and edits its own settings
//!   and activity), or `[settings] admin_key` (sees every key). The
//!   session is a random token in an HttpOnly, SameSite=Strict cookie; the key is never shown
//!   back.
//! - `GET|POST /ui/settings/plugins/auto-router`: the Auto Router's saved defaults for a key
//!   (allowed and excluded model patterns, the cost/quality dial), with where each effective value
//!   comes from (saved here, the key's config, `[routing.auto]`, built-in). Read-only when
//!   `[settings] editable = false`.
//! - `GET /ui/patterns`: the catalog models each pattern matches (the page's live validation).
//! - `GET /ui/activity`, `GET /ui/activity/{id}`: recent generations, charts of the last day and
//!   week, the Auto Router's choices; one generation's receipt and attempts.
//! - `GET /ui/models`: the catalog with prices, and each endpoint's health and latency as seen by
//!   the last hour of traffic.
//!
//! Every form carries a CSRF token (the session's; the sign-in form's is a cookie of its own),
//! and a post without the right one is refused with 403.
//!
//! # Layout
//!
//! - [`store`]: saved settings (SQLite) and sessions.
//! - `html`: escaping and the page frame.
//! - `charts`: SVG charts.
//! - `pages`: the handlers, one module a page.

mod charts;
mod html;
mod pages;
pub(crate) mod store;

use axum::Router;
use axum::routing::get;

use crate::app::AppState;

/// The pages' routes.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/ui", get(pages::home))
        .route("/ui/", get(pages::home))
        .route("/ui/sign-in", get(pages::sign_in_page).post(pages::sign_in))
        .route("/ui/sign-out", axum::routing::post(pages::sign_out))
        .route(
            "/ui/settings/plugins/auto-router",
            get(pages::settings_page).post(pages::save_settings),
        )
        .route("/ui/patterns", get(pages::patterns))
        .route("/ui/activity", get(pages::activity))
        .route("/ui/activity/{id}", get(pages::generation))
        .route("/ui/models", get(pages::models))
}
