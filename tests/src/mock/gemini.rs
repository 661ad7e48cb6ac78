//! Google's wire formats, as the Gemini API reference (ai.google.dev/api) and
//! the Vertex AI reference document them: a mock Gemini API server
//! (`/v1beta/models/{model}:{method}`, `x-goog-api-key`), a mock Vertex AI
//! server (`/v1/projects/{p}/locations/{l}/publishers/google/models/{model}:{method}`,
//! bearer token), and a mock OAuth token endpoint for service-account JWTs.
//!
//! Streams (`:streamGenerateContent?alt=sse`) are SSE events framed
//! `data: {GenerateContentResponse}\r\n\r\n` with no terminal event; errors are
//! `{"error": {"code", "message", "status"}}`.

use bytes::Bytes;
use http::Method;
use serde_json::{json, Value};

use super::{MockResponse, MockServer, RecordedRequest, StreamPart};

/// Text of the default answer.
pub const REPLY: &str = "Hello from the mock Gemini!";
/// The default answer split into stream slices.
pub const REPLY_DELTAS: [&str; 3] = ["Hello", " from the mock", " Gemini!"];
/// `responseId` of every default answer.
pub const RESPONSE_ID: &str = "mock-response-id";
/// The token the mock token endpoint issues.
pub const ACCESS_TOKEN: &str = "ya29.mock-access-token";
/// Fixed `createTime` of Vertex answers.
pub const CREATE_TIME: &str = "2025-01-01T00:00:00.000000Z";

/// TEST KEY ONLY: an RSA key generated with `openssl genrsa 2048` for these
/// tests. It is not, and never was, a credential for anything.
pub const TEST_PRIVATE_KEY_PEM: &str =
    include_str!("../../../providers/gemini/tests/fixtures/test-service-account-key.pem");

/// Service-account JSON (the shape `gcloud iam service-accounts keys create`
/// writes) with the test key, whose `token_uri` is `token_uri`.
pub fn service_account_json(token_uri: &str, project_id: &str) -> String {
    json!({
        "type": "service_account",
        "project_id": project_id,
        "private_key_id": "0123456789abcdef0123456789abcdef01234567",
        "private_key": TEST_PRIVATE_KEY_PEM,
        "client_email": format!("llmux-test@{project_id}.iam.gserviceaccount.com"),
        "client_id": "100000000000000000001",
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": token_uri,
        "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
        "client_x509_cert_url": "https://www.googleapis.com/robot/v1/metadata/x509/llmux-test",
        "universe_domain": "googleapis.com"
    })
    .to_string()
}

/// Start a mock Gemini API server.
pub async fn start() -> std::io::Result<MockServer> {
    MockServer::start(behaviour).await
}

/// Start a mock Vertex AI server.
pub async fn start_vertex() -> std::io::Result<MockServer> {
    MockServer::start(vertex_behaviour).await
}

/// Start a mock OAuth 2.0 token endpoint (`POST /token`).
pub async fn start_token_endpoint() -> std::io::Result<MockServer> {
    MockServer::start(token_behaviour).await
}

/// Google's error body.
pub fn error_body(code: u16, message: &str, status: &str) -> Value {
    json!({"error": {"code": code, "message": message, "status": status}})
}

/// `(model, method)` of a `…/models/{model}:{method}` path.
fn model_and_method(path: &str) -> Option<(&str, &str)> {
    let (before, method) = path.rsplit_once(':')?;
    let model = before.rsplit_once("/models/")?.1;
    Some((model, method))
}

/// The default `generateContent` answer of the Gemini API for `model`.
pub fn generate_content_response(model: &str) -> Value {
    json!({
        "candidates": [{
            "content": {"parts": [{"text": REPLY}], "role": "model"},
            "finishReason": "STOP",
            "index": 0,
            "avgLogprobs": -0.0421
        }],
        "usageMetadata": {
            "promptTokenCount": 9,
            "candidatesTokenCount": 6,
            "totalTokenCount": 15,
            "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 9}],
            "candidatesTokensDetails": [{"modality": "TEXT", "tokenCount": 6}]
        },
        "modelVersion": model,
        "responseId": RESPONSE_ID
    })
}

