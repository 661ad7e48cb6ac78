//! # llmux-router
//!
//! Turns model strings into configured providers ([`registry`]). Deployments,
//! model groups and the tower reliability stack (retries, fallbacks, cooldowns,
//! load balancing) build on this in the router issue.

pub mod registry;

pub use registry::{provider_names, resolve, ResolvedModel};
