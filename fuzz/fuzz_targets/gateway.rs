//! The gateway's ingress on untrusted request bodies, in process: the chat
//! and text completion parsers, `/v1/messages` (Anthropic's shape),
//! `/v1/responses`, embeddings and the multipart audio form. Every body is
//! answered — a 4xx for bad input — and never with an internal error; the
//! upstream is a closed local port, so a valid request ends in a
//! connection error (LiteLLM's 500 `APIConnectionError`).
#![no_main]

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use axum::body::Body;
use http::Request;
use libfuzzer_sys::fuzz_target;
use llmux_core::MapEnv;
use tower::ServiceExt;

const CONFIG: &str = r#"
model_list:
  - model_name: m
    litellm_params:
      model: openai/gpt-4o
      api_key: sk-fuzz
      api_base: http://127.0.0.1:9/v1
router_settings:
  num_retries: 0
"#;

struct App {
    runtime: tokio::runtime::Runtime,
    router: axum::Router,
}

fn app() -> &'static App {
    static APP: OnceLock<App> = OnceLock::new();
    APP.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("fuzz setup: a runtime: {e}"));
        let env = Arc::new(MapEnv(HashMap::new()));
        let loaded = llmux_proxy::config::parse("fuzz.yaml", CONFIG, env)
            .unwrap_or_else(|e| panic!("fuzz setup: the config: {e}"));
        let built = runtime
            .block_on(llmux_proxy::build(Some(loaded), &[]))
            .unwrap_or_else(|e| panic!("fuzz setup: the gateway: {e}"));
        let router = llmux_proxy::server::app(built.gateway, None);
        App { runtime, router }
    })
}

const ROUTES: &[(&str, &str)] = &[
    ("/v1/chat/completions", "application/json"),
    ("/v1/messages", "application/json"),
    ("/v1/responses", "application/json"),
    ("/v1/embeddings", "application/json"),
    ("/v1/completions", "application/json"),
    (
        "/v1/audio/transcriptions",
        "multipart/form-data; boundary=llmux",
    ),
];

fuzz_target!(|data: &[u8]| {
    let Some((&which, body)) = data.split_first() else {
        return;
    };
    let (path, content_type) = ROUTES[usize::from(which) % ROUTES.len()];
    let app = app();
    let request = Request::post(path)
        .header("content-type", content_type)
        .body(Body::from(body.to_vec()))
        .unwrap_or_else(|e| panic!("a request: {e}"));
    let (status, text) = app.runtime.block_on(async {
        let response = app
            .router
            .clone()
            .oneshot(request)
            .await
            .unwrap_or_else(|e| match e {});
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 64 << 20)
            .await
            .unwrap_or_default();
        (status, String::from_utf8_lossy(&bytes).into_owned())
    });
    if status.is_server_error() {
        assert!(
            text.contains("APIConnectionError")
                || text.contains("api_connection_error")
                || text.contains("cannot connect to upstream")
                || text.contains("No deployments available")
                || status == http::StatusCode::SERVICE_UNAVAILABLE,
            "{path}: {status} {text}"
        );
    }
});
