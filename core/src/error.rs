//! The one error type of llmux.
//!
//! Providers only *classify* what went wrong into an [`ErrorKind`]; rendering to
//! the wire (OpenAI's `{"error": {...}}` body plus an HTTP status) happens here,
//! once. The kind also decides what the router does next: retry, fall back to
//! another model group, or cool a deployment down.

use std::fmt;
use std::time::Duration;

use serde::Serialize;

/// Result alias used across llmux.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong, in the categories OpenAI and LiteLLM users already catch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The request is malformed or asks for something the model cannot do (400).
    BadRequest,
    /// The prompt (plus requested output) does not fit the model's context (400).
    ContextWindowExceeded,
    /// The provider refused the input or output on policy grounds (400).
    ContentPolicyViolation,
    /// Missing or invalid credentials (401).
    Authentication,
    /// Credentials are valid but not allowed to do this (403).
    PermissionDenied,
    /// Unknown model, deployment or resource (404).
    NotFound,
    /// The call did not finish in time (408).
    Timeout,
    /// The request was well-formed but semantically rejected (422).
    UnprocessableEntity,
    /// Too many requests or tokens; see `retry_after` (429).
    RateLimit,
    /// The provider failed (500).
    InternalServer,
    /// The provider answered with something llmux cannot read (502).
    BadGateway,
    /// The provider is overloaded or down (503).
    ServiceUnavailable,
    /// The provider could not be reached at all (connection refused, TLS, DNS).
    ApiConnection,
    /// The provider has no such endpoint or feature.
    Unsupported,
}

impl ErrorKind {
    /// The HTTP status this kind is rendered with.
    pub fn status(self) -> u16 {
        match self {
            ErrorKind::BadRequest
            | ErrorKind::ContextWindowExceeded
            | ErrorKind::ContentPolicyViolation
            | ErrorKind::Unsupported => 400,
            ErrorKind::Authentication => 401,
            ErrorKind::PermissionDenied => 403,
            ErrorKind::NotFound => 404,
            ErrorKind::Timeout => 408,
            ErrorKind::UnprocessableEntity => 422,
            ErrorKind::RateLimit => 429,
            ErrorKind::InternalServer | ErrorKind::ApiConnection => 500,
            ErrorKind::BadGateway => 502,
            ErrorKind::ServiceUnavailable => 503,
        }
    }

