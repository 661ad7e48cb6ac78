//! What the gateway tells operators: Prometheus metrics, traces and
//! LiteLLM's logging callbacks, always off the request path (the request
//! path builds one payload per call and pushes it into bounded queues).

pub mod callbacks;
pub mod metrics;
pub mod payload;
pub mod trace;
