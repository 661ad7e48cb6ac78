//! The gateway end to end: a real HTTP client → llmux-proxy on 127.0.0.1 →
//! mock upstreams. Exact bodies, statuses, headers and stream framing.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use llmux_tests::mock::openai::{self, chunk, error_body, sse_parts};
use llmux_tests::mock::{MockResponse, MockServer, StreamPart};
use serde_json::{json, Value};

use llmux_tests::gateway::{config_yaml, openai_deployment};

mod common;

use common::sse_events as events;

type Gateway = llmux_tests::gateway::TestGateway;

async fn start(config_yaml: &str) -> Gateway {
    Gateway::start(config_yaml).await.unwrap()
}

fn config_for(upstream: &MockServer, extra: &str) -> String {
    let base = upstream.url();
    config_yaml(
        &[
            openai_deployment(
                "gpt-4o",
                "gpt-4o",
                &base,
                "    model_info:\n      id: dep-1\n",
            ),
            openai_deployment("embed", "text-embedding-3-small", &base, ""),
            openai_deployment("whisper", "whisper-1", &base, ""),
            openai_deployment("tts", "gpt-4o-mini-tts", &base, ""),
        ],
        &format!("{extra}\n"),
    )
}

fn client() -> reqwest::Client {
    reqwest::Client::new()
}

fn hi(stream: bool) -> Value {
    json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "Hi"}], "stream": stream})
}

/// The mock's completion as llmux returns it (`"refusal": null` omitted).
fn expected_completion() -> Value {
    let mut v = openai::chat_completion("gpt-4o");
    v["choices"][0]["message"]
        .as_object_mut()
        .unwrap()
        .remove("refusal");
    v
}

/// What the gateway should send for upstream `chunks` (+ `[DONE]`).
fn expected_events(chunks: &[Value], done: bool) -> Vec<Value> {
    let mut out: Vec<Value> = chunks
        .iter()
        .map(|c| {
            let mut c = c.clone();
            // OpenAI's chunks carry `"logprobs": null`; llmux omits absent logprobs.
            if let Some(choices) = c["choices"].as_array_mut() {
                for ch in choices {
                    ch.as_object_mut().unwrap().remove("logprobs");
                }
            }
            c
        })
        .collect();
    if done {
        out.push(Value::String("[DONE]".into()));
    }
    out
}

async fn post(gw: &Gateway, path: &str, body: &Value) -> reqwest::Response {
    client()
        .post(format!("{}{path}", gw.url))
        .json(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn chat_with_and_without_v1_prefix() {
    let up = openai::start().await.unwrap();
    let gw = start(&config_for(&up, "")).await;
    for path in ["/v1/chat/completions", "/chat/completions"] {
        let resp = client()
            .post(format!("{}{path}", gw.url))
            .header("x-request-id", "req-123")
            .json(&hi(false))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        let h = resp.headers().clone();
        assert_eq!(h["content-type"], "application/json");
        assert_eq!(h["x-llmux-model-id"], "dep-1");
        assert_eq!(h["x-llmux-model-group"], "gpt-4o");
        assert_eq!(h["x-llmux-attempts"], "1");
        assert_eq!(h["x-llmux-cache-hit"], "false");
        assert_eq!(h["x-request-id"], "req-123");
        let overhead: f64 = h["x-llmux-overhead-ms"].to_str().unwrap().parse().unwrap();
        assert!(overhead >= 0.0);
        assert_eq!(resp.json::<Value>().await.unwrap(), expected_completion());
    }
    let sent = up.last_request().unwrap();
    assert_eq!(sent.header("authorization"), Some("Bearer sk-upstream"));
    assert_eq!(
        sent.json(),
        json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "Hi"}], "stream": false})
    );
}

#[tokio::test]
async fn streams_exact_chunks_and_strips_usage_the_client_did_not_ask_for() {
    let up = openai::start().await.unwrap();
    let gw = start(&config_for(&up, "")).await;
    let resp = post(&gw, "/v1/chat/completions", &hi(true)).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    assert_eq!(resp.headers()["x-llmux-model-id"], "dep-1");
    let body = resp.text().await.unwrap();
    // Usage was requested upstream (for pricing) but not shown to the client.
    assert_eq!(
        up.last_request().unwrap().json()["stream_options"],
        json!({"include_usage": true})
    );
    assert_eq!(
        events(&body),
        expected_events(&openai::stream_chunks("gpt-4o", false), true)
    );

    let mut asked = hi(true);
    asked["stream_options"] = json!({"include_usage": true});
    let body = post(&gw, "/v1/chat/completions", &asked)
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(
        events(&body),
        expected_events(&openai::stream_chunks("gpt-4o", true), true)
    );
}

