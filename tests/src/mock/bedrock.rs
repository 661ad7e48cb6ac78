//! Amazon Bedrock's runtime wire formats, as the Bedrock API reference
//! documents them: `POST /model/{modelId}/converse`, `/converse-stream`
//! (binary AWS event-stream, `application/vnd.amazon.eventstream`) and
//! `/invoke` (Titan text and Cohere embeddings), errors as
//! `{"message": "..."}` with the exception named in `x-amzn-ErrorType`.
//!
//! The mock checks authentication as AWS does: a Bedrock API key as
//! `Authorization: Bearer`, or a SigV4 `Authorization` header that it
//! **recomputes** with its own implementation of the SigV4 algorithm
//! ([`verify_sigv4`], written from AWS's specification and itself checked
//! against AWS's published test vectors in `tests/bedrock_provider.rs`),
//! for the keys in [`CREDENTIALS`]. A wrong signature, key, session token,
//! region, service or a stale `x-amz-date` is answered with Bedrock's 403.
//!
//! Event-stream frames are written by [`frame`] with its own CRC-32, not the
//! client's library, so the two sides are independent.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::Method;
use ring::{digest, hmac};
use serde_json::{json, Value};

use super::{MockResponse, MockServer, RecordedRequest, StreamPart};

/// Long-term test key (never a real credential).
pub const ACCESS_KEY_ID: &str = "AKIDLLMUXTEST0000001";
/// Its secret.
pub const SECRET_ACCESS_KEY: &str = "llmuxTestSecret/K7MDENG+bPxRfiCYEXAMPLEKEY";
/// Temporary (STS-style) test key: only valid with [`SESSION_TOKEN`].
pub const TEMP_ACCESS_KEY_ID: &str = "ASIALLMUXTEST0000002";
/// Its secret.
pub const TEMP_SECRET_ACCESS_KEY: &str = "llmuxTempSecret/abcdEXAMPLEKEY";
/// The session token of the temporary key.
pub const SESSION_TOKEN: &str =
    "IQoJb3JpZ2luX2VjEXAMPLEtokenForLlmuxTests//////////wEaCXVzLWVhc3QtMSJHMEUCIQ==";
/// The Bedrock API key the mock accepts as a bearer token.
pub const BEARER_KEY: &str = "ABSKbGxtdXgtdGVzdC1rZXk=";
/// `(access key id, secret, session token)` the mock knows.
pub const CREDENTIALS: &[(&str, &str, Option<&str>)] = &[
    (ACCESS_KEY_ID, SECRET_ACCESS_KEY, None),
    (
        TEMP_ACCESS_KEY_ID,
        TEMP_SECRET_ACCESS_KEY,
        Some(SESSION_TOKEN),
    ),
];
/// `x-amzn-RequestId` of every default answer.
pub const REQUEST_ID: &str = "2f5e3c1a-0b7d-4c55-9d1e-6a8b9c0d1e2f";
/// Text of the default answer.
pub const REPLY: &str = "Hello from the mock Bedrock!";
/// The default answer in stream slices.
pub const REPLY_DELTAS: [&str; 3] = ["Hello", " from the mock", " Bedrock!"];

/// Start a mock Bedrock runtime.
pub async fn start() -> std::io::Result<MockServer> {
    MockServer::start(behaviour).await
}

/// A Bedrock error answer.
pub fn error(status: u16, exception: &str, message: &str) -> MockResponse {
    MockResponse::json(status, &json!({ "message": message }))
        .with_header(
            "x-amzn-ErrorType",
            &format!("{exception}:http://internal.amazon.com/coral/com.amazon.bedrock/"),
        )
        .with_header("x-amzn-RequestId", REQUEST_ID)
}

/// The default Converse answer.
pub fn converse_response() -> Value {
    json!({
        "output": {"message": {"role": "assistant", "content": [{"text": REPLY}]}},
        "stopReason": "end_turn",
        "usage": {"inputTokens": 9, "outputTokens": 6, "totalTokens": 15},
        "metrics": {"latencyMs": 412}
    })
}

/// A 200 Converse answer with `body`.
pub fn converse_answer(body: &Value) -> MockResponse {
    MockResponse::json(200, body).with_header("x-amzn-RequestId", REQUEST_ID)
}

// ---------------------------------------------------------------------------
// Event stream

