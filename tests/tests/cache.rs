//! The response cache layered on the router, against a mock upstream and a
//! real Redis at 127.0.0.1:6379.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

use llmux_tests::services::{self, Service};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use llmux_cache::{Backend, CacheLayer, MemoryBackend, RedisBackend};
use llmux_core::endpoint::{Call, Reply};
use llmux_core::stream::{collect_stream, completion_to_chunks};
use llmux_core::{ChatCompletionRequest, ChatMessage, MapEnv};
use llmux_router::{ModelListEntry, Router, RouterRequest, RouterResponse, RouterSettings};
use llmux_tests::mock::openai::{self, error_body};
use llmux_tests::mock::{MockResponse, MockServer};
use serde_json::{json, Value};
use tower::{Layer, ServiceExt};

fn router(server: &MockServer) -> Router {
    let list: Vec<ModelListEntry> = serde_json::from_value(json!([{
        "model_name": "g",
        "litellm_params": {"model": "openai/gpt-4o", "api_base": server.url(), "api_key": "k"}
    }]))
    .unwrap();
    let settings: RouterSettings = serde_json::from_value(json!({"num_retries": 0})).unwrap();
    Router::new(list, settings, Arc::new(MapEnv::default())).unwrap()
}

type Cached = llmux_cache::CacheService<Router>;

fn cached(server: &MockServer, backend: Arc<dyn Backend>) -> Cached {
    CacheLayer::new(backend, Duration::from_secs(60)).layer(router(server))
}

fn req(cache: Option<Value>, f: impl FnOnce(&mut ChatCompletionRequest)) -> ChatCompletionRequest {
    let mut r = ChatCompletionRequest::new("g", vec![ChatMessage::user("Hi")]);
    if let Some(c) = cache {
        r.extra.insert("cache".into(), c);
    }
    f(&mut r);
    r
}

async fn chat(svc: &Cached, r: ChatCompletionRequest) -> RouterResponse {
    svc.clone()
        .oneshot(RouterRequest::new("g", Call::Chat(r)))
        .await
        .unwrap()
}

async fn chat_stream(svc: &Cached, r: ChatCompletionRequest) -> RouterResponse {
    svc.clone()
        .oneshot(RouterRequest::new("g", Call::ChatStream(r)))
        .await
        .unwrap()
}

fn completion(r: RouterResponse) -> llmux_core::ChatCompletion {
    match r.reply {
        Reply::Chat(c) => c,
        other => panic!("expected chat, got {other:?}"),
    }
}

/// Stores happen off the response path; give them a moment.
async fn settle() {
    tokio::time::sleep(Duration::from_millis(50)).await;
}

/// Once writes have settled, a plain "Hi" is not answered from the cache.
async fn assert_plain_call_misses(svc: &Cached) {
    settle().await;
    assert!(!chat(svc, req(None, |_| {})).await.route.cache_hit);
}

#[tokio::test]
async fn second_identical_call_is_a_hit() {
    let server = openai::start().await.unwrap();
    let svc = cached(&server, Arc::new(MemoryBackend::new(1 << 20)));
    let first = chat(&svc, req(None, |_| {})).await;
    assert!(!first.route.cache_hit);
    settle().await;
    let second = chat(&svc, req(None, |r| r.user = Some("someone-else".into()))).await;
    assert!(second.route.cache_hit);
    assert_eq!(second.route.deployment_id, "cache");
    assert_eq!(server.requests().len(), 1);
    assert_eq!(completion(second), completion(first));

    // A parameter that changes the answer misses.
    chat(&svc, req(None, |r| r.temperature = Some(0.9))).await;
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test]
async fn the_cache_field_never_reaches_the_upstream() {
    let server = openai::start().await.unwrap();
    let svc = cached(&server, Arc::new(MemoryBackend::new(1 << 20)));
    chat(&svc, req(Some(json!({"ttl": 30})), |_| {})).await;
    let sent = server.last_request().unwrap().json();
    assert!(sent.get("cache").is_none(), "{sent}");
}