#[tokio::test]
async fn chunks_are_forwarded_as_they_arrive() {
    let up = openai::start().await.unwrap();
    let gw = start(&config_for(&up, "")).await;
    let m = "gpt-4o";
    let mut parts = sse_parts(&[chunk(
        m,
        json!({"role": "assistant", "content": "first"}),
        None,
    )]);
    parts.push(StreamPart::Delay(Duration::from_millis(1500)));
    parts.extend(sse_parts(&[chunk(m, json!({}), Some("stop"))]));
    parts.push(StreamPart::Bytes(Bytes::from_static(b"data: [DONE]\n\n")));
    up.enqueue(MockResponse::stream("text/event-stream", parts));
    let started = std::time::Instant::now();
    let resp = post(&gw, "/v1/chat/completions", &hi(true)).await;
    let mut body = resp.bytes_stream();
    let first = body.next().await.unwrap().unwrap();
    assert!(String::from_utf8_lossy(&first).contains("\"first\""));
    assert!(
        started.elapsed() < Duration::from_millis(1000),
        "first chunk took {:?}",
        started.elapsed()
    );
    let mut rest = Vec::new();
    while let Some(b) = body.next().await {
        rest.extend_from_slice(&b.unwrap());
    }
    assert!(String::from_utf8_lossy(&rest).ends_with("data: [DONE]\n\n"));
}

#[tokio::test]
async fn an_early_upstream_error_gets_its_status_not_a_200_stream() {
    let up = openai::start().await.unwrap();
    let gw = start(&config_for(&up, "")).await;
    up.enqueue(
        MockResponse::json(
            429,
            &error_body(
                "Rate limit reached",
                "requests",
                None,
                Some("rate_limit_exceeded"),
            ),
        )
        .with_header("retry-after", "3"),
    );
    let resp = post(&gw, "/v1/chat/completions", &hi(true)).await;
    assert_eq!(resp.status(), 429);
    assert_eq!(resp.headers()["retry-after"], "3");
    assert_eq!(
        resp.json::<Value>().await.unwrap(),
        json!({"error": {"message": "Rate limit reached", "type": "rate_limit_error", "param": null, "code": "rate_limit_exceeded"}})
    );
    // An error event before the first chunk is the same: a status, not a stream.
    up.enqueue(MockResponse::sse_data([error_body(
        "overloaded",
        "server_error",
        None,
        None,
    )
    .to_string()]));
    let resp = post(&gw, "/v1/chat/completions", &hi(true)).await;
    assert_eq!(resp.status(), 500);
}

#[tokio::test]
async fn a_failure_after_the_first_chunk_ends_with_an_in_band_error() {
    let up = openai::start().await.unwrap();
    let gw = start(&config_for(&up, "")).await;
    let mut parts = sse_parts(&[chunk(
        "gpt-4o",
        json!({"role": "assistant", "content": "Par"}),
        None,
    )]);
    parts.push(StreamPart::Abort);
    up.enqueue(MockResponse::stream("text/event-stream", parts));
    let resp = post(&gw, "/v1/chat/completions", &hi(true)).await;
    assert_eq!(resp.status(), 200);
    let body = resp.text().await.unwrap();
    let ev = events(&body);
    assert_eq!(ev.len(), 2, "{body}");
    assert_eq!(ev[0]["choices"][0]["delta"]["content"], "Par");
    assert_eq!(ev[1]["error"]["type"], "api_connection_error");

    // A body that simply stops (no [DONE], no finish_reason) is the same.
    up.enqueue(MockResponse::stream(
        "text/event-stream",
        sse_parts(&[chunk(
            "gpt-4o",
            json!({"role": "assistant", "content": "Par"}),
            None,
        )]),
    ));
    let body = post(&gw, "/v1/chat/completions", &hi(true))
        .await
        .text()
        .await
        .unwrap();
    let ev = events(&body);
    assert_eq!(ev.len(), 2, "{body}");
    assert_eq!(
        ev[1]["error"]["message"],
        "upstream stream ended before it was complete (no [DONE] and no finish_reason)"
    );
}

#[tokio::test]
async fn client_disconnect_cancels_the_upstream_stream() {
    let up = openai::start().await.unwrap();
    let gw = start(&config_for(&up, "")).await;
    let m = "gpt-4o";
    let mut parts = sse_parts(&[chunk(m, json!({"role": "assistant", "content": "a"}), None)]);
    for _ in 0..50 {
        parts.push(StreamPart::Delay(Duration::from_millis(100)));
        parts.extend(sse_parts(&[chunk(m, json!({"content": "b"}), None)]));
    }
    up.enqueue(MockResponse::stream("text/event-stream", parts));
    let resp = post(&gw, "/v1/chat/completions", &hi(true)).await;
    let mut body = resp.bytes_stream();
    body.next().await.unwrap().unwrap();
    drop(body);
    let mut cut = 0;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        cut = up.streams_cut_short();
        if cut > 0 {
            break;
        }
    }
    assert_eq!(
        cut, 1,
        "the upstream stream was dropped when the client left"
    );
}

#[tokio::test]
async fn master_key_is_required_when_set() {
    let up = openai::start().await.unwrap();
    let gw = start(&config_for(
        &up,
        "general_settings:\n  master_key: sk-master\n",
    ))
    .await;
    let url = format!("{}/v1/chat/completions", gw.url);
    let resp = client().post(&url).json(&hi(false)).send().await.unwrap();
    assert_eq!(resp.status(), 401);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["error"]["type"],
        "authentication_error"
    );
    let resp = client()
        .post(&url)
        .bearer_auth("sk-wrong")
        .json(&hi(false))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let resp = client()
        .post(&url)
        .bearer_auth("sk-master")
        .json(&hi(false))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let resp = client()
        .post(&url)
        .header("x-api-key", "sk-master")
        .json(&hi(false))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        up.requests().len(),
        2,
        "rejected calls never reach the upstream"
    );
    let resp = client()
        .get(format!("{}/v1/models", gw.url))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
}

