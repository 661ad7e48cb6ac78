//! # llmux-proxy
//!
//! Will hold the gateway (axum routes, auth, keys, budgets, spend). Empty until
//! the gateway issue lands; nothing here pretends to work yet.
