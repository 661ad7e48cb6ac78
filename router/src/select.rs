//! The innermost service: choose a deployment of the group and call it.
//!
//! Per call: resolve the group, drop deployments whose context window is too
//! small (pre-call check), that are cooling down, or (when others remain) that
//! this call already tried; let the strategy pick; take rpm/tpm budget from the
//! governor limiters; call the provider under the deployment's timeout; record
//! latency, usage and failures (which may start a cooldown).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::{Stream, StreamExt};
use llmux_core::endpoint::MessagesCall;
use llmux_core::responses::StreamedEvent;
use llmux_core::sse::SseEvent;
use llmux_core::stream::ResultStream;
use llmux_core::types::chat::ChatCompletionChunk;
use llmux_core::{Error, ErrorKind, Result};
use tokio::time::Instant;

use crate::call::{Call, Reply, RouteInfo, RouterRequest, RouterResponse};
use crate::deployment::{Deployment, InFlightGuard};
use crate::shared::Shared;

/// Chooses a deployment and calls it. Cheap to clone.
#[derive(Clone)]
pub struct SelectService {
    pub(crate) shared: Arc<Shared>,
}

impl SelectService {
    /// The select stage of the router sharing `shared`.
    pub(crate) fn new(shared: Arc<Shared>) -> SelectService {
        SelectService { shared }
    }
}

always_ready_service!(SelectService, |this, req| {
    let shared = this.shared.clone();
    Box::pin(async move { select_and_call(&shared, req).await })
});

async fn select_and_call(shared: &Shared, req: RouterRequest) -> Result<RouterResponse> {
    let now = Instant::now();
    let group_members = shared.candidates(&req.group)?;
    let group_size = group_members.len();
    let deployment = choose(shared, &req, group_members, now)?;
    let attempts = req.context.record_attempt(&deployment.spec);
    let (provider, upstream_model) = match deployment.provider_for(&req.group) {
        Ok(p) => p,
        Err(e) => {
            req.context
                .attempt_ended(&deployment.spec.id, "", &req.group, Some(&e));
            return Err(e);
        }
    };
    let guard = deployment.start_call();
    let started = Instant::now();
    let settings = &shared.settings;

    let stream_limit = deployment
        .spec
        .stream_timeout
        .or(settings.stream_timeout)
        .or(deployment.spec.timeout)
        .or(settings.timeout);
    let observer = |guard| StreamObserver {
        guard: Some(guard),
        deployment: deployment.clone(),
        usage_listener: shared.usage_listener.get().cloned(),
        tokens: 0,
        idle: stream_limit.unwrap_or(DEFAULT_STREAM_IDLE),
    };
    let result = match req.call {
        Call::ChatStream(mut r) => {
            r.model.clone_from(&upstream_model);
            first_item(stream_limit, &deployment, provider.chat_stream(r))
                .await
                .map(|(first, rest)| Reply::ChatStream(observer(guard).observe(first, rest)))
        }
        Call::ResponsesStream(mut r) => {
            r.model.clone_from(&upstream_model);
            first_item(stream_limit, &deployment, provider.responses_stream(r))
                .await
                .map(|(first, rest)| Reply::ResponsesStream(observer(guard).observe(first, rest)))
        }
        Call::MessagesStream(m) if provider.serves_messages(&upstream_model) => {
            let MessagesCall {
                mut body, options, ..
            } = *m;
            body.insert("model".into(), upstream_model.clone().into());
            first_item(
                stream_limit,
                &deployment,
                provider.messages_stream(body, options),
            )
            .await
            .map(|(first, rest)| Reply::MessagesStream(observer(guard).observe(first, rest)))
        }
        Call::MessagesStream(m) => {
            let mut r = m.chat;
            r.model.clone_from(&upstream_model);
            first_item(stream_limit, &deployment, provider.chat_stream(r))
                .await
                .map(|(first, rest)| Reply::ChatStream(observer(guard).observe(first, rest)))
        }
        call => {
            let limit = deployment.spec.timeout.or(settings.timeout);
            let reply = with_timeout(
                limit,
                &deployment,
                call_provider(provider.as_ref(), call, &upstream_model),
            )
            .await;
            drop(guard);
            reply
        }
    };
    let latency = started.elapsed();
    req.context.attempt_ended(
        &deployment.spec.id,
        provider.name(),
        &upstream_model,
        result.as_ref().err(),
    );
    match result {
        Ok(reply) => {
            deployment.state.record_latency(latency);
            let tokens = match &reply {
                Reply::Chat(c) => c.usage.as_ref().map(|u| u.total_tokens).unwrap_or(0),
                Reply::Embeddings(e) => e.usage.total_tokens,
                Reply::Responses(r) => r.usage.as_ref().map_or(0, |u| u.total_tokens),
                // Streams record their tokens when they end.
                _ => 0,
            };
            deployment.state.record_usage(Instant::now(), 1, tokens);
            if let Some(listener) = shared.usage_listener.get() {
                listener(&deployment.spec.id, 1, tokens);
            }
            Ok(RouterResponse {
                reply,
                route: RouteInfo {
                    model_group: req.group.clone(),
                    deployment_id: deployment.spec.id.clone(),
                    provider: provider.name().to_string(),
                    upstream_model,
                    attempts,
                    fallback_from: None,
                    latency,
                    cache_hit: false,
                },
            })
        }
        Err(e) => {
            if e.kind.counts_against_deployment() && group_size > 1 {
                let cooled = deployment.state.record_failure(
                    Instant::now(),
                    settings.allowed_fails,
                    settings.cooldown_time,
                    e.kind == ErrorKind::RateLimit,
                );
                if cooled {
                    if let Some(listener) = shared.cooldown_listener.get() {
                        listener(&deployment.spec.id, settings.cooldown_time);
                    }
                    tracing::warn!(
                        deployment = %deployment.spec.id,
                        group = %deployment.spec.group,
                        error = %e,
                        cooldown_s = settings.cooldown_time.as_secs_f64(),
                        "deployment cooling down"
                    );
                }
            }
            Err(e)
        }
    }
}