#[tokio::test]
async fn bad_input_gets_openai_errors_and_the_gateway_keeps_serving() {
    let up = openai::start().await.unwrap();
    let gw = start(&config_for(
        &up,
        "general_settings:\n  max_request_size_mb: 0.01\n",
    ))
    .await;
    let url = format!("{}/v1/chat/completions", gw.url);
    let raw = |body: &'static str| {
        client()
            .post(&url)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };

    let resp = raw("{\"model\": \"gpt-4o\", \"messages\": [")
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let e = resp.json::<Value>().await.unwrap();
    assert_eq!(e["error"]["type"], "invalid_request_error");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("Invalid JSON in request body"),
        "{e}"
    );

    let resp = raw("{\"model\": \"gpt-4o\"}").await.unwrap();
    assert_eq!(resp.status(), 400);
    let e = resp.json::<Value>().await.unwrap();
    assert_eq!(e["error"]["param"], "messages", "{e}");

    let resp = raw("{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}]}")
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["error"]["param"],
        "model"
    );

    let resp = raw("{\"model\": \"gpt-4o\", \"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"temperature\": \"hot\"}").await.unwrap();
    assert_eq!(resp.status(), 400);
    let e = resp.json::<Value>().await.unwrap();
    assert_eq!(e["error"]["param"], "temperature", "{e}");

    let resp =
        raw("{\"model\": \"gpt-4o\", \"messages\": [{\"role\": \"robot\", \"content\": \"x\"}]}")
            .await
            .unwrap();
    assert_eq!(resp.status(), 400);

    let resp = raw("{\"model\": \"gpt-4o\", \"messages\": []}")
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);

    let resp = post(
        &gw,
        "/v1/chat/completions",
        &json!({"model": "nope", "messages": [{"role": "user", "content": "x"}]}),
    )
    .await;
    assert_eq!(resp.status(), 400);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["error"]["message"],
        "Invalid model name passed in model=nope. Available model groups: embed, gpt-4o, tts, whisper"
    );

    let big =
        json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "x".repeat(20_000)}]});
    let resp = post(&gw, "/v1/chat/completions", &big).await;
    assert_eq!(resp.status(), 413);
    // Hardening issue, finding 8: the 413 (and other extractor rejections)
    // answered plain text, not OpenAI's error JSON.
    assert_eq!(resp.headers()["content-type"], "application/json");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["type"], "invalid_request_error", "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("length limit exceeded"),
        "{body}"
    );
    let resp = client()
        .post(format!("{}/v1/audio/transcriptions", gw.url))
        .header("content-type", "multipart/form-data; boundary=x")
        .body("--x\r\nnot a part")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(resp.headers()["content-type"], "application/json");
    // Finding 13: bytes after the JSON body were accepted and ignored.
    let resp = client()
        .post(format!("{}/v1/chat/completions", gw.url))
        .header("content-type", "application/json")
        .body(r#"{"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}]} trailing"#)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(
        body["error"]["message"],
        "Invalid JSON in request body: trailing characters at line 1 column 69"
    );

    let resp = client()
        .get(format!("{}/v1/nope", gw.url))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    let body = resp.json::<Value>().await.unwrap();
    assert_eq!(
        body["error"]["message"],
        "Unknown route: GET /v1/nope. The OpenAI-compatible API is under /v1 (e.g. POST /v1/chat/completions); GET / lists the routes"
    );
    assert_eq!(body["error"]["code"], "not_found");

    assert!(up.requests().is_empty());
    let resp = post(&gw, "/v1/chat/completions", &hi(false)).await;
    assert_eq!(resp.status(), 200, "still serving");
}

