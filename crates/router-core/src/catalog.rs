//! The model catalog: models named `author/slug`, the endpoints (provider + upstream model name)
//! that serve them, their prices and their capabilities.
//!
//! A [`Catalog`] is built once from configuration and then only read. Plans refer to models and
//! endpoints by index ([`ModelIdx`], [`EndpointIdx`]) so the request path copies no strings.

use std::collections::HashMap;
use std::sync::Arc;

/// Position of a model in its [`Catalog`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ModelIdx(pub usize);

/// Position of an endpoint within its [`Model`]'s `endpoints`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EndpointIdx(pub usize);

/// Prices of one endpoint, in USD **per token** (per request for `request`).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Pricing {
    /// Input (prompt) tokens that were not read from the prompt cache.
    pub prompt: f64,
    /// Output (completion) tokens, reasoning included unless `reasoning` is set.
    pub completion: f64,
    /// Prompt tokens read from the provider's prompt cache; `None` bills them as `prompt`.
    pub cache_read: Option<f64>,
    /// Prompt tokens written to the provider's prompt cache; `None` bills them as `prompt`.
    pub cache_write: Option<f64>,
    /// Reasoning tokens, when the provider prices them apart from completion tokens.
    pub reasoning: Option<f64>,
    /// A fixed price per request.
    pub request: f64,
}

/// What an endpoint can do beyond plain text chat.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Capabilities {
    /// Function calling (`tools`, `tool_choice`).
    pub tools: bool,
    /// Image inputs (`image_url` content parts).
    pub vision: bool,
    /// `response_format` with `json_schema` (structured outputs).
    pub structured_output: bool,
}

/// One way to reach a model: a provider and the model's name at that provider.
#[derive(Debug, Clone, PartialEq)]
pub struct Endpoint {
    /// The provider's slug, as configured (`openai`, `anthropic`, `deepinfra`).
    pub provider: String,
    /// The model name the provider expects in its request body (`gpt-5.1`).
    pub upstream_model: String,
    /// Prices at this endpoint.
    pub pricing: Pricing,
    /// Maximum prompt plus completion tokens.
    pub context_length: u32,
    /// Maximum completion tokens, when the endpoint limits them below the context length.
    pub max_output: Option<u32>,
    /// Request parameters the endpoint honours (OpenRouter's `supported_parameters` vocabulary).
    pub supported_parameters: Vec<String>,
    /// Capabilities at this endpoint.
    pub capabilities: Capabilities,
    /// What provider selection reads beyond prices and limits: the provider's display name,
    /// quantization, data policy and configured speed.
    pub traits: EndpointTraits,
}

/// Whether a provider may keep or train on prompts (OpenRouter's `data_collection`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DataCollection {
    /// The provider may store prompts or train on them.
    #[default]
    Allow,
    /// The provider neither stores prompts nor trains on them.
    Deny,
}

/// What provider selection (`provider` preferences, `sort`) reads about an endpoint beyond its
/// prices and limits.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EndpointTraits {
    /// The provider's display name (`OpenAI`); `provider` preferences match it as well as the
    /// slug. Empty when unknown.
    pub provider_name: String,
    /// Weight precision, lowercase (`fp8`, `bf16`); `None` is OpenRouter's `unknown`.
    pub quantization: Option<String>,
    /// The provider's data policy.
    pub data_collection: DataCollection,
    /// Zero data retention: the provider keeps nothing of the request.
    pub zdr: bool,
    /// Configured time to first token, in seconds, used by `sort: latency` until there are
    /// measurements.
    pub latency: Option<f64>,
    /// Configured output tokens per second, used by `sort: throughput` until there are
    /// measurements.
    pub throughput: Option<f64>,
}

/// A model as clients name it, with the endpoints that serve it in their configured order.
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    /// Public id, `author/slug` (`anthropic/claude-sonnet-4.5`), shared: a generation record
    /// that names the model holds it without a copy.
    pub id: Arc<str>,
    /// Display name (`Anthropic: Claude Sonnet 4.5`).
    pub name: String,
    /// Unix seconds when the model was published (for `/models`).
    pub created: u64,
    /// Free-text description (for `/models`).
    pub description: String,
    /// Endpoints, in the configured order of preference; never empty.
    pub endpoints: Vec<Endpoint>,
}

impl Model {
    /// The largest context length of any endpoint.
    pub fn context_length(&self) -> u32 {
        self.endpoints
            .iter()
            .map(|it| it.context_length)
            .max()
            .unwrap_or(0)
    }

    /// The endpoint at `idx`.
    ///
    /// # Panics
    ///
    /// If `idx` did not come from this model.
    pub fn endpoint(&self, idx: EndpointIdx) -> &Endpoint {
        &self.endpoints[idx.0]
    }
}

/// Why a catalog could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CatalogError {
    /// The id is not of the form `author/slug`.
    #[error("model id `{0}` is not of the form `author/slug`")]
    InvalidModelId(String),
    /// Two models share an id.
    #[error("model `{0}` is defined twice")]
    DuplicateModel(String),
    /// A model has no endpoint.
    #[error("model `{0}` has no endpoint")]
    NoEndpoints(String),
}

/// All models the router can serve. Immutable once built.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    models: Vec<Model>,
    by_id: HashMap<Arc<str>, ModelIdx>,
}

