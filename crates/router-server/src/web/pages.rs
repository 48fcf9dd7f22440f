//! The pages' handlers: sign-in, Settings > Plugins > Auto Router, Activity, Models & providers.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Form;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use router_core::auto::settings::{AutoPlugin, AutoSettings};
use router_core::patterns::ModelPatterns;
use serde::{Deserialize, Serialize};

use super::charts;
use super::html::{self, Nav, Viewer, esc, query_value, usd};
use super::store::{Principal, Session, random_token};
use crate::app::AppState;
use crate::auth::{constant_time_eq, find_key};
use crate::chat::route::{Layer, SettingSources};
use crate::records::GenerationRecord;

/// The session cookie.
const SESSION_COOKIE: &str = "turnout_session";
/// The sign-in form's CSRF cookie.
const SIGN_IN_COOKIE: &str = "turnout_sign_in";
/// Where signing in leads.
const SETTINGS_PATH: &str = "/ui/settings/plugins/auto-router";
/// The most records the activity page reads (the charts' week).
const ACTIVITY_RECORDS: usize = 20_000;
/// The most rows of the activity table.
const ACTIVITY_ROWS: usize = 200;
/// The most patterns checked per list.
const MAX_PATTERNS: usize = 256;
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
    /// first configured key).
    fn target_key<'a>(&'a self, app: &'a AppState, wanted: Option<&'a str>) -> Option<&'a str> {
        match &self.session.principal {
            Principal::Key(name) => Some(name.as_str()),
            Principal::Admin => {
                let keys = &app.config().keys;
                wanted
                    .and_then(|it| keys.iter().find(|key| key.name == it))
                    .or(keys.first())
                    .map(|it| it.name.as_str())
            }
        }
    }
}

