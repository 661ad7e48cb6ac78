//! Calling a test gateway over HTTP, shared by the end-to-end test files
//! (`mod common;`): one way to send a request and read the reply.

// Each test file uses the helpers it needs.
#![allow(dead_code)]

use llmux_tests::gateway::TestGateway;
use llmux_tests::mock::{openai, MockServer};
use serde_json::{json, Value};

/// A gateway reply: status, headers, and the body as JSON (a body that is
/// not JSON is kept as a JSON string).
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) body: Value,
    pub(crate) headers: reqwest::header::HeaderMap,
}

impl Reply {
    /// The body, which must have been JSON.
    pub(crate) fn json(&self) -> &Value {
        assert!(!self.body.is_string(), "not a JSON body: {}", self.body);
        &self.body
    }

    /// A response header as text.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }

    /// (status, error type, error message) of an OpenAI-shaped error.
    pub(crate) fn error(&self) -> (u16, &str, &str) {
        (
            self.status,
            self.body["error"]["type"].as_str().unwrap_or_default(),
            self.body["error"]["message"].as_str().unwrap_or_default(),
        )
    }
}

/// A mock OpenAI upstream, and a gateway on a fresh SQLite database serving
/// `config(upstream)`.
pub(crate) async fn started(config: fn(&MockServer) -> String) -> (MockServer, TestGateway) {
    let upstream = openai::start().await.unwrap();
    let gw = TestGateway::start(&config(&upstream)).await.unwrap();
    (upstream, gw)
}

/// Assert that nothing reached `upstream` (`why` says what was refused).
pub(crate) fn assert_untouched(upstream: &MockServer, why: &str) {
    assert!(upstream.requests().is_empty(), "{why}");
}

/// `method base_url+path` with `key` as bearer token and `body` as JSON.
pub(crate) async fn send_to(
    client: &reqwest::Client,
    base_url: &str,
    method: reqwest::Method,
    path: &str,
    key: Option<&str>,
    body: Option<Value>,
) -> Reply {
    let mut req = client.request(method, format!("{base_url}{path}"));
    if let Some(k) = key {
        req = req.bearer_auth(k);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let text = resp.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Reply {
        status,
        body,
        headers,
    }
}

/// [`send_to`] the gateway `gw` with a new client.
pub(crate) async fn send(
    gw: &TestGateway,
    method: reqwest::Method,
    path: &str,
    key: Option<&str>,
    body: Option<Value>,
) -> Reply {
    send_to(&reqwest::Client::new(), &gw.url, method, path, key, body).await
}

pub(crate) async fn post(gw: &TestGateway, path: &str, key: Option<&str>, body: Value) -> Reply {
    send(gw, reqwest::Method::POST, path, key, Some(body)).await
}

pub(crate) async fn get(gw: &TestGateway, path: &str, key: Option<&str>) -> Reply {
    send(gw, reqwest::Method::GET, path, key, None).await
}

/// `GET path` with `key`: the JSON body, whatever the status.
pub(crate) async fn get_json(gw: &TestGateway, path: &str, key: Option<&str>) -> Value {
    get(gw, path, key).await.json().clone()
}

/// The fields `keys` of `v` as one object (a missing one as null), to
/// compare several fields at once.
pub(crate) fn pick(v: &Value, keys: &[&str]) -> Value {
    Value::Object(
        keys.iter()
            .map(|k| (k.to_string(), v[*k].clone()))
            .collect(),
    )
}

/// A chat request saying "Hi" to `model`, with the fields of `more` added.
pub(crate) fn hi_body(model: &str, more: Value) -> Value {
    let mut body = json!({"model": model, "messages": [{"role": "user", "content": "Hi"}]});
    if let (Some(b), Some(m)) = (body.as_object_mut(), more.as_object()) {
        b.extend(m.clone());
    }
    body
}

/// `POST /v1/chat/completions` saying "Hi" to `model` with `key`.
pub(crate) async fn chat(gw: &TestGateway, key: &str, model: &str) -> Reply {
    post(
        gw,
        "/v1/chat/completions",
        Some(key),
        hi_body(model, json!({})),
    )
    .await
}

/// A new virtual key made with `master` from `body`: (key, token hash).
pub(crate) async fn new_key(gw: &TestGateway, master: &str, body: Value) -> (String, String) {
    let r = post(gw, "/key/generate", Some(master), body).await;
    assert_eq!(r.status, 200, "{}", r.body);
    (
        r.body["key"].as_str().unwrap().to_string(),
        r.body["token"].as_str().unwrap().to_string(),
    )
}

/// The events of an SSE body: JSON values, and `[DONE]` as a string. Also
/// checks the framing: every event is exactly one `data: ` line.
pub(crate) fn sse_events(body: &str) -> Vec<Value> {
    assert!(
        body.ends_with("\n\n"),
        "body must end with a blank line: {body:?}"
    );
    body.trim_end_matches("\n\n")
        .split("\n\n")
        .map(|frame| {
            let data = frame
                .strip_prefix("data: ")
                .unwrap_or_else(|| panic!("not a data frame: {frame:?}"));
            assert!(!data.contains('\n'), "one line per event: {frame:?}");
            if data == "[DONE]" {
                Value::String("[DONE]".into())
            } else {
                serde_json::from_str(data).unwrap()
            }
        })
        .collect()
}
