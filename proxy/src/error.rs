//! The one place an llmux error becomes an HTTP response: OpenAI's error JSON
//! with the kind's status, plus `retry-after` when the error carries one.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use llmux_core::{Error, ErrorKind};

/// An [`Error`] on its way to the client.
#[derive(Debug)]
pub struct ApiError(pub Error);

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        ApiError(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.0.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (status, self.0.to_openai_json()).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        set_retry_after(headers, self.0.retry_after);
        response
    }
}

/// `Retry-After` in whole seconds, rounded up, when an error carries one.
pub(crate) fn set_retry_after(
    headers: &mut axum::http::HeaderMap,
    retry_after: Option<std::time::Duration>,
) {
    if let Some(ra) = retry_after {
        let secs = ra.as_secs() + u64::from(ra.subsec_nanos() > 0);
        if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
            headers.insert(header::RETRY_AFTER, v);
        }
    }
}

/// An internal error (a bug, not the caller's or an upstream's fault).
pub(crate) fn internal(message: &str) -> ApiError {
    ApiError(Error::new(ErrorKind::InternalServer, message.to_string()))
}

/// Answers that axum's extractors write as plain text (a body over the size
/// limit, a bad query string, a malformed multipart body) rewritten in the
/// API's error shape, keeping their status: OpenAI's, or Anthropic's on
/// `/v1/messages`. The gateway's own errors are JSON already and pass as
/// they are; so do successful answers.
pub(crate) async fn shape_plain_errors(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let anthropic = request.uri().path().starts_with("/v1/messages");
    let response = next.run(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if status.as_u16() < 400 || is_json {
        return response;
    }
    let body = axum::body::to_bytes(response.into_body(), 64 << 10)
        .await
        .unwrap_or_default();
    let text = String::from_utf8_lossy(&body);
    let message = match text.trim() {
        "" => status.canonical_reason().unwrap_or("error").to_string(),
        t => t.to_string(),
    };
    let err = Error::new(ErrorKind::from_status(status.as_u16()), message);
    let mut shaped = if anthropic {
        crate::http::anthropic::AnthropicError(err).into_response()
    } else {
        ApiError(err).into_response()
    };
    *shaped.status_mut() = status;
    shaped
}