#[tokio::test]
async fn embeddings_models_and_model_info() {
    let up = openai::start().await.unwrap();
    let gw = start(&config_for(&up, "")).await;
    let resp = post(
        &gw,
        "/v1/embeddings",
        &json!({"model": "embed", "input": ["a", "b"]}),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["data"].as_array().unwrap().len(), 2);
    assert_eq!(
        body["usage"],
        json!({"prompt_tokens": 8, "total_tokens": 8})
    );
    assert_eq!(
        up.last_request().unwrap().json(),
        json!({"model": "text-embedding-3-small", "input": ["a", "b"]})
    );

    let models: Value = client()
        .get(format!("{}/v1/models", gw.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = models["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec!["embed", "gpt-4o", "tts", "whisper"]);
    assert_eq!(models["object"], "list");
    // Anthropic's clients (they send `anthropic-version`) get Anthropic's shape.
    let anthropic_models: Value = client()
        .get(format!("{}/v1/models", gw.url))
        .header("anthropic-version", "2023-06-01")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(anthropic_models["first_id"], "embed");
    assert_eq!(anthropic_models["last_id"], "whisper");
    assert_eq!(anthropic_models["has_more"], false);
    assert_eq!(
        anthropic_models["data"][1],
        json!({"type": "model", "id": "gpt-4o", "display_name": "gpt-4o", "created_at": "2023-06-14T00:00:00Z"})
    );
    let one = client()
        .get(format!("{}/models/gpt-4o", gw.url))
        .send()
        .await
        .unwrap();
    assert_eq!(one.json::<Value>().await.unwrap()["id"], "gpt-4o");
    let missing = client()
        .get(format!("{}/v1/models/gpt-9", gw.url))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);

    let info: Value = client()
        .get(format!("{}/model/info", gw.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let text = info.to_string();
    assert!(
        !text.contains("sk-upstream"),
        "keys never leave the gateway: {text}"
    );
    assert_eq!(info["data"][0]["model_name"], "gpt-4o");
    assert_eq!(info["data"][0]["model_info"]["id"], "dep-1");
}

#[tokio::test]
async fn legacy_completions_are_served_by_chat() {
    let up = openai::start().await.unwrap();
    let gw = start(&config_for(&up, "")).await;
    let resp = post(
        &gw,
        "/v1/completions",
        &json!({"model": "gpt-4o", "prompt": "Say hi", "max_tokens": 5}),
    )
    .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.json::<Value>().await.unwrap(),
        json!({
            "id": "cmpl-mock", "object": "text_completion", "created": openai::CREATED, "model": "gpt-4o",
            "system_fingerprint": "fp_mock",
            "choices": [{"text": openai::REPLY, "index": 0, "logprobs": null, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 9, "completion_tokens": 5, "total_tokens": 14,
                      "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
                      "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0, "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}}
        })
    );
    assert_eq!(
        up.last_request().unwrap().json(),
        json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "Say hi"}], "max_tokens": 5})
    );
    let body = post(
        &gw,
        "/v1/completions",
        &json!({"model": "gpt-4o", "prompt": "Say hi", "stream": true}),
    )
    .await
    .text()
    .await
    .unwrap();
    let mut frames = events(&body);
    assert_eq!(frames.pop(), Some(json!("[DONE]")));
    let texts: Vec<&str> = frames
        .iter()
        .map(|f| f["choices"][0]["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts.concat(), openai::REPLY);
    let resp = post(
        &gw,
        "/v1/completions",
        &json!({"model": "gpt-4o", "prompt": "x", "echo": true}),
    )
    .await;
    assert_eq!(resp.status(), 400);
}

#[tokio::test]
async fn audio_routes() {
    let up = openai::start().await.unwrap();
    let gw = start(&config_for(&up, "")).await;
    let form = reqwest::multipart::Form::new()
        .text("model", "whisper")
        .text("response_format", "text")
        .part(
            "file",
            reqwest::multipart::Part::bytes(b"RIFFdata".to_vec()).file_name("a.wav"),
        );
    let resp = client()
        .post(format!("{}/v1/audio/transcriptions", gw.url))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text().await.unwrap(), "hello world\n");
    let sent = up.last_request().unwrap();
    assert!(String::from_utf8_lossy(&sent.body).contains("name=\"model\"\r\n\r\nwhisper-1\r\n"));

    let resp = post(
        &gw,
        "/v1/audio/speech",
        &json!({"model": "tts", "input": "Hello", "voice": "alloy"}),
    )
    .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "audio/mpeg");
    assert_eq!(
        resp.bytes().await.unwrap(),
        Bytes::from_static(b"ID3\x04mock-mp3")
    );

    let form = reqwest::multipart::Form::new().text("model", "whisper");
    let resp = client()
        .post(format!("{}/v1/audio/transcriptions", gw.url))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
}

