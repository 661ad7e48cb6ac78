//! Bedrock errors → core's [`Error`].
//!
//! Bedrock answers errors with a JSON body `{"message": "..."}` and names the
//! exception in the `x-amzn-ErrorType` header
//! (`ValidationException:http://internal.amazon.com/coral/com.amazon.bedrock/`);
//! some front ends put it in the body as `__type` or spell `Message`. The
//! exception name decides the kind, the HTTP status is the fallback, and a
//! `ValidationException` whose message says the prompt is too long becomes
//! `ContextWindowExceeded`. Inside a ConverseStream the same exceptions
//! arrive as event-stream frames (`:message-type: exception`, camelCase
//! `:exception-type`), handled by [`stream_exception`].

use http::HeaderMap;
use llmux_core::error::parse_retry_after;
use llmux_core::error_body::{mentions_any, non_empty_str};
use llmux_core::{Error, ErrorKind};
use serde_json::Value;

/// Message fragments Bedrock and its models use when the prompt is too long.
const CONTEXT_WINDOW_HINTS: &[&str] = &[
    "too many input tokens",
    "too many tokens",
    "input is too long",
    "prompt is too long",
    "exceed context limit",
    "exceeds the context window",
    "maximum context length",
    "context length",
    "context window",
    "input token count exceeds",
    "expected maxlength",
    "too many total text bytes",
];

/// The kind a Bedrock exception name maps to (`None` for names not known here).
pub fn kind_for_exception(name: &str) -> Option<ErrorKind> {
    Some(match name {
        "ValidationException"
        | "ConflictException"
        | "SerializationException"
        | "ValidationError" => ErrorKind::BadRequest,
        "AccessDeniedException" | "AccessDenied" => ErrorKind::PermissionDenied,
        "UnrecognizedClientException"
        | "InvalidSignatureException"
        | "IncompleteSignatureException"
        | "SignatureDoesNotMatch"
        | "MissingAuthenticationTokenException"
        | "ExpiredTokenException"
        | "InvalidClientTokenId" => ErrorKind::Authentication,
        "ResourceNotFoundException" | "UnknownOperationException" => ErrorKind::NotFound,
        "ThrottlingException" | "TooManyRequestsException" | "ServiceQuotaExceededException" => {
            ErrorKind::RateLimit
        }
        // Retryable: the model is still loading (HTTP 429 on the wire).
        "ModelNotReadyException" | "ServiceUnavailableException" => ErrorKind::ServiceUnavailable,
        "ModelTimeoutException" => ErrorKind::Timeout,
        "InternalServerException"
        | "InternalFailure"
        | "ModelErrorException"
        | "ModelStreamErrorException" => ErrorKind::InternalServer,
        _ => return None,
    })
}

/// The exception name of an `x-amzn-ErrorType` value or `__type` field:
/// the part before `:`, after the last `#`.
pub fn exception_name(raw: &str) -> &str {
    let name = raw.split(':').next().unwrap_or(raw);
    name.rsplit('#').next().unwrap_or(name).trim()
}

fn refine(kind: ErrorKind, message: &str) -> ErrorKind {
    if kind == ErrorKind::BadRequest && mentions_any(message, CONTEXT_WINDOW_HINTS) {
        return ErrorKind::ContextWindowExceeded;
    }
    kind
}

/// The `message` (or `Message`) of a Bedrock error body.
fn message_of(v: &Value) -> Option<String> {
    non_empty_str(v.get("message").or_else(|| v.get("Message")))
}

/// Map an upstream error response to an [`Error`].
pub fn decode_error(provider: &str, status: u16, headers: &HeaderMap, body: &[u8]) -> Error {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let message = parsed
        .as_ref()
        .and_then(message_of)
        .unwrap_or_else(|| llmux_core::text::upstream_status_text(status, body));
    let name = headers
        .get("x-amzn-errortype")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or_else(|| {
            parsed
                .as_ref()
                .and_then(|v| v.get("__type"))
                .and_then(Value::as_str)
                .map(str::to_string)
        });
    let name = name
        .as_deref()
        .map(exception_name)
        .filter(|n| !n.is_empty());
    let kind = name
        .and_then(kind_for_exception)
        .unwrap_or_else(|| ErrorKind::from_status(status));
    let kind = refine(kind, &message);
    let err = Error::new(kind, message)
        .with_provider(provider)
        .with_upstream_status(status)
        .with_retry_after(parse_retry_after(headers));
    with_exception_code(err, name)
}

