//! The one HTTP transport every provider uses: a pooled reqwest client.
//!
//! Codecs build plain `http::Request<Bytes>` values and read plain bodies; only
//! this module talks to the network. Proxy environment variables (`HTTPS_PROXY`,
//! `HTTP_PROXY`, `NO_PROXY`) are honoured by reqwest.

use std::sync::OnceLock;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use http::{HeaderMap, StatusCode};

use crate::error::{Error, ErrorKind, Result};
use crate::stream::ByteStream;

/// Settings for the shared client.
#[derive(Debug, Clone)]
pub struct TransportConfig {
    /// Time allowed to open a TCP (and TLS) connection.
    pub connect_timeout: Duration,
    /// How long an idle pooled connection is kept.
    pub pool_idle_timeout: Duration,
    /// Idle connections kept per host.
    pub pool_max_idle_per_host: usize,
    /// `User-Agent` sent upstream.
    pub user_agent: String,
    /// Largest whole (non-streamed) response body read; a larger one is an
    /// error instead of memory the upstream decides.
    pub max_response_bytes: usize,
}

/// The default cap on a whole upstream response (an hour of speech audio
/// or a batch of base64 images fits).
pub const MAX_RESPONSE_BYTES: usize = 100 << 20;
/// The most of an error body read (its message is what matters).
const MAX_ERROR_BODY_BYTES: usize = 1 << 20;
/// Redirects followed, all to the upstream's own origin.
const MAX_REDIRECTS: usize = 5;

impl Default for TransportConfig {
    fn default() -> Self {
        TransportConfig {
            connect_timeout: Duration::from_secs(10),
            pool_idle_timeout: Duration::from_secs(90),
            pool_max_idle_per_host: 256,
            user_agent: concat!("llmux/", env!("CARGO_PKG_VERSION")).to_string(),
            max_response_bytes: MAX_RESPONSE_BYTES,
        }
    }
}

/// A whole upstream response.
#[derive(Debug, Clone)]
pub struct UpstreamResponse {
    /// HTTP status the upstream answered with.
    pub status: StatusCode,
    /// Response headers as the upstream sent them.
    pub headers: HeaderMap,
    /// The complete response body.
    pub body: Bytes,
}

/// An upstream response whose body is still arriving.
pub struct UpstreamStream {
    /// HTTP status the upstream answered with.
    pub status: StatusCode,
    /// Response headers as the upstream sent them.
    pub headers: HeaderMap,
    /// The body chunks still to be read from the connection.
    pub body: ByteStream,
}

impl UpstreamStream {
    /// Read the rest of the body (used for error responses to stream
    /// requests), keeping at most 1 MiB of it.
    pub async fn collect(self) -> Result<UpstreamResponse> {
        let body = read_capped(self.body, MAX_ERROR_BODY_BYTES, Overflow::Truncate).await?;
        Ok(UpstreamResponse {
            status: self.status,
            headers: self.headers,
            body,
        })
    }
}

/// What to do with a body longer than its cap.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Overflow {
    /// Keep the first `cap` bytes (an error body: its start says what went wrong).
    Truncate,
    /// Fail: a response that large is not served.
    Refuse,
}

/// Read `body` whole, up to `cap` bytes.
async fn read_capped(mut body: ByteStream, cap: usize, overflow: Overflow) -> Result<Bytes> {
    let mut buf = Vec::new();
    while let Some(piece) = body.next().await {
        let piece = piece?;
        if buf.len() + piece.len() > cap {
            if overflow == Overflow::Refuse {
                return Err(Error::bad_gateway(format!(
                    "upstream response is larger than {cap} bytes; not read"
                )));
            }
            buf.extend_from_slice(&piece[..cap - buf.len()]);
            break;
        }
        buf.extend_from_slice(&piece);
    }
    Ok(Bytes::from(buf))
}

/// Pooled HTTP client. Cheap to clone; clones share the pool.
#[derive(Debug, Clone)]
pub struct HttpTransport {
    client: reqwest::Client,
    max_response_bytes: usize,
}

/// Follow a redirect only to the upstream's own scheme, host and port (a
/// `307` elsewhere would re-send the prompt and the provider key to a
/// host nobody configured), at most [`MAX_REDIRECTS`] times.
fn same_origin_redirects() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        let same_origin = attempt.previous().first().is_some_and(|first| {
            first.scheme() == attempt.url().scheme()
                && first.host_str() == attempt.url().host_str()
                && first.port_or_known_default() == attempt.url().port_or_known_default()
        });
        if same_origin && attempt.previous().len() <= MAX_REDIRECTS {
            attempt.follow()
        } else {
            attempt.stop()
        }
    })
}