/// Pick a deployment of `members` for `req`.
fn choose(
    shared: &Shared,
    req: &RouterRequest,
    members: Vec<Arc<Deployment>>,
    now: Instant,
) -> Result<Arc<Deployment>> {
    let prompt_tokens = req.call.estimated_prompt_tokens();
    let mut pool = members;
    if shared.settings.pre_call_checks {
        let total = pool.len();
        pool.retain(|d| d.spec.max_input_tokens.is_none_or(|m| prompt_tokens <= m));
        if pool.is_empty() {
            return Err(Error::new(
                ErrorKind::ContextWindowExceeded,
                format!(
                    "the prompt (about {prompt_tokens} tokens) exceeds max_input_tokens of all {total} deployments of model group '{}'",
                    req.group
                ),
            )
            .with_model(req.group.clone()));
        }
    }
    let total = pool.len();
    let mut soonest: Option<Instant> = None;
    pool.retain(|d| match d.state.cooling_down(now) {
        Some(until) => {
            soonest = Some(soonest.map_or(until, |s| s.min(until)));
            false
        }
        None => true,
    });
    if pool.is_empty() {
        let wait = soonest.map(|s| s.duration_since(now)).unwrap_or_default();
        return Err(Error::new(
            ErrorKind::RateLimit,
            format!(
                "no deployments available for model group '{}': all {total} are cooling down; try again in {:.1} s",
                req.group,
                wait.as_secs_f64()
            ),
        )
        .with_model(req.group.clone())
        .with_retry_after(Some(wait)));
    }
    if pool.iter().any(|d| !req.context.tried(&d.spec.id)) {
        pool.retain(|d| !req.context.tried(&d.spec.id));
    }
    let tokens = prompt_tokens + req.call.max_output_tokens();
    while !pool.is_empty() {
        let i = shared.strategy.pick(&pool, now).min(pool.len() - 1);
        let d = pool.swap_remove(i);
        if !d.at_cluster_limit(now) && d.try_acquire_request() && d.try_acquire_tokens(tokens) {
            return Ok(d);
        }
    }
    Err(Error::new(
        ErrorKind::RateLimit,
        format!(
            "every deployment of model group '{}' is at its rpm/tpm limit",
            req.group
        ),
    )
    .with_model(req.group.clone())
    .with_retry_after(Some(Duration::from_secs(1))))
}

