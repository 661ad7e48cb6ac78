//! OpenAI's Responses API through the gateway: native on an OpenAI upstream
//! (body and events passed through), translated on Anthropic's Messages API,
//! conversation state (`previous_response_id`, retrieve, input items,
//! delete) owned per key, spend for every call, and streams cut mid-way.
//! Also Anthropic's `/v1/messages/count_tokens`, which needs the same two
//! upstreams.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

mod common;

use llmux_tests::db::TestDb;
use llmux_tests::gateway::TestGateway;
use llmux_tests::mock::openai_responses::{self as oai, RESPONSE_ID};
use llmux_tests::mock::{anthropic, openai, MockResponse, MockServer};
use serde_json::{json, Value};

const MASTER: &str = "sk-master-responses";

fn config(openai_up: &MockServer, anthropic_up: &MockServer) -> String {
    format!(
        r#"
model_list:
  - model_name: gpt-4o
    litellm_params:
      model: openai/gpt-4o
      api_base: {openai}
      api_key: sk-upstream
  - model_name: o3-pro
    litellm_params:
      model: openai/o3-pro
      api_base: {openai}
      api_key: sk-upstream
  - model_name: claude
    litellm_params:
      model: anthropic/claude-sonnet-4-5
      api_base: {anthropic}
      api_key: sk-ant-upstream
router_settings:
  num_retries: 0
general_settings:
  master_key: {MASTER}
"#,
        openai = openai_up.url(),
        anthropic = anthropic_up.url(),
    )
}

struct Setup {
    openai: MockServer,
    anthropic: MockServer,
    db: TestDb,
    gw: TestGateway,
}

async fn setup() -> Setup {
    let openai = openai::start().await.unwrap();
    let anthropic = anthropic::start().await.unwrap();
    let db = TestDb::sqlite();
    let gw = TestGateway::start_with(&config(&openai, &anthropic), None, &db.url)
        .await
        .unwrap();
    Setup {
        openai,
        anthropic,
        db,
        gw,
    }
}

async fn post(gw: &TestGateway, path: &str, key: &str, body: &Value) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{}{path}", gw.url))
        .bearer_auth(key)
        .json(body)
        .send()
        .await
        .unwrap()
}

/// `POST /v1/responses` with `key`.
async fn create(gw: &TestGateway, key: &str, body: &Value) -> reqwest::Response {
    post(gw, "/v1/responses", key, body).await
}