/// CRC-32 (IEEE 802.3, reflected, as the event-stream format uses), bitwise.
pub fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0xEDB8_8320 & mask);
        }
    }
    !crc
}

/// One event-stream message: prelude (total length, headers length, CRC),
/// string headers (type 7), payload, message CRC.
pub fn frame(headers: &[(&str, &str)], payload: &[u8]) -> Vec<u8> {
    let mut h = Vec::new();
    for (name, value) in headers {
        h.push(u8::try_from(name.len()).unwrap_or(u8::MAX));
        h.extend_from_slice(name.as_bytes());
        h.push(7);
        h.extend_from_slice(&u16::try_from(value.len()).unwrap_or(u16::MAX).to_be_bytes());
        h.extend_from_slice(value.as_bytes());
    }
    let total = 16 + h.len() + payload.len();
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(&u32::try_from(total).unwrap_or(u32::MAX).to_be_bytes());
    out.extend_from_slice(&u32::try_from(h.len()).unwrap_or(u32::MAX).to_be_bytes());
    let prelude_crc = crc32(&out);
    out.extend_from_slice(&prelude_crc.to_be_bytes());
    out.extend_from_slice(&h);
    out.extend_from_slice(payload);
    let crc = crc32(&out);
    out.extend_from_slice(&crc.to_be_bytes());
    out
}

/// An `event` frame of `event_type` whose JSON payload is `payload` plus
/// Bedrock's random-length `p` padding field.
pub fn event(event_type: &str, payload: &Value) -> Vec<u8> {
    let mut payload = payload.clone();
    if let Some(o) = payload.as_object_mut() {
        let n = 3 + event_type.len() % 17;
        o.insert(
            "p".into(),
            json!("abcdefghijklmnopqrstuvwxyzABCDEFGHIJ"[..n].to_string()),
        );
    }
    frame(
        &[
            (":event-type", event_type),
            (":content-type", "application/json"),
            (":message-type", "event"),
        ],
        payload.to_string().as_bytes(),
    )
}

/// An `exception` frame (`throttlingException`, …) with `{"message"}`.
pub fn exception(exception_type: &str, message: &str) -> Vec<u8> {
    frame(
        &[
            (":exception-type", exception_type),
            (":content-type", "application/json"),
            (":message-type", "exception"),
        ],
        json!({ "message": message }).to_string().as_bytes(),
    )
}

/// The default ConverseStream events.
pub fn stream_events() -> Vec<Vec<u8>> {
    let mut out = vec![event("messageStart", &json!({"role": "assistant"}))];
    for d in REPLY_DELTAS {
        out.push(event(
            "contentBlockDelta",
            &json!({"contentBlockIndex": 0, "delta": {"text": d}}),
        ));
    }
    out.push(event("contentBlockStop", &json!({"contentBlockIndex": 0})));
    out.push(event("messageStop", &json!({"stopReason": "end_turn"})));
    out.push(event(
        "metadata",
        &json!({"usage": {"inputTokens": 9, "outputTokens": 6, "totalTokens": 15}, "metrics": {"latencyMs": 388}}),
    ));
    out
}

/// A 200 event-stream answer, one body part per frame.
pub fn stream_answer(frames: Vec<Vec<u8>>) -> MockResponse {
    let parts = frames
        .into_iter()
        .map(|f| StreamPart::Bytes(Bytes::from(f)))
        .collect();
    let mut r = MockResponse::stream("application/vnd.amazon.eventstream", parts)
        .with_header("x-amzn-RequestId", REQUEST_ID);
    r.headers.retain(|(k, _)| k != "cache-control");
    r
}

// ---------------------------------------------------------------------------
// SigV4 verification

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex(digest::digest(&digest::SHA256, bytes).as_ref())
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> Vec<u8> {
    let k = hmac::Key::new(hmac::HMAC_SHA256, key);
    hmac::sign(&k, data).as_ref().to_vec()
}

/// RFC 3986 encoding of everything but unreserved characters.
fn uri_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// What a verified SigV4 header said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigV4 {
    pub access_key_id: String,
    pub date: String,
    pub region: String,
    pub service: String,
    pub signed_headers: Vec<String>,
    pub signature: String,
}

/// Why a request was refused: the AWS exception name and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub exception: &'static str,
    pub message: String,
}

fn reject(exception: &'static str, message: impl Into<String>) -> Rejection {
    Rejection {
        exception,
        message: message.into(),
    }
}

