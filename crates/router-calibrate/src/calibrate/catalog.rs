//! The synthetic catalog: the data's models priced from their observed costs.

use super::*;

/// A catalog of the data's models, each priced from its observed costs: a least-squares line
/// `cost = a * prompt tokens + b` gives the prompt price `a` and, spread over the assumed
/// completion length, the completion price.
pub(crate) fn synthetic_catalog(rows: &[Row], models: &[String]) -> anyhow::Result<Catalog> {
    let tokens: Vec<f64> = rows
        .iter()
        .map(|row| f64::from(prompt_tokens(&row.prompt)))
        .collect();
    let n = rows.len() as f64;
    let mean_t = tokens.iter().sum::<f64>() / n;
    let var_t = tokens.iter().map(|t| (t - mean_t).powi(2)).sum::<f64>();
    let catalog_models = models
        .iter()
        .map(|name| {
            let costs: Vec<f64> = rows.iter().map(|row| row.cost[name]).collect();
            let mean_c = costs.iter().sum::<f64>() / n;
            let cov = tokens
                .iter()
                .zip(&costs)
                .map(|(t, c)| (t - mean_t) * (c - mean_c))
                .sum::<f64>();
            let mut slope = if var_t > 0.0 {
                (cov / var_t).max(0.0)
            } else {
                0.0
            };
            let mut intercept = mean_c - slope * mean_t;
            if intercept < 0.0 {
                // Through the origin instead.
                let tt = tokens.iter().map(|t| t * t).sum::<f64>();
                let tc = tokens.iter().zip(&costs).map(|(t, c)| t * c).sum::<f64>();
                slope = if tt > 0.0 { tc / tt } else { 0.0 };
                intercept = 0.0;
            }
            Model {
                id: catalog_id(name).into(),
                name: name.clone(),
                created: 0,
                description: String::new(),
                endpoints: vec![Endpoint {
                    provider: "data".to_owned(),
                    upstream_model: name.clone(),
                    pricing: Pricing {
                        prompt: slope,
                        completion: intercept / f64::from(COMPLETION_TOKENS),
                        ..Pricing::default()
                    },
                    context_length: u32::MAX,
                    max_output: None,
                    supported_parameters: Vec::new(),
                    capabilities: Capabilities {
                        tools: true,
                        vision: true,
                        structured_output: true,
                    },
                    traits: Default::default(),
                }],
            }
        })
        .collect();
    Catalog::new(catalog_models).context("building the synthetic catalog")
}