async fn get(gw: &TestGateway, path: &str, key: &str) -> (u16, Value) {
    let r = reqwest::Client::new()
        .get(format!("{}{path}", gw.url))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

/// A virtual key (and its hash) for `team`.
async fn new_key(gw: &TestGateway, team: Option<&str>) -> (String, String) {
    let mut body = json!({});
    if let Some(t) = team {
        reqwest::Client::new()
            .post(format!("{}/team/new", gw.url))
            .bearer_auth(MASTER)
            .json(&json!({"team_id": t}))
            .send()
            .await
            .unwrap();
        body["team_id"] = json!(t);
    }
    let r: Value = post(gw, "/key/generate", MASTER, &body)
        .await
        .json()
        .await
        .unwrap();
    (
        r["key"].as_str().unwrap().to_string(),
        r["token"].as_str().unwrap().to_string(),
    )
}

/// The `(event name, data)` pairs of an SSE body; each event is exactly one
/// `event:` line and one `data:` line.
fn sse_events(body: &str) -> Vec<(String, Value)> {
    body.trim_end()
        .split("\n\n")
        .map(|frame| {
            let (e, d) = frame.split_once('\n').unwrap();
            let name = e.strip_prefix("event: ").unwrap().to_string();
            let data: Value = serde_json::from_str(d.strip_prefix("data: ").unwrap()).unwrap();
            assert_eq!(
                data["type"],
                name.as_str(),
                "event line names its data's type"
            );
            (name, data)
        })
        .collect()
}

/// (rows, summed spend) of a key's spend logs, each row's `call_type` checked.
async fn spend_of(db: &TestDb, gw: &TestGateway, token_hash: &str) -> (i64, i64) {
    spend_as(db, gw, token_hash, "aresponses").await
}

/// (rows, summed spend) of a key's spend logs, each of `call_type`.
async fn spend_as(db: &TestDb, gw: &TestGateway, token_hash: &str, call_type: &str) -> (i64, i64) {
    gw.gateway.flush().await;
    sqlx::any::install_default_drivers();
    let pool = sqlx::any::AnyPoolOptions::new()
        .max_connections(1)
        .connect(&db.url)
        .await
        .unwrap();
    let row: (i64, i64) = sqlx::query_as(
        "SELECT CAST(COUNT(*) AS BIGINT), CAST(COALESCE(SUM(spend_nano), 0) AS BIGINT) FROM llmux_spend_logs WHERE token_hash = $1",
    )
    .bind(token_hash)
    .fetch_one(&pool)
    .await
    .unwrap();
    let types: Vec<(String,)> =
        sqlx::query_as("SELECT call_type FROM llmux_spend_logs WHERE token_hash = $1")
            .bind(token_hash)
            .fetch_all(&pool)
            .await
            .unwrap();
    assert!(types.iter().all(|(t,)| t == call_type), "{types:?}");
    pool.close().await;
    row
}

#[tokio::test]
async fn native_openai_response_passes_through_and_is_spent() {
    let s = setup().await;
    let (key, hash) = new_key(&s.gw, None).await;
    let body = json!({"model": "gpt-4o", "input": "Tell me a three sentence bedtime story about a unicorn.", "max_output_tokens": 200});
    let resp = create(&s.gw, &key, &body).await;
    assert_eq!(resp.status(), 200);
    // A whole answer is read into llmux's types (for usage and storage) and
    // written again: fields that are null come back absent (`reasoning`'s
    // here); streamed events pass through byte for byte.
    let mut expected = oai::response("gpt-4o");
    expected["reasoning"] = json!({});
    assert_eq!(resp.json::<Value>().await.unwrap(), expected);
    let sent = s.openai.last_request().unwrap();
    assert_eq!(sent.path, "/responses");
    assert_eq!(sent.header("authorization"), Some("Bearer sk-upstream"));
    assert_eq!(
        sent.json(),
        body,
        "the client's body goes upstream as it came"
    );
    let (rows, spend) = spend_of(&s.db, &s.gw, &hash).await;
    assert_eq!(rows, 1);
    // gpt-4o: $2.50 / 1M input, $10 / 1M output: 36 and 87 tokens.
    assert_eq!(spend, 36 * 2_500 + 87 * 10_000);
}

#[tokio::test]
async fn native_openai_stream_events_pass_through() {
    let s = setup().await;
    for path in ["/v1/responses", "/responses", "/openai/v1/responses"] {
        let body = json!({"model": "gpt-4o", "input": "Hi", "stream": true});
        let resp = post(&s.gw, path, MASTER, &body).await;
        assert_eq!(resp.status(), 200, "{path}");
        assert_eq!(
            resp.headers()["content-type"].to_str().unwrap(),
            "text/event-stream"
        );
        let events = sse_events(&resp.text().await.unwrap());
        let data: Vec<Value> = events.into_iter().map(|(_, d)| d).collect();
        assert_eq!(data, oai::stream_events("gpt-4o"), "{path}");
    }
}

#[tokio::test]
async fn anthropic_upstream_is_translated_both_ways() {
    let s = setup().await;
    let body = json!({
        "model": "claude",
        "instructions": "Be brief.",
        "input": [{"role": "user", "content": [{"type": "input_text", "text": "Hi"}]}],
        "max_output_tokens": 100,
        "tools": [{"type": "function", "name": "get_weather", "description": "Weather",
                   "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}],
        "tool_choice": {"type": "function", "name": "get_weather"}
    });
    let resp = create(&s.gw, MASTER, &body).await;
    assert_eq!(resp.status(), 200);
    let r: Value = resp.json().await.unwrap();
    assert_eq!(r["object"], "response");
    assert_eq!(r["status"], "completed");
    assert_eq!(r["model"], "claude-sonnet-4-5");
    assert_eq!(r["output"][0]["type"], "message");
    assert_eq!(
        r["output"][0]["content"],
        json!([{"type": "output_text", "text": anthropic::REPLY, "annotations": [], "logprobs": []}])
    );
    assert_eq!(r["usage"]["input_tokens"], anthropic::INPUT_TOKENS);
    assert_eq!(r["usage"]["output_tokens"], anthropic::OUTPUT_TOKENS);
    assert!(r["id"].as_str().unwrap().starts_with("resp_"));
    let sent = s.anthropic.last_request().unwrap().json();
    assert_eq!(sent["system"], "Be brief.");
    assert_eq!(
        sent["messages"],
        json!([{"role": "user", "content": [{"type": "text", "text": "Hi"}]}])
    );
    assert_eq!(sent["max_tokens"], 100);
    assert_eq!(
        sent["tool_choice"],
        json!({"type": "tool", "name": "get_weather"})
    );
    assert_eq!(sent["tools"][0]["name"], "get_weather");

    // A hosted tool Anthropic's chat path cannot run is a 400 naming it.
    let resp = create(
        &s.gw,
        MASTER,
        &json!({"model": "claude", "input": "Hi", "tools": [{"type": "web_search_preview"}]}),
    )
    .await;
    assert_eq!(resp.status(), 400);
    let e: Value = resp.json().await.unwrap();
    let message = e["error"]["message"].as_str().unwrap();
    assert!(message.contains("web_search_preview"), "{message}");
    assert!(message.contains("anthropic"), "{message}");
}

#[tokio::test]
async fn translated_stream_is_the_full_event_sequence() {
    let s = setup().await;
    let resp = create(
        &s.gw,
        MASTER,
        &json!({"model": "claude", "input": "Hi", "stream": true}),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let events = sse_events(&resp.text().await.unwrap());
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names.first(), Some(&"response.created"));
    assert_eq!(names.last(), Some(&"response.completed"));
    for (i, (_, data)) in events.iter().enumerate() {
        assert_eq!(data["sequence_number"], i as u64);
    }
    let text: String = events
        .iter()
        .filter(|(n, _)| n == "response.output_text.delta")
        .map(|(_, d)| d["delta"].as_str().unwrap())
        .collect();
    assert_eq!(text, anthropic::REPLY);
    let done = &events.last().unwrap().1["response"];
    assert_eq!(done["usage"]["input_tokens"], anthropic::INPUT_TOKENS);
    assert_eq!(done["usage"]["output_tokens"], anthropic::OUTPUT_TOKENS);
}

#[tokio::test]
async fn previous_response_id_carries_the_conversation_for_its_owner_only() {
    let s = setup().await;
    let (alice, _) = new_key(&s.gw, Some("team-a")).await;
    let (alice2, _) = new_key(&s.gw, Some("team-a")).await;
    let (bob, _) = new_key(&s.gw, None).await;
    let first: Value = create(
        &s.gw,
        &alice,
        &json!({"model": "claude", "input": "My name is Ada."}),
    )
    .await
    .json()
    .await
    .unwrap();
    let id = first["id"].as_str().unwrap().to_string();

    // The next turn, sent at once, finds it; the upstream sees the history.
    let second = create(
        &s.gw,
        &alice,
        &json!({"model": "claude", "input": "What is my name?", "previous_response_id": id}),
    )
    .await;
    assert_eq!(second.status(), 200);
    let second: Value = second.json().await.unwrap();
    assert_eq!(second["previous_response_id"], id.as_str());
    assert_eq!(
        s.anthropic.last_request().unwrap().json()["messages"],
        json!([
            {"role": "user", "content": [{"type": "text", "text": "My name is Ada."}]},
            {"role": "assistant", "content": [{"type": "text", "text": anthropic::REPLY}]},
            {"role": "user", "content": [{"type": "text", "text": "What is my name?"}]}
        ])
    );

    // Retrieve and list input items: the owner and its team may, others get 404.
    assert_eq!(
        get(&s.gw, &format!("/v1/responses/{id}"), &alice).await,
        (200, first.clone())
    );
    assert_eq!(
        get(&s.gw, &format!("/v1/responses/{id}"), &alice2).await.0,
        200
    );
    let (status, e) = get(&s.gw, &format!("/v1/responses/{id}"), &bob).await;
    assert_eq!(status, 404);
    assert_eq!(
        e["error"]["message"],
        format!("Response with id '{id}' not found.")
    );
    let resp = create(
        &s.gw,
        &bob,
        &json!({"model": "claude", "input": "Hi", "previous_response_id": id}),
    )
    .await;
    assert_eq!(resp.status(), 404);
    let e: Value = resp.json().await.unwrap();
    assert_eq!(e["error"]["param"], "previous_response_id");
    assert_eq!(e["error"]["code"], "previous_response_not_found");

    let second_id = second["id"].as_str().unwrap();
    let (status, list) = get(
        &s.gw,
        &format!("/v1/responses/{second_id}/input_items?order=asc"),
        &alice,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(list["object"], "list");
    assert_eq!(list["has_more"], false);
    let texts: Vec<Value> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["content"].clone())
        .collect();
    assert_eq!(
        texts,
        vec![
            json!("My name is Ada."),
            first["output"][0]["content"].clone(),
            json!("What is my name?")
        ]
    );

    // Cancel: only background responses can be.
    let resp = post(
        &s.gw,
        &format!("/v1/responses/{id}/cancel"),
        &alice,
        &json!({}),
    )
    .await;
    assert_eq!(resp.status(), 400);

    // Delete: then it is gone for everyone.
    let delete = |key: String| {
        reqwest::Client::new()
            .delete(format!("{}/v1/responses/{id}", s.gw.url))
            .bearer_auth(key)
            .send()
    };
    assert_eq!(delete(bob.clone()).await.unwrap().status(), 404);
    let r = delete(alice.clone()).await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"id": id, "object": "response", "deleted": true})
    );
    assert_eq!(
        get(&s.gw, &format!("/v1/responses/{id}"), &alice).await.0,
        404
    );
}

