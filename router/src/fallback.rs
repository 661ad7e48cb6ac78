//! Fallbacks: when a model group's attempts end in an error, try the groups
//! its fallback list names, in order. Which list applies depends on the error:
//! context-window errors use `context_window_fallbacks`, content-policy errors
//! `content_policy_fallbacks`, other upstream failures `fallbacks` (then
//! `default_fallbacks`), and the caller's own mistakes none at all.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use llmux_core::{Error, FallbackClass, Result};
use tower::{Service, ServiceExt};

use crate::call::{RouterRequest, RouterResponse};
use crate::shared::Shared;

/// Puts a [`FallbackService`] over the retrying stage.
#[derive(Clone)]
pub struct FallbackLayer {
    shared: Arc<Shared>,
}

impl FallbackLayer {
    pub(crate) fn new(shared: Arc<Shared>) -> FallbackLayer {
        FallbackLayer { shared }
    }
}

impl<S> tower::Layer<S> for FallbackLayer {
    type Service = FallbackService<S>;

    fn layer(&self, inner: S) -> FallbackService<S> {
        FallbackService {
            shared: self.shared.clone(),
            inner,
        }
    }
}

/// Wraps the retrying service with fallbacks to other model groups.
#[derive(Clone)]
pub struct FallbackService<S> {
    pub(crate) shared: Arc<Shared>,
    pub(crate) inner: S,
}

impl<S> Service<RouterRequest> for FallbackService<S>
where
    S: Service<RouterRequest, Response = RouterResponse, Error = Error> + Clone + Send + 'static,
    S::Future: Send,
{
    type Response = RouterResponse;
    type Error = Error;
    type Future = Pin<Box<dyn Future<Output = Result<RouterResponse>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut req: RouterRequest) -> Self::Future {
        let shared = self.shared.clone();
        let inner = self.inner.clone();
        if let std::borrow::Cow::Owned(name) = shared.canonical_name(&req.group) {
            req.group = name;
        }
        Box::pin(async move {
            let err = match inner.clone().oneshot(req.clone()).await {
                Ok(resp) => return Ok(resp),
                Err(e) => e,
            };
            let class = err.kind.fallback_class();
            if class == FallbackClass::None {
                return Err(err);
            }
            let groups = shared.fallbacks_for(class, &req.group);
            let mut last = err;
            for group in groups {
                tracing::info!(from = %req.group, to = %group, error = %last, "falling back");
                let mut next = req.clone();
                next.group = group;
                match inner.clone().oneshot(next).await {
                    Ok(mut resp) => {
                        resp.route.fallback_from = Some(req.group.clone());
                        resp.route.attempts = req.context.attempts();
                        return Ok(resp);
                    }
                    Err(e) => last = e,
                }
            }
            Err(last)
        })
    }
}