/// Parse `AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…`.
pub fn parse_authorization(value: &str) -> Result<SigV4, Rejection> {
    let rest = value.strip_prefix("AWS4-HMAC-SHA256 ").ok_or_else(|| {
        reject(
            "IncompleteSignatureException",
            "Authorization header requires the AWS4-HMAC-SHA256 algorithm",
        )
    })?;
    let mut credential = None;
    let mut signed = None;
    let mut signature = None;
    for part in rest.split(',') {
        let (k, v) = part.trim().split_once('=').ok_or_else(|| {
            reject(
                "IncompleteSignatureException",
                format!("malformed Authorization component '{part}'"),
            )
        })?;
        match k {
            "Credential" => credential = Some(v),
            "SignedHeaders" => signed = Some(v),
            "Signature" => signature = Some(v),
            _ => {}
        }
    }
    let (Some(credential), Some(signed), Some(signature)) = (credential, signed, signature) else {
        return Err(reject(
            "IncompleteSignatureException",
            "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature'",
        ));
    };
    let scope: Vec<&str> = credential.split('/').collect();
    if scope.len() != 5 || scope[4] != "aws4_request" {
        return Err(reject(
            "IncompleteSignatureException",
            format!("malformed credential scope '{credential}'"),
        ));
    }
    Ok(SigV4 {
        access_key_id: scope[0].to_string(),
        date: scope[1].to_string(),
        region: scope[2].to_string(),
        service: scope[3].to_string(),
        signed_headers: signed.split(';').map(str::to_string).collect(),
        signature: signature.to_string(),
    })
}

/// The canonical request AWS computes for `req` (path segments encoded a
/// second time, as for every service but S3).
pub fn canonical_request(req: &RecordedRequest, signed_headers: &[String]) -> String {
    let path = if req.path.is_empty() {
        "/"
    } else {
        req.path.as_str()
    };
    let canonical_uri = path
        .split('/')
        .map(uri_encode)
        .collect::<Vec<_>>()
        .join("/");
    let mut query: Vec<(String, String)> = req
        .query
        .as_deref()
        .unwrap_or("")
        .split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (k.to_string(), v.to_string())
        })
        .collect();
    query.sort();
    let canonical_query = query
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    let mut headers = String::new();
    for name in signed_headers {
        let values: Vec<String> = req
            .headers
            .get_all(name.as_str())
            .iter()
            .map(|v| {
                String::from_utf8_lossy(v.as_bytes())
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect();
        headers.push_str(&format!("{name}:{}\n", values.join(",")));
    }
    let payload_hash = req
        .header("x-amz-content-sha256")
        .map(str::to_string)
        .unwrap_or_else(|| sha256_hex(&req.body));
    format!(
        "{}\n{canonical_uri}\n{canonical_query}\n{headers}\n{}\n{payload_hash}",
        req.method,
        signed_headers.join(";")
    )
}

/// The signature of `canonical` for `secret` on `date` (YYYYMMDD) in the scope.
pub fn signature(
    secret: &str,
    amz_date: &str,
    date: &str,
    region: &str,
    service: &str,
    canonical: &str,
) -> String {
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{date}/{region}/{service}/aws4_request\n{}",
        sha256_hex(canonical.as_bytes())
    );
    let k_date = hmac_sha256(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    let k_region = hmac_sha256(&k_date, region.as_bytes());
    let k_service = hmac_sha256(&k_region, service.as_bytes());
    let k_signing = hmac_sha256(&k_service, b"aws4_request");
    hex(&hmac_sha256(&k_signing, string_to_sign.as_bytes()))
}

/// Seconds since the epoch of an ISO 8601 basic `YYYYMMDDTHHMMSSZ`.
pub fn parse_amz_date(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, m, d) = (num(0..4)?, num(4..6)?, num(6..8)?);
    let (hh, mm, ss) = (num(9..11)?, num(11..13)?, num(13..15)?);
    let days = llmux_core::calendar::days_from_civil(y, m, d);
    u64::try_from(days * 86_400 + hh * 3600 + mm * 60 + ss).ok()
}