/// The session of the request's cookie, if it is live and its key still configured.
fn signed(app: &AppState, headers: &HeaderMap) -> Option<Signed> {
    let token = cookie(headers, SESSION_COOKIE)?;
    let session = app.settings().session(token)?;
    if let Principal::Key(name) = &session.principal
        && !app.config().keys.iter().any(|it| &it.name == name)
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
         <p class=\"hint\">A client key sees and edits its own settings and activity; the admin key \
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
        Some(idx) => Principal::Key(app.key(idx).name.clone()),
        None => {
            return sign_in_form(
                StatusCode::UNAUTHORIZED,
                Some("That key is not configured."),
            );
        }
    };
    let token = app.settings().sign_in(principal);
    let cookie = format!(
        "{SESSION_COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/ui; Max-Age={}",
        super::store::SESSION_LIFETIME.as_secs()
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

fn csrf_ok(signed: &Signed, token: &str) -> bool {
    !token.is_empty() && constant_time_eq(signed.session.csrf.as_bytes(), token.as_bytes())
}

/// `?key=` of the admin's pages.
#[derive(Deserialize, Default)]
pub(crate) struct KeyQuery {
    key: Option<String>,
    #[serde(default)]
    saved: bool,
}

/// `GET /ui/settings/plugins/auto-router`.
pub(crate) async fn settings_page(
    State(app): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<KeyQuery>,
) -> Response {
    let Some(signed) = signed(&app, &headers) else {
        return to_sign_in();
    };
    let Some(key) = signed.target_key(&app, query.key.as_deref()) else {
        return forbidden("No client key is configured.");
    };
    let notice = query
        .saved
        .then_some(("saved", "Saved. New requests use these settings."));
    let saved = app.settings().saved(key).map(|it| (*it).clone());
    let form = SettingsValues::of(saved.as_ref());
    Html(settings_html(&app, &signed, key, &form, notice, &[])).into_response()
}

/// What the settings form shows.
struct SettingsValues {
    allowed: String,
    excluded: String,
    tradeoff: u8,
}

impl SettingsValues {
    fn of(saved: Option<&AutoPlugin>) -> Self {
        Self {
            allowed: saved
                .and_then(|it| it.allowed_models.as_ref())
                .map(|it| it.join("\n"))
                .unwrap_or_default(),
            excluded: saved
                .and_then(|it| it.excluded_models.as_ref())
                .map(|it| it.join("\n"))
                .unwrap_or_default(),
            tradeoff: saved
                .and_then(AutoPlugin::tradeoff)
                .unwrap_or(router_core::auto::settings::DEFAULT_TRADEOFF),
        }
    }
}

fn settings_html(
    app: &AppState,
    signed: &Signed,
    key: &str,
    values: &SettingsValues,
    notice: Option<(&str, &str)>,
    errors: &[String],
) -> String {
    let editable = app.config().settings.editable;
    let mut body = String::new();
    body.push_str("<p class=\"hint\">Settings &gt; Plugins &gt; <b>Auto Router</b>: the defaults of <code>openrouter/auto</code> for this key's requests. A request's own <code>auto-router</code> plugin still overrides them, field by field.</p>");
    if signed.is_admin() {
        body.push_str("<form method=\"get\" class=\"card filters\"><div><label for=\"key-select\">Key</label><select id=\"key-select\" name=\"key\">");
        for it in &app.config().keys {
            let selected = if it.name == key { " selected" } else { "" };
            let _ = write!(body, "<option{selected}>{}</option>", esc(&it.name));
        }
        body.push_str("</select></div><button type=\"submit\">Show</button></form>");
    }
    if let Some((class, text)) = notice {
        let _ = write!(
            body,
            "<p class=\"notice {class}\" role=\"status\">{}</p>",
            esc(text)
        );
    }
    if !editable {
        body.push_str("<p class=\"notice\" role=\"status\">Read-only: <code>[settings] editable = false</code> in the config keeps these settings in the file.</p>");
    }
    for error in errors {
        let _ = write!(
            body,
            "<p class=\"notice error\" role=\"alert\">{}</p>",
            esc(error)
        );
    }
    let disabled = if editable { "" } else { " disabled" };
    let _ = write!(
        body,
        "<form method=\"post\" action=\"{SETTINGS_PATH}\" class=\"card\" id=\"auto-router\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <input type=\"hidden\" name=\"key\" value=\"{key}\">\
         <label for=\"allowed_models\">Allowed models</label>\
         <p class=\"hint\">One pattern per line, such as <code>anthropic/*</code>; <code>*</code> matches within one part of <code>author/model</code>. Empty: every model.</p>\
         <textarea id=\"allowed_models\" name=\"allowed_models\" spellcheck=\"false\"{disabled}>{allowed}</textarea>\
         <div class=\"matches\" id=\"allowed_models-matches\" aria-live=\"polite\"></div>\
         <label for=\"excluded_models\">Excluded models</label>\
         <p class=\"hint\">One pattern per line; a model matching any is never chosen.</p>\
         <textarea id=\"excluded_models\" name=\"excluded_models\" spellcheck=\"false\"{disabled}>{excluded}</textarea>\
         <div class=\"matches\" id=\"excluded_models-matches\" aria-live=\"polite\"></div>\
         <label for=\"cost_quality_tradeoff\">Cost/quality tradeoff: <output id=\"tradeoff-out\" for=\"cost_quality_tradeoff\">{tradeoff}</output></label>\
         <input type=\"range\" id=\"cost_quality_tradeoff\" name=\"cost_quality_tradeoff\" min=\"0\" max=\"10\" step=\"1\" value=\"{tradeoff}\"{disabled}>\
         <p class=\"hint\"><b>0</b>: the most capable model, whatever it costs. <b>10</b>: the cheapest model that can do the task. Default 7.</p>",
        csrf = esc(&signed.session.csrf),
        key = esc(key),
        allowed = esc(&values.allowed),
        excluded = esc(&values.excluded),
        tradeoff = values.tradeoff,
    );
    if editable {
        body.push_str("<p><button type=\"submit\">Save</button></p>");
    }
    body.push_str("</form>");
    body.push_str(&effective_html(app, key));
    body.push_str(SETTINGS_SCRIPT);
    html::page("Auto Router", Nav::Settings, Some(&signed.viewer()), &body)
}

/// The effective settings of `key`'s requests without a plugin, and where each comes from.
fn effective_html(app: &AppState, key: &str) -> String {
    let configured = app
        .config()
        .keys
        .iter()
        .find(|it| it.name == key)
        .and_then(|it| it.auto_router.as_ref());
    let saved = app.settings().saved(key);
    let layered = saved
        .as_deref()
        .map(|it| super::store::layer(it, configured));
    let global = &app.config().routing.auto.defaults;
    let settings = AutoSettings::resolve(None, layered.as_ref().or(configured), global);
    let sources = SettingSources::of([None, saved.as_deref(), configured, Some(global)]);
    let list = |it: &[String]| {
        if it.is_empty() {
            "any".to_owned()
        } else {
            it.join(", ")
        }
    };
    let mut body = String::from(
        "<section class=\"card\" aria-labelledby=\"effective\"><h2 id=\"effective\">Effective settings</h2>\
         <p class=\"hint\">Precedence: the request's plugin, then settings saved here, then the key's config defaults, then <code>[routing.auto]</code>.</p>\
         <div class=\"scroll\"><table><thead><tr><th>Setting</th><th>Value</th><th>From</th></tr></thead><tbody>",
    );
    let none = "none".to_owned();
    for (name, value, layer) in [
        (
            "allowed_models",
            list(&settings.allowed_models),
            sources.allowed_models,
        ),
        (
            "excluded_models",
            if settings.excluded_models.is_empty() {
                none.clone()
            } else {
                settings.excluded_models.join(", ")
            },
            sources.excluded_models,
        ),
        (
            "cost_quality_tradeoff",
            settings.cost_quality_tradeoff.to_string(),
            sources.cost_quality_tradeoff,
        ),
    ] {
        let _ = write!(
            body,
            "<tr><td><code>{name}</code></td><td>{}</td><td data-layer=\"{}\">{}</td></tr>",
            esc(&value),
            layer.as_str(),
            layer_name(layer)
        );
    }
    body.push_str("</tbody></table></div></section>");
    body
}

fn layer_name(layer: Layer) -> &'static str {
    match layer {
        Layer::Request => "the request",
        Layer::Saved => "saved here",
        Layer::Key => "the key's config defaults",
        Layer::Global => "global config ([routing.auto])",
        Layer::Default => "built-in default",
    }
}

