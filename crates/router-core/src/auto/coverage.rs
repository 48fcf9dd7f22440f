//! Which catalog models a quality profile does not cover, and the quality the Auto Router
//! assumes for them: the server warns about each at start-up, so a profile keyed by other names
//! than the catalog's ids cannot go unnoticed.

use crate::catalog::Catalog;

use super::profile::Profile;

/// A catalog model the profile has no numbers for.
#[derive(Debug, Clone, PartialEq)]
pub struct Uncovered<'a> {
    /// The catalog id.
    pub model: &'a str,
    /// The quality selection assumes for it (the profile's `unknown_model_quality`).
    pub assumed_quality: f64,
}

/// The catalog models, in catalog order, that `profile` does not know.
pub fn uncovered<'a>(profile: &Profile, catalog: &'a Catalog) -> Vec<Uncovered<'a>> {
    let models = &profile.data().models;
    let assumed_quality = profile.selection().unknown_model_quality;
    catalog
        .models()
        .iter()
        .filter(|model| !models.contains_key(&model.id))
        .map(|model| Uncovered {
            model: &model.id,
            assumed_quality,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{Capabilities, Endpoint, Model, Pricing};

    fn model(id: &str) -> Model {
        Model {
            id: id.to_owned(),
            name: id.to_owned(),
            created: 0,
            description: String::new(),
            endpoints: vec![Endpoint {
                provider: "p".to_owned(),
                upstream_model: "m".to_owned(),
                pricing: Pricing::default(),
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
        assert_eq!(
            missing[0].assumed_quality,
            profile.selection().unknown_model_quality
        );
    }
}
