//! Observability end to end: LiteLLM's logging callbacks (the `generic_api`
//! webhook with each log format, OpenTelemetry over OTLP HTTP/protobuf and
//! gRPC, Langfuse's OTLP endpoint) receive what LiteLLM's would, off the
//! request path: a sink that is down costs calls nothing, its events wait
//! (bounded, drops counted) and are delivered when it is back; LiteLLM's
//! response headers.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

mod common;

use std::time::{Duration, Instant};

use base64::Engine;
use common::{new_key, post, Reply};
use llmux_tests::gateway::{config_yaml, master_key_settings, TestGateway, PRICED};
use llmux_tests::mock::{openai, MockResponse, MockServer, RecordedRequest};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use serde_json::{json, Value};

const MASTER: &str = "sk-master-1234";

/// The W3C example trace a client continues.
const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

fn deployment(name: &str, model: &str, base: &str) -> String {
    format!(
        "  - model_name: {name}\n    litellm_params:\n      model: openai/{model}\n      api_base: {base}\n      api_key: sk-upstream\n{PRICED}    model_info:\n      id: {name}-1\n"
    )
}

/// A sink that answers 200 to everything.
async fn sink() -> MockServer {
    MockServer::start(|_| MockResponse::json(200, &json!({})))
        .await
        .unwrap()
}

