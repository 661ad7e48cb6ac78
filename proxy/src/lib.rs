//! # llmux-proxy
//!
//! The gateway as a library: an axum app that speaks OpenAI's HTTP API
//! (`/chat/completions`, `/embeddings`, …, with and without `/v1`) in front of
//! an [`llmux_router::Router`], configured from LiteLLM's `config.yaml`.
//!
//! - [`config`]: the config file, read as LiteLLM writes it; unknown keys warned.
//! - [`server`]: build a gateway, bind, serve, drain on shutdown.
//! - [`app`]: routes, headers (`x-llmux-*`), metrics recording.
//! - [`sse`]: streaming to clients with backpressure, keep-alives and in-band errors.
//! - [`auth`]: the master key today; the seam virtual keys plug into.
//! - [`error`]: the one place an error becomes an HTTP response.

pub mod app;
pub mod auth;
pub mod budget_api;
pub mod cluster;
pub mod completions;
pub mod config;
pub mod error;
pub mod keys;
pub mod management;
pub mod messages;
pub mod metrics;
pub mod org;
pub mod pricing;
pub mod reports;
pub mod server;
pub mod sse;

pub use server::{build, serve, ServeOptions};
