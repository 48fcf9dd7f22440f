//! Models & providers (`GET /ui/models`): the catalog, prices, and each endpoint's last hour.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{Html, IntoResponse, Response};

use crate::app::AppState;
use crate::records::GenerationRecord;
use crate::web::html::{self, Nav, esc};
use crate::web::store::Principal;

use super::{MS_PER_HOUR, now_ms, signed, to_sign_in, week_records};

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
                .entry((attempt.model.to_string(), provider.to_string()))
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
            let health = seen.get_mut(&(model.id.to_string(), provider.to_owned()));
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