    /// The OpenAI `error.type` string for this kind.
    pub fn openai_type(self) -> &'static str {
        match self {
            ErrorKind::BadRequest
            | ErrorKind::ContextWindowExceeded
            | ErrorKind::ContentPolicyViolation
            | ErrorKind::NotFound
            | ErrorKind::UnprocessableEntity
            | ErrorKind::Unsupported => "invalid_request_error",
            ErrorKind::Authentication => "authentication_error",
            ErrorKind::PermissionDenied => "permission_error",
            ErrorKind::Timeout => "timeout_error",
            ErrorKind::RateLimit => "rate_limit_error",
            ErrorKind::InternalServer | ErrorKind::BadGateway => "api_error",
            ErrorKind::ServiceUnavailable => "service_unavailable_error",
            ErrorKind::ApiConnection => "api_connection_error",
        }
    }

    /// The default OpenAI `error.code` when the upstream did not give one.
    pub fn default_code(self) -> Option<&'static str> {
        match self {
            ErrorKind::ContextWindowExceeded => Some("context_length_exceeded"),
            ErrorKind::ContentPolicyViolation => Some("content_policy_violation"),
            ErrorKind::Authentication => Some("invalid_api_key"),
            ErrorKind::RateLimit => Some("rate_limit_exceeded"),
            ErrorKind::Unsupported => Some("unsupported"),
            _ => None,
        }
    }

    /// The name LiteLLM gives the equivalent exception class, for logs and docs.
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::BadRequest => "BadRequestError",
            ErrorKind::ContextWindowExceeded => "ContextWindowExceededError",
            ErrorKind::ContentPolicyViolation => "ContentPolicyViolationError",
            ErrorKind::Authentication => "AuthenticationError",
            ErrorKind::PermissionDenied => "PermissionDeniedError",
            ErrorKind::NotFound => "NotFoundError",
            ErrorKind::Timeout => "Timeout",
            ErrorKind::UnprocessableEntity => "UnprocessableEntityError",
            ErrorKind::RateLimit => "RateLimitError",
            ErrorKind::InternalServer => "InternalServerError",
            ErrorKind::BadGateway => "BadGatewayError",
            ErrorKind::ServiceUnavailable => "ServiceUnavailableError",
            ErrorKind::ApiConnection => "APIConnectionError",
            ErrorKind::Unsupported => "UnsupportedError",
        }
    }

    /// Whether the same call may succeed if tried again (on this or another
    /// deployment of the same group).
    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            ErrorKind::Timeout
                | ErrorKind::RateLimit
                | ErrorKind::InternalServer
                | ErrorKind::BadGateway
                | ErrorKind::ServiceUnavailable
                | ErrorKind::ApiConnection
        )
    }

    /// Which fallback list applies when this error ends a model group's attempts.
    pub fn fallback_class(self) -> FallbackClass {
        match self {
            ErrorKind::ContextWindowExceeded => FallbackClass::ContextWindow,
            ErrorKind::ContentPolicyViolation => FallbackClass::ContentPolicy,
            // A caller's own mistake fails the same way everywhere.
            ErrorKind::BadRequest | ErrorKind::UnprocessableEntity | ErrorKind::Unsupported => {
                FallbackClass::None
            }
            _ => FallbackClass::Default,
        }
    }

    /// Whether this error counts against a deployment's health (cooldown).
    pub fn counts_against_deployment(self) -> bool {
        matches!(
            self,
            ErrorKind::Authentication
                | ErrorKind::PermissionDenied
                | ErrorKind::NotFound
                | ErrorKind::Timeout
                | ErrorKind::RateLimit
                | ErrorKind::InternalServer
                | ErrorKind::BadGateway
                | ErrorKind::ServiceUnavailable
                | ErrorKind::ApiConnection
        )
    }

    /// The kind an upstream HTTP status maps to when the body says nothing finer.
    pub fn from_status(status: u16) -> ErrorKind {
        match status {
            400 => ErrorKind::BadRequest,
            401 => ErrorKind::Authentication,
            403 => ErrorKind::PermissionDenied,
            404 => ErrorKind::NotFound,
            408 => ErrorKind::Timeout,
            409 | 413 | 415 => ErrorKind::BadRequest,
            422 => ErrorKind::UnprocessableEntity,
            429 => ErrorKind::RateLimit,
            502 => ErrorKind::BadGateway,
            503 | 529 => ErrorKind::ServiceUnavailable,
            504 => ErrorKind::Timeout,
            s if (400..500).contains(&s) => ErrorKind::BadRequest,
            _ => ErrorKind::InternalServer,
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Which of the router's fallback lists an error selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FallbackClass {
    /// `fallbacks`
    Default,
    /// `context_window_fallbacks`
    ContextWindow,
    /// `content_policy_fallbacks`
    ContentPolicy,
    /// No fallback: the request itself is wrong.
    None,
}

/// An llmux error: a kind plus everything needed to log it and render it.
///
/// The details live behind one box so `Result<T, Error>` stays small on the
/// hot path; fields are read through `Deref` (`err.kind`, `err.message`).
#[derive(Debug, Clone, thiserror::Error)]
pub struct Error(Box<ErrorDetails>);

/// The fields of an [`Error`].
#[derive(Debug, Clone)]
pub struct ErrorDetails {
    /// What went wrong.
    pub kind: ErrorKind,
    /// Human-readable message (for upstream errors, the provider's own message).
    pub message: String,
    /// Provider prefix (`openai`, `groq`, …) when the error came from a provider.
    pub provider: Option<String>,
    /// Model the call was for.
    pub model: Option<String>,
    /// HTTP status the upstream answered with, if it answered.
    pub upstream_status: Option<u16>,
    /// How long the upstream asked us to wait before trying again.
    pub retry_after: Option<Duration>,
    /// OpenAI's `error.param`.
    pub param: Option<String>,
    /// OpenAI's `error.code` (the upstream's when it gave one).
    pub code: Option<String>,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.kind)?;
        if let Some(p) = &self.provider {
            write!(f, "{p}: ")?;
        }
        f.write_str(&self.message)
    }
}

impl std::ops::Deref for Error {
    type Target = ErrorDetails;
    fn deref(&self) -> &ErrorDetails {
        &self.0
    }
}

impl std::ops::DerefMut for Error {
    fn deref_mut(&mut self) -> &mut ErrorDetails {
        &mut self.0
    }
}

