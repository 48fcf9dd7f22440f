//! The routing plan: an ordered list of attempts (a model and one of its endpoints), each with
//! the reason it is in the plan.
//!
//! Plans are built by pure functions from the catalog and the request; the server runs them in
//! order, moving to the next attempt when one fails and the fallback policy allows it.

use crate::catalog::{Catalog, EndpointIdx, ModelIdx};

/// Why an attempt is in the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptReason {
    /// The model the client named in `model` (or the first of `models`).
    Requested,
    /// A fallback model from `models`, at this position of the client's list (0-based).
    FallbackModel {
        /// Position in the client's model list.
        position: usize,
    },
    /// Another endpoint (provider) of the same model, after the preferred one.
    FallbackProvider,
}

/// One attempt of a plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attempt {
    /// The model to call.
    pub model: ModelIdx,
    /// Which of the model's endpoints.
    pub endpoint: EndpointIdx,
    /// Why it is here.
    pub reason: AttemptReason,
}

/// Attempts in the order they are tried.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Plan {
    /// The attempts, first to last.
    pub attempts: Vec<Attempt>,
}

/// Why no plan could be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// Neither `model` nor `models` was given.
    #[error("`model` is required (or a non-empty `models` list)")]
    NoModel,
    /// A named model is not in the catalog.
    #[error("model `{0}` is not a valid model id")]
    UnknownModel(String),
}

/// The plan for one explicit model: each of its endpoints in configured order.
pub fn for_model(catalog: &Catalog, model_id: &str) -> Result<Plan, PlanError> {
    let model_idx = catalog
        .find(model_id)
        .ok_or_else(|| PlanError::UnknownModel(model_id.to_owned()))?;
    let n_endpoints = catalog.model(model_idx).endpoints.len();
    let attempts = (0..n_endpoints)
        .map(|endpoint| Attempt {
            model: model_idx,
            endpoint: EndpointIdx(endpoint),
            reason: if endpoint == 0 {
                AttemptReason::Requested
            } else {
                AttemptReason::FallbackProvider
            },
        })
        .collect();
    Ok(Plan { attempts })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{Capabilities, Endpoint, Model, Pricing};

    fn endpoint(provider: &str) -> Endpoint {
        Endpoint {
            provider: provider.to_owned(),
            upstream_model: "m".to_owned(),
            pricing: Pricing::default(),
            context_length: 1000,
            max_output: None,
            supported_parameters: Vec::new(),
            capabilities: Capabilities::default(),
        }
    }

    #[test]
    fn one_model_tries_each_endpoint_in_order() {
        let catalog = Catalog::new(vec![Model {
            id: "a/b".to_owned(),
            name: "B".to_owned(),
            created: 0,
            description: String::new(),
            endpoints: vec![endpoint("p1"), endpoint("p2")],
        }])
        .unwrap();
        let plan = for_model(&catalog, "a/b").unwrap();
        let providers: Vec<_> = plan
            .attempts
            .iter()
            .map(|it| {
                (
                    catalog
                        .model(it.model)
                        .endpoint(it.endpoint)
                        .provider
                        .as_str(),
                    it.reason,
                )
            })
            .collect();
        assert_eq!(
            providers,
            [
                ("p1", AttemptReason::Requested),
                ("p2", AttemptReason::FallbackProvider)
            ]
        );
        assert_eq!(
            for_model(&catalog, "a/c"),
            Err(PlanError::UnknownModel("a/c".to_owned()))
        );
    }
}