impl HttpTransport {
    /// A transport with its own connection pool.
    pub fn new(config: &TransportConfig) -> Result<Self> {
        let client = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .pool_idle_timeout(config.pool_idle_timeout)
            .pool_max_idle_per_host(config.pool_max_idle_per_host)
            .user_agent(config.user_agent.clone())
            .tcp_nodelay(true)
            .redirect(same_origin_redirects())
            .build()
            .map_err(|e| {
                Error::new(
                    ErrorKind::ApiConnection,
                    format!("cannot build HTTP client: {e}"),
                )
            })?;
        Ok(HttpTransport {
            client,
            max_response_bytes: config.max_response_bytes,
        })
    }

    /// The process-wide default transport, built on first use.
    pub fn shared() -> HttpTransport {
        static SHARED: OnceLock<HttpTransport> = OnceLock::new();
        SHARED
            .get_or_init(|| {
                HttpTransport::new(&TransportConfig::default()).unwrap_or_else(|_| HttpTransport {
                    client: reqwest::Client::new(),
                    max_response_bytes: MAX_RESPONSE_BYTES,
                })
            })
            .clone()
    }

    fn build(
        &self,
        request: http::Request<impl Into<reqwest::Body>>,
        timeout: Option<Duration>,
    ) -> reqwest::RequestBuilder {
        let (mut parts, body) = request.into_parts();
        if let Some(traceparent) = crate::propagation::current() {
            parts.headers.entry("traceparent").or_insert(traceparent);
        }
        let mut builder = self
            .client
            .request(parts.method, parts.uri.to_string())
            .headers(parts.headers)
            .body(body);
        if let Some(t) = timeout {
            builder = builder.timeout(t);
        }
        builder
    }

    /// Send `request` and read the whole response. `timeout` bounds the whole call.
    pub async fn send(
        &self,
        request: http::Request<Bytes>,
        timeout: Option<Duration>,
    ) -> Result<UpstreamResponse> {
        let response = self
            .build(request, timeout)
            .send()
            .await
            .map_err(map_reqwest_error)?;
        let status = response.status();
        let headers = response.headers().clone();
        let declared = response.content_length().unwrap_or(0);
        let cap = self.max_response_bytes;
        let overflow = if status.is_success() {
            if declared > cap as u64 {
                return Err(Error::bad_gateway(format!(
                    "upstream response is larger than {cap} bytes ({declared}); not read"
                )));
            }
            Overflow::Refuse
        } else {
            Overflow::Truncate
        };
        let cap = if status.is_success() {
            cap
        } else {
            MAX_ERROR_BODY_BYTES
        };
        let chunks: ByteStream = Box::pin(
            response
                .bytes_stream()
                .map(|r| r.map_err(map_reqwest_error)),
        );
        let body = read_capped(chunks, cap, overflow).await?;
        Ok(UpstreamResponse {
            status,
            headers,
            body,
        })
    }

    /// Send `request` and return as soon as status and headers are read.
    /// `timeout` bounds the wait for the response head, not the body.
    pub async fn send_streaming(
        &self,
        request: http::Request<Bytes>,
        timeout: Option<Duration>,
    ) -> Result<UpstreamStream> {
        self.forward(request.map(reqwest::Body::from), timeout)
            .await
    }

    /// [`send_streaming`](Self::send_streaming) for a request whose body may
    /// itself still be arriving (a pass-through upload).
    pub async fn forward(
        &self,
        request: http::Request<reqwest::Body>,
        timeout: Option<Duration>,
    ) -> Result<UpstreamStream> {
        let pending = self.build(request, None).send();
        let response = match timeout {
            Some(t) => tokio::time::timeout(t, pending).await.map_err(|_| {
                Error::new(
                    ErrorKind::Timeout,
                    format!("no response from upstream within {} ms", t.as_millis()),
                )
            })?,
            None => pending.await,
        }
        .map_err(map_reqwest_error)?;
        let status = response.status();
        let headers = response.headers().clone();
        let body: ByteStream = Box::pin(response.bytes_stream().map(|r| {
            r.map_err(|e| {
                Error::new(
                    ErrorKind::ApiConnection,
                    format!("upstream connection failed mid-stream: {e}"),
                )
            })
        }));
        Ok(UpstreamStream {
            status,
            headers,
            body,
        })
    }
}