#[tokio::test]
async fn store_false_keeps_nothing() {
    let s = setup().await;
    let r: Value = create(
        &s.gw,
        MASTER,
        &json!({"model": "claude", "input": "Hi", "store": false}),
    )
    .await
    .json()
    .await
    .unwrap();
    let id = r["id"].as_str().unwrap();
    assert_eq!(
        get(&s.gw, &format!("/v1/responses/{id}"), MASTER).await.0,
        404
    );
    // Natively too: OpenAI's own id is not stored either.
    create(
        &s.gw,
        MASTER,
        &json!({"model": "gpt-4o", "input": "Hi", "store": false}),
    )
    .await;
    assert_eq!(
        get(&s.gw, &format!("/v1/responses/{RESPONSE_ID}"), MASTER)
            .await
            .0,
        404
    );
}

#[tokio::test]
async fn a_stream_cut_mid_way_ends_with_an_error_event() {
    let s = setup().await;
    let (key, hash) = new_key(&s.gw, None).await;
    let events = oai::stream_events("gpt-4o");
    // Everything up to the second text delta, then the connection closes.
    s.openai.enqueue(MockResponse::stream(
        "text/event-stream",
        oai::sse_parts(&events[..6]),
    ));
    let resp = create(
        &s.gw,
        &key,
        &json!({"model": "gpt-4o", "input": "Hi", "stream": true}),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let got = sse_events(&resp.text().await.unwrap());
    assert_eq!(got.len(), 7);
    assert!(got.iter().all(|(n, _)| n != "response.completed"));
    let (name, error) = got.last().unwrap();
    assert_eq!(name, "error");
    assert_eq!(error["sequence_number"], 6);
    assert_eq!(error["code"], "server_error");
    assert_eq!(
        error["message"],
        "upstream stream ended before its final event"
    );
    // What was served is still spent (an estimate: the upstream sent no usage).
    let (rows, spend) = spend_of(&s.db, &s.gw, &hash).await;
    assert_eq!(rows, 1);
    assert!(spend > 0, "a served stream is never free");
}

#[tokio::test]
async fn bad_requests_name_the_field() {
    let s = setup().await;
    let cases = [
        (json!({"input": "Hi"}), "model"),
        (json!({"model": "gpt-4o"}), "input"),
    ];
    for (body, param) in cases {
        let resp = create(&s.gw, MASTER, &body).await;
        assert_eq!(resp.status(), 400, "{body}");
        let e: Value = resp.json().await.unwrap();
        assert_eq!(e["error"]["param"], param, "{e}");
    }
    let resp = create(
        &s.gw,
        MASTER,
        &json!({"model": "gpt-4o", "input": [{"type": "function_call_output"}]}),
    )
    .await;
    assert_eq!(resp.status(), 400);
    let (status, e) = get(&s.gw, "/v1/responses/resp_unknown", MASTER).await;
    assert_eq!(status, 404);
    assert_eq!(
        e,
        json!({"error": {"message": "Response with id 'resp_unknown' not found.", "type": "invalid_request_error", "param": null, "code": null}})
    );
    // Every route checks the key.
    let (status, _) = get(&s.gw, "/v1/responses/resp_unknown", "sk-wrong").await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn input_tokens_counts_with_the_models_tokenizer() {
    let s = setup().await;
    let resp = post(
        &s.gw,
        "/v1/responses/input_tokens",
        MASTER,
        &json!({"model": "gpt-4o", "input": "Hello world"}),
    )
    .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.json::<Value>().await.unwrap(),
        json!({"object": "response.input_tokens", "input_tokens": 2})
    );
}

#[tokio::test]
async fn responses_only_models_answer_chat_completions() {
    let s = setup().await;
    let body = json!({"model": "o3-pro", "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"}
    ], "max_completion_tokens": 50});
    let resp = post(&s.gw, "/v1/chat/completions", MASTER, &body).await;
    assert_eq!(resp.status(), 200);
    let c: Value = resp.json().await.unwrap();
    assert_eq!(c["object"], "chat.completion");
    assert_eq!(c["choices"][0]["message"]["content"], openai::REPLY);
    assert_eq!(c["choices"][0]["finish_reason"], "stop");
    assert_eq!(c["usage"]["prompt_tokens"], 36);
    assert_eq!(c["usage"]["completion_tokens"], 87);
    let sent = s.openai.last_request().unwrap();
    assert_eq!(sent.path, "/responses");
    let sent = sent.json();
    assert_eq!(sent["model"], "o3-pro");
    assert_eq!(sent["instructions"], "Be brief.");
    assert_eq!(sent["max_output_tokens"], 50);
    assert_eq!(sent["store"], false);

    // Streamed: Responses events in, chat chunks out, usage for the spend row.
    let mut body = body;
    body["stream"] = json!(true);
    body["stream_options"] = json!({"include_usage": true});
    let text = post(&s.gw, "/v1/chat/completions", MASTER, &body)
        .await
        .text()
        .await
        .unwrap();
    let mut chunks = common::sse_events(&text);
    assert_eq!(chunks.pop(), Some(json!("[DONE]")));
    let content: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(content, openai::REPLY);
    assert_eq!(chunks.last().unwrap()["usage"]["total_tokens"], 123);
    assert_eq!(s.openai.last_request().unwrap().json()["stream"], true);

    // What Responses cannot express is a 400 naming the parameter.
    let resp = post(
        &s.gw,
        "/v1/chat/completions",
        MASTER,
        &json!({"model": "o3-pro", "messages": [{"role": "user", "content": "Hi"}], "n": 2}),
    )
    .await;
    assert_eq!(resp.status(), 400);
    assert_eq!(resp.json::<Value>().await.unwrap()["error"]["param"], "n");
}

