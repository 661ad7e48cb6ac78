//! # llmux-cache
//!
//! Will hold the response cache (moka in process, Redis shared). Empty until the
//! router/cost/cache issue lands; nothing here pretends to work yet.
