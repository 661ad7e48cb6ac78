//! What the gateway tells operators: Prometheus metrics today; traces and
//! logging callbacks join here, always off the request path.

pub mod metrics;
