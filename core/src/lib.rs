//! # llmux-core
//!
//! The small centre of llmux that everything else depends on:
//!
//! - [`types`]: OpenAI-shaped request and response types, field for field;
//! - [`Provider`]: one async method per endpoint; [`Codec`]: what a provider
//!   crate implements (wire format, credentials, errors), served by the one
//!   generic [`HttpProvider`];
//! - [`Error`]: one error type whose kinds match what OpenAI/LiteLLM users catch,
//!   rendered once as OpenAI's error JSON;
//! - [`sse`] and [`stream`]: incremental SSE decoding, the byte → chunk stream
//!   adapter, and the aggregator that rebuilds a completion from chunks;
//! - [`model`]: `provider/model` strings;
//! - [`transport`]: the one pooled HTTP client.
//!
//! It holds no server, database, routing or provider code.

pub mod calendar;
pub mod chat_bridge;
pub mod codec;
pub mod completion;
pub mod embeddings;
pub mod endpoint;
pub mod error;
pub mod error_body;
pub mod headers;
pub mod http_provider;
pub mod model;
pub mod multipart;
pub mod params;
pub mod pass_through;
pub mod propagation;
pub mod provider;
pub mod responses;
pub mod responses_bridge;
pub mod sse;
pub mod stream;
pub mod text;
pub mod transport;
pub mod types;

pub use codec::{Codec, ProviderFamily};
pub use error::{Error, ErrorKind, FallbackClass, Result};
pub use http_provider::HttpProvider;
pub use model::ModelRef;
pub use params::{Env, MapEnv, ProcessEnv, ProviderParams};
pub use provider::Provider;
pub use stream::{ChatStream, StreamAggregator};
pub use transport::HttpTransport;
pub use types::chat::{
    ChatCompletion, ChatCompletionChunk, ChatCompletionRequest, ChatMessage, MessageContent,
};

/// Seconds since the Unix epoch (for `created` fields llmux fills in itself).
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
