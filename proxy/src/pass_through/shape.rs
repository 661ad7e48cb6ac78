//! The gateway's own errors on pass-through routes (refused key, budget,
//! unreachable upstream), in the shape the caller's SDK reads: OpenAI's,
//! Anthropic's, Google's, Bedrock's (with `x-amzn-errortype`), Cohere's or
//! Ollama's. Upstream errors are passed through as they came.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use llmux_core::{Error, ErrorKind};
use serde_json::json;

/// `e` as the provider behind route `prefix` would answer it.
pub(crate) fn error_response(prefix: &str, e: Error) -> Response {
    let status = match e.kind {
        // The gateway could not reach the upstream at all.
        ErrorKind::ApiConnection => StatusCode::BAD_GATEWAY,
        _ => StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
    };
    let mut response = match prefix {
        "anthropic" => crate::http::anthropic::AnthropicError(e).into_response(),
        "gemini" | "vertex_ai" => body(
            json!({"error": {
                "code": status.as_u16(),
                "message": e.message,
                "status": google_status(status),
            }}),
            &e,
        ),
        "bedrock" => {
            let mut r = body(json!({ "message": e.message }), &e);
            r.headers_mut().insert(
                "x-amzn-errortype",
                HeaderValue::from_static(aws_error_type(status)),
            );
            r
        }
        "cohere" => body(json!({ "message": e.message }), &e),
        "ollama" => body(json!({ "error": e.message }), &e),
        _ => crate::error::ApiError(e).into_response(),
    };
    *response.status_mut() = status;
    response
}

/// A JSON error body, with `Retry-After` when `e` carries one (OpenAI's and
/// Anthropic's error types set their own).
fn body(value: serde_json::Value, e: &Error) -> Response {
    let mut response = (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        value.to_string(),
    )
        .into_response();
    crate::error::set_retry_after(response.headers_mut(), e.retry_after);
    response
}

/// Google's canonical status name for an HTTP status.
fn google_status(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        408 | 504 => "DEADLINE_EXCEEDED",
        413 => "INVALID_ARGUMENT",
        429 => "RESOURCE_EXHAUSTED",
        501 => "UNIMPLEMENTED",
        502 | 503 => "UNAVAILABLE",
        _ => "INTERNAL",
    }
}

/// The Bedrock exception botocore raises for an HTTP status.
fn aws_error_type(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 | 413 => "ValidationException",
        401 | 403 => "AccessDeniedException",
        404 => "ResourceNotFoundException",
        408 => "ModelTimeoutException",
        429 => "ThrottlingException",
        503 | 502 => "ServiceUnavailableException",
        _ => "InternalServerException",
    }
}
