//! # llmux-router
//!
//! Model groups of deployments and the reliability stack in front of them,
//! built from LiteLLM's `model_list` / `router_settings` or from the
//! environment ([`Router::from_env`]).
//!
//! Per call, a tower stack runs `Fallback → Retry → Hedge → Select`:
//! - **Select** picks a deployment with the configured [`strategy`]
//!   (simple-shuffle, least-busy, latency-, usage- or cost-based), skipping
//!   deployments that are cooling down, over their rpm/tpm (governor), or too
//!   small for the prompt (pre-call check); it calls the provider under the
//!   deployment's timeout and records latency, usage and failures.
//! - **Hedge** (opt-in per group) sends a second copy of a slow call to another
//!   deployment and keeps the first answer.
//! - **Retry** retries per error kind with exponential backoff and jitter,
//!   honouring `retry-after`.
//! - **Fallback** tries other groups on the error kinds each fallback list covers.
//!
//! A stream is retried or falls back only before its first chunk: `chat_stream`
//! returns once the first chunk has arrived.
//!
//! [`registry`] resolves `provider/model` strings to configured providers.

/// `tower::Service<RouterRequest>` for a router stage that is always ready
/// and answers with a boxed future: `$call` turns `$this` (the stage) and
/// `$req` into that future. One copy of what each stage would repeat.
macro_rules! always_ready_service {
    ($ty:ty, |$this:ident, $req:ident| $call:block) => {
        impl tower::Service<crate::call::RouterRequest> for $ty {
            type Response = crate::call::RouterResponse;
            type Error = llmux_core::Error;
            type Future = std::pin::Pin<
                Box<
                    dyn std::future::Future<
                            Output = llmux_core::Result<crate::call::RouterResponse>,
                        > + Send,
                >,
            >;

            fn poll_ready(
                &mut self,
                _cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<llmux_core::Result<()>> {
                std::task::Poll::Ready(Ok(()))
            }

            fn call(&mut self, $req: crate::call::RouterRequest) -> Self::Future {
                let $this = self;
                $call
            }
        }
    };
}

pub mod call;
pub mod config;
pub mod deployment;
pub mod fallback;
pub mod hedge;
pub mod registry;
pub mod retry;
pub mod router;
pub mod select;
pub mod shared;
pub mod strategy;

pub use call::{
    Attempt, Call, CallContext, Reply, RouteInfo, Routed, RouterRequest, RouterResponse,
};
pub use config::{LitellmParams, ModelListEntry, RouterSettings};
pub use registry::{provider_names, resolve, ResolvedModel};
pub use router::{CooldownListener, Router, UsageListener};