#[tokio::test]
async fn health_and_metrics() {
    let up = openai::start().await.unwrap();
    let gw = start(&config_for(&up, "")).await;
    assert_eq!(
        client()
            .get(format!("{}/health/liveliness", gw.url))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        "I'm alive!"
    );
    let ready: Value = client()
        .get(format!("{}/health/readiness", gw.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ready["status"], "healthy");
    up.enqueue(MockResponse::json(
        401,
        &error_body("bad key", "invalid_request_error", None, None),
    ));
    let health: Value = client()
        .get(format!("{}/health", gw.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        health["healthy_count"].as_u64().unwrap() + health["unhealthy_count"].as_u64().unwrap(),
        4
    );
    assert_eq!(health["unhealthy_count"], 1);

    post(&gw, "/v1/chat/completions", &hi(false)).await;
    post(&gw, "/v1/chat/completions", &json!({"model": "gpt-4o"})).await;
    let text = client()
        .get(format!("{}/metrics", gw.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains("llmux_requests_total{route=\"chat_completions\",model_group=\"gpt-4o\",status=\"200\"} 1"), "{text}");
    assert!(
        text.contains(
            "llmux_tokens_total{model_group=\"gpt-4o\",deployment=\"dep-1\",type=\"prompt\"} 9"
        ),
        "{text}"
    );
    assert!(text.contains("llmux_errors_total{route=\"chat_completions\",model_group=\"unknown\",kind=\"BadRequestError\"} 1"), "{text}");
    assert!(text.contains("llmux_overhead_seconds_count 1"), "{text}");
    // The spend counter was registered but never counted (found documenting it).
    let spend_line = text
        .lines()
        .find(|l| {
            l.starts_with("llmux_spend_usd_total{model_group=\"gpt-4o\",deployment=\"dep-1\"}")
        })
        .unwrap_or_else(|| panic!("no spend counter: {text}"));
    let usd: f64 = spend_line.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(usd > 0.0 && usd < 0.01, "{spend_line}");
}

#[tokio::test]
async fn graceful_shutdown_drains_in_flight_streams() {
    let up = openai::start().await.unwrap();
    let gw = start(&config_for(&up, "")).await;
    let m = "gpt-4o";
    let mut parts = sse_parts(&[chunk(m, json!({"role": "assistant", "content": "a"}), None)]);
    parts.push(StreamPart::Delay(Duration::from_millis(500)));
    parts.extend(sse_parts(&[chunk(m, json!({}), Some("stop"))]));
    parts.push(StreamPart::Bytes(Bytes::from_static(b"data: [DONE]\n\n")));
    up.enqueue(MockResponse::stream("text/event-stream", parts));
    let resp = post(&gw, "/v1/chat/completions", &hi(true)).await;
    let url = gw.url.clone();
    let stopped = tokio::spawn(gw.stop());
    let body = resp.text().await.unwrap();
    assert!(
        body.ends_with("data: [DONE]\n\n"),
        "the stream in flight completed: {body}"
    );
    stopped.await.unwrap().unwrap();
    assert!(
        client()
            .get(format!("{url}/health/liveliness"))
            .send()
            .await
            .is_err(),
        "no longer accepting"
    );
}

// ---- Anthropic's Messages API inbound (/v1/messages) ----

#[tokio::test]
async fn anthropic_messages_translate_both_ways() {
    let up = openai::start().await.unwrap();
    let gw = start(&config_for(
        &up,
        "general_settings:\n  master_key: sk-master\n",
    ))
    .await;
    let resp = client()
        .post(format!("{}/v1/messages", gw.url))
        .header("x-api-key", "sk-master")
        .header("anthropic-version", "2023-06-01")
        .json(&json!({
            "model": "gpt-4o",
            "max_tokens": 100,
            "system": "Be brief.",
            "stop_sequences": ["END"],
            "temperature": 0.5,
            "top_k": 5,
            "metadata": {"user_id": "u-1"},
            "messages": [{"role": "user", "content": [
                {"type": "text", "text": "What is in this image?"},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}}
            ]}]
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.json::<Value>().await.unwrap(),
        json!({
            "id": "msg_mock", "type": "message", "role": "assistant", "model": "gpt-4o",
            "content": [{"type": "text", "text": openai::REPLY}],
            "stop_reason": "end_turn", "stop_sequence": null,
            "usage": {"input_tokens": 9, "output_tokens": 5, "cache_read_input_tokens": 0, "cache_creation_input_tokens": 0}
        })
    );
    assert_eq!(
        up.last_request().unwrap().json(),
        json!({
            "model": "gpt-4o",
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": [
                    {"type": "text", "text": "What is in this image?"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}
                ]}
            ],
            "max_tokens": 100,
            "temperature": 0.5,
            "stop": ["END"],
            "user": "u-1",
            "top_k": 5
        })
    );
}