/// Verify `req`'s SigV4 signature for `service` with the keys of
/// `credentials`, at `now` (requests more than 5 minutes off are refused).
pub fn verify_sigv4(
    req: &RecordedRequest,
    credentials: &[(&str, &str, Option<&str>)],
    service: &str,
    now: SystemTime,
) -> Result<SigV4, Rejection> {
    let auth = req.header("authorization").ok_or_else(|| {
        reject(
            "MissingAuthenticationTokenException",
            "Missing Authentication Token",
        )
    })?;
    let sig = parse_authorization(auth)?;
    let Some((_, secret, token)) = credentials
        .iter()
        .find(|(id, _, _)| *id == sig.access_key_id)
    else {
        return Err(reject(
            "UnrecognizedClientException",
            "The security token included in the request is invalid.",
        ));
    };
    if req.header("x-amz-security-token") != *token {
        return Err(reject(
            "UnrecognizedClientException",
            "The security token included in the request is invalid.",
        ));
    }
    for required in ["host", "x-amz-date"] {
        if !sig.signed_headers.iter().any(|h| h == required) {
            return Err(reject(
                "InvalidSignatureException",
                format!("'{required}' must be a signed header"),
            ));
        }
    }
    if token.is_some()
        && !sig
            .signed_headers
            .iter()
            .any(|h| h == "x-amz-security-token")
    {
        return Err(reject(
            "InvalidSignatureException",
            "'x-amz-security-token' must be a signed header",
        ));
    }
    let amz_date = req
        .header("x-amz-date")
        .ok_or_else(|| reject("IncompleteSignatureException", "x-amz-date is missing"))?;
    let when = parse_amz_date(amz_date).ok_or_else(|| {
        reject(
            "IncompleteSignatureException",
            format!("bad x-amz-date '{amz_date}'"),
        )
    })?;
    let now_secs = now
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs();
    if now_secs.abs_diff(when) > 300 {
        return Err(reject("InvalidSignatureException", "Signature expired"));
    }
    if !amz_date.starts_with(&sig.date) {
        return Err(reject(
            "InvalidSignatureException",
            "Date in Credential scope does not match x-amz-date",
        ));
    }
    if sig.service != service {
        return Err(reject(
            "InvalidSignatureException",
            format!("Credential should be scoped to correct service: '{service}'."),
        ));
    }
    let canonical = canonical_request(req, &sig.signed_headers);
    let expected = signature(
        secret,
        amz_date,
        &sig.date,
        &sig.region,
        &sig.service,
        &canonical,
    );
    if expected != sig.signature {
        return Err(reject(
            "InvalidSignatureException",
            "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.",
        ));
    }
    Ok(sig)
}

// ---------------------------------------------------------------------------
// Behaviour

