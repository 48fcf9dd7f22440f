//! The provider-neutral layer between OpenRouter's request and answer shapes and the native wire
//! formats (Anthropic, Gemini).
//!
//! - [`input`]: the conversation decoded from the request's raw `messages`, `tools` and
//!   `tool_choice` (borrowed; the pieces a provider takes as they are, such as `cache_control`,
//!   JSON schemas and tool arguments, stay raw JSON slices of the body).
//! - [`options`]: OpenRouter's request fields read once: `reasoning` (and `include_reasoning`,
//!   `reasoning_effort`), `user` as a stable hash, `response_format`, `stop` and the sampling
//!   parameters, each dropped when the endpoint's `supported_parameters` lacks it.
//! - [`output`]: the answer side: OpenAI-shaped `choices` for a response and for a stream chunk
//!   (normalized `finish_reason` with the provider's value in `native_finish_reason`, tool calls,
//!   `reasoning` and `reasoning_details`), built from what a native format decoded.

pub(crate) mod input;
pub(crate) mod options;
pub(crate) mod output;