#[tokio::test]
async fn anthropic_messages_tool_round_trip() {
    let up = openai::start().await.unwrap();
    let gw = start(&config_for(&up, "")).await;
    let mut c = openai::chat_completion("gpt-4o");
    c["choices"][0]["message"] = json!({"role": "assistant", "content": null, "tool_calls": [
        {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}
    ]});
    c["choices"][0]["finish_reason"] = json!("tool_calls");
    up.enqueue(MockResponse::json(200, &c));
    let tools = json!([{"name": "get_weather", "description": "Weather", "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}]);
    let resp: Value = post(
        &gw,
        "/v1/messages",
        &json!({
            "model": "gpt-4o", "max_tokens": 50, "tools": tools,
            "tool_choice": {"type": "any", "disable_parallel_tool_use": true},
            "messages": [{"role": "user", "content": "Weather in Paris?"}]
        }),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(resp["stop_reason"], "tool_use");
    assert_eq!(
        resp["content"],
        json!([{"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Paris"}}])
    );
    let sent = up.last_request().unwrap().json();
    assert_eq!(sent["tool_choice"], "required");
    assert_eq!(sent["parallel_tool_calls"], false);
    assert_eq!(
        sent["tools"][0],
        json!({"type": "function", "function": {"name": "get_weather", "description": "Weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}})
    );

    // The client sends the tool result back in Anthropic's shape.
    post(&gw, "/v1/messages", &json!({
        "model": "gpt-4o", "max_tokens": 50, "tools": tools,
        "messages": [
            {"role": "user", "content": "Weather in Paris?"},
            {"role": "assistant", "content": [{"type": "text", "text": "Checking."}, {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Paris"}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "call_1", "content": "21C sunny"}]}
        ]
    }))
    .await;
    assert_eq!(
        up.last_request().unwrap().json()["messages"],
        json!([
            {"role": "user", "content": "Weather in Paris?"},
            {"role": "assistant", "content": "Checking.", "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]},
            {"role": "tool", "content": "21C sunny", "tool_call_id": "call_1"}
        ])
    );
}

#[tokio::test]
async fn anthropic_messages_stream_as_anthropic_events() {
    let up = openai::start().await.unwrap();
    let gw = start(&config_for(&up, "")).await;
    let body = post(&gw, "/v1/messages", &json!({"model": "gpt-4o", "max_tokens": 50, "stream": true, "messages": [{"role": "user", "content": "Hi"}]}))
        .await
        .text()
        .await
        .unwrap();
    let events: Vec<(String, Value)> = body
        .trim_end()
        .split("\n\n")
        .map(|f| {
            let (e, d) = f.split_once('\n').unwrap();
            (
                e.strip_prefix("event: ").unwrap().to_string(),
                serde_json::from_str(d.strip_prefix("data: ").unwrap()).unwrap(),
            )
        })
        .collect();
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        vec![
            "message_start",
            "content_block_start",
            "content_block_delta",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop"
        ]
    );
    let text: String = events
        .iter()
        .filter(|(n, _)| n == "content_block_delta")
        .map(|(_, d)| d["delta"]["text"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(text, openai::REPLY);
    assert_eq!(
        events[6].1,
        json!({"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": null}, "usage": {"input_tokens": 9, "output_tokens": 5, "cache_read_input_tokens": 0, "cache_creation_input_tokens": 0}})
    );
}

#[tokio::test]
async fn anthropic_messages_errors_use_anthropic_shape() {
    let up = openai::start().await.unwrap();
    let gw = start(&config_for(
        &up,
        "general_settings:\n  master_key: sk-master\n",
    ))
    .await;
    let resp = post(&gw, "/v1/messages", &json!({"model": "gpt-4o", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]})).await;
    assert_eq!(resp.status(), 401);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["error"]["type"],
        "authentication_error"
    );
    let resp = client()
        .post(format!("{}/v1/messages", gw.url))
        .header("x-api-key", "sk-master")
        .json(&json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let e: Value = resp.json().await.unwrap();
    assert_eq!(e["type"], "error");
    assert_eq!(e["error"]["type"], "invalid_request_error");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("max_tokens"),
        "{e}"
    );
}

#[tokio::test]
async fn drop_params_in_litellm_settings_reaches_the_provider() {
    let upstream = llmux_tests::mock::anthropic::start().await.unwrap();
    let config = |drop: &str| {
        format!(
            r#"
model_list:
  - model_name: claude
    litellm_params:
      model: anthropic/claude-sonnet-4-5
      api_base: {base}
      api_key: sk-ant-upstream
router_settings:
  num_retries: 0
{drop}
"#,
            base = upstream.url()
        )
    };
    let body =
        json!({"model": "claude", "messages": [{"role": "user", "content": "Hi"}], "seed": 7});

    let strict = start(&config("")).await;
    let r = client()
        .post(format!("{}/v1/chat/completions", strict.url))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let err: Value = r.json().await.unwrap();
    assert_eq!(
        err["error"]["message"],
        json!("Anthropic does not support seed (set drop_params: true to drop it)")
    );
    assert!(upstream.requests().is_empty());

    let lenient = start(&config("litellm_settings:\n  drop_params: true")).await;
    let r = client()
        .post(format!("{}/v1/chat/completions", lenient.url))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let sent = upstream.last_request().unwrap().json();
    assert_eq!(sent.get("seed"), None);
    assert_eq!(sent.get("drop_params"), None);

    // A request may still ask for strictness itself.
    let mut strict_body = body.clone();
    strict_body["drop_params"] = json!(false);
    let r = client()
        .post(format!("{}/v1/chat/completions", lenient.url))
        .json(&strict_body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn a_reply_without_usage_gets_an_estimated_one() {
    let upstream = openai::start().await.unwrap();
    let mut body = openai::chat_completion("gpt-4o");
    body.as_object_mut().unwrap().remove("usage");
    upstream.enqueue(MockResponse::json(200, &body));
    let gw = start(&config_for(&upstream, "")).await;
    let resp: Value = client()
        .post(format!("{}/v1/chat/completions", gw.url))
        .json(&hi(false))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    // Prompt: "Hi" is 2 characters → 1 token, + 3 for the message + 3 for the
    // reply; completion: "Hello from the mock!" is 5 tokens in o200k_base.
    assert_eq!(
        resp["usage"],
        json!({"prompt_tokens": 7, "completion_tokens": 5, "total_tokens": 12})
    );
}

#[tokio::test]
async fn a_stream_without_usage_gets_the_estimate_as_its_usage_chunk() {
    let up = openai::start().await.unwrap();
    // An OpenAI-compatible server that ignores stream_options.include_usage.
    let chunks = openai::stream_chunks("gpt-4o", false);
    up.enqueue(openai::sse_response(&chunks));
    up.enqueue(openai::sse_response(&chunks));
    let gw = start(&config_for(&up, "")).await;

    // The client asked for usage: the estimate the call is priced at (the
    // same as for the same reply whole, see
    // a_reply_without_usage_gets_an_estimated_one) comes last.
    let mut asked = hi(true);
    asked["stream_options"] = json!({"include_usage": true});
    let body = post(&gw, "/v1/chat/completions", &asked)
        .await
        .text()
        .await
        .unwrap();
    let mut expected = expected_events(&chunks, false);
    expected.push(json!({
        "id": "chatcmpl-mock",
        "object": "chat.completion.chunk",
        "created": openai::CREATED,
        "model": "gpt-4o",
        "system_fingerprint": "fp_mock",
        "choices": [],
        "usage": {"prompt_tokens": 7, "completion_tokens": 5, "total_tokens": 12}
    }));
    expected.push(Value::String("[DONE]".into()));
    assert_eq!(events(&body), expected);

    // The client did not ask: its stream is the upstream's, unchanged.
    let body = post(&gw, "/v1/chat/completions", &hi(true))
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(events(&body), expected_events(&chunks, true));
}

/// Hardening issue, High 1: the caller's `model` became a Prometheus label
/// before authentication failed, so unauthenticated requests with huge model
/// names grew memory and `/metrics` for good (and were logged whole).
#[tokio::test]
async fn caller_sent_model_names_never_become_metric_labels() {
    let up = openai::start().await.unwrap();
    let gw = start(&config_for(
        &up,
        "general_settings:\n  master_key: sk-test-master",
    ))
    .await;
    let huge = "m".repeat(200_000);
    for i in 0..5 {
        let resp = post(
            &gw,
            "/v1/chat/completions",
            &json!({"model": format!("{huge}{i}"), "messages": [{"role": "user", "content": "Hi"}]}),
        )
        .await;
        assert_eq!(resp.status(), 401);
    }
    let metrics = |gw: &Gateway| {
        let url = format!("{}/metrics", gw.url);
        async move {
            client()
                .get(url)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
        }
    };
    let text = metrics(&gw).await;
    assert!(text.len() < 20_000, "metrics grew to {} bytes", text.len());
    assert!(
        text.contains("llmux_errors_total{route=\"chat_completions\",model_group=\"unknown\",kind=\"AuthenticationError\"} 5"),
        "{text}"
    );

    // A wildcard group labels its calls with its pattern, not the name asked for.
    let wild = format!(
        "model_list:\n  - model_name: \"openai/*\"\n    litellm_params:\n      model: \"openai/*\"\n      api_base: {}\n      api_key: sk-upstream\n",
        up.url()
    );
    let gw = start(&wild).await;
    for model in ["openai/gpt-4o", "openai/some-other-name", "nothing/here"] {
        post(
            &gw,
            "/v1/chat/completions",
            &json!({"model": model, "messages": [{"role": "user", "content": "Hi"}]}),
        )
        .await;
    }
    let text = metrics(&gw).await;
    assert!(
        text.contains("llmux_requests_total{route=\"chat_completions\",model_group=\"openai/*\",status=\"200\"} 2"),
        "{text}"
    );
    assert!(
        text.contains("llmux_requests_total{route=\"chat_completions\",model_group=\"unknown\",status=\"400\"} 1"),
        "{text}"
    );
    assert!(!text.contains("some-other-name"), "{text}");
}

/// Safe-defaults issue: the README's first example asked the env-only
/// gateway for `gpt-4o` and got 400 "Available model groups: openai/*".
#[tokio::test]
async fn env_only_groups_accept_unambiguous_bare_names() {
    let up = openai::start().await.unwrap();
    let gw = Gateway::start_with_env(
        "",
        None,
        &[("OPENAI_API_KEY", "sk-env"), ("OPENAI_BASE_URL", &up.url())],
    )
    .await
    .unwrap();
    let resp = post(&gw, "/v1/chat/completions", &hi(false)).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-llmux-model-group"], "openai/gpt-4o");
    assert_eq!(up.last_request().unwrap().json()["model"], "gpt-4o");

    let resp = post(
        &gw,
        "/v1/chat/completions",
        &json!({"model": "llama3", "messages": [{"role": "user", "content": "Hi"}]}),
    )
    .await;
    assert_eq!(resp.status(), 400);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["error"]["message"],
        "Invalid model name passed in model=llama3. Available model groups: openai/*. Name the provider as provider/model (a bare name is read so only when it belongs to one provider)"
    );
    assert_eq!(up.requests().len(), 1);
}

/// Azure-style clients name the deployment in the path; the body is parsed
/// once (it used to be parsed, written back to bytes and parsed again), and
/// its errors still name the field.
#[tokio::test]
async fn azure_style_route_takes_the_model_from_the_path() {
    let up = openai::start().await.unwrap();
    let gw = start(&config_for(&up, "")).await;
    let url = "/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21";
    let resp = post(
        &gw,
        url,
        &json!({"messages": [{"role": "user", "content": "Hi"}], "temperature": 0.1}),
    )
    .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.json::<Value>().await.unwrap(), expected_completion());
    assert_eq!(
        up.last_request().unwrap().json(),
        json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "Hi"}], "temperature": 0.1})
    );
    let resp = post(&gw, url, &json!({"messages": 5})).await;
    assert_eq!(resp.status(), 400);
    let body = resp.json::<Value>().await.unwrap();
    assert_eq!(body["error"]["param"], "messages", "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("Invalid request body at 'messages': invalid type: integer `5`"),
        "{body}"
    );
}

/// Hardening issue, finding 12: an upstream error that echoes the request's
/// Authorization header reached the caller verbatim, provider key included.
#[tokio::test]
async fn upstream_error_text_never_carries_the_provider_key() {
    let up = openai::start().await.unwrap();
    let gw = start(&config_for(&up, "")).await;
    up.enqueue(MockResponse::json(
        401,
        &error_body(
            "Invalid credentials in header Authorization: Bearer sk-upstream",
            "invalid_request_error",
            None,
            Some("invalid_api_key"),
        ),
    ));
    let resp = post(&gw, "/v1/chat/completions", &hi(false)).await;
    assert_eq!(resp.status(), 401);
    let body = resp.text().await.unwrap();
    assert!(!body.contains("sk-upstream"), "{body}");
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        body["error"]["message"],
        "Invalid credentials in header Authorization: Bearer [redacted]"
    );
}

// ---- what a client may hold without sending a request ----

/// Connect and send `bytes` (a request head, maybe unfinished).
async fn raw_connection(gw: &Gateway, bytes: &[u8]) -> tokio::net::TcpStream {
    use tokio::io::AsyncWriteExt;
    let addr = gw.url.trim_start_matches("http://");
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    tcp.write_all(bytes).await.unwrap();
    tcp
}

#[tokio::test]
async fn slow_request_heads_are_cut_and_connections_are_capped() {
    use tokio::io::AsyncReadExt;
    let up = openai::start().await.unwrap();
    let limits = llmux_proxy::server::ServeLimits {
        header_read_timeout: Duration::from_millis(500),
        max_connections: 2,
    };
    let gw = Gateway::start_limited(&config_for(&up, ""), None, &[], limits)
        .await
        .unwrap();

    // A head that never ends (slowloris) is closed after the timeout.
    let started = std::time::Instant::now();
    let mut slow = raw_connection(&gw, b"GET /health/liveliness HTTP/1.1\r\nHost: x\r\n").await;
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), slow.read_to_end(&mut buf)).await;
    assert!(read.is_ok(), "the connection must be closed by the gateway");
    assert!(
        started.elapsed() >= Duration::from_millis(400),
        "{:?}",
        started.elapsed()
    );
    assert!(
        !String::from_utf8_lossy(&buf).contains("200 OK"),
        "an unfinished head is never served"
    );

    // Two held connections fill the cap: a third client waits…
    let held_a = raw_connection(&gw, b"").await;
    let held_b = raw_connection(&gw, b"").await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let waiting = tokio::spawn({
        let url = format!("{}/health/liveliness", gw.url);
        async move { client().get(url).send().await.map(|r| r.status().as_u16()) }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!waiting.is_finished(), "served past the connection cap");
    // …until one of them goes away (or times out).
    drop(held_a);
    let status = tokio::time::timeout(Duration::from_secs(5), waiting)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(status, 200);
    drop(held_b);
}

// ---- pricing deployments named freely (LiteLLM's model_info.base_model) ----

#[tokio::test]
async fn base_model_prices_a_freely_named_deployment() {
    let up = openai::start().await.unwrap();
    let entry = |name: &str, info: &str| {
        format!(
            "  - model_name: {name}\n    litellm_params:\n      model: azure/my-embedding-deployment\n      api_base: {}\n      api_key: az-key\n      api_version: \"2024-10-21\"\n{info}",
            up.url()
        )
    };
    let config = format!(
        "model_list:\n{}{}router_settings:\n  num_retries: 0\n",
        entry(
            "emb",
            "    model_info:\n      base_model: text-embedding-3-small\n"
        ),
        entry("emb-unpriced", "")
    );
    let gw = start(&config).await;
    let cost = |model: &'static str| {
        let url = format!("{}/v1/embeddings", gw.url);
        async move {
            let resp = client()
                .post(url)
                .json(&json!({"model": model, "input": "Hello world"}))
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 200);
            resp.headers()
                .get("x-llmux-response-cost")
                .map(|v| v.to_str().unwrap().parse::<f64>().unwrap())
        }
    };
    // text-embedding-3-small: $0.02 per 1M tokens; the mock reports usage.
    assert!(cost("emb").await.is_some_and(|c| c > 0.0));
    assert_eq!(cost("emb-unpriced").await, None);

    // The unpriced deployment is named at start, with the fix.
    let loaded = llmux_proxy::config::parse(
        "test.yaml",
        &config,
        std::sync::Arc::new(llmux_core::MapEnv::default()),
    )
    .unwrap();
    let built = llmux_proxy::server::build(Some(loaded), &[]).await.unwrap();
    let warning = built
        .warnings
        .iter()
        .find(|w| w.starts_with("no price known"))
        .unwrap();
    assert!(
        warning.contains("emb-unpriced (azure/my-embedding-deployment)")
            && !warning.contains("emb (azure"),
        "{warning}"
    );
    assert!(warning.contains("model_info.base_model"), "{warning}");
}