impl Catalog {
    /// Builds a catalog, checking ids are `author/slug`, unique, and that every model has an
    /// endpoint. Model order is kept (it is the order of `/models`).
    pub fn new(models: Vec<Model>) -> Result<Self, CatalogError> {
        let mut by_id = HashMap::with_capacity(models.len());
        for (idx, model) in models.iter().enumerate() {
            if !is_model_id(&model.id) {
                return Err(CatalogError::InvalidModelId(model.id.to_string()));
            }
            if model.endpoints.is_empty() {
                return Err(CatalogError::NoEndpoints(model.id.to_string()));
            }
            if by_id.insert(model.id.clone(), ModelIdx(idx)).is_some() {
                return Err(CatalogError::DuplicateModel(model.id.to_string()));
            }
        }
        Ok(Self { models, by_id })
    }

    /// Looks a model up by its public id.
    pub fn find(&self, id: &str) -> Option<ModelIdx> {
        self.by_id.get(id).copied()
    }

    /// The model at `idx`.
    ///
    /// # Panics
    ///
    /// If `idx` did not come from this catalog.
    pub fn model(&self, idx: ModelIdx) -> &Model {
        &self.models[idx.0]
    }

    /// All models, in configured order.
    pub fn models(&self) -> &[Model] {
        &self.models
    }

    /// All models with their indices.
    pub fn iter(&self) -> impl Iterator<Item = (ModelIdx, &Model)> {
        self.models
            .iter()
            .enumerate()
            .map(|(idx, model)| (ModelIdx(idx), model))
    }

    /// A table by model and endpoint index (`table[model][endpoint]`) of `cell` for each
    /// endpoint of each model: the shape of every per-endpoint state (health, shared
    /// cool-downs, routes by name).
    pub fn per_endpoint<'a, T>(
        &'a self,
        mut cell: impl FnMut(&'a Model, &'a Endpoint) -> T,
    ) -> Vec<Box<[T]>> {
        self.models
            .iter()
            .map(|model| {
                model
                    .endpoints
                    .iter()
                    .map(|endpoint| cell(model, endpoint))
                    .collect()
            })
            .collect()
    }

    /// Number of models.
    pub fn len(&self) -> usize {
        self.models.len()
    }

    /// Whether the catalog has no model.
    pub fn is_empty(&self) -> bool {
        self.models.is_empty()
    }
}

/// Whether `id` is `author/slug`: two non-empty parts without whitespace, one `/`.
pub fn is_model_id(id: &str) -> bool {
    match id.split_once('/') {
        Some((author, slug)) => {
            !author.is_empty()
                && !slug.is_empty()
                && !slug.contains('/')
                && !id.chars().any(char::is_whitespace)
        }
        None => false,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A model with one plain endpoint (provider `p`, context 1000): the shared test fixture.
    pub(crate) fn model(id: &str) -> Model {
        Model {
            id: id.into(),
            name: id.to_owned(),
            created: 0,
            description: String::new(),
            endpoints: vec![Endpoint {
                provider: "p".to_owned(),
                upstream_model: "m".to_owned(),
                pricing: Pricing::default(),
                context_length: 1000,
                max_output: None,
                supported_parameters: Vec::new(),
                capabilities: Capabilities::default(),
                traits: EndpointTraits::default(),
            }],
        }
    }

    #[test]
    fn rejects_bad_ids_duplicates_and_empty_models() {
        assert_eq!(
            Catalog::new(vec![model("gpt")]).unwrap_err(),
            CatalogError::InvalidModelId("gpt".to_owned())
        );
        assert_eq!(
            Catalog::new(vec![model("a/b"), model("a/b")]).unwrap_err(),
            CatalogError::DuplicateModel("a/b".to_owned())
        );
        let mut empty = model("a/c");
        empty.endpoints.clear();
        assert_eq!(
            Catalog::new(vec![empty]).unwrap_err(),
            CatalogError::NoEndpoints("a/c".to_owned())
        );
    }

    #[test]
    fn finds_models_by_id() {
        let catalog = Catalog::new(vec![model("a/x"), model("b/y")]).unwrap();
        assert_eq!(catalog.find("b/y"), Some(ModelIdx(1)));
        assert_eq!(catalog.find("b/z"), None);
        assert_eq!(&*catalog.model(ModelIdx(0)).id, "a/x");
    }

    #[test]
    fn per_endpoint_tables_follow_the_catalog_order() {
        let mut two = model("b/y");
        two.endpoints.push(Endpoint {
            provider: "q".to_owned(),
            ..two.endpoints[0].clone()
        });
        let catalog = Catalog::new(vec![model("a/x"), two]).unwrap();
        let table =
            catalog.per_endpoint(|model, endpoint| format!("{}@{}", model.id, endpoint.provider));
        assert_eq!(table.len(), 2);
        assert_eq!(&*table[0], ["a/x@p"]);
        assert_eq!(&*table[1], ["b/y@p", "b/y@q"]);
    }

    #[test]
    fn model_ids_are_author_slash_slug() {
        assert!(is_model_id("openai/gpt-5.1"));
        assert!(!is_model_id("openai/"));
        assert!(!is_model_id("/gpt"));
        assert!(!is_model_id("a/b/c"));
        assert!(!is_model_id("a /b"));
    }
}