/// What `look` returns once it holds at least `n` items, polled every
/// 20 ms for at most 10 s (deliveries happen off the request path).
async fn at_least<T, F, Fut>(what: &str, n: usize, look: F) -> Vec<T>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Vec<T>>,
{
    let start = Instant::now();
    loop {
        let got = look().await;
        if got.len() >= n {
            return got;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{} of {n} {what}",
            got.len()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Wait until `sink` has received `n` requests.
async fn received(sink: &MockServer, n: usize) -> Vec<RecordedRequest> {
    at_least("requests", n, || async { sink.requests() }).await
}

/// Every payload the sink received, in order (each request a JSON array),
/// once there are `n`.
async fn payloads(sink: &MockServer, n: usize) -> Vec<Value> {
    at_least("payloads", n, || async {
        sink.requests()
            .iter()
            .flat_map(|r| r.json().as_array().cloned().unwrap_or_default())
            .collect()
    })
    .await
}

async fn call(gw: &TestGateway, key: &str, body: Value, headers: &[(&str, &str)]) -> Reply {
    let mut req = reqwest::Client::new()
        .post(format!("{}/v1/chat/completions", gw.url))
        .bearer_auth(key)
        .json(&body);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let text = resp.text().await.unwrap();
    Reply {
        status,
        body: serde_json::from_str(&text).unwrap_or(Value::String(text)),
        headers,
    }
}

fn webhook_config(upstream: &MockServer, callbacks: &str, settings: &str) -> String {
    config_yaml(
        &[deployment("gpt-4o-mini", "gpt-4o-mini", &upstream.url())],
        &format!(
            "litellm_settings:\n{callbacks}callback_settings:\n{settings}{}",
            master_key_settings(MASTER)
        ),
    )
}

/// A gateway from `config` on a fresh SQLite database, with `env` added to
/// its environment.
async fn start_env(config: &str, env: &[(&str, &str)]) -> TestGateway {
    let db = llmux_tests::db::TestDb::sqlite();
    let url = db.url.clone();
    let mut all = vec![("DATABASE_URL", url.as_str())];
    all.extend_from_slice(env);
    TestGateway::start_with_env(config, Some(db), &all)
        .await
        .unwrap()
}

/// A gateway with one `generic_api` webhook whose settings are `settings`
/// (lines under `callback_settings.generic_api`).
async fn webhook_gateway(upstream: &MockServer, settings: &str) -> TestGateway {
    TestGateway::start(&webhook_config(
        upstream,
        "  callbacks: [\"generic_api\"]\n",
        &format!("  generic_api:\n{settings}"),
    ))
    .await
    .unwrap()
}

/// A team `platform` and a key `ci-bot` in it.
async fn team_key(gw: &TestGateway) -> (String, String) {
    let team = post(
        gw,
        "/team/new",
        Some(MASTER),
        json!({"team_id": "t-platform", "team_alias": "platform"}),
    )
    .await;
    assert_eq!(team.status, 200, "{}", team.body);
    new_key(
        gw,
        MASTER,
        json!({"key_alias": "ci-bot", "team_id": "t-platform"}),
    )
    .await
}

/// LiteLLM's StandardLoggingPayload, field for field, for a success and a
/// failure; the sink's own headers; never a key.
#[tokio::test]
async fn webhook_receives_litellm_standard_logging_payloads() {
    let upstream = openai::start().await.unwrap();
    let hook = sink().await;
    let gw = webhook_gateway(
        &upstream,
        &format!("    callback_type: generic_api\n    endpoint: {}/logs\n    headers:\n      Authorization: Bearer sink-secret\n    flush_interval: 0.05\n", hook.url()),
    )
    .await;
    let (key, hash) = team_key(&gw).await;
    let body = json!({
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": "Hi"}],
        "temperature": 0.2,
        "user": "customer-7",
        "metadata": {"tags": ["checkout", "eu"], "spend_logs_metadata": {"ticket": "T-1"}}
    });
    let r = call(
        &gw,
        &key,
        body,
        &[
            ("traceparent", TRACEPARENT),
            ("x-forwarded-for", "203.0.113.9, 10.0.0.1"),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let call_id = r.header("x-litellm-call-id").unwrap().to_string();
    assert!(call_id.starts_with("call_"), "{call_id}");

    let p = payloads(&hook, 1).await.remove(0);
    let sent = &hook.requests()[0];
    assert_eq!(sent.path, "/logs");
    assert_eq!(sent.header("authorization"), Some("Bearer sink-secret"));
    assert_eq!(sent.header("content-type"), Some("application/json"));
    assert_eq!(p["id"], json!(call_id));
    assert_eq!(p["call_id"], json!(call_id));
    assert_eq!(p["trace_id"], json!("4bf92f3577b34da6a3ce929d0e0e4736"));
    assert_eq!(p["call_type"], json!("acompletion"));
    assert_eq!(p["status"], json!("success"));
    assert_eq!(p["status_fields"], json!({"llm_api_status": "success"}));
    assert_eq!(p["stream"], json!(false));
    assert_eq!(p["custom_llm_provider"], json!("openai"));
    assert_eq!(p["model"], json!("openai/gpt-4o-mini"));
    assert_eq!(p["model_group"], json!("gpt-4o-mini"));
    assert_eq!(p["model_id"], json!("gpt-4o-mini-1"));
    assert_eq!(p["api_base"], json!(upstream.url()));
    assert_eq!(
        (
            &p["prompt_tokens"],
            &p["completion_tokens"],
            &p["total_tokens"]
        ),
        (&json!(9), &json!(5), &json!(14))
    );
    // 9 × $0.000001 + 5 × $0.000002
    assert!(
        (p["response_cost"].as_f64().unwrap() - 0.000019).abs() < 1e-12,
        "{}",
        p["response_cost"]
    );
    assert_eq!(p["hidden_params"]["response_cost"], json!("0.000019"));
    assert_eq!(r.header("x-litellm-response-cost"), Some("0.000019"));
    assert_eq!(p["cache_hit"], json!(false));
    assert_eq!(p["messages"], json!([{"role": "user", "content": "Hi"}]));
    assert_eq!(
        p["response"]["choices"][0]["message"]["content"],
        json!(openai::REPLY)
    );
    assert_eq!(
        p["model_parameters"],
        json!({"temperature": 0.2, "user": "customer-7"})
    );
    assert_eq!(p["request_tags"], json!(["checkout", "eu"]));
    assert_eq!(p["end_user"], json!("customer-7"));
    assert_eq!(p["requester_ip_address"], json!("203.0.113.9"));
    let m = &p["metadata"];
    assert_eq!(m["user_api_key_hash"], json!(hash));
    assert_eq!(m["user_api_key_alias"], json!("ci-bot"));
    assert_eq!(m["user_api_key_team_id"], json!("t-platform"));
    assert_eq!(m["user_api_key_team_alias"], json!("platform"));
    assert_eq!(m["user_api_key_end_user_id"], json!("customer-7"));
    assert_eq!(m["spend_logs_metadata"], json!({"ticket": "T-1"}));
    assert_eq!(m["user_api_key_request_route"], json!("chat_completions"));
    let (start, first, end) = (
        p["startTime"].as_f64().unwrap(),
        p["completionStartTime"].as_f64().unwrap(),
        p["endTime"].as_f64().unwrap(),
    );
    assert!(start <= first && first <= end, "{start} {first} {end}");
    assert!((p["response_time"].as_f64().unwrap() - (end - start)).abs() < 1e-6);
    assert_eq!(p["error_str"], Value::Null);

    // A failure: the upstream refuses the request (400, not retried).
    upstream.enqueue(MockResponse::json(
        400,
        &openai::error_body(
            "Invalid 'temperature'",
            "invalid_request_error",
            Some("temperature"),
            None,
        ),
    ));
    let r = call(&gw, &key, common::hi_body("gpt-4o-mini", json!({})), &[]).await;
    assert_eq!(r.status, 400);
    let p = payloads(&hook, 2).await.remove(1);
    assert_eq!(p["status"], json!("failure"));
    assert_eq!(p["status_fields"], json!({"llm_api_status": "failure"}));
    assert_eq!(p["model_group"], json!("gpt-4o-mini"));
    assert_eq!(p["model_id"], json!("gpt-4o-mini-1"));
    assert_eq!(p["custom_llm_provider"], json!("openai"));
    assert_eq!(p["response_cost"], json!(0.0));
    assert_eq!(p["error_information"]["error_code"], json!("400"));
    assert_eq!(
        p["error_information"]["error_class"],
        json!("BadRequestError")
    );
    assert_eq!(p["error_information"]["llm_provider"], json!("openai"));
    assert!(
        p["error_str"]
            .as_str()
            .unwrap()
            .contains("Invalid 'temperature'"),
        "{}",
        p["error_str"]
    );
    assert_ne!(p["trace_id"], json!("4bf92f3577b34da6a3ce929d0e0e4736"));

    // No key (virtual, master or upstream) in anything the sink received.
    for req in hook.requests() {
        let text = String::from_utf8_lossy(&req.body);
        for secret in [key.as_str(), MASTER, "sk-upstream"] {
            assert!(!text.contains(secret), "{secret} leaked: {text}");
        }
    }
}

/// `ndjson` and `single` formats, `success_callback`/`failure_callback`
/// lists, `event_types`, `GENERIC_LOGGER_*` variables and
/// `turn_off_message_logging`.
#[tokio::test]
async fn log_formats_event_lists_and_message_redaction() {
    let upstream = openai::start().await.unwrap();
    let (ndjson, single, failures, from_env) =
        (sink().await, sink().await, sink().await, sink().await);
    let config = webhook_config(
        &upstream,
        "  success_callback: [\"lines\", \"each\", \"generic_api\"]\n  failure_callback: [\"failures\"]\n  turn_off_message_logging: true\n",
        &format!(
            "  lines: {{callback_type: generic_api, endpoint: {}, log_format: ndjson, flush_interval: 0.05}}\n  each: {{callback_type: generic_api, endpoint: {}, log_format: single, flush_interval: 0.05}}\n  failures: {{callback_type: generic_api, endpoint: {}, flush_interval: 0.05, event_types: [llm_api_failure]}}\n  generic_api: {{flush_interval: 0.05}}\n",
            ndjson.url(),
            single.url(),
            failures.url()
        ),
    );
    let env_endpoint = format!("{}/env", from_env.url());
    let gw = start_env(
        &config,
        &[
            ("GENERIC_LOGGER_ENDPOINT", env_endpoint.as_str()),
            (
                "GENERIC_LOGGER_HEADERS",
                "Authorization=Bearer env-secret,X-Source=llmux",
            ),
        ],
    )
    .await;
    for _ in 0..2 {
        let r = call(&gw, MASTER, common::hi_body("gpt-4o-mini", json!({})), &[]).await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    upstream.enqueue(MockResponse::json(
        400,
        &openai::error_body("bad", "invalid_request_error", None, None),
    ));
    assert_eq!(
        call(&gw, MASTER, common::hi_body("gpt-4o-mini", json!({})), &[])
            .await
            .status,
        400
    );

    // ndjson: one line per success, the failure not sent (success_callback).
    let lines: Vec<Value> = at_least("lines", 2, || async {
        ndjson
            .requests()
            .iter()
            .flat_map(|r| {
                assert_eq!(r.header("content-type"), Some("application/x-ndjson"));
                let text = String::from_utf8(r.body.to_vec()).unwrap();
                assert!(text.ends_with('\n'));
                text.lines()
                    .map(|l| serde_json::from_str(l).unwrap())
                    .collect::<Vec<Value>>()
            })
            .collect()
    })
    .await;
    assert_eq!(lines.len(), 2);
    for l in &lines {
        assert_eq!(l["status"], json!("success"));
        assert_eq!(l["messages"], Value::Null, "turn_off_message_logging");
        assert_eq!(l["response"], Value::Null, "turn_off_message_logging");
        assert_eq!(l["prompt_tokens"], json!(9));
    }
    // single: one request per payload, each a JSON object.
    let each = received(&single, 2).await;
    for r in &each {
        assert_eq!(r.json()["status"], json!("success"));
    }
    // failure_callback with event_types: only the failure.
    let f = payloads(&failures, 1).await;
    assert_eq!(f.len(), 1);
    assert_eq!(f[0]["status"], json!("failure"));
    // generic_api without an endpoint in its settings: the variables.
    let e = received(&from_env, 1).await;
    assert_eq!(e[0].path, "/env");
    assert_eq!(e[0].header("authorization"), Some("Bearer env-secret"));
    assert_eq!(e[0].header("x-source"), Some("llmux"));
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(each.len(), single.requests().len(), "only successes");
    let all: usize = from_env
        .requests()
        .iter()
        .map(|r| r.json().as_array().unwrap().len())
        .sum();
    assert_eq!(all, 2, "only successes");
}

/// A sink that is down costs calls nothing; its events wait in the queue
/// (past its capacity they are dropped, and counted), are retried with
/// backoff and delivered when it is back; shutdown flushes what is queued.
#[tokio::test]
async fn a_sink_that_is_down_never_slows_calls_and_gets_its_events_later() {
    let upstream = openai::start().await.unwrap();
    let hook = sink().await;
    for _ in 0..2 {
        hook.enqueue(MockResponse::json(503, &json!({"error": "busy"})));
    }
    let gw = webhook_gateway(
        &upstream,
        &format!(
            "    endpoint: {}\n    flush_interval: 0.05\n    queue_size: 3\n    batch_size: 1\n",
            hook.url()
        ),
    )
    .await;
    // The first event is retried (503, 503, then taken) with 0.5 s and 1 s
    // pauses; meanwhile three more fill the queue and the rest are dropped.
    for _ in 0..6 {
        let r = call(&gw, MASTER, common::hi_body("gpt-4o-mini", json!({})), &[]).await;
        assert_eq!(r.status, 200);
    }
    let metrics = reqwest::get(format!("{}/metrics", gw.url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let line = |name: &str| {
        metrics
            .lines()
            .find(|l| l.starts_with(&format!("{name}{{callback=\"generic_api\"}}")))
            .and_then(|l| l.rsplit(' ').next())
            .map(str::to_string)
            .unwrap_or_else(|| panic!("{name} missing:\n{metrics}"))
    };
    assert_eq!(line("llmux_callback_dropped_total"), "2", "{metrics}");
    // Every call was answered while the sink had taken nothing yet.
    assert_eq!(line("llmux_callback_delivered_total"), "0", "{metrics}");
    // After the two 503s the first event and the three queued ones arrive.
    let got = received(&hook, 6).await;
    assert_eq!(got.len(), 6);
    // The first event went out three times (503, 503, taken): four events.
    let ids: std::collections::BTreeSet<String> = payloads(&hook, 6)
        .await
        .iter()
        .map(|p| p["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), 4);
    let metrics = reqwest::get(format!("{}/metrics", gw.url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("llmux_callback_delivered_total{callback=\"generic_api\"} 4"),
        "{metrics}"
    );
    assert!(
        metrics.contains("llmux_callback_failed_deliveries_total{callback=\"generic_api\"} 2"),
        "{metrics}"
    );
    assert!(metrics.contains("llmux_callback_queue_depth{callback=\"generic_api\"} 0"));

    // Shutdown delivers what is queued, though its flush interval is long.
    let slow = sink().await;
    let gw = webhook_gateway(
        &upstream,
        &format!("    endpoint: {}\n    flush_interval: 600\n", slow.url()),
    )
    .await;
    let r = call(&gw, MASTER, common::hi_body("gpt-4o-mini", json!({})), &[]).await;
    assert_eq!(r.status, 200);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(slow.requests().is_empty());
    gw.stop().await.unwrap();
    assert_eq!(payloads(&slow, 1).await.len(), 1);
}

/// A callback llmux does not have is reported by name; one it has but
/// cannot start says what to set.
#[tokio::test]
async fn unknown_and_unconfigured_callbacks_are_reported_at_start() {
    let upstream = openai::start().await.unwrap();
    // No master key: no database is opened.
    let yaml = config_yaml(
        &[deployment("gpt-4o-mini", "gpt-4o-mini", &upstream.url())],
        "litellm_settings:\n  callbacks: [\"datadog\", \"prometheus\"]\n",
    );
    let loaded = llmux_proxy::config::parse(
        "test.yaml",
        &yaml,
        std::sync::Arc::new(llmux_core::MapEnv::default()),
    )
    .unwrap();
    let clock = std::sync::Arc::new(llmux_store::clock::OffsetClock::default());
    let built = llmux_proxy::server::build_with_clock(Some(loaded), &[], clock)
        .await
        .unwrap();
    assert!(
        built
            .warnings
            .iter()
            .any(|w| w.contains("callback `datadog` is not one llmux has")),
        "{:?}",
        built.warnings
    );
    assert!(!built.gateway.callbacks.is_on(), "prometheus is /metrics");

    let err = TestGateway::start(&webhook_config(
        &upstream,
        "  callbacks: [\"generic_api\"]\n",
        "",
    ))
    .await
    .err()
    .unwrap();
    assert!(
        err.contains("callback `generic_api` needs an endpoint: set callback_settings.generic_api.endpoint or GENERIC_LOGGER_ENDPOINT"),
        "{err}"
    );
    let err = TestGateway::start(&webhook_config(
        &upstream,
        "  callbacks: [\"langfuse\"]\n",
        "",
    ))
    .await
    .err()
    .unwrap();
    assert!(
        err.contains("LANGFUSE_PUBLIC_KEY and LANGFUSE_SECRET_KEY"),
        "{err}"
    );
}

/// LiteLLM's response headers, beside llmux's; a setting turns them off.
#[tokio::test]
async fn litellm_response_headers_and_their_switch() {
    let upstream = openai::start().await.unwrap();
    let config = |extra: &str| {
        config_yaml(
            &[deployment("gpt-4o-mini", "gpt-4o-mini", &upstream.url())],
            &format!("{}{extra}", master_key_settings(MASTER)),
        )
    };
    let gw = TestGateway::start(&config("")).await.unwrap();
    let r = call(&gw, MASTER, common::hi_body("gpt-4o-mini", json!({})), &[]).await;
    assert_eq!(r.status, 200);
    assert!(r.header("x-litellm-call-id").unwrap().starts_with("call_"));
    assert_eq!(r.header("x-litellm-model-id"), Some("gpt-4o-mini-1"));
    assert_eq!(r.header("x-litellm-model-group"), Some("gpt-4o-mini"));
    assert_eq!(r.header("x-litellm-attempted-retries"), Some("0"));
    assert_eq!(r.header("x-litellm-attempted-fallbacks"), Some("0"));
    assert_eq!(
        r.header("x-litellm-response-cost"),
        r.header("x-llmux-response-cost")
    );
    assert!(r
        .header("x-litellm-response-duration-ms")
        .unwrap()
        .parse::<f64>()
        .is_ok());
    assert!(r
        .header("x-litellm-overhead-duration-ms")
        .unwrap()
        .parse::<f64>()
        .is_ok());

    let gw = TestGateway::start(&config("  litellm_response_headers: false\n"))
        .await
        .unwrap();
    let r = call(&gw, MASTER, common::hi_body("gpt-4o-mini", json!({})), &[]).await;
    assert_eq!(r.status, 200);
    assert!(
        r.headers
            .keys()
            .all(|k| !k.as_str().starts_with("x-litellm-")),
        "{:?}",
        r.headers
    );
    assert_eq!(r.header("x-llmux-model-group"), Some("gpt-4o-mini"));
}

// ---------------------------------------------------------------- traces

/// The spans of every export a receiver took.
fn spans(receiver: &MockServer) -> Vec<Span> {
    receiver
        .requests()
        .iter()
        .flat_map(|r| {
            assert_eq!(r.header("content-type"), Some("application/x-protobuf"));
            let export = ExportTraceServiceRequest::decode(r.body.as_ref()).unwrap();
            let resource = export.resource_spans[0].resource.clone().unwrap();
            assert!(resource.attributes.iter().any(|a| a.key == "service.name"));
            export
                .resource_spans
                .into_iter()
                .flat_map(|rs| rs.scope_spans)
                .flat_map(|ss| ss.spans)
                .collect::<Vec<_>>()
        })
        .collect()
}

async fn wait_spans(receiver: &MockServer, n: usize) -> Vec<Span> {
    at_least("spans", n, || async { spans(receiver) }).await
}

fn attr(span: &Span, key: &str) -> Option<Value> {
    span.attributes.iter().find(|a| a.key == key).map(|a| {
        match a.value.as_ref().and_then(|v| v.value.clone()) {
            Some(any_value::Value::StringValue(s)) => json!(s),
            Some(any_value::Value::IntValue(i)) => json!(i),
            Some(any_value::Value::BoolValue(b)) => json!(b),
            Some(any_value::Value::DoubleValue(d)) => json!(d),
            Some(any_value::Value::ArrayValue(a)) => json!(a
                .values
                .iter()
                .map(|v| format!("{:?}", v.value))
                .collect::<Vec<_>>()),
            other => json!(format!("{other:?}")),
        }
    })
}

/// A span attribute holding JSON text, parsed.
fn messages_attr(span: &Span, key: &str) -> Value {
    let text = attr(span, key).unwrap_or_else(|| panic!("no {key}"));
    serde_json::from_str(text.as_str().unwrap()).unwrap()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The OTLP span tree of a plain call (continuing the client's trace), a
/// retry then fallback, and an error; GenAI attributes; no key material.
#[tokio::test]
async fn otel_exports_the_span_tree_over_otlp_http() {
    let upstream = openai::start().await.unwrap();
    let broken = MockServer::start(|_| {
        MockResponse::json(
            500,
            &json!({"error": {"message": "boom", "type": "server_error"}}),
        )
    })
    .await
    .unwrap();
    let receiver = sink().await;
    let config = format!(
        "\nmodel_list:\n{}{}router_settings:\n  num_retries: 1\n  retry_after: 0\n  fallbacks: [{{\"flaky\": [\"gpt-4o-mini\"]}}]\nlitellm_settings:\n  callbacks: [\"otel\"]\ncallback_settings:\n  otel: {{flush_interval: 0.05}}\n{}",
        deployment("gpt-4o-mini", "gpt-4o-mini", &upstream.url()),
        deployment("flaky", "gpt-4o", &broken.url()),
        master_key_settings(MASTER)
    );
    let endpoint = receiver.url();
    let gw = start_env(
        &config,
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
            ("OTEL_EXPORTER_OTLP_HEADERS", "x-collector-token=tok%201"),
            ("OTEL_SERVICE_NAME", "gateway-eu"),
            ("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "true"),
        ],
    )
    .await;
    let (key, _) = new_key(&gw, MASTER, json!({"key_alias": "tracer"})).await;

    // A plain call continuing the client's trace: request → attempt → upstream.
    let r = call(
        &gw,
        &key,
        common::hi_body("gpt-4o-mini", json!({})),
        &[("traceparent", TRACEPARENT)],
    )
    .await;
    assert_eq!(r.status, 200);
    let s = wait_spans(&receiver, 3).await;
    let sent = &receiver.requests()[0];
    assert_eq!(sent.path, "/v1/traces");
    assert_eq!(sent.header("x-collector-token"), Some("tok 1"));
    assert_eq!(s.len(), 3);
    let (root, attempt, client) = (&s[0], &s[1], &s[2]);
    for span in &s {
        assert_eq!(hex(&span.trace_id), "4bf92f3577b34da6a3ce929d0e0e4736");
    }
    assert_eq!(hex(&root.parent_span_id), "00f067aa0ba902b7");
    // The upstream is told its caller is the gateway's request span.
    assert_eq!(
        upstream.requests()[0].header("traceparent"),
        Some(
            format!(
                "00-4bf92f3577b34da6a3ce929d0e0e4736-{}-01",
                hex(&root.span_id)
            )
            .as_str()
        )
    );
    assert_eq!(attempt.parent_span_id, root.span_id);
    assert_eq!(client.parent_span_id, attempt.span_id);
    assert_eq!(root.name, "chat gpt-4o-mini");
    assert_eq!(root.kind, 2, "SERVER");
    assert_eq!(attempt.kind, 1, "INTERNAL");
    assert_eq!(client.kind, 3, "CLIENT");
    assert_eq!(client.name, "chat gpt-4o-mini");
    assert!(root.start_time_unix_nano <= attempt.start_time_unix_nano);
    assert!(attempt.end_time_unix_nano <= root.end_time_unix_nano);
    assert_eq!(attr(root, "gen_ai.operation.name"), Some(json!("chat")));
    assert_eq!(attr(root, "gen_ai.system"), Some(json!("openai")));
    assert_eq!(
        attr(root, "gen_ai.request.model"),
        Some(json!("gpt-4o-mini"))
    );
    assert_eq!(
        attr(root, "gen_ai.response.model"),
        Some(json!("gpt-4o-mini"))
    );
    assert_eq!(attr(root, "gen_ai.usage.input_tokens"), Some(json!(9)));
    assert_eq!(attr(root, "gen_ai.usage.output_tokens"), Some(json!(5)));
    assert_eq!(attr(root, "llmux.model_group"), Some(json!("gpt-4o-mini")));
    assert_eq!(attr(root, "llmux.deployment"), Some(json!("gpt-4o-mini-1")));
    assert_eq!(attr(root, "llmux.key_alias"), Some(json!("tracer")));
    assert_eq!(attr(root, "llmux.attempts"), Some(json!(1)));
    assert_eq!(attr(root, "llmux.cache_hit"), Some(json!(false)));
    assert_eq!(attr(root, "llmux.cost_usd"), Some(json!(0.000019)));
    assert_eq!(
        attr(root, "llmux.call_id"),
        Some(json!(r.header("x-litellm-call-id").unwrap()))
    );
    assert_eq!(
        messages_attr(root, "gen_ai.input.messages"),
        json!([{"role": "user", "content": "Hi"}])
    );
    assert_eq!(attr(client, "gen_ai.usage.input_tokens"), Some(json!(9)));
    assert_eq!(
        attr(root, "gen_ai.response.finish_reasons"),
        Some(json!([r#"Some(StringValue("stop"))"#]))
    );
    assert_eq!(root.status, None);

    // Retry, then fallback: two failed attempts on `flaky`, one served.
    let r = call(&gw, &key, common::hi_body("flaky", json!({})), &[]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("x-litellm-attempted-retries"), Some("1"));
    assert_eq!(r.header("x-litellm-attempted-fallbacks"), Some("1"));
    let s = wait_spans(&receiver, 3 + 7).await;
    let s = &s[3..];
    assert_eq!(s.len(), 7);
    let root = &s[0];
    assert_ne!(hex(&root.trace_id), "4bf92f3577b34da6a3ce929d0e0e4736");
    assert!(root.parent_span_id.is_empty());
    assert_eq!(attr(root, "llmux.attempts"), Some(json!(3)));
    assert_eq!(attr(root, "llmux.fallback_from"), Some(json!("flaky")));
    assert_eq!(attr(root, "llmux.model_group"), Some(json!("gpt-4o-mini")));
    let attempts: Vec<&Span> = s.iter().filter(|x| x.kind == 1).collect();
    assert_eq!(attempts.len(), 3);
    assert_eq!(
        attempts
            .iter()
            .map(|a| attr(a, "llmux.deployment").unwrap())
            .collect::<Vec<_>>(),
        vec![json!("flaky-1"), json!("flaky-1"), json!("gpt-4o-mini-1")]
    );
    for a in &attempts[..2] {
        assert_eq!(attr(a, "error.type"), Some(json!("InternalServerError")));
        assert_eq!(a.status.as_ref().unwrap().code, 2, "ERROR");
    }
    assert_eq!(attempts[2].status, None);
    for a in &attempts {
        assert_eq!(a.parent_span_id, root.span_id);
    }

    // An error: the root span carries it.
    upstream.enqueue(MockResponse::json(
        400,
        &openai::error_body("Invalid 'temperature'", "invalid_request_error", None, None),
    ));
    let r = call(&gw, &key, common::hi_body("gpt-4o-mini", json!({})), &[]).await;
    assert_eq!(r.status, 400);
    let s = wait_spans(&receiver, 10 + 3).await;
    let root = &s[10];
    assert_eq!(root.status.as_ref().unwrap().code, 2);
    assert!(root
        .status
        .as_ref()
        .unwrap()
        .message
        .contains("Invalid 'temperature'"));
    assert_eq!(attr(root, "llmux.status"), Some(json!("failure")));
    assert_eq!(attr(&s[11], "error.type"), Some(json!("BadRequestError")));

    for req in receiver.requests() {
        for secret in [key.as_bytes(), MASTER.as_bytes(), b"sk-upstream"] {
            assert!(
                !req.body.windows(secret.len()).any(|w| w == secret),
                "key material in an export"
            );
        }
    }
}

/// Langfuse: its OTLP path, the public/secret key pair as basic auth.
#[tokio::test]
async fn langfuse_gets_spans_on_its_otlp_endpoint_with_basic_auth() {
    let upstream = openai::start().await.unwrap();
    let langfuse = sink().await;
    let config = webhook_config(
        &upstream,
        "  success_callback: [\"langfuse\"]\n",
        "  langfuse: {flush_interval: 0.05}\n",
    );
    let host = format!("{}/", langfuse.url());
    let gw = start_env(
        &config,
        &[
            ("LANGFUSE_PUBLIC_KEY", "pk-lf-1"),
            ("LANGFUSE_SECRET_KEY", "sk-lf-2"),
            ("LANGFUSE_HOST", host.as_str()),
        ],
    )
    .await;
    let r = call(&gw, MASTER, common::hi_body("gpt-4o-mini", json!({})), &[]).await;
    assert_eq!(r.status, 200);
    let s = wait_spans(&langfuse, 3).await;
    let sent = &langfuse.requests()[0];
    assert_eq!(sent.path, "/api/public/otel/v1/traces");
    let basic = base64::engine::general_purpose::STANDARD.encode("pk-lf-1:sk-lf-2");
    assert_eq!(
        sent.header("authorization"),
        Some(format!("Basic {basic}").as_str())
    );
    // Langfuse shows the conversation.
    assert_eq!(
        messages_attr(&s[0], "gen_ai.input.messages"),
        json!([{"role": "user", "content": "Hi"}])
    );
    assert!(attr(&s[0], "gen_ai.output.messages")
        .unwrap()
        .as_str()
        .unwrap()
        .contains(openai::REPLY));
}

mod grpc {
    use std::sync::{Arc, Mutex};

    use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
        TraceService, TraceServiceServer,
    };
    use opentelemetry_proto::tonic::collector::trace::v1::{
        ExportTraceServiceRequest, ExportTraceServiceResponse,
    };

    /// An OTLP gRPC collector that keeps what it is sent, with the request
    /// metadata it came with.
    #[derive(Clone, Default)]
    pub(crate) struct Collector {
        pub(crate) got: Arc<Mutex<Vec<(tonic::metadata::MetadataMap, ExportTraceServiceRequest)>>>,
    }

    #[tonic::async_trait]
    impl TraceService for Collector {
        async fn export(
            &self,
            request: tonic::Request<ExportTraceServiceRequest>,
        ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
            let metadata = request.metadata().clone();
            self.got
                .lock()
                .unwrap()
                .push((metadata, request.into_inner()));
            Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
        }
    }

    /// Serve `collector` on a random 127.0.0.1 port; its address.
    pub(crate) async fn serve(collector: Collector) -> std::net::SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(TraceServiceServer::new(collector))
                .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
        );
        addr
    }
}

/// LiteLLM's `OTEL_EXPORTER=otlp_grpc`: the same spans through OTLP gRPC,
/// with `OTEL_HEADERS` as request metadata.
#[tokio::test]
async fn otel_exports_over_otlp_grpc() {
    let upstream = openai::start().await.unwrap();
    let collector = grpc::Collector::default();
    let addr = grpc::serve(collector.clone()).await;
    let config = webhook_config(
        &upstream,
        "  callbacks: [\"otel\"]\n",
        "  otel: {flush_interval: 0.05}\n",
    );
    let endpoint = format!("http://{addr}");
    let gw = start_env(
        &config,
        &[
            ("OTEL_EXPORTER", "otlp_grpc"),
            ("OTEL_ENDPOINT", endpoint.as_str()),
            ("OTEL_HEADERS", "api-key=collector-key"),
        ],
    )
    .await;
    let r = call(
        &gw,
        MASTER,
        common::hi_body("gpt-4o-mini", json!({})),
        &[("traceparent", TRACEPARENT)],
    )
    .await;
    assert_eq!(r.status, 200);
    at_least("exports", 1, || async {
        collector.got.lock().unwrap().clone()
    })
    .await;
    let (metadata, export) = collector.got.lock().unwrap()[0].clone();
    assert_eq!(metadata.get("api-key").unwrap(), "collector-key");
    let spans: Vec<Span> = export
        .resource_spans
        .into_iter()
        .flat_map(|rs| rs.scope_spans)
        .flat_map(|ss| ss.spans)
        .collect();
    assert_eq!(spans.len(), 3);
    assert_eq!(hex(&spans[0].trace_id), "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(
        attr(&spans[0], "gen_ai.request.model"),
        Some(json!("gpt-4o-mini"))
    );
    assert_eq!(
        attr(&spans[0], "gen_ai.input.messages"),
        None,
        "content off by default"
    );
}

/// LiteLLM's `s3` callback against a real S3 implementation (moto): one
/// object per call under `{s3_path}/{team}/{date}/time-…_{call id}.json`,
/// holding the call's payload.
#[tokio::test]
async fn s3_callback_writes_one_object_per_call() {
    let moto = llmux_tests::moto::MotoServer::start().await.unwrap();
    moto.create_bucket("llmux-logs").await.unwrap();
    let upstream = openai::start().await.unwrap();
    let config = webhook_config(
        &upstream,
        &format!(
            "  callbacks: [\"s3\"]\n  s3_callback_params:\n    s3_bucket_name: llmux-logs\n    s3_region_name: eu-west-1\n    s3_endpoint_url: {}\n    s3_aws_access_key_id: os.environ/AWS_ACCESS_KEY_ID\n    s3_aws_secret_access_key: os.environ/AWS_SECRET_ACCESS_KEY\n    s3_path: gateway-logs/\n    s3_use_team_prefix: true\n",
            moto.url
        ),
        "  s3: {flush_interval: 0.05}\n",
    );
    let gw = start_env(
        &config,
        &[
            ("AWS_ACCESS_KEY_ID", "AKIDLOGS"),
            ("AWS_SECRET_ACCESS_KEY", "logs-secret"),
        ],
    )
    .await;
    let (key, _) = team_key(&gw).await;
    let mut ids = Vec::new();
    for _ in 0..2 {
        let r = call(&gw, &key, common::hi_body("gpt-4o-mini", json!({})), &[]).await;
        assert_eq!(r.status, 200);
        ids.push(r.header("x-litellm-call-id").unwrap().to_string());
    }
    let keys = at_least("objects", 2, || async {
        moto.keys("llmux-logs").await.unwrap()
    })
    .await;
    assert_eq!(keys.len(), 2, "{keys:?}");
    let today = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        / 86_400;
    for id in &ids {
        let object_key = keys
            .iter()
            .find(|k| k.ends_with(&format!("_{id}.json")))
            .unwrap_or_else(|| panic!("no object for {id}: {keys:?}"));
        let parts: Vec<&str> = object_key.split('/').collect();
        assert_eq!(parts.len(), 4, "{object_key}");
        assert_eq!((parts[0], parts[1]), ("gateway-logs", "platform"));
        assert_eq!(parts[2].len(), 10, "a date: {object_key}");
        assert!(parts[3].starts_with("time-"), "{object_key}");
        let payload: Value = serde_json::from_slice(
            &moto
                .object("llmux-logs", object_key, "AKIDLOGS", "logs-secret")
                .await
                .unwrap(),
        )
        .unwrap();
        assert_eq!(payload["id"], json!(id));
        assert_eq!(payload["status"], json!("success"));
        assert_eq!(payload["model_group"], json!("gpt-4o-mini"));
        assert_eq!(
            payload["metadata"]["user_api_key_team_alias"],
            json!("platform")
        );
        assert_eq!(
            payload["messages"],
            json!([{"role": "user", "content": "Hi"}])
        );
        let start_day = payload["startTime"].as_f64().unwrap() as u64 / 86_400;
        assert!(start_day == today || start_day + 1 == today);
    }
}

/// The value of the `/metrics` line that starts with `series` (name and labels).
fn metric(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| {
            l.strip_prefix(series)
                .and_then(|rest| rest.strip_prefix(' '))
        })
        .unwrap_or_else(|| panic!("no {series} in:\n{text}"))
        .parse()
        .unwrap()
}

/// LiteLLM's Prometheus names by caller (key hash, alias, team), per
/// deployment, remaining budgets; llmux's time to first token, token rates,
/// sizes and deployment state.
#[tokio::test]
async fn metrics_by_caller_under_litellm_names_and_per_deployment() {
    let upstream = openai::start().await.unwrap();
    let hook = sink().await;
    let gw = webhook_gateway(
        &upstream,
        &format!("    endpoint: {}\n    flush_interval: 0.05\n", hook.url()),
    )
    .await;
    let team = post(
        &gw,
        "/team/new",
        Some(MASTER),
        json!({"team_id": "t-platform", "team_alias": "platform", "max_budget": 5.0}),
    )
    .await;
    assert_eq!(team.status, 200, "{}", team.body);
    let (key, hash) = new_key(
        &gw,
        MASTER,
        json!({"key_alias": "ci-bot", "team_id": "t-platform", "max_budget": 10.0}),
    )
    .await;
    let whole = call(&gw, &key, common::hi_body("gpt-4o-mini", json!({})), &[]).await;
    assert_eq!(whole.status, 200);
    let stream = reqwest::Client::new()
        .post(format!("{}/v1/chat/completions", gw.url))
        .bearer_auth(&key)
        .json(&common::hi_body("gpt-4o-mini", json!({"stream": true})))
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    stream.text().await.unwrap();
    upstream.enqueue(MockResponse::json(
        400,
        &openai::error_body("bad", "invalid_request_error", None, None),
    ));
    assert_eq!(
        call(&gw, &key, common::hi_body("gpt-4o-mini", json!({})), &[])
            .await
            .status,
        400
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    let text = reqwest::get(format!("{}/metrics", gw.url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let caller = format!(
        "end_user=\"\",hashed_api_key=\"{hash}\",api_key_alias=\"ci-bot\",requested_model=\"gpt-4o-mini\",team=\"t-platform\",team_alias=\"platform\",user=\"\""
    );
    assert_eq!(
        metric(
            &text,
            &format!("litellm_requests_metric_total{{{caller},status_code=\"200\"}}")
        ),
        2.0
    );
    assert_eq!(
        metric(
            &text,
            &format!("litellm_requests_metric_total{{{caller},status_code=\"400\"}}")
        ),
        1.0
    );
    assert_eq!(
        metric(
            &text,
            &format!("litellm_proxy_failed_requests_metric_total{{{caller},status_code=\"400\"}}")
        ),
        1.0
    );
    assert_eq!(
        metric(
            &text,
            &format!("litellm_input_tokens_metric_total{{{caller}}}")
        ),
        18.0
    );
    assert_eq!(
        metric(
            &text,
            &format!("litellm_output_tokens_metric_total{{{caller}}}")
        ),
        10.0
    );
    assert!(
        (metric(&text, &format!("litellm_spend_metric_total{{{caller}}}")) - 0.000038).abs()
            < 1e-12
    );
    assert_eq!(
        metric(
            &text,
            &format!("litellm_llm_api_time_to_first_token_metric_count{{{caller}}}")
        ),
        1.0
    );
    assert_eq!(
        metric(
            &text,
            &format!("litellm_request_total_latency_metric_count{{{caller}}}")
        ),
        3.0
    );
    let deployment = "litellm_model_name=\"gpt-4o-mini\",model_id=\"gpt-4o-mini-1\",api_provider=\"openai\",model_group=\"gpt-4o-mini\"";
    assert_eq!(
        metric(
            &text,
            &format!("litellm_deployment_success_responses_total{{{deployment}}}")
        ),
        2.0
    );
    assert_eq!(
        metric(
            &text,
            &format!("litellm_deployment_failure_responses_total{{{deployment}}}")
        ),
        1.0
    );
    assert_eq!(
        metric(
            &text,
            &format!("litellm_deployment_total_requests_total{{{deployment}}}")
        ),
        3.0
    );
    assert_eq!(
        metric(&text, &format!("litellm_deployment_state{{{deployment}}}")),
        0.0
    );
    let key_left = metric(&text, &format!("litellm_remaining_api_key_budget_metric{{hashed_api_key=\"{hash}\",api_key_alias=\"ci-bot\"}}"));
    assert!(key_left < 10.0 && key_left > 9.9999, "{key_left}");
    let team_left = metric(
        &text,
        "litellm_remaining_team_budget_metric{team=\"t-platform\",team_alias=\"platform\"}",
    );
    assert!(team_left < 5.0 && team_left > 4.9999, "{team_left}");
    assert_eq!(
        metric(
            &text,
            &format!("llmux_remaining_budget_usd{{kind=\"key\",id=\"{hash}\",alias=\"ci-bot\"}}")
        ),
        key_left
    );
    let route = "route=\"chat_completions\",model_group=\"gpt-4o-mini\"";
    assert_eq!(
        metric(
            &text,
            &format!("llmux_time_to_first_token_seconds_count{{{route}}}")
        ),
        1.0
    );
    assert_eq!(
        metric(
            &text,
            &format!("llmux_time_per_output_token_seconds_count{{{route}}}")
        ),
        2.0
    );
    assert_eq!(
        metric(
            &text,
            &format!("llmux_output_tokens_per_second_count{{{route}}}")
        ),
        2.0
    );
    assert_eq!(
        metric(&text, &format!("llmux_request_size_bytes_count{{{route}}}")),
        3.0
    );
    assert_eq!(
        metric(
            &text,
            &format!("llmux_response_size_bytes_count{{{route}}}")
        ),
        1.0
    );
    let d = "model_group=\"gpt-4o-mini\",deployment=\"gpt-4o-mini-1\"";
    assert_eq!(
        metric(&text, &format!("llmux_deployment_state{{{d}}}")),
        0.0
    );
    assert_eq!(
        metric(&text, &format!("llmux_deployment_in_flight{{{d}}}")),
        0.0
    );
    // Every series the Grafana dashboard in docs/ queries is served.
    let dashboard: Value =
        serde_json::from_str(include_str!("../../docs/grafana-dashboard.json")).unwrap();
    let exprs: Vec<&str> = dashboard["panels"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["targets"].as_array().unwrap())
        .map(|t| t["expr"].as_str().unwrap())
        .collect();
    assert!(exprs.len() >= 14);
    for expr in exprs {
        for word in expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
            // Two families this test sends nothing to (cache hits, streams
            // cut short) are served by the gateway tests.
            let unexercised = ["llmux_cache_hits_total", "llmux_stream_errors_total"];
            if (word.starts_with("llmux_") || word.starts_with("litellm_"))
                && !unexercised.contains(&word)
            {
                assert!(
                    text.lines().any(|l| l.starts_with(&format!(
                        "# TYPE {} ",
                        word.trim_end_matches("_bucket").trim_end_matches("_total")
                    ))),
                    "the dashboard queries {word}, which /metrics does not serve"
                );
            }
        }
    }
    assert_eq!(
        metric(&text, &format!("llmux_deployment_rpm_in_use{{{d}}}")),
        2.0,
        "answered calls count against a deployment's rpm"
    );
}

/// `store_prompts_in_spend_logs`: spend rows keep the request's messages and
/// the answer (credentials redacted, cut at 64 Ki characters), shown by
/// `/spend/logs` as LiteLLM shows them; without it, nothing is kept.
#[tokio::test]
async fn prompts_stored_in_spend_logs_are_capped_and_redacted() {
    let upstream = openai::start().await.unwrap();
    let config = |store: bool| {
        config_yaml(
            &[deployment("gpt-4o-mini", "gpt-4o-mini", &upstream.url())],
            &format!(
                "{}  store_prompts_in_spend_logs: {store}\n",
                master_key_settings(MASTER)
            ),
        )
    };
    let gw = TestGateway::start(&config(true)).await.unwrap();
    let secret = "use sk-proj-abcdefghijklmnopqrstuvwxyz0123 for it";
    let r = call(
        &gw,
        MASTER,
        json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": secret}]}),
        &[],
    )
    .await;
    assert_eq!(r.status, 200);
    let long = "x".repeat(70_000);
    let r = call(
        &gw,
        MASTER,
        json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": long}]}),
        &[],
    )
    .await;
    assert_eq!(r.status, 200);
    gw.gateway.flush().await;
    let logs = common::get_json(&gw, "/spend/logs", Some(MASTER)).await;
    let logs = logs.as_array().unwrap();
    assert_eq!(logs.len(), 2);
    // The long one, cut and so no longer JSON; the other as JSON.
    let (long, short) = match logs[0]["messages"].is_string() {
        true => (&logs[0], &logs[1]),
        false => (&logs[1], &logs[0]),
    };
    let cut = long["messages"].as_str().unwrap();
    assert_eq!(
        cut.chars().count(),
        64 * 1024 + "…[truncated]".chars().count()
    );
    assert!(cut.ends_with("…[truncated]"));
    assert_eq!(
        short["messages"],
        json!([{"role": "user", "content": "use sk-[redacted] for it"}])
    );
    assert_eq!(
        short["response"]["choices"][0]["message"]["content"],
        json!(openai::REPLY)
    );

    let gw = TestGateway::start(&config(false)).await.unwrap();
    assert_eq!(
        call(&gw, MASTER, common::hi_body("gpt-4o-mini", json!({})), &[])
            .await
            .status,
        200
    );
    gw.gateway.flush().await;
    let logs = common::get_json(&gw, "/spend/logs", Some(MASTER)).await;
    assert_eq!(logs[0]["messages"], json!({}));
    assert_eq!(logs[0]["response"], json!({}));
}

/// LiteLLM's per-key and per-team logging (`metadata.logging`): a key's own
/// Langfuse project (its credentials from `callback_vars`, one through
/// `os.environ/`), a team's webhook for failures only; calls of other keys
/// go to neither, and the gateway has no callbacks of its own.
#[tokio::test]
async fn keys_and_teams_log_to_their_own_callbacks() {
    let upstream = openai::start().await.unwrap();
    let (langfuse, team_hook) = (sink().await, sink().await);
    let gw = start_env(
        &config_yaml(
            &[deployment("gpt-4o-mini", "gpt-4o-mini", &upstream.url())],
            &master_key_settings(MASTER),
        ),
        &[("TEAM_A_LANGFUSE_SECRET", "sk-lf-team-a")],
    )
    .await;
    assert!(!gw.gateway.callbacks.is_on());
    let team = post(
        &gw,
        "/team/new",
        Some(MASTER),
        json!({"team_id": "t-a", "team_alias": "team-a", "metadata": {"logging": [
            {"callback_name": "generic_api", "callback_type": "failure",
             "callback_vars": {"endpoint": format!("{}/team-a", team_hook.url())}}
        ]}}),
    )
    .await;
    assert_eq!(team.status, 200, "{}", team.body);
    let (logged, _) = new_key(
        &gw,
        MASTER,
        json!({"team_id": "t-a", "metadata": {"logging": [
            {"callback_name": "langfuse", "callback_type": "success",
             "callback_vars": {"langfuse_public_key": "pk-lf-team-a",
                               "langfuse_secret_key": "os.environ/TEAM_A_LANGFUSE_SECRET",
                               "langfuse_host": langfuse.url()}}
        ]}}),
    )
    .await;
    let (plain, _) = new_key(&gw, MASTER, json!({})).await;
    for key in [&logged, &plain] {
        let r = call(&gw, key, common::hi_body("gpt-4o-mini", json!({})), &[]).await;
        assert_eq!(r.status, 200);
    }
    upstream.enqueue(MockResponse::json(
        400,
        &openai::error_body("bad", "invalid_request_error", None, None),
    ));
    assert_eq!(
        call(&gw, &logged, common::hi_body("gpt-4o-mini", json!({})), &[])
            .await
            .status,
        400
    );
    gw.gateway.flush().await;
    // The key's success went to its Langfuse, with its credentials.
    let spans = wait_spans(&langfuse, 3).await;
    assert_eq!(spans.len(), 3, "one call: request, attempt, upstream");
    let sent = &langfuse.requests()[0];
    assert_eq!(sent.path, "/api/public/otel/v1/traces");
    let basic = base64::engine::general_purpose::STANDARD.encode("pk-lf-team-a:sk-lf-team-a");
    assert_eq!(
        sent.header("authorization"),
        Some(format!("Basic {basic}").as_str())
    );
    // The team's failure went to its webhook; its success did not.
    let failures = payloads(&team_hook, 1).await;
    assert_eq!(failures.len(), 1);
    assert_eq!(failures[0]["status"], json!("failure"));
    assert_eq!(team_hook.requests()[0].path, "/team-a");
}

/// A sink that is down holds events up to its byte bound too (`queue_mb`,
/// counted from request and answer sizes): large prompts past it are
/// dropped and counted, never held without bound.
#[tokio::test]
async fn queued_events_are_bounded_in_bytes() {
    let upstream = openai::start().await.unwrap();
    let down = format!(
        "http://127.0.0.1:{}/logs",
        llmux_tests::process::free_port()
    );
    let gw = webhook_gateway(
        &upstream,
        &format!("    endpoint: {down}\n    flush_interval: 0.05\n    queue_mb: 1\n"),
    )
    .await;
    let big = "x".repeat(400 * 1024);
    for _ in 0..3 {
        let r = call(
            &gw,
            MASTER,
            json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": big}]}),
            &[],
        )
        .await;
        assert_eq!(r.status, 200);
    }
    let text = reqwest::get(format!("{}/metrics", gw.url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        metric(
            &text,
            "llmux_callback_dropped_total{callback=\"generic_api\"}"
        ),
        1.0,
        "two 400 KB events fit in 1 MiB, the third does not"
    );
    assert_eq!(
        metric(
            &text,
            "llmux_callback_queue_depth{callback=\"generic_api\"}"
        ),
        2.0
    );
}