/// Provider fidelity finding: an embeddings call whose upstream answered 500
/// was tried once. Every call type goes through the same retries as chat.
#[tokio::test]
async fn embeddings_images_and_moderations_are_retried_like_chat() {
    let up = openai::start().await.unwrap();
    let base = up.url();
    let config = format!(
        "model_list:\n{}{}{}router_settings:\n  num_retries: 2\n  retry_after: 0.001\n",
        openai_deployment("embed", "text-embedding-3-small", &base, ""),
        openai_deployment("image", "dall-e-3", &base, ""),
        openai_deployment("moderation", "omni-moderation-latest", &base, ""),
    );
    let gw = start(&config).await;
    for (path, body) in [
        ("/v1/embeddings", json!({"model": "embed", "input": "Hi"})),
        (
            "/v1/images/generations",
            json!({"model": "image", "prompt": "a cat"}),
        ),
        (
            "/v1/moderations",
            json!({"model": "moderation", "input": "Hi"}),
        ),
    ] {
        let before = up.requests().len();
        for _ in 0..2 {
            up.enqueue(MockResponse::json(
                500,
                &openai::error_body("The server had an error", "server_error", None, None),
            ));
        }
        let resp = client()
            .post(format!("{}{path}", gw.url))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{path}");
        assert_eq!(up.requests().len() - before, 3, "{path}: two retries");
    }
}
