//! A mock upstream on 127.0.0.1: records every request and answers either from a
//! queue of scripted responses (error injection, custom streams, delays) or,
//! when the queue is empty, with a provider's default behaviour.
//!
//! Provider modules (`openai`, …) supply the default behaviour in that
//! provider's real wire format.

pub mod anthropic;
pub mod bedrock;
pub mod cohere;
pub mod gemini;
pub mod ollama;
pub mod openai;
pub mod openai_responses;

use std::collections::VecDeque;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use axum::Router;
use bytes::Bytes;
use futures::StreamExt;
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use serde_json::Value;

/// A request the mock received.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    pub method: Method,
    pub path: String,
    pub query: Option<String>,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl RecordedRequest {
    /// The body parsed as JSON (`Value::Null` if it is not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    /// A header's value as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Path plus `?query` when there is one.
    pub fn path_and_query(&self) -> String {
        match &self.query {
            Some(q) => format!("{}?{}", self.path, q),
            None => self.path.clone(),
        }
    }
}

/// One piece of a streamed body.
#[derive(Debug, Clone)]
pub enum StreamPart {
    /// Send these bytes.
    Bytes(Bytes),
    /// Wait before the next part.
    Delay(Duration),
    /// Drop the connection without finishing the body (after a short pause,
    /// so the bytes before it are flushed).
    Abort,
}

/// A scripted answer.
#[derive(Debug, Clone)]
pub struct MockResponse {
    pub status: StatusCode,
    pub headers: Vec<(String, String)>,
    pub body: MockBody,
    /// Wait this long before sending the response head.
    pub delay: Duration,
}

/// A scripted body.
#[derive(Debug, Clone)]
pub enum MockBody {
    Full(Bytes),
    Stream(Vec<StreamPart>),
}

impl MockResponse {
    /// A JSON response.
    pub fn json(status: u16, value: &Value) -> Self {
        MockResponse {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            headers: vec![("content-type".into(), "application/json".into())],
            body: MockBody::Full(Bytes::from(value.to_string())),
            delay: Duration::ZERO,
        }
    }

    /// A response with raw bytes and a content type.
    pub fn raw(status: u16, content_type: &str, body: impl Into<Bytes>) -> Self {
        MockResponse {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            headers: vec![("content-type".into(), content_type.into())],
            body: MockBody::Full(body.into()),
            delay: Duration::ZERO,
        }
    }

    /// A 200 `text/event-stream` response made of `parts`.
    pub fn stream(content_type: &str, parts: Vec<StreamPart>) -> Self {
        MockResponse {
            status: StatusCode::OK,
            headers: vec![
                ("content-type".into(), content_type.into()),
                ("cache-control".into(), "no-cache".into()),
            ],
            body: MockBody::Stream(parts),
            delay: Duration::ZERO,
        }
    }

    /// An SSE response: each string is sent as one `data: …\n\n` event.
    pub fn sse_data<I, S>(events: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let parts = events
            .into_iter()
            .map(|e| StreamPart::Bytes(Bytes::from(format!("data: {}\n\n", e.as_ref()))))
            .collect();
        Self::stream("text/event-stream", parts)
    }

    /// Add a header.
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Delay the response head.
    pub fn with_delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    fn into_response(self, shared: Arc<Mutex<Shared>>) -> Response {
        let body = match self.body {
            MockBody::Full(b) => Body::from(b),
            MockBody::Stream(parts) => {
                let guard = StreamGuard {
                    shared,
                    finished: false,
                };
                let stream = futures::stream::iter(parts).filter_map(|part| async move {
                    match part {
                        StreamPart::Bytes(b) => Some(Ok::<Bytes, std::io::Error>(b)),
                        StreamPart::Delay(d) => {
                            tokio::time::sleep(d).await;
                            None
                        }
                        StreamPart::Abort => {
                            // Let what was sent so far reach the client first,
                            // as a real mid-stream failure would.
                            tokio::time::sleep(Duration::from_millis(20)).await;
                            Some(Err(std::io::Error::other("mock aborted stream")))
                        }
                    }
                });
                // The guard lives as long as the body: dropped unfinished means
                // the client went away (or the mock aborted) mid-stream.
                let stream = stream.chain(futures::stream::iter(std::iter::from_fn({
                    let mut guard = Some(guard);
                    move || {
                        if let Some(mut g) = guard.take() {
                            g.finished = true;
                        }
                        None
                    }
                })));
                Body::from_stream(stream)
            }
        };
        let mut response = Response::new(body);
        *response.status_mut() = self.status;
        for (k, v) in self.headers {
            if let (Ok(name), Ok(value)) = (
                http::HeaderName::from_bytes(k.as_bytes()),
                HeaderValue::from_str(&v),
            ) {
                response.headers_mut().append(name, value);
            }
        }
        response
    }
}

/// Counts streamed bodies dropped before their end.
struct StreamGuard {
    shared: Arc<Mutex<Shared>>,
    finished: bool,
}

impl Drop for StreamGuard {
    fn drop(&mut self) {
        if !self.finished {
            lock(&self.shared).streams_cut_short += 1;
        }
    }
}

/// Default behaviour for requests with no scripted response.
pub type Behaviour = fn(&RecordedRequest) -> MockResponse;

struct Shared {
    requests: Vec<RecordedRequest>,
    queue: VecDeque<MockResponse>,
    streams_cut_short: u64,
}

#[derive(Clone)]
struct AppState {
    shared: Arc<Mutex<Shared>>,
    behaviour: Behaviour,
}

fn lock(m: &Mutex<Shared>) -> MutexGuard<'_, Shared> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A running mock server; stops when dropped.
pub struct MockServer {
    addr: SocketAddr,
    shared: Arc<Mutex<Shared>>,
    task: tokio::task::JoinHandle<()>,
}

impl MockServer {
    /// Start on a random 127.0.0.1 port with `behaviour` as the default.
    pub async fn start(behaviour: Behaviour) -> std::io::Result<MockServer> {
        let shared = Arc::new(Mutex::new(Shared {
            requests: Vec::new(),
            queue: VecDeque::new(),
            streams_cut_short: 0,
        }));
        let state = AppState {
            shared: shared.clone(),
            behaviour,
        };
        let app = Router::new().fallback(handle).with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(MockServer { addr, shared, task })
    }

    /// `http://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Answer the next request with `response` (first in, first out).
    pub fn enqueue(&self, response: MockResponse) {
        lock(&self.shared).queue.push_back(response);
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.shared).requests.clone()
    }

    /// Streamed responses whose body was dropped before its end (the client
    /// disconnected, or a scripted `Abort`).
    pub fn streams_cut_short(&self) -> u64 {
        lock(&self.shared).streams_cut_short
    }

    /// The most recent request.
    pub fn last_request(&self) -> Option<RecordedRequest> {
        lock(&self.shared).requests.last().cloned()
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn handle(State(state): State<AppState>, request: Request) -> Result<Response, Infallible> {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, 64 * 1024 * 1024)
        .await
        .unwrap_or_default();
    let recorded = RecordedRequest {
        method: parts.method,
        path: parts.uri.path().to_string(),
        query: parts.uri.query().map(str::to_string),
        headers: parts.headers,
        body,
    };
    let scripted = {
        let mut shared = lock(&state.shared);
        shared.requests.push(recorded.clone());
        shared.queue.pop_front()
    };
    let response = scripted.unwrap_or_else(|| (state.behaviour)(&recorded));
    if !response.delay.is_zero() {
        tokio::time::sleep(response.delay).await;
    }
    Ok(response.into_response(state.shared.clone()))
}