/// `(model id, action)` of `/model/{encoded id}/{action}`, the id decoded.
pub fn model_and_action(path: &str) -> Option<(String, &str)> {
    let rest = path.strip_prefix("/model/")?;
    let (encoded, action) = rest.rsplit_once('/')?;
    if encoded.contains('/') {
        return None; // the id must be one encoded segment
    }
    let mut out = Vec::new();
    let b = encoded.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let h = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(h, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    Some((String::from_utf8(out).ok()?, action))
}

/// Bedrock's default behaviour (region `us-east-1`).
pub fn behaviour(req: &RecordedRequest) -> MockResponse {
    match req.header("authorization") {
        Some(a) if a.starts_with("Bearer ") => {
            if a != format!("Bearer {BEARER_KEY}") {
                return error(
                    403,
                    "UnrecognizedClientException",
                    "Invalid API Key format: Must start with pre-defined prefix",
                );
            }
        }
        _ => {
            if let Err(r) = verify_sigv4(req, CREDENTIALS, "bedrock", SystemTime::now()) {
                return error(403, r.exception, &r.message);
            }
        }
    }
    let Some((model, action)) = model_and_action(&req.path).filter(|_| req.method == Method::POST)
    else {
        return error(404, "UnknownOperationException", "");
    };
    let body = req.json();
    match action {
        "converse" | "converse-stream" => {
            let ok = body
                .get("messages")
                .and_then(Value::as_array)
                .is_some_and(|m| !m.is_empty());
            if !ok {
                return error(400, "ValidationException", "A conversation must start with a user message. Try again with a conversation that starts with a user message.");
            }
            if model.starts_with("unknown.") {
                return error(
                    400,
                    "ValidationException",
                    "The provided model identifier is invalid.",
                );
            }
            if action == "converse" {
                converse_answer(&converse_response())
            } else {
                stream_answer(stream_events())
            }
        }
        "invoke" if model.starts_with("amazon.titan-embed-text") => {
            let text = body.get("inputText").and_then(Value::as_str).unwrap_or("");
            let tokens = text.split_whitespace().count();
            MockResponse::json(200, &json!({"embedding": [0.125, -0.5, text.len() as f64], "inputTextTokenCount": tokens}))
                .with_header("x-amzn-RequestId", REQUEST_ID)
                .with_header("X-Amzn-Bedrock-Input-Token-Count", &tokens.to_string())
        }
        "invoke" if model.starts_with("cohere.embed") => {
            let texts: Vec<&str> = body
                .get("texts")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            if body.get("input_type").is_none() {
                return error(400, "ValidationException", "Malformed input request: #: required key [input_type] not found, please reformat your input and try again.");
            }
            let embeddings: Vec<Value> = texts
                .iter()
                .map(|t| json!([0.25, -0.75, t.len() as f64]))
                .collect();
            let tokens: usize = texts.iter().map(|t| t.split_whitespace().count()).sum();
            MockResponse::json(200, &json!({"embeddings": embeddings, "id": "emb-1", "response_type": "embeddings_floats", "texts": texts}))
                .with_header("x-amzn-RequestId", REQUEST_ID)
                .with_header("X-Amzn-Bedrock-Input-Token-Count", &tokens.to_string())
        }
        "invoke" if model.starts_with("anthropic.") => invoke_claude(&body, false),
        "count-tokens" => {
            let inner: Value = body
                .pointer("/input/invokeModel/body")
                .and_then(Value::as_str)
                .and_then(|b| serde_json::from_str(b).ok())
                .unwrap_or_default();
            if inner.get("anthropic_version").is_none() || inner.get("messages").is_none() {
                return error(
                    400,
                    "ValidationException",
                    "The provided request is not valid",
                );
            }
            MockResponse::json(
                200,
                &json!({"inputTokens": crate::mock::gemini::COUNTED_TOKENS}),
            )
        }
        "invoke-with-response-stream" if model.starts_with("anthropic.") => {
            invoke_claude(&body, true)
        }
        _ => error(
            404,
            "ResourceNotFoundException",
            "Could not resolve the foundation model from the provided model identifier.",
        ),
    }
}

/// InvokeModel on a Claude model: Anthropic's Messages API body in, its
/// message out with the token-count headers; streamed, each Anthropic event
/// is a `chunk` whose `bytes` hold it base64-encoded, and the last carries
/// `amazon-bedrock-invocationMetrics`.
fn invoke_claude(body: &Value, stream: bool) -> MockResponse {
    if body.get("anthropic_version").is_none() || body.get("max_tokens").is_none() {
        return error(400, "ValidationException", "Malformed input request: #: required key [max_tokens] not found, please reformat your input and try again.");
    }
    if !stream {
        let message = crate::mock::anthropic::message(
            "claude-3-5-sonnet-20240620",
            json!([{"type": "text", "text": REPLY}]),
            "end_turn",
            crate::mock::anthropic::usage(9, 6),
        );
        return MockResponse::json(200, &message)
            .with_header("x-amzn-RequestId", REQUEST_ID)
            .with_header("X-Amzn-Bedrock-Input-Token-Count", "9")
            .with_header("X-Amzn-Bedrock-Output-Token-Count", "6");
    }
    use base64::Engine as _;
    let mut events = vec![
        json!({"type": "message_start", "message": {"id": "msg_bdrk_1", "type": "message", "role": "assistant", "model": "claude-3-5-sonnet-20240620", "content": [], "stop_reason": null, "usage": {"input_tokens": 9, "output_tokens": 1}}}),
        json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
    ];
    for d in REPLY_DELTAS {
        events.push(json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": d}}));
    }
    events.push(json!({"type": "content_block_stop", "index": 0}));
    events.push(json!({"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": null}, "usage": {"output_tokens": 6}}));
    events.push(json!({"type": "message_stop", "amazon-bedrock-invocationMetrics": {"inputTokenCount": 9, "outputTokenCount": 6, "invocationLatency": 400, "firstByteLatency": 100}}));
    let frames = events
        .iter()
        .map(|e| {
            let bytes = base64::engine::general_purpose::STANDARD.encode(e.to_string());
            event("chunk", &json!({ "bytes": bytes }))
        })
        .collect();
    stream_answer(frames)
}