#[tokio::test]
async fn structured_output_reaches_each_upstream_in_its_form() {
    let s = setup().await;
    let schema = json!({"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"], "additionalProperties": false});
    let format = json!({"format": {"type": "json_schema", "name": "person", "schema": schema, "strict": true}});
    for model in ["gpt-4o", "claude"] {
        let resp = create(
            &s.gw,
            MASTER,
            &json!({"model": model, "input": "Ada", "text": format}),
        )
        .await;
        assert_eq!(resp.status(), 200, "{model}");
    }
    // Natively as sent; to Claude Sonnet 4.5 as Anthropic's native
    // structured outputs (older Claude models get the forced JSON tool).
    assert_eq!(s.openai.last_request().unwrap().json()["text"], format);
    let sent = s.anthropic.last_request().unwrap();
    assert_eq!(
        sent.header("anthropic-beta"),
        Some("structured-outputs-2025-11-13")
    );
    let sent = sent.json();
    assert_eq!(
        sent["output_format"],
        json!({"type": "json_schema", "schema": schema})
    );
    assert_eq!(sent.get("tools"), None);
}

#[tokio::test]
async fn unknown_item_types_are_refused_by_name_on_translation() {
    let s = setup().await;
    let resp = create(
        &s.gw,
        MASTER,
        &json!({"model": "claude", "input": [{"type": "bogus_item", "id": "x"}]}),
    )
    .await;
    assert_eq!(resp.status(), 400);
    let e: Value = resp.json().await.unwrap();
    let message = e["error"]["message"].as_str().unwrap();
    assert!(message.contains("bogus_item"), "{message}");
    assert_eq!(e["error"]["param"], "input");
    assert_eq!(s.anthropic.requests().len(), 0, "nothing went upstream");
}