#[tokio::test]
async fn streams_are_stored_as_completions_and_replayed_as_chunks() {
    let server = openai::start().await.unwrap();
    let svc = cached(&server, Arc::new(MemoryBackend::new(1 << 20)));
    let live = chat_stream(&svc, req(None, |_| {})).await;
    let Reply::ChatStream(s) = live.reply else {
        panic!()
    };
    let live_done = collect_stream(s).await.unwrap();
    settle().await;

    // A whole-response call hits the entry the stream stored...
    let hit = chat(&svc, req(None, |_| {})).await;
    assert!(hit.route.cache_hit);
    assert_eq!(completion(hit), live_done);
    // ...and a streaming call replays it as chunks.
    let replay = chat_stream(&svc, req(None, |_| {})).await;
    assert!(replay.route.cache_hit);
    let Reply::ChatStream(s) = replay.reply else {
        panic!()
    };
    let chunks: Vec<_> = s.map(|c| c.unwrap()).collect().await;
    assert_eq!(chunks, completion_to_chunks(&live_done));
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn a_failed_stream_is_not_stored() {
    let server = openai::start().await.unwrap();
    let svc = cached(&server, Arc::new(MemoryBackend::new(1 << 20)));
    let mut parts = openai::sse_parts(&[openai::chunk("gpt-4o", json!({"content": "Par"}), None)]);
    parts.push(llmux_tests::mock::StreamPart::Abort);
    server.enqueue(MockResponse::stream("text/event-stream", parts));
    let r = chat_stream(&svc, req(None, |_| {})).await;
    let Reply::ChatStream(s) = r.reply else {
        panic!()
    };
    assert!(collect_stream(s).await.is_err());
    assert_plain_call_misses(&svc).await;
}

#[tokio::test]
async fn errors_are_not_cached() {
    let server = openai::start().await.unwrap();
    let svc = cached(&server, Arc::new(MemoryBackend::new(1 << 20)));
    server.enqueue(MockResponse::json(
        500,
        &error_body("boom", "server_error", None, None),
    ));
    assert!(svc
        .clone()
        .oneshot(RouterRequest::new("g", Call::Chat(req(None, |_| {}))))
        .await
        .is_err());
    assert_plain_call_misses(&svc).await;
}

#[tokio::test]
async fn ttl_no_store_no_cache_and_s_maxage() {
    let server = openai::start().await.unwrap();
    let svc = cached(&server, Arc::new(MemoryBackend::new(1 << 20)));

    // no-store: answered, not kept.
    chat(&svc, req(Some(json!({"no-store": true})), |_| {})).await;
    settle().await;
    assert!(
        !chat(&svc, req(None, |r| r.seed = Some(1)))
            .await
            .route
            .cache_hit
    );

    // ttl: kept for 200 ms only.
    chat(&svc, req(Some(json!({"ttl": 0.2})), |r| r.seed = Some(2))).await;
    settle().await;
    assert!(
        chat(&svc, req(None, |r| r.seed = Some(2)))
            .await
            .route
            .cache_hit
    );
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert!(
        !chat(&svc, req(None, |r| r.seed = Some(2)))
            .await
            .route
            .cache_hit
    );

    // no-cache: skips the stored answer (and stores the fresh one).
    settle().await;
    let before = server.requests().len();
    assert!(
        !chat(
            &svc,
            req(Some(json!({"no-cache": true})), |r| r.seed = Some(2))
        )
        .await
        .route
        .cache_hit
    );
    assert_eq!(server.requests().len(), before + 1);

    // s-maxage: a stored answer older than allowed is not used.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert!(
        !chat(
            &svc,
            req(Some(json!({"s-maxage": 0})), |r| r.seed = Some(2))
        )
        .await
        .route
        .cache_hit
    );
    settle().await;
    assert!(
        chat(
            &svc,
            req(Some(json!({"s-maxage": 30})), |r| r.seed = Some(2))
        )
        .await
        .route
        .cache_hit
    );

    // namespace: a separate key space.
    assert!(
        !chat(
            &svc,
            req(Some(json!({"namespace": "team-b"})), |r| r.seed = Some(2))
        )
        .await
        .route
        .cache_hit
    );
}

#[tokio::test]
async fn bad_cache_controls_are_a_400() {
    let server = openai::start().await.unwrap();
    let svc = cached(&server, Arc::new(MemoryBackend::new(1 << 20)));
    let err = svc
        .clone()
        .oneshot(RouterRequest::new(
            "g",
            Call::Chat(req(Some(json!({"ttl": "long"})), |_| {})),
        ))
        .await
        .unwrap_err();
    assert_eq!(err.status(), 400);
    assert_eq!(
        err.message,
        "cache.ttl must be a number of seconds, got \"long\""
    );
    assert!(server.requests().is_empty());
}

#[tokio::test]
async fn redis_is_shared_between_instances() {
    if !services::available(&[Service::Redis]).await {
        return;
    }
    let server = openai::start().await.unwrap();
    let namespace = format!("test-{}", std::process::id());
    let a = cached(
        &server,
        Arc::new(RedisBackend::new("redis://127.0.0.1:6379/0").unwrap()),
    );
    let b = cached(
        &server,
        Arc::new(RedisBackend::new("redis://127.0.0.1:6379/0").unwrap()),
    );
    let seed = i64::from(std::process::id()) * 1000 + i64::from(fastrand::u16(..));
    let r = || {
        req(Some(json!({"namespace": namespace, "ttl": 30})), |r| {
            r.seed = Some(seed)
        })
    };
    assert!(!chat(&a, r()).await.route.cache_hit);
    settle().await;
    let hit = chat(&b, r()).await;
    assert!(
        hit.route.cache_hit,
        "instance b sees what instance a stored"
    );
    assert_eq!(completion(hit).text(), Some(openai::REPLY));
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn redis_down_bypasses_the_cache() {
    let server = openai::start().await.unwrap();
    // Nothing listens on port 1.
    let svc = cached(
        &server,
        Arc::new(RedisBackend::new("redis://127.0.0.1:1/0").unwrap()),
    );
    for _ in 0..3 {
        let r = chat(&svc, req(None, |_| {})).await;
        assert!(!r.route.cache_hit);
        assert_eq!(completion(r).text(), Some(openai::REPLY));
    }
    assert_eq!(server.requests().len(), 3);
}