/// The default stream's events: the answer in slices, the last with
/// `finishReason` and the final usage.
pub fn stream_events(model: &str) -> Vec<Value> {
    let last = REPLY_DELTAS.len() - 1;
    REPLY_DELTAS
        .iter()
        .enumerate()
        .map(|(i, text)| {
            let mut candidate = json!({"content": {"parts": [{"text": text}], "role": "model"}, "index": 0});
            let mut usage = json!({"promptTokenCount": 9, "totalTokenCount": 9});
            if i == last {
                candidate["finishReason"] = json!("STOP");
                usage = json!({"promptTokenCount": 9, "candidatesTokenCount": 6, "totalTokenCount": 15,
                    "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 9}]});
            }
            json!({"candidates": [candidate], "usageMetadata": usage, "modelVersion": model, "responseId": RESPONSE_ID})
        })
        .collect()
}

/// SSE parts, one `data: …\r\n\r\n` event per value.
pub fn sse_parts(events: &[Value]) -> Vec<StreamPart> {
    events
        .iter()
        .map(|e| StreamPart::Bytes(Bytes::from(format!("data: {e}\r\n\r\n"))))
        .collect()
}

/// A 200 `text/event-stream` answer made of `events`.
pub fn sse_response(events: &[Value]) -> MockResponse {
    MockResponse::stream("text/event-stream", sse_parts(events))
}

/// Whether a request asked for SSE (`alt=sse`).
fn wants_sse(req: &RecordedRequest) -> bool {
    req.query
        .as_deref()
        .is_some_and(|q| q.split('&').any(|kv| kv == "alt=sse"))
}

fn contents_missing(body: &Value) -> Option<MockResponse> {
    let ok = body
        .get("contents")
        .and_then(Value::as_array)
        .is_some_and(|c| !c.is_empty());
    (!ok).then(|| {
        MockResponse::json(
            400,
            &error_body(
                400,
                "* GenerateContentRequest.contents: contents is not specified\n",
                "INVALID_ARGUMENT",
            ),
        )
    })
}

fn embedding_values(i: usize) -> Value {
    json!([0.0023064255, -0.009327292, i as f64])
}

/// The Gemini API's default behaviour.
pub fn behaviour(req: &RecordedRequest) -> MockResponse {
    match req.header("x-goog-api-key") {
        None => {
            return MockResponse::json(
                403,
                &error_body(
                    403,
                    "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.",
                    "PERMISSION_DENIED",
                ),
            )
        }
        Some("bad-key") => {
            return MockResponse::json(
                400,
                &json!({"error": {"code": 400, "message": "API key not valid. Please pass a valid API key.", "status": "INVALID_ARGUMENT",
                    "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID", "domain": "googleapis.com",
                        "metadata": {"service": "generativelanguage.googleapis.com"}}]}}),
            )
        }
        Some(_) => {}
    }
    if req.method == Method::GET && req.path.ends_with("/models") {
        return MockResponse::json(200, &models());
    }
    let Some((model, method)) = model_and_method(&req.path) else {
        return not_found(req);
    };
    if req.method != Method::POST {
        return not_found(req);
    }
    let body = req.json();
    match method {
        "generateContent" => contents_missing(&body)
            .unwrap_or_else(|| MockResponse::json(200, &generate_content_response(model))),
        "streamGenerateContent" => contents_missing(&body).unwrap_or_else(|| {
            let events = stream_events(model);
            if wants_sse(req) {
                sse_response(&events)
            } else {
                // Without alt=sse the API streams one JSON array.
                MockResponse::json(200, &Value::Array(events))
            }
        }),
        "embedContent" => {
            MockResponse::json(200, &json!({"embedding": {"values": embedding_values(0)}}))
        }
        "batchEmbedContents" => {
            let n = body
                .get("requests")
                .and_then(Value::as_array)
                .map_or(0, Vec::len);
            let embeddings: Vec<Value> = (0..n)
                .map(|i| json!({"values": embedding_values(i)}))
                .collect();
            MockResponse::json(200, &json!({ "embeddings": embeddings }))
        }
        _ => not_found(req),
    }
}

fn not_found(req: &RecordedRequest) -> MockResponse {
    MockResponse::json(
        404,
        &error_body(
            404,
            &format!(
                "The requested URL {} was not found on this server.",
                req.path
            ),
            "NOT_FOUND",
        ),
    )
}

/// The Gemini API's model list.
pub fn models() -> Value {
    json!({
        "models": [
            {"name": "models/gemini-2.0-flash", "version": "2.0", "displayName": "Gemini 2.0 Flash",
             "inputTokenLimit": 1048576, "outputTokenLimit": 8192,
             "supportedGenerationMethods": ["generateContent", "countTokens"]},
            {"name": "models/text-embedding-004", "version": "004", "displayName": "Text Embedding 004",
             "inputTokenLimit": 2048, "outputTokenLimit": 1, "supportedGenerationMethods": ["embedContent"]}
        ]
    })
}

/// Vertex AI's default `generateContent` answer for `model`.
pub fn vertex_response(model: &str) -> Value {
    json!({
        "candidates": [{
            "content": {"role": "model", "parts": [{"text": REPLY}]},
            "finishReason": "STOP",
            "avgLogprobs": -0.0421
        }],
        "usageMetadata": {
            "promptTokenCount": 9,
            "candidatesTokenCount": 6,
            "totalTokenCount": 15,
            "trafficType": "ON_DEMAND",
            "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 9}],
            "candidatesTokensDetails": [{"modality": "TEXT", "tokenCount": 6}]
        },
        "modelVersion": model,
        "createTime": CREATE_TIME,
        "responseId": RESPONSE_ID
    })
}