async fn with_timeout<T>(
    limit: Option<Duration>,
    deployment: &Deployment,
    fut: impl Future<Output = Result<T>>,
) -> Result<T> {
    match limit {
        None => fut.await,
        Some(limit) => tokio::time::timeout(limit, fut).await.unwrap_or_else(|_| {
            Err(Error::new(
                ErrorKind::Timeout,
                format!(
                    "deployment '{}' ({}) did not answer within {:.1} s",
                    deployment.spec.id,
                    deployment.spec.model,
                    limit.as_secs_f64()
                ),
            ))
        }),
    }
}

async fn call_provider(
    provider: &dyn llmux_core::Provider,
    call: Call,
    model: &str,
) -> Result<Reply> {
    Ok(match call {
        Call::Chat(mut r) | Call::ChatStream(mut r) => {
            r.model = model.to_string();
            Reply::Chat(provider.chat(r).await?)
        }
        Call::Embeddings(mut r) => {
            r.model = model.to_string();
            Reply::Embeddings(provider.embeddings(r).await?)
        }
        Call::ImageGeneration(mut r) => {
            r.model = Some(model.to_string());
            Reply::ImageGeneration(provider.image_generation(r).await?)
        }
        Call::Transcription(mut r) => {
            r.model = model.to_string();
            Reply::Transcription(provider.transcription(r).await?)
        }
        Call::Speech(mut r) => {
            r.model = model.to_string();
            Reply::Speech(provider.speech(r).await?)
        }
        Call::Moderation(mut r) => {
            r.model = Some(model.to_string());
            Reply::Moderation(provider.moderation(r).await?)
        }
        Call::Rerank(mut r) => {
            r.model = model.to_string();
            Reply::Rerank(provider.rerank(r).await?)
        }
        Call::Messages(m) | Call::MessagesStream(m) => {
            let MessagesCall {
                mut body,
                options,
                mut chat,
            } = *m;
            if provider.serves_messages(model) {
                body.insert("model".into(), model.into());
                Reply::Messages(provider.messages(body, options).await?)
            } else {
                chat.model = model.to_string();
                Reply::Chat(provider.chat(chat).await?)
            }
        }
        Call::Responses(mut r) | Call::ResponsesStream(mut r) => {
            r.model = model.to_string();
            Reply::Responses(Box::new(provider.responses(r).await?))
        }
    })
}

/// How long a stream may go without a chunk when neither `stream_timeout`
/// nor `timeout` is set (LiteLLM's default request timeout).
const DEFAULT_STREAM_IDLE: Duration = Duration::from_secs(600);

/// Open a stream and wait (within `limit`) for its first item, so a
/// failure before anything was sent can still be retried or fall back.
async fn first_item<T>(
    limit: Option<Duration>,
    deployment: &Deployment,
    open: impl Future<Output = Result<ResultStream<T>>>,
) -> Result<(T, ResultStream<T>)> {
    with_timeout(limit, deployment, async {
        let mut stream = open.await?;
        match stream.next().await {
            Some(Ok(first)) => Ok((first, stream)),
            Some(Err(e)) => Err(e),
            None => Err(Error::new(
                ErrorKind::ApiConnection,
                "upstream stream ended before its first chunk",
            )),
        }
    })
    .await
}

