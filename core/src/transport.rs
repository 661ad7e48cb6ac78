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
}

impl Default for TransportConfig {
    fn default() -> Self {
        TransportConfig {
            connect_timeout: Duration::from_secs(10),
            pool_idle_timeout: Duration::from_secs(90),
            pool_max_idle_per_host: 256,
            user_agent: concat!("llmux/", env!("CARGO_PKG_VERSION")).to_string(),
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
    /// Read the rest of the body (used for error responses to stream requests).
    pub async fn collect(mut self) -> Result<UpstreamResponse> {
        let mut buf = Vec::new();
        while let Some(piece) = self.body.next().await {
            buf.extend_from_slice(&piece?);
        }
        Ok(UpstreamResponse {
            status: self.status,
            headers: self.headers,
            body: Bytes::from(buf),
        })
    }
}

/// Pooled HTTP client. Cheap to clone; clones share the pool.
#[derive(Debug, Clone)]
pub struct HttpTransport {
    client: reqwest::Client,
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
            .build()
            .map_err(|e| {
                Error::new(
                    ErrorKind::ApiConnection,
                    format!("cannot build HTTP client: {e}"),
                )
            })?;
        Ok(HttpTransport { client })
    }

    /// The process-wide default transport, built on first use.
    pub fn shared() -> HttpTransport {
        static SHARED: OnceLock<HttpTransport> = OnceLock::new();
        SHARED
            .get_or_init(|| {
                HttpTransport::new(&TransportConfig::default()).unwrap_or_else(|_| HttpTransport {
                    client: reqwest::Client::new(),
                })
            })
            .clone()
    }

    fn build(
        &self,
        request: http::Request<Bytes>,
        timeout: Option<Duration>,
    ) -> reqwest::RequestBuilder {
        let (parts, body) = request.into_parts();
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
        let body = response.bytes().await.map_err(map_reqwest_error)?;
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
    serde_json::from_slice(body).map_err(|e| {
        Error::bad_gateway(format!("cannot decode {provider} response: {e}"))
            .with_provider(provider)
            .with_model(model)
    })
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