/// Turns a non-2xx upstream response into the provider's classified error.
pub type ErrorDecoder<'a> = &'a (dyn Fn(&UpstreamResponse) -> Error + Sync);

impl HttpTransport {
    /// Send `request`; a 2xx response is returned whole, any other status is
    /// turned into an error by `on_error`. Errors carry `provider` and `model`.
    pub async fn call(
        &self,
        request: http::Request<Bytes>,
        timeout: Option<Duration>,
        provider: &str,
        model: &str,
        on_error: ErrorDecoder<'_>,
    ) -> Result<UpstreamResponse> {
        let response = self
            .send(request, timeout)
            .await
            .map_err(|e| e.with_provider(provider).with_model(model))?;
        if response.status.is_redirection() {
            return Err(refused_redirect(&response.headers, provider, model));
        }
        if !response.status.is_success() {
            return Err(upstream_error(on_error(&response)).with_model(model));
        }
        Ok(response)
    }

    /// Like [`call`](Self::call) for a streamed response: a 2xx response is
    /// returned with its body still arriving; for any other status the body
    /// is read whole and handed to `on_error`.
    pub async fn call_streaming(
        &self,
        request: http::Request<Bytes>,
        timeout: Option<Duration>,
        provider: &str,
        model: &str,
        on_error: ErrorDecoder<'_>,
    ) -> Result<UpstreamStream> {
        let upstream = self
            .send_streaming(request, timeout)
            .await
            .map_err(|e| e.with_provider(provider).with_model(model))?;
        if upstream.status.is_redirection() {
            return Err(refused_redirect(&upstream.headers, provider, model));
        }
        if !upstream.status.is_success() {
            let whole = upstream
                .collect()
                .await
                .map_err(|e| e.with_provider(provider).with_model(model))?;
            return Err(upstream_error(on_error(&whole)).with_model(model));
        }
        Ok(upstream)
    }
}

/// A redirect the transport did not follow (to another host, or too many).
fn refused_redirect(headers: &HeaderMap, provider: &str, model: &str) -> Error {
    let location = headers
        .get(http::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("(no location)");
    Error::bad_gateway(format!(
        "upstream redirected to {}; redirects to another host are not followed",
        crate::text::redact_secrets(crate::text::truncate(location, 200))
    ))
    .with_provider(provider)
    .with_model(model)
}

/// An upstream's error as callers see it: credentials the upstream echoed
/// (its own request's `Authorization`, say) are redacted from the message.
fn upstream_error(mut e: Error) -> Error {
    if let std::borrow::Cow::Owned(clean) = crate::text::redact_secrets(&e.message) {
        e.message = clean;
    }
    e
}

/// Decode a JSON response body, or fail with `BadGateway` naming the provider.
pub fn decode_json<T: serde::de::DeserializeOwned>(
    body: &[u8],
    provider: &str,
    model: &str,
) -> Result<T> {
    serde_json::from_slice(body).map_err(|e| decode_failure(provider, model, "response", e))
}

/// The `BadGateway` for an upstream `answer` (`response`, `embeddings
/// response`) that cannot be read: `cannot decode {provider} {answer}: {what}`.
pub fn decode_failure(
    provider: &str,
    model: &str,
    answer: &str,
    what: impl std::fmt::Display,
) -> Error {
    Error::bad_gateway(format!("cannot decode {provider} {answer}: {what}"))
        .with_provider(provider)
        .with_model(model)
}

fn map_reqwest_error(e: reqwest::Error) -> Error {
    if e.is_timeout() {
        Error::new(
            ErrorKind::Timeout,
            format!("upstream request timed out: {e}"),
        )
    } else if e.is_connect() {
        Error::new(
            ErrorKind::ApiConnection,
            format!("cannot connect to upstream: {}", error_chain(&e)),
        )
    } else if e.is_builder() {
        Error::bad_request(format!("invalid upstream request: {}", error_chain(&e)))
    } else {
        Error::new(
            ErrorKind::ApiConnection,
            format!("upstream request failed: {}", error_chain(&e)),
        )
    }
}

/// The error and its causes on one line.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}
