//! Activity: recent generations and charts (`GET /ui/activity`), one generation's receipt and
//! attempts (`GET /ui/activity/{id}`).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;

use crate::app::AppState;
use crate::records::GenerationRecord;
use crate::web::charts;
use crate::web::html::{self, Nav, esc, query_value, usd};
use crate::web::store::Principal;

use super::{MS_PER_DAY, MS_PER_HOUR, client_keys, now_ms, signed, to_sign_in, week_records};

/// The most rows of the activity table.
const ACTIVITY_ROWS: usize = 200;

#[derive(Deserialize, Default)]
pub(crate) struct ActivityQuery {
    key: Option<String>,
    #[serde(default)]
    model: String,
    #[serde(default)]
    status: String,
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
        for it in client_keys(&app) {
            let selected = if key_filter.as_deref() == Some(&*it.name) {
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
        let selected = if *query.model == *model.id {
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
                || it.requested_models.iter().any(|it| **it == *query.model)
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
            Some(router) => router,
            None => record.requested_models.first().map_or("", |it| &**it),
        };
        let _ = write!(
            body,
            "<tr data-status=\"{status}\"><td><a href=\"/ui/activity/{id_q}\">{time}</a></td><td>{requested}</td><td>{served}</td><td>{provider}</td><td>{depth}</td><td>{pt} + {ct}</td><td>{cost}</td><td>{latency} ms</td><td>{ttft}</td><td>{finish}</td></tr>",
            status = status_of(record),
            id_q = esc(&query_value(&record.id)),
            time = html::time(record.created_at_ms),
            requested = esc(requested),
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
            let model = record.model.as_deref().unwrap_or("(failed)").to_owned();
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
        Principal::Admin => client_keys(&app)
            .iter()
            .map(|it| it.name.to_string())
            .collect(),
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
        ("Key", record.key_name.to_string()),
        ("Router", record.router.as_deref().unwrap_or("-").to_owned()),
        ("Requested models", record.requested_models.join(", ")),
        (
            "Served model",
            record.model.as_deref().unwrap_or("-").to_owned(),
        ),
        (
            "Provider",
            record.provider.as_deref().unwrap_or("-").to_owned(),
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
            record.finish_reason.as_deref().unwrap_or("-").to_owned(),
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