/// What a stream item says about the tokens used so far.
trait StreamItem: Send + 'static {
    /// The call's total tokens, when this item reports them.
    fn total_tokens(&self) -> Option<u64>;
}

impl StreamItem for ChatCompletionChunk {
    fn total_tokens(&self) -> Option<u64> {
        self.usage.as_ref().map(|u| u.total_tokens)
    }
}

/// Anthropic's stream reports its (cumulative) usage in `message_delta`.
impl StreamItem for SseEvent {
    fn total_tokens(&self) -> Option<u64> {
        if self.event.as_deref() != Some("message_delta") {
            return None;
        }
        let v: serde_json::Value = serde_json::from_str(&self.data).ok()?;
        let u = v.get("usage")?;
        let n = |k: &str| u.get(k).and_then(serde_json::Value::as_u64).unwrap_or(0);
        Some(
            n("input_tokens")
                + n("output_tokens")
                + n("cache_read_input_tokens")
                + n("cache_creation_input_tokens"),
        )
    }
}

impl StreamItem for StreamedEvent {
    fn total_tokens(&self) -> Option<u64> {
        self.event
            .response()?
            .usage
            .as_ref()
            .map(|u| u.total_tokens)
    }
}

/// What a stream holds for its deployment until it ends: the in-flight
/// count, and where its tokens are recorded then.
struct StreamObserver {
    guard: Option<InFlightGuard>,
    deployment: Arc<Deployment>,
    usage_listener: Option<crate::shared::UsageListener>,
    tokens: u64,
    /// The longest wait allowed between two items.
    idle: Duration,
}

impl StreamObserver {
    /// The stream with its first item put back in front, keeping the
    /// deployment's in-flight count until it ends and recording its tokens
    /// then. An upstream that sends nothing for `idle` ends the stream with
    /// a timeout error (the gateway turns it into an in-band error event)
    /// instead of holding the client for ever.
    fn observe<T: StreamItem>(self, first: T, rest: ResultStream<T>) -> ResultStream<T> {
        let tail = futures::stream::once(async move { Ok(first) }).chain(rest);
        let idle = self.idle;
        Box::pin(ObservedStream {
            inner: Box::pin(tail),
            observer: self,
            deadline: Box::pin(tokio::time::sleep(idle)),
            ended: false,
        })
    }

    /// The stream ended (or failed): release the deployment once.
    fn end(&mut self) {
        if self.guard.take().is_some() {
            let tokens = self.tokens;
            self.deployment
                .state
                .record_usage(Instant::now(), 0, tokens);
            if let Some(listener) = &self.usage_listener {
                listener(&self.deployment.spec.id, 0, tokens);
            }
        }
    }
}

struct ObservedStream<T> {
    inner: ResultStream<T>,
    observer: StreamObserver,
    /// When the current wait runs out.
    deadline: Pin<Box<tokio::time::Sleep>>,
    /// An idle timeout ended the stream.
    ended: bool,
}

impl<T: StreamItem> Stream for ObservedStream<T> {
    type Item = Result<T>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.ended {
            return Poll::Ready(None);
        }
        let mut item = self.inner.as_mut().poll_next(cx);
        if item.is_pending() {
            if self.deadline.as_mut().poll(cx).is_ready() {
                self.ended = true;
                item = Poll::Ready(Some(Err(Error::new(
                    ErrorKind::Timeout,
                    format!(
                        "upstream sent nothing for {} s in the middle of the stream",
                        self.observer.idle.as_secs_f64()
                    ),
                ))));
            }
        } else {
            let next = tokio::time::Instant::now() + self.observer.idle;
            self.deadline.as_mut().reset(next);
        }
        match &item {
            Poll::Ready(Some(Ok(it))) => {
                if let Some(tokens) = it.total_tokens() {
                    self.observer.tokens = tokens;
                }
            }
            Poll::Ready(None) | Poll::Ready(Some(Err(_))) => self.observer.end(),
            Poll::Pending => {}
        }
        item
    }
}
