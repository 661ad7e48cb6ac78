//! The cache as a tower layer over any service whose requests and responses
//! implement llmux-core's [`CallRequest`] / [`CallResponse`] (the router's do).
//!
//! Chat, embeddings and rerank answers are cached. A streamed answer is stored
//! as the completion its chunks add up to — only if the stream ended cleanly —
//! and a hit for a streaming call is replayed as chunks. Storing happens off
//! the response path. If the backend fails, the call goes upstream as if
//! there were no cache, and a warning is logged.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::{Stream, StreamExt};
use llmux_core::endpoint::{Call, CallRequest, CallResponse, Reply};
use llmux_core::stream::{completion_to_chunks, StreamAggregator};
use llmux_core::types::chat::{ChatCompletion, ChatCompletionChunk};
use llmux_core::{unix_now, ChatStream, Error, Result};
use tower::{Layer, Service, ServiceExt};

use crate::backend::{Backend, Entry};
use crate::control::CacheControl;
use crate::key::cache_key;

/// Adds a response cache in front of a service.
#[derive(Clone)]
pub struct CacheLayer {
    backend: Arc<dyn Backend>,
    default_ttl: Duration,
}

impl CacheLayer {
    /// A layer storing in `backend` for `default_ttl` unless a call says otherwise.
    pub fn new(backend: Arc<dyn Backend>, default_ttl: Duration) -> Self {
        CacheLayer {
            backend,
            default_ttl,
        }
    }
}

impl<S> Layer<S> for CacheLayer {
    type Service = CacheService<S>;

    fn layer(&self, inner: S) -> CacheService<S> {
        CacheService {
            inner,
            backend: self.backend.clone(),
            default_ttl: self.default_ttl,
        }
    }
}

/// The service [`CacheLayer`] produces.
#[derive(Clone)]
pub struct CacheService<S> {
    inner: S,
    backend: Arc<dyn Backend>,
    default_ttl: Duration,
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Chat,
    ChatStream,
    Embeddings,
    Rerank,
}

fn kind_of(call: &Call) -> Option<Kind> {
    Some(match call {
        Call::Chat(_) => Kind::Chat,
        Call::ChatStream(_) => Kind::ChatStream,
        Call::Embeddings(_) => Kind::Embeddings,
        Call::Rerank(_) => Kind::Rerank,
        _ => return None,
    })
}

fn reply_from(kind: Kind, body: &[u8]) -> Option<Reply> {
    Some(match kind {
        Kind::Chat => Reply::Chat(serde_json::from_slice(body).ok()?),
        Kind::ChatStream => {
            let completion: ChatCompletion = serde_json::from_slice(body).ok()?;
            let chunks = completion_to_chunks(&completion);
            Reply::ChatStream(Box::pin(futures::stream::iter(chunks.into_iter().map(Ok))))
        }
        Kind::Embeddings => Reply::Embeddings(serde_json::from_slice(body).ok()?),
        Kind::Rerank => Reply::Rerank(serde_json::from_slice(body).ok()?),
    })
}

fn store_later(backend: Arc<dyn Backend>, key: String, body: Vec<u8>, ttl: Duration) {
    tokio::spawn(async move {
        let entry = Entry {
            stored_at: unix_now(),
            body,
        };
        if let Err(e) = backend.set(&key, entry, ttl).await {
            tracing::warn!(backend = backend.name(), error = %e, "cache store failed");
        }
    });
}

impl<S, R> Service<R> for CacheService<S>
where
    R: CallRequest + Send + 'static,
    S: Service<R, Error = Error> + Clone + Send + 'static,
    S::Response: CallResponse + Send + 'static,
    S::Future: Send,
{
    type Response = S::Response;
    type Error = Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut req: R) -> Self::Future {
        let inner = self.inner.clone();
        let backend = self.backend.clone();
        let default_ttl = self.default_ttl;
        Box::pin(async move {
            let control = CacheControl::take(req.call_mut())?;
            let group = req.model_group().to_string();
            let (Some(kind), Some(key)) = (
                kind_of(req.call()),
                cache_key(control.namespace.as_deref(), &group, req.call()),
            ) else {
                return inner.oneshot(req).await;
            };
            if !control.no_cache {
                match backend.get(&key).await {
                    Ok(Some(entry)) => {
                        let age = Duration::from_secs(unix_now().saturating_sub(entry.stored_at));
                        let fresh = control.s_maxage.is_none_or(|max| age <= max);
                        if let (true, Some(reply)) = (fresh, reply_from(kind, &entry.body)) {
                            return Ok(S::Response::from_cache(&group, reply));
                        }
                    }
                    Ok(None) => {}
                    Err(e) => {
                        tracing::warn!(backend = backend.name(), error = %e, "cache unavailable; calling upstream")
                    }
                }
            }
            let response = inner.oneshot(req).await?;
            if control.no_store {
                return Ok(response);
            }
            let ttl = control.ttl.unwrap_or(default_ttl);
            let body = match response.reply() {
                Reply::Chat(c) => serde_json::to_vec(c).ok(),
                Reply::Embeddings(e) => serde_json::to_vec(e).ok(),
                Reply::Rerank(r) => serde_json::to_vec(r).ok(),
                Reply::ChatStream(_) => {
                    return Ok(response.map_reply(|reply| match reply {
                        Reply::ChatStream(s) => Reply::ChatStream(recording(s, backend, key, ttl)),
                        other => other,
                    }))
                }
                _ => None,
            };
            if let Some(body) = body {
                store_later(backend, key, body, ttl);
            }
            Ok(response)
        })
    }
}

/// Passes chunks through unchanged and stores their aggregate when the
/// stream ends cleanly.
fn recording(
    inner: ChatStream,
    backend: Arc<dyn Backend>,
    key: String,
    ttl: Duration,
) -> ChatStream {
    Box::pin(Recording {
        inner,
        aggregate: Some(StreamAggregator::new()),
        target: Some((backend, key, ttl)),
    })
}

struct Recording {
    inner: ChatStream,
    aggregate: Option<StreamAggregator>,
    target: Option<(Arc<dyn Backend>, String, Duration)>,
}

impl Stream for Recording {
    type Item = Result<ChatCompletionChunk>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let item = self.inner.poll_next_unpin(cx);
        match &item {
            Poll::Ready(Some(Ok(chunk))) => {
                if let Some(a) = self.aggregate.as_mut() {
                    a.push(chunk);
                }
            }
            Poll::Ready(Some(Err(_))) => {
                // A failed stream is never stored.
                self.aggregate = None;
            }
            Poll::Ready(None) => {
                if let (Some(a), Some((backend, key, ttl))) =
                    (self.aggregate.take(), self.target.take())
                {
                    if let Ok(body) = serde_json::to_vec(&a.finish()) {
                        store_later(backend, key, body, ttl);
                    }
                }
            }
            Poll::Pending => {}
        }
        item
    }
}