/// The live validation of the pattern lists: asks `/ui/patterns` as the user types.
const SETTINGS_SCRIPT: &str = r#"<script>
(function(){
  const out=document.getElementById('tradeoff-out'),dial=document.getElementById('cost_quality_tradeoff');
  dial.addEventListener('input',()=>{out.textContent=dial.value;});
  let timer=null;
  function show(id,rows){
    const box=document.getElementById(id+'-matches');box.replaceChildren();
    for(const row of rows){
      const line=document.createElement('div');
      if(row.error){line.className='error';line.textContent=row.pattern+': '+row.error;}
      else{line.textContent=row.pattern+' → '+(row.matches.length?row.matches.join(', '):'no model');}
      box.appendChild(line);
    }
  }
  function check(){
    const q=new URLSearchParams({allowed:document.getElementById('allowed_models').value,excluded:document.getElementById('excluded_models').value});
    fetch('/ui/patterns?'+q,{credentials:'same-origin'}).then(r=>r.json()).then(j=>{show('allowed_models',j.allowed);show('excluded_models',j.excluded);}).catch(()=>{});
  }
  for(const id of ['allowed_models','excluded_models']){
    document.getElementById(id).addEventListener('input',()=>{clearTimeout(timer);timer=setTimeout(check,200);});
  }
  check();
})();
</script>"#;

/// The settings form.
#[derive(Deserialize)]
pub(crate) struct SettingsForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    key: String,
    #[serde(default)]
    allowed_models: String,
    #[serde(default)]
    excluded_models: String,
    #[serde(default)]
    cost_quality_tradeoff: String,
}

