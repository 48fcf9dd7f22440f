//! Fuzz target: the plan builder over catalogs and requests derived from the fuzz input.
//!
//! The bytes are decoded (with `arbitrary`'s `Unstructured`) into a small catalog, a list of
//! requested model ids (some unknown), request features and plan options. Whatever they are,
//! building must not panic, must be deterministic, and a plan must satisfy the invariants the
//! executor relies on.

#![no_main]

use std::borrow::Cow;

use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use router_core::catalog::{
    Capabilities, Catalog, Endpoint, EndpointIdx, Model, ModelIdx, Pricing,
};
use router_core::plan::{self, PlanError, PlanOptions, PlanRequest, Step};
use router_core::request::RequestFeatures;

struct Input {
    catalog: Catalog,
    model: Option<String>,
    models: Vec<String>,
    features: RequestFeatures,
    options: PlanOptions,
}

fn endpoint(u: &mut Unstructured<'_>, idx: usize) -> Result<Endpoint> {
    Ok(Endpoint {
        provider: format!("p{idx}"),
        upstream_model: "m".to_owned(),
        pricing: Pricing::default(),
        context_length: u.int_in_range(0..=4096)?,
        max_output: None,
        supported_parameters: Vec::new(),
        capabilities: Capabilities {
            tools: u.arbitrary()?,
            vision: u.arbitrary()?,
            structured_output: u.arbitrary()?,
        },
        traits: Default::default(),
    })
}

fn model_id(u: &mut Unstructured<'_>, n_models: usize) -> Result<String> {
    // One index past the catalog names a model that does not exist.
    let idx = u.int_in_range(0..=n_models)?;
    Ok(format!("a/m{idx}"))
}

fn input(u: &mut Unstructured<'_>) -> Result<Input> {
    let n_models = u.int_in_range(1..=6)?;
    let mut models = Vec::with_capacity(n_models);
    for model_idx in 0..n_models {
        let n_endpoints = u.int_in_range(1..=3)?;
        let endpoints = (0..n_endpoints)
            .map(|idx| endpoint(u, idx))
            .collect::<Result<Vec<_>>>()?;
        models.push(Model {
            id: format!("a/m{model_idx}").into(),
            name: String::new(),
            created: 0,
            description: String::new(),
            endpoints,
        });
    }
    let catalog = match Catalog::new(models) {
        Ok(catalog) => catalog,
        Err(err) => panic!("generated catalogs are valid: {err}"),
    };
    let model = if u.arbitrary()? {
        Some(model_id(u, n_models)?)
    } else {
        None
    };
    let n_fallbacks = u.int_in_range(0..=6)?;
    let models = (0..n_fallbacks)
        .map(|_| model_id(u, n_models))
        .collect::<Result<Vec<_>>>()?;
    let features = RequestFeatures {
        needs_tools: u.arbitrary()?,
        needs_vision: u.arbitrary()?,
        needs_structured_output: u.arbitrary()?,
        prompt_tokens_estimate: u.int_in_range(0..=5000)?,
        max_output_tokens: if u.arbitrary()? {
            Some(u.int_in_range(1..=u32::MAX)?)
        } else {
            None
        },
    };
    let options = PlanOptions {
        max_models: u.int_in_range(0..=5)?,
        default_output_tokens: u.arbitrary()?,
    };
    Ok(Input {
        catalog,
        model,
        models,
        features,
        options,
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(input) = input(&mut Unstructured::new(data)) else {
        return;
    };
    let models: Vec<Cow<'_, str>> = input
        .models
        .iter()
        .map(|it| Cow::from(it.as_str()))
        .collect();
    let request = PlanRequest {
        model: input.model.as_deref(),
        models: &models,
        features: input.features,
        options: input.options,
    };
    let result = plan::build(&input.catalog, &request);
    assert_eq!(
        result,
        plan::build(&input.catalog, &request),
        "deterministic"
    );
    let plan = match result {
        Ok(plan) => plan,
        Err(PlanError::TooManyModels { max, given }) => {
            assert!(given > max && given == input.models.len());
            return;
        }
        Err(PlanError::UnknownModel(id)) => {
            assert!(input.catalog.find(&id).is_none());
            return;
        }
        Err(PlanError::NoModel) => {
            assert!(input.model.is_none() && input.models.is_empty());
            return;
        }
        Err(PlanError::UnsupportedVariant { model, .. }) => {
            assert!(input.catalog.find(&model).is_none());
            return;
        }
        Err(PlanError::NoEndpointsMatch(message)) => {
            panic!("no preferences, yet no endpoint matches: {message}");
        }
    };
    assert!(input.models.len() <= input.options.max_models);

    // `requested`: distinct, and within the limit.
    for (idx, model) in plan.requested.iter().enumerate() {
        assert!(!plan.requested[..idx].contains(model), "duplicate model");
    }
    assert!(plan.requested.len() <= input.options.max_models + 1);

    // Steps follow `requested`: each model is one contiguous run, in order; calls are configured
    // endpoints that can take the request, in increasing endpoint order; a skip is alone.
    let mut runs: Vec<(ModelIdx, Vec<Option<EndpointIdx>>)> = Vec::new();
    for step in plan.steps() {
        let (model, endpoint) = match step {
            Step::Call(attempt) => (attempt.model, Some(attempt.endpoint)),
            Step::Skip(skipped) => (skipped.model, None),
        };
        match runs.last_mut() {
            Some((last, endpoints)) if *last == model => endpoints.push(endpoint),
            _ => runs.push((model, vec![endpoint])),
        }
    }
    let run_models: Vec<ModelIdx> = runs.iter().map(|(model, _)| *model).collect();
    assert_eq!(
        run_models, plan.requested,
        "steps follow the requested order"
    );
    for (model_idx, endpoints) in &runs {
        let model = input.catalog.model(*model_idx);
        let usable: Vec<Option<EndpointIdx>> = (0..model.endpoints.len())
            .filter(|idx| request.endpoint_rejection(&model.endpoints[*idx]).is_none())
            .map(|idx| Some(EndpointIdx(idx)))
            .collect();
        if usable.is_empty() {
            assert_eq!(
                endpoints,
                &[None],
                "a model with no usable endpoint is one skip"
            );
        } else {
            assert_eq!(endpoints, &usable, "usable endpoints, in configured order");
        }
    }
    assert_eq!(plan.steps().count(), plan.len());
});