impl Error {
    /// A new error of `kind` with `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error(Box::new(ErrorDetails {
            kind,
            message: message.into(),
            provider: None,
            model: None,
            upstream_status: None,
            retry_after: None,
            param: None,
            code: None,
        }))
    }

    /// A `BadRequest` error.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::BadRequest, message)
    }

    /// An `Authentication` error.
    pub fn authentication(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Authentication, message)
    }

    /// The upstream answered with something we cannot decode.
    pub fn bad_gateway(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::BadGateway, message)
    }

    /// `provider` has no `endpoint`.
    pub fn unsupported(provider: &str, endpoint: &str) -> Self {
        Error::new(
            ErrorKind::Unsupported,
            format!("{provider} does not support the {endpoint} endpoint"),
        )
        .with_provider(provider)
    }

    /// A provider needs an API key and none was given.
    pub fn missing_api_key(provider: &str, env_var: &str) -> Self {
        Error::new(
            ErrorKind::Authentication,
            format!(
                "no API key for {provider}: set the {env_var} environment variable or pass api_key"
            ),
        )
        .with_provider(provider)
    }

    /// Attach the provider prefix.
    pub fn with_provider(mut self, provider: impl Into<String>) -> Self {
        self.provider = Some(provider.into());
        self
    }

    /// Attach the model name.
    pub fn with_model(mut self, model: impl Into<String>) -> Self {
        self.model = Some(model.into());
        self
    }

    /// Attach the upstream HTTP status.
    pub fn with_upstream_status(mut self, status: u16) -> Self {
        self.upstream_status = Some(status);
        self
    }

    /// Attach a retry-after delay.
    pub fn with_retry_after(mut self, retry_after: Option<Duration>) -> Self {
        self.retry_after = retry_after;
        self
    }

    /// Attach OpenAI's `param`.
    pub fn with_param(mut self, param: impl Into<String>) -> Self {
        self.param = Some(param.into());
        self
    }

    /// Attach OpenAI's `code`.
    pub fn with_code(mut self, code: impl Into<String>) -> Self {
        self.code = Some(code.into());
        self
    }

    /// HTTP status to answer the client with.
    pub fn status(&self) -> u16 {
        self.kind.status()
    }

    /// OpenAI's error body: `{"error": {"message", "type", "param", "code"}}`.
    pub fn to_openai_body(&self) -> OpenAiErrorBody {
        OpenAiErrorBody {
            error: OpenAiErrorDetail {
                message: self.message.clone(),
                r#type: self.kind.openai_type().to_string(),
                param: self.param.clone(),
                code: self
                    .code
                    .clone()
                    .or_else(|| self.kind.default_code().map(str::to_string)),
            },
        }
    }

    /// OpenAI's error body, serialized.
    pub fn to_openai_json(&self) -> String {
        // Serializing plain strings and options cannot fail.
        serde_json::to_string(&self.to_openai_body()).unwrap_or_else(|_| {
            String::from(
                r#"{"error":{"message":"error","type":"api_error","param":null,"code":null}}"#,
            )
        })
    }
}

/// OpenAI's error envelope.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct OpenAiErrorBody {
    /// The error itself.
    pub error: OpenAiErrorDetail,
}

/// The inside of OpenAI's error envelope.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct OpenAiErrorDetail {
    /// Human-readable message.
    pub message: String,
    /// Error class (`invalid_request_error`, …).
    #[serde(rename = "type")]
    pub r#type: String,
    /// The request parameter at fault, if any.
    pub param: Option<String>,
    /// Machine-readable code, if any.
    pub code: Option<String>,
}

/// Parse an HTTP `retry-after` (seconds) or OpenAI's `retry-after-ms` header value.
pub fn parse_retry_after(headers: &http::HeaderMap) -> Option<Duration> {
    if let Some(ms) = headers
        .get("retry-after-ms")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok())
    {
        if ms.is_finite() && ms >= 0.0 {
            return Some(Duration::from_secs_f64(ms / 1000.0));
        }
    }
    let secs = headers
        .get(http::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok())?;
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_openai_error_json() {
        let err = Error::new(ErrorKind::ContextWindowExceeded, "too long")
            .with_provider("openai")
            .with_param("messages");
        assert_eq!(err.status(), 400);
        assert_eq!(
            err.to_openai_json(),
            r#"{"error":{"message":"too long","type":"invalid_request_error","param":"messages","code":"context_length_exceeded"}}"#
        );
    }

    #[test]
    fn upstream_code_wins_over_default() {
        let err = Error::new(ErrorKind::RateLimit, "slow down").with_code("insufficient_quota");
        assert_eq!(
            err.to_openai_body().error.code.as_deref(),
            Some("insufficient_quota")
        );
        assert_eq!(err.status(), 429);
    }

    #[test]
    fn classification() {
        assert!(ErrorKind::RateLimit.is_retryable());
        assert!(!ErrorKind::BadRequest.is_retryable());
        assert_eq!(
            ErrorKind::ContextWindowExceeded.fallback_class(),
            FallbackClass::ContextWindow
        );
        assert_eq!(
            ErrorKind::ContentPolicyViolation.fallback_class(),
            FallbackClass::ContentPolicy
        );
        assert_eq!(ErrorKind::BadRequest.fallback_class(), FallbackClass::None);
        assert_eq!(
            ErrorKind::ServiceUnavailable.fallback_class(),
            FallbackClass::Default
        );
        assert_eq!(ErrorKind::from_status(529), ErrorKind::ServiceUnavailable);
        assert_eq!(ErrorKind::from_status(418), ErrorKind::BadRequest);
        assert_eq!(ErrorKind::from_status(599), ErrorKind::InternalServer);
    }

    #[test]
    fn retry_after_headers() {
        let mut h = http::HeaderMap::new();
        h.insert("retry-after", http::HeaderValue::from_static("2"));
        assert_eq!(parse_retry_after(&h), Some(Duration::from_secs(2)));
        h.insert("retry-after-ms", http::HeaderValue::from_static("150"));
        assert_eq!(parse_retry_after(&h), Some(Duration::from_millis(150)));
        let mut bad = http::HeaderMap::new();
        bad.insert("retry-after", http::HeaderValue::from_static("soon"));
        assert_eq!(parse_retry_after(&bad), None);
    }
}