/// `POST /ui/settings/plugins/auto-router`.
pub(crate) async fn save_settings(
    State(app): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<SettingsForm>,
) -> Response {
    let Some(signed) = signed(&app, &headers) else {
        return to_sign_in();
    };
    if !csrf_ok(&signed, &form.csrf) {
        return forbidden("The form's CSRF token is missing or wrong: reload the page.");
    }
    if !app.config().settings.editable {
        return forbidden("Settings are read-only: [settings] editable = false in the config.");
    }
    let Some(key) = signed
        .target_key(&app, Some(form.key.as_str()))
        .map(str::to_owned)
    else {
        return forbidden("No client key is configured.");
    };
    let lines = |text: &str| -> Vec<String> {
        text.lines()
            .map(str::trim)
            .filter(|it| !it.is_empty())
            .map(str::to_owned)
            .collect()
    };
    let allowed = lines(&form.allowed_models);
    let excluded = lines(&form.excluded_models);
    let mut errors = Vec::new();
    for (field, patterns) in [("Allowed models", &allowed), ("Excluded models", &excluded)] {
        if patterns.len() > MAX_PATTERNS {
            errors.push(format!("{field}: at most {MAX_PATTERNS} patterns"));
        } else if let Err(err) = ModelPatterns::new(patterns) {
            errors.push(format!("{field}: {err}"));
        }
    }
    let tradeoff = match form.cost_quality_tradeoff.trim().parse::<u8>() {
        Ok(it) if it <= 10 => Some(it),
        _ => {
            errors.push("Cost/quality tradeoff: a whole number from 0 to 10".to_owned());
            None
        }
    };
    let values = SettingsValues {
        allowed: form.allowed_models.clone(),
        excluded: form.excluded_models.clone(),
        tradeoff: tradeoff.unwrap_or(router_core::auto::settings::DEFAULT_TRADEOFF),
    };
    if !errors.is_empty() {
        let body = settings_html(&app, &signed, &key, &values, None, &errors);
        return (StatusCode::BAD_REQUEST, Html(body)).into_response();
    }
    let settings = AutoPlugin {
        allowed_models: (!allowed.is_empty()).then_some(allowed),
        excluded_models: (!excluded.is_empty()).then_some(excluded),
        cost_quality_tradeoff: tradeoff,
        ..AutoPlugin::default()
    };
    let store = app.settings().clone();
    let saving_key = key.clone();
    let saved =
        tokio::task::spawn_blocking(move || store.save(&saving_key, settings, now_ms())).await;
    match saved {
        Ok(Ok(())) => {
            let mut to = format!("{SETTINGS_PATH}?saved=true");
            if signed.is_admin() {
                let _ = write!(to, "&key={}", query_value(&key));
            }
            Redirect::to(&to).into_response()
        }
        Ok(Err(err)) => {
            tracing::error!(error = %err, "cannot save settings");
            let errors = ["The settings could not be saved; see the server log.".to_owned()];
            let body = settings_html(&app, &signed, &key, &values, None, &errors);
            (StatusCode::INTERNAL_SERVER_ERROR, Html(body)).into_response()
        }
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// `GET /ui/patterns` query.
#[derive(Deserialize)]
pub(crate) struct PatternsQuery {
    #[serde(default)]
    allowed: String,
    #[serde(default)]
    excluded: String,
}

/// One pattern's check.
#[derive(Serialize)]
struct PatternCheck {
    pattern: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    matches: Vec<String>,
}

/// `GET /ui/patterns`: the catalog models each pattern matches, with the API's glob rules.
pub(crate) async fn patterns(
    State(app): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<PatternsQuery>,
) -> Response {
    if signed(&app, &headers).is_none() {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let check = |text: &str| -> Vec<PatternCheck> {
        text.lines()
            .map(str::trim)
            .filter(|it| !it.is_empty())
            .take(MAX_PATTERNS)
            .map(|pattern| match ModelPatterns::new(&[pattern]) {
                Ok(compiled) => PatternCheck {
                    pattern: pattern.to_owned(),
                    error: None,
                    matches: app
                        .catalog()
                        .models()
                        .iter()
                        .filter(|it| compiled.is_match(&it.id))
                        .map(|it| it.id.clone())
                        .collect(),
                },
                Err(err) => PatternCheck {
                    pattern: pattern.to_owned(),
                    error: Some(err.reason),
                    matches: Vec::new(),
                },
            })
            .collect()
    };
    Json(serde_json::json!({
        "allowed": check(&query.allowed),
        "excluded": check(&query.excluded),
    }))
    .into_response()
}

/// `GET /ui/activity` query.
#[derive(Deserialize, Default)]
pub(crate) struct ActivityQuery {
    key: Option<String>,
    #[serde(default)]
    model: String,
    #[serde(default)]
    status: String,
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

fn status_of(record: &GenerationRecord) -> &'static str {
    if record.cancelled {
        "cancelled"
    } else if record.model.is_some() && record.finish_reason.as_deref() != Some("error") {
        "ok"
    } else {
        "error"
    }
}

/// `GET /ui/activity`.
pub(crate) async fn activity(
    State(app): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<ActivityQuery>,
) -> Response {
    let Some(signed) = signed(&app, &headers) else {
        return to_sign_in();
    };
    let key_filter = match &signed.session.principal {
        Principal::Key(name) => Some(name.clone()),
        Principal::Admin => query.key.clone().filter(|it| !it.is_empty()),
    };
    let records = week_records(&app, key_filter.clone()).await;
    let now = now_ms();
    let mut body = String::new();
    body.push_str("<form method=\"get\" class=\"card filters\" aria-label=\"Filters\">");
    if signed.is_admin() {
        body.push_str("<div><label for=\"f-key\">Key</label><select id=\"f-key\" name=\"key\"><option value=\"\">all keys</option>");
        for it in &app.config().keys {
            let selected = if key_filter.as_deref() == Some(it.name.as_str()) {
                " selected"
            } else {
                ""
            };
            let _ = write!(body, "<option{selected}>{}</option>", esc(&it.name));
        }
        body.push_str("</select></div>");
    }
    body.push_str("<div><label for=\"f-model\">Model</label><select id=\"f-model\" name=\"model\"><option value=\"\">all models</option>");
    for model in app.catalog().models() {
        let selected = if query.model == model.id {
            " selected"
        } else {
            ""
        };
        let _ = write!(body, "<option{selected}>{}</option>", esc(&model.id));
    }
    body.push_str("</select></div><div><label for=\"f-status\">Status</label><select id=\"f-status\" name=\"status\">");
    for (value, label) in [
        ("", "any status"),
        ("ok", "ok"),
        ("error", "error"),
        ("cancelled", "cancelled"),
    ] {
        let selected = if query.status == value {
            " selected"
        } else {
            ""
        };
        let _ = write!(body, "<option value=\"{value}\"{selected}>{label}</option>");
    }
    body.push_str("</select></div><button type=\"submit\">Filter</button></form>");

    body.push_str("<section class=\"card\"><h2>Recent generations</h2><div class=\"scroll\"><table><thead><tr><th>Time (UTC)</th><th>Requested</th><th>Served</th><th>Provider</th><th>Depth</th><th>Tokens</th><th>Cost</th><th>Latency</th><th>TTFT</th><th>Finish</th></tr></thead><tbody>");
    let shown = records
        .iter()
        .filter(|it| {
            query.model.is_empty()
                || it.model.as_deref() == Some(query.model.as_str())
                || it.requested_models.contains(&query.model)
        })
        .filter(|it| query.status.is_empty() || status_of(it) == query.status)
        .take(ACTIVITY_ROWS);
    let mut any = false;
    for record in shown {
        any = true;
        let depth = record
            .model
            .as_ref()
            .and_then(|served| record.requested_models.iter().position(|it| it == served))
            .map_or_else(|| "-".to_owned(), |it| it.to_string());
        let requested = match &record.router {
            Some(router) => router.clone(),
            None => record.requested_models.first().cloned().unwrap_or_default(),
        };
        let _ = write!(
            body,
            "<tr data-status=\"{status}\"><td><a href=\"/ui/activity/{id_q}\">{time}</a></td><td>{requested}</td><td>{served}</td><td>{provider}</td><td>{depth}</td><td>{pt} + {ct}</td><td>{cost}</td><td>{latency} ms</td><td>{ttft}</td><td>{finish}</td></tr>",
            status = status_of(record),
            id_q = esc(&query_value(&record.id)),
            time = html::time(record.created_at_ms),
            requested = esc(&requested),
            served = esc(record.model.as_deref().unwrap_or("-")),
            provider = esc(record.provider.as_deref().unwrap_or("-")),
            pt = record.prompt_tokens,
            ct = record.completion_tokens,
            cost = usd(record.cost_usd),
            latency = record.latency_ms,
            ttft = record
                .time_to_first_token_ms
                .map_or_else(|| "-".to_owned(), |it| format!("{it} ms")),
            finish = esc(record
                .finish_reason
                .as_deref()
                .unwrap_or(if record.cancelled { "cancelled" } else { "-" })),
        );
    }
    if !any {
        body.push_str("<tr><td colspan=\"10\">No generations match.</td></tr>");
    }
    body.push_str("</tbody></table></div></section>");

    for (window, span, bucket, label_of) in [
        (
            "last day",
            MS_PER_DAY,
            MS_PER_HOUR,
            &(|ms: u64| format!("{:02}h", ms / MS_PER_HOUR % 24)) as &dyn Fn(u64) -> String,
        ),
        (
            "last week",
            7 * MS_PER_DAY,
            MS_PER_DAY,
            &(|ms: u64| html::time(ms)[5..10].to_owned()) as &dyn Fn(u64) -> String,
        ),
    ] {
        let since = now.saturating_sub(span);
        let in_window: Vec<&GenerationRecord> = records
            .iter()
            .filter(|it| it.created_at_ms >= since)
            .collect();
        let mut requests: BTreeMap<String, f64> = BTreeMap::new();
        let mut spend: BTreeMap<String, f64> = BTreeMap::new();
        let mut auto: BTreeMap<String, f64> = BTreeMap::new();
        let first_bucket = since - since % bucket;
        let n_buckets = usize::try_from((now - first_bucket) / bucket + 1).unwrap_or(1);
        let mut over_time = vec![0.0; n_buckets];
        let mut auto_over_time = vec![0.0; n_buckets];
        for record in &in_window {
            let model = record
                .model
                .clone()
                .unwrap_or_else(|| "(failed)".to_owned());
            *requests.entry(model.clone()).or_default() += 1.0;
            *spend.entry(model.clone()).or_default() += record.cost_usd;
            let idx =
                usize::try_from((record.created_at_ms.max(first_bucket) - first_bucket) / bucket)
                    .unwrap_or(0)
                    .min(n_buckets - 1);
            over_time[idx] += 1.0;
            if record.router.is_some() {
                *auto.entry(model).or_default() += 1.0;
                auto_over_time[idx] += 1.0;
            }
        }
        let labels = |values: Vec<f64>| -> Vec<(String, f64)> {
            values
                .into_iter()
                .enumerate()
                .map(|(idx, value)| (label_of(first_bucket + bucket * idx as u64), value))
                .collect()
        };
        let sorted = |map: BTreeMap<String, f64>| -> Vec<(String, f64)> {
            let mut rows: Vec<(String, f64)> = map.into_iter().collect();
            rows.sort_by(|a, b| b.1.total_cmp(&a.1));
            rows.truncate(12);
            rows
        };
        let _ = write!(
            body,
            "<section class=\"card\"><h2>The {window}</h2><div class=\"charts\">"
        );
        body.push_str(&charts::columns(
            &format!("Requests over the {window}"),
            &labels(over_time),
        ));
        body.push_str(&charts::bars(
            &format!("Requests per model, {window}"),
            &sorted(requests),
            &|it| format!("{it}"),
        ));
        body.push_str(&charts::bars(
            &format!("Spend per model, {window}"),
            &sorted(spend),
            &usd,
        ));
        body.push_str(&charts::bars(
            &format!("Auto Router's choices, {window}"),
            &sorted(auto),
            &|it| format!("{it}"),
        ));
        body.push_str(&charts::columns(
            &format!("Auto-routed requests over the {window}"),
            &labels(auto_over_time),
        ));
        body.push_str("</div></section>");
    }
    Html(html::page(
        "Activity",
        Nav::Activity,
        Some(&signed.viewer()),
        &body,
    ))
    .into_response()
}

/// `GET /ui/activity/{id}`: one generation's receipt and attempts.
pub(crate) async fn generation(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let Some(signed) = signed(&app, &headers) else {
        return to_sign_in();
    };
    let keys: Vec<String> = match &signed.session.principal {
        Principal::Key(name) => vec![name.clone()],
        Principal::Admin => app.config().keys.iter().map(|it| it.name.clone()).collect(),
    };
    let records = app.records().clone();
    let wanted = id.clone();
    let found = tokio::task::spawn_blocking(move || {
        keys.iter()
            .find_map(|key| records.get(&wanted, key).ok().flatten())
    })
    .await
    .ok()
    .flatten();
    let Some(record) = found else {
        let body = "<div class=\"card\"><p>No such generation for this key.</p><p><a href=\"/ui/activity\">Back to Activity</a></p></div>";
        return (
            StatusCode::NOT_FOUND,
            Html(html::page(
                "Generation",
                Nav::Activity,
                Some(&signed.viewer()),
                body,
            )),
        )
            .into_response();
    };
    let mut body = String::from(
        "<section class=\"card\"><h2>Route receipt</h2><div class=\"scroll\"><table><tbody>",
    );
    let rows: [(&str, String); 14] = [
        ("Id", record.id.clone()),
        ("Time (UTC)", html::time(record.created_at_ms)),
        ("Key", record.key_name.clone()),
        (
            "Router",
            record.router.clone().unwrap_or_else(|| "-".to_owned()),
        ),
        ("Requested models", record.requested_models.join(", ")),
        (
            "Served model",
            record.model.clone().unwrap_or_else(|| "-".to_owned()),
        ),
        (
            "Provider",
            record.provider.clone().unwrap_or_else(|| "-".to_owned()),
        ),
        (
            "Tokens",
            format!(
                "{} prompt ({} cached) + {} completion ({} reasoning)",
                record.prompt_tokens,
                record.cached_tokens,
                record.completion_tokens,
                record.reasoning_tokens
            ),
        ),
        ("Cost", usd(record.cost_usd)),
        ("Latency", format!("{} ms", record.latency_ms)),
        (
            "Time to first token",
            record
                .time_to_first_token_ms
                .map_or_else(|| "-".to_owned(), |it| format!("{it} ms")),
        ),
        (
            "Finish reason",
            record
                .finish_reason
                .clone()
                .unwrap_or_else(|| "-".to_owned()),
        ),
        ("Streamed", record.streamed.to_string()),
        ("Cancelled", record.cancelled.to_string()),
    ];
    for (name, value) in rows {
        let _ = write!(
            body,
            "<tr><th scope=\"row\">{name}</th><td>{}</td></tr>",
            esc(&value)
        );
    }
    body.push_str("</tbody></table></div></section><section class=\"card\"><h2>Attempts</h2><div class=\"scroll\"><table><thead><tr><th>#</th><th>Model</th><th>Provider</th><th>Status</th><th>Error</th><th>Time</th></tr></thead><tbody>");
    for (idx, attempt) in record.attempts.iter().enumerate() {
        let _ = write!(
            body,
            "<tr><td>{n}</td><td>{model}</td><td>{provider}</td><td>{status}</td><td>{error}</td><td>{ms} ms</td></tr>",
            n = idx + 1,
            model = esc(&attempt.model),
            provider = esc(attempt.provider.as_deref().unwrap_or("(skipped)")),
            status = attempt
                .status
                .map_or_else(|| "-".to_owned(), |it| it.to_string()),
            error = esc(attempt.error_type.as_deref().unwrap_or("")),
            ms = attempt.elapsed_ms,
        );
    }
    body.push_str(
        "</tbody></table></div></section><p><a href=\"/ui/activity\">Back to Activity</a></p>",
    );
    Html(html::page(
        "Generation",
        Nav::Activity,
        Some(&signed.viewer()),
        &body,
    ))
    .into_response()
}

/// `GET /ui/models`: the catalog, prices, and each endpoint's last hour.
pub(crate) async fn models(State(app): State<AppState>, headers: HeaderMap) -> Response {
    let Some(signed) = signed(&app, &headers) else {
        return to_sign_in();
    };
    let key_filter = match &signed.session.principal {
        Principal::Key(name) => Some(name.clone()),
        Principal::Admin => None,
    };
    let since = now_ms().saturating_sub(MS_PER_HOUR);
    let records: Vec<GenerationRecord> = week_records(&app, key_filter)
        .await
        .into_iter()
        .filter(|it| it.created_at_ms >= since)
        .collect();
    // (model, provider display name) -> (calls, failures, elapsed ms of each call)
    let mut seen: BTreeMap<(String, String), (u64, u64, Vec<u64>)> = BTreeMap::new();
    for record in &records {
        for attempt in &record.attempts {
            let Some(provider) = &attempt.provider else {
                continue;
            };
            let entry = seen
                .entry((attempt.model.clone(), provider.clone()))
                .or_default();
            entry.0 += 1;
            if attempt.error_type.is_some() {
                entry.1 += 1;
            }
            entry.2.push(attempt.elapsed_ms);
        }
    }
    let mut body = String::from(
        "<p class=\"hint\">Prices in USD per million tokens. Health is what this key's traffic of the last hour saw (the admin sees every key's).</p>\
         <div class=\"card scroll\"><table><thead><tr><th>Model</th><th>Provider</th><th>Upstream name</th><th>Prompt</th><th>Completion</th><th>Context</th><th>Calls (1 h)</th><th>Failures</th><th>Median latency</th></tr></thead><tbody>",
    );
    for model in app.catalog().models() {
        for endpoint in &model.endpoints {
            let provider = app
                .config()
                .provider(&endpoint.provider)
                .map_or(endpoint.provider.as_str(), |it| it.display_name.as_str());
            let health = seen.get_mut(&(model.id.clone(), provider.to_owned()));
            let (calls, failures, median) = match health {
                Some((calls, failures, times)) => {
                    times.sort_unstable();
                    let median = times.get(times.len() / 2).copied();
                    (
                        calls.to_string(),
                        failures.to_string(),
                        median.map_or_else(|| "-".to_owned(), |it| format!("{it} ms")),
                    )
                }
                None => ("0".to_owned(), "0".to_owned(), "-".to_owned()),
            };
            let _ = write!(
                body,
                "<tr><td>{id}</td><td>{provider}</td><td><code>{upstream}</code></td><td>{prompt:.2}</td><td>{completion:.2}</td><td>{context}</td><td>{calls}</td><td>{failures}</td><td>{median}</td></tr>",
                id = esc(&model.id),
                provider = esc(provider),
                upstream = esc(&endpoint.upstream_model),
                prompt = endpoint.pricing.prompt * 1e6,
                completion = endpoint.pricing.completion * 1e6,
                context = endpoint.context_length,
            );
        }
    }
    body.push_str("</tbody></table></div>");
    Html(html::page(
        "Models & providers",
        Nav::Models,
        Some(&signed.viewer()),
        &body,
    ))
    .into_response()
}