#[tokio::test]
async fn azure_deployments_answer_natively() {
    let up = openai::start().await.unwrap();
    let config = |version: &str| {
        format!(
            "model_list:\n  - model_name: az\n    litellm_params:\n      model: azure/my-gpt4o\n      api_base: {}\n      api_key: az-key\n      api_version: \"{version}\"\n",
            up.url()
        )
    };
    for (version, path) in [
        (
            "2025-04-01-preview",
            "/openai/responses?api-version=2025-04-01-preview",
        ),
        ("v1", "/openai/v1/responses"),
    ] {
        let gw = TestGateway::start(&config(version)).await.unwrap();
        let resp = post(
            &gw,
            "/v1/responses",
            "none",
            &json!({"model": "az", "input": "Hi"}),
        )
        .await;
        assert_eq!(resp.status(), 200, "{version}");
        let sent = up.last_request().unwrap();
        assert_eq!(sent.path_and_query(), path);
        assert_eq!(sent.header("api-key"), Some("az-key"));
        assert_eq!(sent.json()["model"], "my-gpt4o");
    }
}

#[tokio::test]
async fn count_tokens_asks_anthropic_and_estimates_elsewhere() {
    let s = setup().await;
    let body = |model: &str| {
        json!({"model": model, "system": "Be brief.",
               "messages": [{"role": "user", "content": "How many tokens is this?"}]})
    };
    let resp = post(&s.gw, "/v1/messages/count_tokens", MASTER, &body("claude")).await;
    assert_eq!(resp.status(), 200);
    // The mock counts words plus 3: "Be brief." 2 + 5.
    assert_eq!(
        resp.json::<Value>().await.unwrap(),
        json!({"input_tokens": 10})
    );
    let sent = s.anthropic.last_request().unwrap();
    assert_eq!(sent.path, "/v1/messages/count_tokens");
    assert_eq!(sent.json()["model"], "claude-sonnet-4-5");
    assert!(sent.json().get("max_tokens").is_none());

    // An OpenAI group has no such endpoint: the tokenizer's count, no upstream call.
    let before = s.openai.requests().len();
    let resp = post(&s.gw, "/v1/messages/count_tokens", MASTER, &body("gpt-4o")).await;
    assert_eq!(resp.status(), 200);
    let n = resp.json::<Value>().await.unwrap()["input_tokens"]
        .as_u64()
        .unwrap();
    assert!((5..100).contains(&n), "{n}");
    assert_eq!(s.openai.requests().len(), before);

    // Bad input and bad keys get Anthropic's error shape.
    let resp = post(
        &s.gw,
        "/v1/messages/count_tokens",
        MASTER,
        &json!({"model": "claude"}),
    )
    .await;
    assert_eq!(resp.status(), 400);
    assert_eq!(resp.json::<Value>().await.unwrap()["type"], "error");
    let resp = post(
        &s.gw,
        "/v1/messages/count_tokens",
        "sk-wrong",
        &body("claude"),
    )
    .await;
    assert_eq!(resp.status(), 401);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["error"]["type"],
        "authentication_error"
    );
}

