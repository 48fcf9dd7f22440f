//! Settings > Plugins > Auto Router (`GET|POST /ui/settings/plugins/auto-router`) and the
//! live pattern check behind it (`GET /ui/patterns`).

use std::fmt::Write as _;

use axum::Form;
use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use router_core::auto::settings::{AutoPlugin, AutoSettings};
use router_core::patterns::ModelPatterns;
use serde::{Deserialize, Serialize};

use crate::app::AppState;
use crate::chat::route::{Layer, SettingSources};
use crate::web::html::{self, Nav, esc, query_value};

use super::{
    SETTINGS_PATH, Signed, client_keys, csrf_ok, forbidden, key_named, now_ms, signed, to_sign_in,
};

/// The most patterns checked per list.
const MAX_PATTERNS: usize = 256;

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
    let saved = app.settings().saved(&key).map(|it| (*it).clone());
    let form = SettingsValues::of(saved.as_ref());
    Html(settings_html(&app, &signed, &key, &form, notice, &[])).into_response()
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
        for it in client_keys(app) {
            let selected = if *it.name == *key { " selected" } else { "" };
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
    let client_key = key_named(app, key);
    let configured = client_key.as_ref().and_then(|it| it.auto_router.as_ref());
    let saved = app.settings().saved(key);
    let layered = saved
        .as_deref()
        .map(|it| crate::web::store::layer(it, configured));
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
    let Some(key) = signed.target_key(&app, Some(form.key.as_str())) else {
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
                        .map(|it| it.id.to_string())
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