/// Vertex AI's default stream events (usage counts only on the last one).
pub fn vertex_stream_events(model: &str) -> Vec<Value> {
    let mut events: Vec<Value> = REPLY_DELTAS
        .iter()
        .map(|text| {
            json!({"candidates": [{"content": {"role": "model", "parts": [{"text": text}]}}],
                   "usageMetadata": {"trafficType": "ON_DEMAND"},
                   "modelVersion": model, "createTime": CREATE_TIME, "responseId": RESPONSE_ID})
        })
        .collect();
    events.push(json!({
        "candidates": [{"content": {"role": "model", "parts": [{"text": ""}]}, "finishReason": "STOP"}],
        "usageMetadata": {"promptTokenCount": 9, "candidatesTokenCount": 6, "totalTokenCount": 15, "trafficType": "ON_DEMAND"},
        "modelVersion": model, "createTime": CREATE_TIME, "responseId": RESPONSE_ID
    }));
    events
}

/// Vertex AI's default behaviour.
pub fn vertex_behaviour(req: &RecordedRequest) -> MockResponse {
    let authorized = req
        .header("authorization")
        .is_some_and(|a| a.starts_with("Bearer ya29."));
    if !authorized {
        return MockResponse::json(
            401,
            &error_body(
                401,
                "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.",
                "UNAUTHENTICATED",
            ),
        );
    }
    let on_vertex_path = req.path.starts_with("/v1/projects/") && req.path.contains("/locations/");
    let Some((model, method)) = model_and_method(&req.path).filter(|_| on_vertex_path) else {
        return not_found(req);
    };
    let body = req.json();
    if req.path.contains("/publishers/anthropic/models/") {
        return vertex_claude(model, method, &body);
    }
    match method {
        "generateContent" => contents_missing(&body)
            .unwrap_or_else(|| MockResponse::json(200, &vertex_response(model))),
        "streamGenerateContent" if wants_sse(req) => {
            contents_missing(&body).unwrap_or_else(|| sse_response(&vertex_stream_events(model)))
        }
        "predict" => {
            let n = body
                .get("instances")
                .and_then(Value::as_array)
                .map_or(0, Vec::len);
            let predictions: Vec<Value> = (0..n)
                .map(|i| json!({"embeddings": {"statistics": {"truncated": false, "token_count": 4}, "values": embedding_values(i)}}))
                .collect();
            MockResponse::json(
                200,
                &json!({"predictions": predictions, "metadata": {"billableCharacterCount": 10}}),
            )
        }
        _ => not_found(req),
    }
}

/// What the mock count-tokens endpoints answer.
pub const COUNTED_TOKENS: u64 = 14;

/// Claude on Vertex AI (`publishers/anthropic`): Anthropic's Messages API
/// through `:rawPredict` and `:streamRawPredict`, the model named by the
/// URL, `anthropic_version: vertex-2023-10-16` in the body.
fn vertex_claude(model: &str, method: &str, body: &Value) -> MockResponse {
    let invalid = |message: &str| {
        MockResponse::json(
            400,
            &super::anthropic::error_body("invalid_request_error", message),
        )
    };
    if model == "count-tokens" {
        // The model to count for is named in the body.
        return match (body.get("model"), body.get("messages")) {
            (Some(_), Some(_)) if method == "rawPredict" => {
                MockResponse::json(200, &json!({"input_tokens": COUNTED_TOKENS}))
            }
            _ => invalid("model and messages are required"),
        };
    }
    if body.get("anthropic_version").and_then(Value::as_str) != Some("vertex-2023-10-16") {
        return invalid("anthropic_version: vertex-2023-10-16 is required");
    }
    if body.get("model").is_some() {
        return invalid("model: Extra inputs are not permitted");
    }
    let stream = body.get("stream") == Some(&Value::Bool(true));
    match method {
        "rawPredict" if !stream => {
            MockResponse::json(200, &super::anthropic::default_message(model))
        }
        "streamRawPredict" if stream => {
            super::anthropic::sse_response(&super::anthropic::stream_events(model))
        }
        _ => invalid("stream must be true on :streamRawPredict and absent on :rawPredict"),
    }
}

/// An OAuth token answer.
pub fn token_response(access_token: &str, expires_in: u64) -> MockResponse {
    MockResponse::json(
        200,
        &json!({"access_token": access_token, "expires_in": expires_in, "token_type": "Bearer"}),
    )
}

/// The token endpoint's default behaviour: a JWT-bearer grant gets
/// [`ACCESS_TOKEN`] for an hour; anything else is OAuth's `400` error.
pub fn token_behaviour(req: &RecordedRequest) -> MockResponse {
    let grant = form_field(&req.body, "grant_type");
    let assertion = form_field(&req.body, "assertion");
    if req.method == Method::POST
        && req.path == "/token"
        && grant.as_deref() == Some("urn:ietf:params:oauth:grant-type:jwt-bearer")
        && assertion.is_some_and(|a| a.split('.').count() == 3)
    {
        token_response(ACCESS_TOKEN, 3599)
    } else {
        MockResponse::json(
            400,
            &json!({"error": "invalid_grant", "error_description": "Invalid JWT Signature."}),
        )
    }
}

/// A field of an `application/x-www-form-urlencoded` body, decoded.
pub fn form_field(body: &[u8], name: &str) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    text.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (percent_decode(k)? == name)
            .then(|| percent_decode(v))
            .flatten()
    })
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}