#[tokio::test]
async fn messages_go_natively_to_anthropic_upstreams() {
    let s = setup().await;
    let (key, hash) = new_key(&s.gw, None).await;
    // Fields and blocks OpenAI's chat shape has no place for travel as they came.
    let body = json!({
        "model": "claude", "max_tokens": 64,
        "system": [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}],
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "Hi"}]},
            {"role": "system", "content": "Answer in English."},
            {"role": "user", "content": "Again"}
        ],
        "thinking": {"type": "adaptive", "display": "omitted"},
        "context_management": {"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]},
        "output_config": {"effort": "high"},
        "metadata": {"user_id": "u-1"}
    });
    let resp = reqwest::Client::new()
        .post(format!("{}/v1/messages?beta=true", s.gw.url))
        .header("x-api-key", &key)
        .header("anthropic-version", "2023-06-01")
        .header(
            "anthropic-beta",
            "context-management-2025-06-27, effort-2025-11-24",
        )
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.json::<Value>().await.unwrap(),
        anthropic::default_message("claude-sonnet-4-5")
    );
    let sent = s.anthropic.last_request().unwrap();
    assert_eq!(sent.path_and_query(), "/v1/messages?beta=true");
    assert_eq!(sent.header("x-api-key"), Some("sk-ant-upstream"));
    assert_eq!(
        sent.header("anthropic-beta"),
        Some("context-management-2025-06-27,effort-2025-11-24")
    );
    let mut expected = body.clone();
    expected["model"] = json!("claude-sonnet-4-5");
    assert_eq!(sent.json(), expected, "only the model is replaced");
    let (rows, spend) = spend_as(&s.db, &s.gw, &hash, "anthropic_messages").await;
    assert_eq!(rows, 1);
    assert!(spend > 0);

    // Streamed: the upstream's events, byte for byte.
    let mut body = body;
    body["stream"] = json!(true);
    let text = post(&s.gw, "/v1/messages", &key, &body)
        .await
        .text()
        .await
        .unwrap();
    let expected: String = anthropic::stream_events("claude-sonnet-4-5")
        .iter()
        .map(anthropic::sse_event)
        .collect();
    assert_eq!(text, expected);
    let (rows, _) = spend_as(&s.db, &s.gw, &hash, "anthropic_messages").await;
    assert_eq!(rows, 2);
}
