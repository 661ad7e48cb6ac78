//! # llmux-proxy
//!
//! The gateway as a library: an axum app that speaks OpenAI's HTTP API
//! (`/chat/completions`, `/embeddings`, …, with and without `/v1`) and
//! Anthropic's `/v1/messages` in front of an [`llmux_router::Router`],
//! configured from LiteLLM's `config.yaml`. State lives in `llmux-store`.
//!
//! In planes:
//! - [`gateway`]: the core every call goes through: admit → dispatch → settle;
//! - `http` (the data plane): one small router per module, merged;
//! - [`admin`]: key, user, team, budget and spend routes behind one
//!   master-key layer;
//! - [`pass_through`]: each provider's own API, and custom routes, behind
//!   the same keys, limits, budgets and spend;
//! - [`auth`]: who the caller is (master key, virtual keys);
//! - [`telemetry`]: Prometheus metrics;
//! - [`config`], [`server`]: the config file, building and serving;
//! - [`error`]: the one place an error becomes an HTTP response.

pub mod admin;
pub mod auth;
mod body;
pub mod cluster;
pub mod config;
mod conversations;
pub mod error;
pub mod gateway;
mod http;
pub mod pass_through;
pub mod pricing;
pub mod server;
pub mod telemetry;

pub use server::{build, serve, ServeOptions};
