//! # llmux-cache
//!
//! A response cache for llmux as a tower layer ([`CacheLayer`]), with an
//! in-process backend ([`MemoryBackend`], moka, bounded by bytes and TTL) and a
//! shared one ([`RedisBackend`], for several instances).
//!
//! Keys are SHA-256 of the normalized request under its model group
//! ([`cache_key`]): fields that cannot change the answer (`user`, `metadata`,
//! `stream`, …) are left out, so a streamed and a whole call share an entry.
//! Callers steer it per request with LiteLLM's `cache` field
//! ([`CacheControl`]: `no-cache`, `no-store`, `ttl`, `s-maxage`, `namespace`).
//! Hits are marked on the response (`RouteInfo::cache_hit` for the router) so
//! the gateway can price them at zero and add `x-llmux-cache-hit`.
//!
//! Not for: semantic (embedding-similarity) caching, or caching streams that
//! failed part-way.

pub mod backend;
pub mod control;
pub mod key;
pub mod layer;

pub use backend::{Backend, Entry, MemoryBackend, RedisBackend, RedisClient};
pub use control::CacheControl;
pub use key::cache_key;
pub use layer::{CacheLayer, CacheService};
