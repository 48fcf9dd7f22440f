//! OpenRouter-shaped rendering of responses, stream chunks and the model list, as JSON bytes.
//!
//! The server owns a few fields of every response (`id`, `model`, `provider`, `created`, the
//! usage block with its cost); everything else (`choices`) is the provider's raw JSON, copied
//! verbatim. Rendering writes straight into a byte buffer: no `serde_json::Value`, no
//! intermediate strings. The functions are pure so the benches can measure them.
//!
//! Streams render a per-generation prefix once ([`ChunkPrefix`]) and then only append each
//! chunk's raw `choices`.
//!
//! The model list is rendered from a [`Listing`](crate::listing::Listing) (the rows a query
//! selects, see [`crate::listing`]), and [`model_endpoints`] renders the page each row links to.
//!
//! A routed response also says which models were asked for and which one answered, in
//! `_metadata.openRouter.modelRouting: {requested: [...], actual: "..."}` ([`ModelRouting`]): on
//! the body of a completion ([`routed_completion`]) and on the last chunk of a stream (the usage
//! chunk, [`ChunkPrefix::routed_usage_chunk`], or the error chunk of a stream that failed after
//! a model answered). OpenAI's and OpenRouter's SDKs ignore the key; clients written for
//! OpenRouter's routing guide read it.
//!
//! # Layout
//!
//! - `completion`: a `chat.completion` body and a stream's chunks (its [`ChunkPrefix`], the
//!   usage chunk, the error chunk).
//! - `models`: the model pages: the `/models` list ([`models_listing`]), one model ([`model`])
//!   and its endpoints ([`model_endpoints`]).
//! - [`crate::json::write`] writes their strings and numbers.

mod completion;
mod models;

pub use completion::{
    ChunkPrefix, Generation, ModelRouting, StreamError, completion, error_chunk, routed_completion,
};
pub use models::{model, model_endpoints, models_list, models_list_with_routers, models_listing};

/// The SSE comment sent while waiting for the first token.
pub const KEEPALIVE: &[u8] = b": OPENROUTER PROCESSING\n\n";

/// The SSE event that ends every stream.
pub const DONE: &[u8] = b"data: [DONE]\n\n";
