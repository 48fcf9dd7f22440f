//! The Auto Router (`openrouter/auto`): settings from the `auto-router` plugin, the cost/quality
//! dial, quality profiles, selection and its explanation.
//!
//! A request is routed in three pure steps:
//!
//! ```text
//! settings = AutoSettings::resolve(AutoPlugin::from_plugins(request.plugins)?, key, global)
//! analysis = profile.analyze(&Conversation::from_request(&request), &request.features())
//! selection = select(&catalog, &profile, &analysis, &SelectParams { filter, tradeoff, top_k })?
//! ```
//!
//! [`route`] does all three. The layout: [`settings`] (plugin fields and layering), [`dial`]
//! (lambda of the dial), [`profile`] (the quality profile, data not code), [`select`] (candidates,
//! scores, picks), [`prior`] (the price-tier prior of a model the profile does not know), [`explain`] (the explanation returned by `POST /api/v1/route`) and [`coverage`]
//! (the catalog models a profile does not know, for the start-up warning).

pub mod coverage;
pub mod dial;
pub mod explain;
pub mod prior;
pub mod profile;
pub mod select;
pub mod settings;

use crate::analysis::{Analysis, Conversation};
use crate::catalog::{Catalog, ModelIdx};
use crate::patterns::{ModelFilter, PatternError};
use crate::request::{ChatRequest, Role};
use profile::Profile;
use select::{SelectError, SelectParams, Selection};
use settings::AutoSettings;

/// Why an auto-routed request failed.
#[derive(Debug, thiserror::Error)]
pub enum AutoError<'a> {
    /// An `allowed_models` / `excluded_models` pattern is invalid (400).
    #[error(transparent)]
    Pattern(#[from] PatternError),
    /// Nothing could be chosen (404).
    #[error("{0}")]
    Select(SelectError<'a>),
}

impl<'a> From<SelectError<'a>> for AutoError<'a> {
    fn from(err: SelectError<'a>) -> Self {
        AutoError::Select(err)
    }
}

/// Analyses a parsed request and selects models for it with resolved settings.
pub fn route<'c>(
    catalog: &'c Catalog,
    profile: &Profile,
    request: &ChatRequest<'_>,
    settings: &AutoSettings,
    top_k: usize,
) -> Result<(Analysis, Selection<'c>), AutoError<'c>> {
    let filter = settings.filter()?;
    let conversation = Conversation::from_request(request);
    let analysis = profile.analyze(&conversation, &request.features());
    let selection = select::select(
        catalog,
        profile,
        &analysis,
        &SelectParams {
            filter: &filter,
            tradeoff: settings.cost_quality_tradeoff,
            top_k,
        },
    )?;
    Ok((analysis, selection))
}

/// With `pin_model`, the model of the most recent assistant message that names one, when the
/// catalog has it and the patterns permit it (the server then routes to it directly).
pub fn pinned_model(
    request: &ChatRequest<'_>,
    catalog: &Catalog,
    filter: &ModelFilter,
) -> Option<ModelIdx> {
    let model = request
        .messages
        .iter()
        .rev()
        .filter(|it| it.role == Role::Assistant)
        .find_map(|it| it.model.as_deref())?;
    catalog.find(model).filter(|_| filter.permits(model))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::tests::model;

    #[test]
    fn pins_the_last_assistant_model_when_permitted() {
        let catalog = Catalog::new(vec![model("a/one"), model("b/two")]).unwrap();
        let body = br#"{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"x","model":"a/one"},{"role":"assistant","content":"y","model":"b/two"},{"role":"user","content":"again"}]}"#;
        let request = ChatRequest::parse(body).unwrap();
        let all = ModelFilter::permit_all();
        assert_eq!(
            pinned_model(&request, &catalog, &all),
            catalog.find("b/two")
        );
        let no_b = ModelFilter::new(&[], &["b/*"]).unwrap();
        assert_eq!(pinned_model(&request, &catalog, &no_b), None);
        let fresh =
            ChatRequest::parse(br#"{"messages":[{"role":"user","content":"hi"}]}"#).unwrap();
        assert_eq!(pinned_model(&fresh, &catalog, &all), None);
    }
}
