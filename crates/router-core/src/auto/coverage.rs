//! Which catalog models a quality profile does not cover, and the quality the Auto Router
//! assumes for them: the server warns about each at start-up, so a profile keyed by other names
//! than the catalog's ids cannot go unnoticed.
//!
//! The assumed quality is the price-tier prior ([`super::prior`]) for an average prompt: the mean,
//! over the profiled catalog models in the model's price tier, of their task averages. A typical
//! request's price ranks the models (`provider::typical_price` at a model's cheapest endpoint).

use crate::catalog::{Catalog, Model};
use crate::provider::typical_price;

use super::prior::TierTable;
use super::profile::Profile;

/// A catalog model the profile has no numbers for.
#[derive(Debug, Clone, PartialEq)]
pub struct Uncovered<'a> {
    /// The catalog id.
    pub model: &'a str,
    /// The quality selection assumes for it on an average prompt.
    pub assumed_quality: f64,
    /// Its price tier among the profiled catalog models, `0` (cheapest) to
    /// `prior::TIERS - 1`; `None` when no catalog model is profiled (the assumed quality is then
    /// the profile's average, or its `unknown_model_quality` when it lists no model).
    pub tier: Option<usize>,
}

/// The catalog models, in catalog order, that `profile` does not know.
pub fn uncovered<'a>(profile: &Profile, catalog: &'a Catalog) -> Vec<Uncovered<'a>> {
    let table = TierTable::new(
        catalog
            .models()
            .iter()
            .filter_map(|model| Some((price(model), profile.average_quality(&model.id)?)))
            .collect(),
    );
    let fallback = profile
        .overall_quality()
        .unwrap_or(profile.selection().unknown_model_quality);
    catalog
        .models()
        .iter()
        .filter(|model| !profile.knows(&model.id))
        .map(|model| {
            let prior = table.prior(price(model));
            Uncovered {
                model: &model.id,
                assumed_quality: prior.map_or(fallback, |it| it.quality),
                tier: prior.map(|it| it.tier),
            }
        })
        .collect()
}

/// A typical request's price at the model's cheapest endpoint.
fn price(model: &Model) -> f64 {
    model
        .endpoints
        .iter()
        .map(typical_price)
        .fold(f64::INFINITY, f64::min)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{Capabilities, Endpoint, Model, Pricing};

    fn model(id: &str) -> Model {
        priced(id, 0.0)
    }

    fn priced(id: &str, price: f64) -> Model {
        Model {
            id: id.into(),
            name: id.to_owned(),
            created: 0,
            description: String::new(),
            endpoints: vec![Endpoint {
                provider: "p".to_owned(),
                upstream_model: "m".to_owned(),
                pricing: Pricing {
                    prompt: price,
                    completion: price,
                    ..Pricing::default()
                },
                context_length: 8_000,
                max_output: None,
                supported_parameters: Vec::new(),
                capabilities: Capabilities::default(),
                traits: Default::default(),
            }],
        }
    }

    #[test]
    fn names_every_catalog_model_the_profile_lacks() {
        let profile = Profile::demo().unwrap();
        let known = profile.data().models.keys().next().unwrap().clone();
        let catalog = Catalog::new(vec![model(&known), model("acme/new-model")]).unwrap();
        let missing = uncovered(&profile, &catalog);
        assert_eq!(missing.len(), 1);
        assert_eq!(missing[0].model, "acme/new-model");
        let known_quality = profile.average_quality(&known).unwrap();
        assert!((missing[0].assumed_quality - known_quality).abs() < 1e-12);
        assert_eq!(missing[0].tier, Some(0));
    }

    #[test]
    fn the_assumed_quality_follows_the_price_tier_and_is_never_zero() {
        let profile = Profile::demo().unwrap();
        let mut known: Vec<(String, f64)> = profile
            .data()
            .models
            .keys()
            .map(|id| (id.clone(), profile.average_quality(id).unwrap()))
            .collect();
        known.sort_by(|a, b| a.1.total_cmp(&b.1));
        // Price the profiled models by their quality: the best ones cost the most.
        let mut models: Vec<Model> = known
            .iter()
            .enumerate()
            .map(|(rank, (id, _))| priced(id, 1e-6 * (rank + 1) as f64))
            .collect();
        models.push(priced("acme/cheap", 1e-9));
        models.push(priced("acme/premium", 1.0));
        let catalog = Catalog::new(models).unwrap();
        let missing = uncovered(&profile, &catalog);
        assert_eq!(missing.len(), 2);
        let (cheap, premium) = (&missing[0], &missing[1]);
        assert_eq!((cheap.tier, premium.tier), (Some(0), Some(3)));
        assert!(cheap.assumed_quality > 0.0);
        assert!(premium.assumed_quality > cheap.assumed_quality);
        assert_ne!(
            premium.assumed_quality,
            profile.selection().unknown_model_quality
        );
        let quarter = known.len().div_ceil(4);
        let top: f64 =
            known.iter().rev().take(quarter).map(|it| it.1).sum::<f64>() / quarter as f64;
        assert!(
            (premium.assumed_quality - top).abs() < 1e-9,
            "{premium:?} {top}"
        );
    }
}