/// Keep the exception name as OpenAI's `code` unless the kind has a code
/// OpenAI clients test for (`context_length_exceeded`, `rate_limit_exceeded`, …).
fn with_exception_code(err: Error, name: Option<&str>) -> Error {
    match name {
        Some(n) if err.kind.default_code().is_none() => err.with_code(n),
        _ => err,
    }
}

/// Map an exception frame of a ConverseStream (`:exception-type` such as
/// `throttlingException`, payload `{"message": ...}`).
pub fn stream_exception(provider: &str, exception_type: &str, payload: &[u8]) -> Error {
    let parsed: Option<Value> = serde_json::from_slice(payload).ok();
    let mut name = exception_type.to_string();
    if let Some(first) = name.get_mut(0..1) {
        first.make_ascii_uppercase();
    }
    let mut message = parsed
        .as_ref()
        .and_then(message_of)
        .unwrap_or_else(|| format!("upstream sent {name} mid-stream"));
    // modelStreamErrorException carries the model's own status and message.
    let original = parsed.as_ref().and_then(|v| {
        let status = v.get("originalStatusCode")?.as_u64()?;
        Some((
            u16::try_from(status).ok()?,
            v.get("originalMessage")
                .and_then(Value::as_str)
                .map(str::to_string),
        ))
    });
    let mut kind = kind_for_exception(&name).unwrap_or(ErrorKind::InternalServer);
    if let Some((status, original_message)) = original {
        if let Some(m) = original_message.filter(|m| !m.is_empty()) {
            message = format!("{message} ({m})");
        }
        if kind == ErrorKind::InternalServer && status < 500 {
            kind = ErrorKind::from_status(status);
        }
    }
    let err = Error::new(refine(kind, &message), message).with_provider(provider);
    with_exception_code(err, Some(&name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;
    use std::time::Duration;

    fn headers(error_type: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            "x-amzn-errortype",
            HeaderValue::from_str(&format!(
                "{error_type}:http://internal.amazon.com/coral/com.amazon.bedrock/"
            ))
            .unwrap(),
        );
        h
    }

    #[test]
    fn each_exception_maps_to_its_kind() {
        let cases = [
            (400, "ValidationException", ErrorKind::BadRequest),
            (403, "AccessDeniedException", ErrorKind::PermissionDenied),
            (
                403,
                "UnrecognizedClientException",
                ErrorKind::Authentication,
            ),
            (403, "InvalidSignatureException", ErrorKind::Authentication),
            (403, "ExpiredTokenException", ErrorKind::Authentication),
            (404, "ResourceNotFoundException", ErrorKind::NotFound),
            (429, "ThrottlingException", ErrorKind::RateLimit),
            (400, "ServiceQuotaExceededException", ErrorKind::RateLimit),
            (429, "ModelNotReadyException", ErrorKind::ServiceUnavailable),
            (
                503,
                "ServiceUnavailableException",
                ErrorKind::ServiceUnavailable,
            ),
            (408, "ModelTimeoutException", ErrorKind::Timeout),
            (500, "InternalServerException", ErrorKind::InternalServer),
            (424, "ModelErrorException", ErrorKind::InternalServer),
        ];
        for (status, name, kind) in cases {
            let err = decode_error("bedrock", status, &headers(name), br#"{"message":"m"}"#);
            assert_eq!(err.kind, kind, "{name}");
            assert_eq!(err.message, "m");
            assert_eq!(
                err.to_openai_body().error.code.as_deref(),
                Some(kind.default_code().unwrap_or(name))
            );
            assert_eq!(err.upstream_status, Some(status));
            assert_eq!(err.provider.as_deref(), Some("bedrock"));
        }
    }

    #[test]
    fn context_window_messages() {
        for message in [
            "Input is too long for requested model.",
            "Too many input tokens. Max input tokens: 8192, request input token count: 9000",
            "The model returned the following errors: input length and `max_tokens` exceed context limit: 187254 + 20000 > 200000",
            "prompt is too long: 211000 tokens > 200000 maximum",
        ] {
            let body = serde_json::json!({ "message": message }).to_string();
            let err = decode_error("bedrock", 400, &headers("ValidationException"), body.as_bytes());
            assert_eq!(err.kind, ErrorKind::ContextWindowExceeded, "{message}");
            assert_eq!(err.message, message);
        }
        // Other validation errors stay BadRequest.
        let err = decode_error(
            "bedrock",
            400,
            &headers("ValidationException"),
            br#"{"message":"The provided model identifier is invalid."}"#,
        );
        assert_eq!(err.kind, ErrorKind::BadRequest);
    }

    #[test]
    fn body_type_status_fallback_and_retry_after() {
        let err = decode_error(
            "bedrock",
            400,
            &HeaderMap::new(),
            br#"{"__type":"com.amazon.coral.service#ThrottlingException","Message":"Rate exceeded"}"#,
        );
        assert_eq!(err.kind, ErrorKind::RateLimit);
        assert_eq!(err.message, "Rate exceeded");
        assert_eq!(err.code, None);
        assert_eq!(
            err.to_openai_body().error.code.as_deref(),
            Some("rate_limit_exceeded")
        );
        let mut h = headers("ThrottlingException");
        h.insert("retry-after", HeaderValue::from_static("3"));
        let err = decode_error("bedrock", 429, &h, br#"{"message":"Too many requests"}"#);
        assert_eq!(err.retry_after, Some(Duration::from_secs(3)));
        let err = decode_error(
            "bedrock",
            502,
            &HeaderMap::new(),
            b"<html>Bad Gateway</html>",
        );
        assert_eq!(err.kind, ErrorKind::BadGateway);
        assert_eq!(
            err.message,
            "upstream returned HTTP 502: <html>Bad Gateway</html>"
        );
        assert_eq!(err.code, None);
        let err = decode_error("bedrock", 503, &HeaderMap::new(), b"");
        assert_eq!(err.kind, ErrorKind::ServiceUnavailable);
        assert_eq!(err.message, "upstream returned HTTP 503 with an empty body");
        let err = decode_error(
            "bedrock",
            418,
            &headers("WeirdNewException"),
            br#"{"message":"x"}"#,
        );
        assert_eq!(err.kind, ErrorKind::BadRequest);
    }

    #[test]
    fn stream_exceptions() {
        let err = stream_exception(
            "bedrock",
            "throttlingException",
            br#"{"message":"slow down"}"#,
        );
        assert_eq!(err.kind, ErrorKind::RateLimit);
        assert_eq!(err.message, "slow down");
        let err = stream_exception(
            "bedrock",
            "modelStreamErrorException",
            br#"{"message":"Model stream error","originalStatusCode":400,"originalMessage":"prompt is too long"}"#,
        );
        assert_eq!(err.kind, ErrorKind::ContextWindowExceeded);
        assert_eq!(err.message, "Model stream error (prompt is too long)");
        let err = stream_exception("bedrock", "internalServerException", b"not json");
        assert_eq!(err.kind, ErrorKind::InternalServer);
        assert_eq!(
            err.message,
            "upstream sent InternalServerException mid-stream"
        );
        let err = stream_exception(
            "bedrock",
            "serviceUnavailableException",
            br#"{"message":"busy"}"#,
        );
        assert_eq!(err.kind, ErrorKind::ServiceUnavailable);
        assert_eq!(
            err.to_openai_body().error.code.as_deref(),
            Some("ServiceUnavailableException")
        );
    }
}
