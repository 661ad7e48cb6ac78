//! The provider conformance suite: behaviour every provider must share,
//! written once.
//!
//! A provider's test file implements [`Conformance`] (how to reach its mock,
//! what its error bodies and stream framing look like) and invokes
//! [`conformance_tests!`](crate::conformance_tests), which expands to one
//! `#[tokio::test]` per family below. The provider file then keeps only what
//! is specific to it: exact request bodies, auth schemes, quirks.
//!
//! Families: each error status → its kind (with retry-after, upstream status,
//! provider and model, the same error from `chat_stream` before the stream
//! starts); a stream split at every byte decoding the same; a mid-stream error
//! event; a stream truncated before its terminal event; a connection aborted
//! mid-body; a malformed 200 body; a timeout; a refused connection.
//!
//! It also holds what the provider files share outside the suite: the
//! [`hello`] request, [`assert_recent`], and the [`expected_chunk`] /
//! [`expected_usage_chunk`] shapes their exact stream tests compare against.

// Test-assertion code: failing loudly, with the reason, is the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;
use llmux_core::types::chat::{ChatCompletionRequest, ChatMessage, FunctionDefinition, Tool};
use llmux_core::types::embeddings::EmbeddingRequest;
use llmux_core::{ChatCompletionChunk, Error, ErrorKind, MapEnv, Provider, ProviderParams};
use serde_json::{json, Value};

use crate::mock::{Behaviour, MockResponse, MockServer, RecordedRequest, StreamPart};

/// The `retry-after` (seconds) every scripted error answer carries.
const RETRY_AFTER_SECS: u64 = 7;
/// How long a scripted answer waits before its head in the timeout test.
const SLOW_HEAD: Duration = Duration::from_millis(500);
/// The client timeout of the timeout test: well under [`SLOW_HEAD`].
const SHORT_TIMEOUT: Duration = Duration::from_millis(50);

/// How one provider is driven through the shared tests.
///
/// All methods are associated functions: a harness is a unit struct that
/// only names a provider and its mock.
pub trait Conformance {
    /// The provider name errors carry (`openai`, `ollama_chat`, …).
    const PROVIDER: &'static str;
    /// Text of the mock's default chat answer.
    const REPLY: &'static str;
    /// Text that [`stream_body`](Self::stream_body) aggregates to: by
    /// default the default answer's.
    const STREAM_TEXT: &'static str = Self::REPLY;
    /// Message of the error that ends [`truncated_stream`](Self::truncated_stream).
    const TRUNCATED_MESSAGE: &'static str;

    /// The mock's default behaviour (`mock::<provider>::behaviour`).
    fn behaviour() -> Behaviour;

    /// The provider under test, talking to the mock at `base_url` (the bare
    /// `http://127.0.0.1:PORT`), with `timeout` as its call timeout.
    fn provider(base_url: &str, timeout: Option<Duration>) -> Arc<dyn Provider>;

    /// A model the mock answers.
    const CHAT_MODEL: &'static str;

    /// A chat request for [`Conformance::CHAT_MODEL`].
    fn chat_request() -> ChatCompletionRequest {
        hello(Self::CHAT_MODEL)
    }

    /// An embeddings request whose errors must classify like chat's, for
    /// providers whose suite covers embeddings errors too.
    fn embedding_request() -> Option<EmbeddingRequest> {
        None
    }

    /// The provider's documented error answers and what each maps to.
    fn error_cases() -> Vec<ErrorCase>;

    /// A 200 stream answer made of `parts`, with the provider's content type
    /// and headers; by default plain SSE.
    fn stream_response(parts: Vec<StreamPart>) -> MockResponse {
        MockResponse::stream("text/event-stream", parts)
    }

    /// A complete stream body in the provider's wire framing.
    fn stream_body() -> Vec<u8>;

    /// Whole events that end before the stream's terminal event.
    fn truncated_stream() -> PartialStream;

    /// Whole events followed by the provider's in-stream error event.
    fn mid_stream_error() -> MidStreamError;

    /// A 200 answer whose body is not the provider's response shape.
    fn malformed_body() -> MockResponse;
}

/// One error answer of the upstream and what llmux must make of it.
#[derive(Debug, Clone)]
pub struct ErrorCase {
    /// The provider-shaped answer; its status is the expected `upstream_status`.
    pub response: MockResponse,
    /// The kind the answer maps to.
    pub kind: ErrorKind,
    /// The upstream's message, which the error keeps verbatim.
    pub message: &'static str,
    /// `Some(code)`: `err.code` must equal `code`; `None`: not checked.
    pub code: Option<Option<&'static str>>,
}

impl ErrorCase {
    /// `response` must map to `kind`, keeping `message`.
    pub fn new(response: MockResponse, kind: ErrorKind, message: &'static str) -> Self {
        ErrorCase {
            response,
            kind,
            message,
            code: None,
        }
    }

    /// The error must also carry this `code` (`None`: no code at all).
    pub fn with_code(mut self, code: Option<&'static str>) -> Self {
        self.code = Some(code);
        self
    }

    /// One case per `(status, kind, message)`, answered with the JSON
    /// `body(message)`: for providers whose error body is only a message.
    pub fn json_table(
        table: &[(u16, ErrorKind, &'static str)],
        body: impl Fn(&str) -> Value,
    ) -> Vec<ErrorCase> {
        table
            .iter()
            .map(|&(status, kind, message)| {
                ErrorCase::new(MockResponse::json(status, &body(message)), kind, message)
            })
            .collect()
    }
}

/// Connection parameters for the mock at `base_url` with `timeout`: what a
/// harness's [`Conformance::provider`] adds its credentials to.
pub fn params_at(base_url: &str, timeout: Option<Duration>) -> ProviderParams {
    ProviderParams {
        api_base: Some(base_url.to_string()),
        timeout,
        ..Default::default()
    }
}

/// [`params_at`] with the API key `key`.
pub fn keyed_params_at(base_url: &str, timeout: Option<Duration>, key: &str) -> ProviderParams {
    ProviderParams {
        api_key: Some(key.into()),
        ..params_at(base_url, timeout)
    }
}

/// The start of a stream and what the client decodes from it.
#[derive(Debug, Clone)]
pub struct PartialStream {
    /// Whole events in wire framing, one body part each.
    pub parts: Vec<StreamPart>,
    /// Chunks the events decode to.
    pub chunks: usize,
    /// Their `delta.content`, concatenated.
    pub text: &'static str,
}

/// A stream that an in-stream error event ends.
#[derive(Debug, Clone)]
pub struct MidStreamError {
    /// The events before the error, then the error event itself; `chunks`
    /// and `text` count only what comes before the error.
    pub stream: PartialStream,
    /// The kind the error event maps to.
    pub kind: ErrorKind,
    /// The error event's message.
    pub message: &'static str,
}

/// The chat request provider tests send: a system line and a greeting.
pub fn hello(model: &str) -> ChatCompletionRequest {
    ChatCompletionRequest::new(
        model,
        vec![ChatMessage::system("Be brief."), ChatMessage::user("Hi")],
    )
}

/// A mock server from `start`, and what `at` makes pointed at it (the
/// provider under test).
pub async fn started<P>(
    start: impl std::future::Future<Output = std::io::Result<MockServer>>,
    at: impl FnOnce(&MockServer) -> P,
) -> (MockServer, P) {
    let server = start.await.unwrap();
    let provider = at(&server);
    (server, provider)
}

/// A function tool for tool-calling tests.
pub fn function_tool(name: &str, description: &str, parameters: Value) -> Tool {
    Tool::function(FunctionDefinition {
        name: name.into(),
        description: Some(description.into()),
        parameters: Some(parameters),
        strict: None,
    })
}

/// An environment naming an API key and base the usual way:
/// `{PREFIX}_API_KEY` and `{PREFIX}_API_BASE`.
pub fn api_env(prefix: &str, key: &str, base: String) -> MapEnv {
    MapEnv::new([
        (format!("{prefix}_API_KEY"), key.to_string()),
        (format!("{prefix}_API_BASE"), base),
    ])
}

/// Assert a call was refused as unsupported.
pub fn assert_unsupported<T: std::fmt::Debug>(result: Result<T, Error>) {
    assert_eq!(result.unwrap_err().kind, ErrorKind::Unsupported);
}

/// Assert an error's kind and message, exactly.
pub fn assert_error(err: &Error, kind: ErrorKind, message: &str) {
    assert_eq!((err.kind, err.message.as_str()), (kind, message), "{err:?}");
}

/// Assert an error's kind and the start of its message.
pub fn assert_error_starts(err: &Error, kind: ErrorKind, prefix: &str) {
    assert_eq!(err.kind, kind, "{err:?}");
    assert!(err.message.starts_with(prefix), "{}", err.message);
}

/// Assert a recorded request is a JSON `POST` to `path_and_query`.
pub fn assert_json_post(sent: &RecordedRequest, path_and_query: &str) {
    assert_eq!(sent.method, http::Method::POST);
    assert_eq!(sent.path_and_query(), path_and_query);
    assert_eq!(sent.header("content-type"), Some("application/json"));
}

/// Assert a recorded request is a `GET` of `path_and_query`.
pub fn assert_get(sent: &RecordedRequest, path_and_query: &str) {
    assert_eq!(
        (sent.method.as_str(), sent.path_and_query().as_str()),
        ("GET", path_and_query)
    );
}

/// Assert where a recorded request went: its path and one header.
pub fn assert_sent_to(sent: &RecordedRequest, path: &str, header: (&str, &str)) {
    assert_eq!(sent.path, path);
    assert_eq!(sent.header(header.0), Some(header.1));
}

/// Assert `created` is the local clock's, as llmux stamps results of
/// providers that send no timestamp.
pub fn assert_recent(created: u64) {
    let now = llmux_core::unix_now();
    assert!(
        created <= now && now - created < 60,
        "created {created}, now {now}"
    );
}

/// The content chunks of a streamed text answer as `chunk(delta, finish)`
/// makes them: the role alone, a chunk a piece of the text, then the stop.
pub fn text_chunks(chunk: impl Fn(Value, Value) -> Value, pieces: &[&str]) -> Vec<Value> {
    let mut out = vec![chunk(json!({"role": "assistant"}), Value::Null)];
    out.extend(
        pieces
            .iter()
            .map(|p| chunk(json!({ "content": p }), Value::Null)),
    );
    out.push(chunk(json!({}), json!("stop")));
    out
}

/// A one-choice `chat.completion.chunk` as llmux encodes it.
pub fn expected_chunk(
    id: &str,
    created: u64,
    model: &str,
    delta: Value,
    finish_reason: Value,
) -> Value {
    json!({"id": id, "object": "chat.completion.chunk", "created": created, "model": model,
           "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}]})
}

/// The final, choice-less chunk that carries `usage`.
pub fn expected_usage_chunk(id: &str, created: u64, model: &str, usage: Value) -> Value {
    json!({"id": id, "object": "chat.completion.chunk", "created": created, "model": model,
           "choices": [], "usage": usage})
}

async fn start<H: Conformance>() -> MockServer {
    MockServer::start(H::behaviour()).await.unwrap()
}

/// `chat_stream`'s error, when the call is refused before the stream starts.
async fn stream_refused(provider: &dyn Provider, request: ChatCompletionRequest) -> Error {
    match provider.chat_stream(request).await {
        Ok(_) => panic!("chat_stream started a stream; expected an error before it"),
        Err(e) => e,
    }
}

/// Every item of a stream the upstream accepted.
async fn stream_items(
    provider: &dyn Provider,
    request: ChatCompletionRequest,
    what: &str,
) -> Vec<llmux_core::Result<ChatCompletionChunk>> {
    match provider.chat_stream(request).await {
        Ok(stream) => stream.collect().await,
        Err(e) => panic!("{what}: chat_stream failed before the stream started: {e}"),
    }
}

/// The chunks of a stream that must end cleanly.
async fn stream_chunks(
    provider: &dyn Provider,
    request: ChatCompletionRequest,
    what: &str,
) -> Vec<ChatCompletionChunk> {
    stream_items(provider, request, what)
        .await
        .into_iter()
        .map(|item| item.unwrap_or_else(|e| panic!("{what}: the stream failed: {e}")))
        .collect()
}

/// The chunks before the error that ends a stream, and that error.
fn split_at_error(
    items: Vec<llmux_core::Result<ChatCompletionChunk>>,
    what: &str,
) -> (Vec<ChatCompletionChunk>, Error) {
    let total = items.len();
    let mut chunks = Vec::new();
    for item in items {
        match item {
            Ok(chunk) => chunks.push(chunk),
            Err(e) if chunks.len() + 1 == total => return (chunks, e),
            Err(e) => panic!("{what}: an error before the end of the stream: {e}"),
        }
    }
    panic!("{what}: the stream ended cleanly after {total} chunks; expected an error")
}

/// `delta.content` of every chunk, concatenated.
fn text_of(chunks: &[ChatCompletionChunk]) -> String {
    chunks
        .iter()
        .flat_map(|c| &c.choices)
        .filter_map(|c| c.delta.content.as_deref())
        .collect()
}

/// Chunks as JSON with `id` and `created` blanked, after checking each is
/// the same on every chunk: Ollama's ids are made up per stream and most
/// providers' `created` is the local clock, so only their consistency can be
/// compared across streams.
fn normalized(chunks: &[ChatCompletionChunk], what: &str) -> Vec<Value> {
    let Some(first) = chunks.first() else {
        return Vec::new();
    };
    chunks
        .iter()
        .map(|c| {
            assert_eq!(c.id, first.id, "{what}: one stream, one id");
            assert_eq!(c.created, first.created, "{what}: one stream, one created");
            let mut value = serde_json::to_value(c).unwrap();
            value["id"] = json!("");
            value["created"] = json!(0);
            value
        })
        .collect()
}

/// Each documented status maps to its kind, keeping the upstream's message,
/// status and `retry-after`, naming provider and model; `chat_stream` returns
/// the same error before a stream starts.
pub async fn error_statuses_map_to_kinds<H: Conformance>() {
    let server = start::<H>().await;
    let provider = H::provider(&server.url(), None);
    let request = H::chat_request();
    let model = request.model.clone();
    let cases = H::error_cases();
    assert!(!cases.is_empty(), "{}: no error cases", H::PROVIDER);
    for case in cases {
        let status = case.response.status.as_u16();
        let what = format!("{} {status} {:?}", H::PROVIDER, case.message);

        let retry_after = RETRY_AFTER_SECS.to_string();
        server.enqueue(
            case.response
                .clone()
                .with_header("retry-after", &retry_after),
        );
        let err = provider.chat(request.clone()).await.unwrap_err();
        assert_eq!(err.kind, case.kind, "{what}");
        assert_eq!(err.upstream_status, Some(status), "{what}");
        assert_eq!(err.message, case.message, "{what}");
        assert_eq!(
            err.retry_after,
            Some(Duration::from_secs(RETRY_AFTER_SECS)),
            "{what}"
        );
        assert_eq!(err.provider.as_deref(), Some(H::PROVIDER), "{what}");
        assert_eq!(err.model.as_deref(), Some(model.as_str()), "{what}");
        assert_eq!(err.status(), case.kind.status(), "{what}");
        if let Some(code) = case.code {
            assert_eq!(err.code.as_deref(), code, "{what}");
        }

        // Without the header there is no retry-after, and chat_stream
        // returns the error itself rather than a stream that fails.
        server.enqueue(case.response.clone());
        let err = stream_refused(&*provider, request.clone()).await;
        assert_eq!(err.kind, case.kind, "stream, {what}");
        assert_eq!(err.upstream_status, Some(status), "stream, {what}");
        assert_eq!(err.message, case.message, "stream, {what}");
        assert_eq!(err.retry_after, None, "stream, {what}");
        assert_eq!(err.provider.as_deref(), Some(H::PROVIDER), "stream, {what}");
        assert_eq!(err.model.as_deref(), Some(model.as_str()), "stream, {what}");

        if let Some(embedding) = H::embedding_request() {
            server.enqueue(case.response.clone());
            let err = provider.embeddings(embedding).await.unwrap_err();
            assert_eq!(err.kind, case.kind, "embeddings, {what}");
            assert_eq!(err.upstream_status, Some(status), "embeddings, {what}");
            assert_eq!(err.message, case.message, "embeddings, {what}");
        }
    }
}

/// The same body decodes to the same chunks however the network splits it:
/// in one piece, one byte per read, and cut in two at every byte.
pub async fn stream_split_at_every_byte_decodes_the_same<H: Conformance>() {
    let server = start::<H>().await;
    let provider = H::provider(&server.url(), None);
    let body = H::stream_body();

    server.enqueue(H::stream_response(vec![StreamPart::Bytes(Bytes::from(
        body.clone(),
    ))]));
    let whole = stream_chunks(&*provider, H::chat_request(), "whole body").await;
    assert_eq!(
        text_of(&whole),
        H::STREAM_TEXT,
        "{}: whole body",
        H::PROVIDER
    );
    let expected = normalized(&whole, "whole body");

    let bytes = body
        .iter()
        .map(|b| StreamPart::Bytes(Bytes::copy_from_slice(&[*b])))
        .collect();
    server.enqueue(H::stream_response(bytes));
    let one_by_one = stream_chunks(&*provider, H::chat_request(), "byte by byte").await;
    assert_eq!(
        normalized(&one_by_one, "byte by byte"),
        expected,
        "{}: byte by byte",
        H::PROVIDER
    );

    for at in 1..body.len() {
        let what = format!("{}: split at byte {at} of {}", H::PROVIDER, body.len());
        server.enqueue(H::stream_response(vec![
            StreamPart::Bytes(Bytes::copy_from_slice(&body[..at])),
            StreamPart::Bytes(Bytes::copy_from_slice(&body[at..])),
        ]));
        let split = stream_chunks(&*provider, H::chat_request(), &what).await;
        assert_eq!(normalized(&split, &what), expected, "{what}");
    }
}

/// An in-stream error event ends the stream with that error, after the
/// chunks that came before it.
pub async fn mid_stream_error_ends_the_stream<H: Conformance>() {
    let server = start::<H>().await;
    let provider = H::provider(&server.url(), None);
    let MidStreamError {
        stream,
        kind,
        message,
    } = H::mid_stream_error();
    let what = format!("{}: mid-stream error", H::PROVIDER);

    server.enqueue(H::stream_response(stream.parts));
    let items = stream_items(&*provider, H::chat_request(), &what).await;
    let (chunks, err) = split_at_error(items, &what);
    assert_eq!(
        chunks.len(),
        stream.chunks,
        "{what}: chunks before the error"
    );
    assert_eq!(text_of(&chunks), stream.text, "{what}");
    assert_eq!(err.kind, kind, "{what}: {err}");
    assert_eq!(err.message, message, "{what}");
    assert_eq!(err.provider.as_deref(), Some(H::PROVIDER), "{what}");
}

/// A body that ends before the terminal event is an `ApiConnection` error,
/// never a clean (silently short) end.
pub async fn truncated_stream_is_an_error<H: Conformance>() {
    let server = start::<H>().await;
    let provider = H::provider(&server.url(), None);
    let stream = H::truncated_stream();
    let what = format!("{}: truncated stream", H::PROVIDER);

    server.enqueue(H::stream_response(stream.parts));
    let items = stream_items(&*provider, H::chat_request(), &what).await;
    let (chunks, err) = split_at_error(items, &what);
    assert_eq!(
        chunks.len(),
        stream.chunks,
        "{what}: chunks before the error"
    );
    assert_eq!(text_of(&chunks), stream.text, "{what}");
    assert_eq!(err.kind, ErrorKind::ApiConnection, "{what}: {err}");
    assert_eq!(err.message, H::TRUNCATED_MESSAGE, "{what}");
    assert_eq!(err.provider.as_deref(), Some(H::PROVIDER), "{what}");
}

/// A connection dropped in the middle of an event ends the stream with an
/// `ApiConnection` error after the whole events, and does not spoil the
/// connection pool for the calls that follow.
pub async fn aborted_connection_is_an_error<H: Conformance>() {
    let server = start::<H>().await;
    let provider = H::provider(&server.url(), None);
    let PartialStream {
        mut parts,
        chunks: expected_chunks,
        text,
    } = H::truncated_stream();
    let what = format!("{}: aborted connection", H::PROVIDER);
    // Half of an event in the same framing, then the connection drops.
    let half_event = match parts.first() {
        Some(StreamPart::Bytes(event)) => event.slice(..event.len() / 2),
        other => panic!("{what}: the truncated stream must start with an event, not {other:?}"),
    };
    parts.push(StreamPart::Bytes(half_event));
    parts.push(StreamPart::Abort);

    server.enqueue(H::stream_response(parts));
    let items = stream_items(&*provider, H::chat_request(), &what).await;
    let (chunks, err) = split_at_error(items, &what);
    assert_eq!(
        chunks.len(),
        expected_chunks,
        "{what}: chunks before the error"
    );
    assert_eq!(text_of(&chunks), text, "{what}");
    assert_eq!(err.kind, ErrorKind::ApiConnection, "{what}: {err}");

    for attempt in 1..=3 {
        let answer = provider.chat(H::chat_request()).await.unwrap();
        assert_eq!(
            answer.text(),
            Some(H::REPLY),
            "{what}: call {attempt} after"
        );
    }
}

/// A caller that stops reading a stream stops the upstream read: dropping
/// the chunk stream closes the connection, so a long answer is not read
/// (and paid for) after the client left (hardening finding 6).
pub async fn dropped_stream_stops_the_upstream_read<H: Conformance>() {
    let server = start::<H>().await;
    let provider = H::provider(&server.url(), None);
    let what = format!("{}: dropped stream", H::PROVIDER);
    let PartialStream { mut parts, .. } = H::truncated_stream();
    let event = match parts.first() {
        Some(StreamPart::Bytes(event)) => event.clone(),
        other => panic!("{what}: the truncated stream must start with an event, not {other:?}"),
    };
    // The answer goes on for five seconds more, an event every 100 ms.
    for _ in 0..50 {
        parts.push(StreamPart::Delay(Duration::from_millis(100)));
        parts.push(StreamPart::Bytes(event.clone()));
    }
    server.enqueue(H::stream_response(parts));
    let mut stream = provider
        .chat_stream(H::chat_request())
        .await
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    let first = stream.next().await;
    assert!(matches!(first, Some(Ok(_))), "{what}: first item {first:?}");
    let dropped = Instant::now();
    drop(stream);
    while server.streams_cut_short() == 0 && dropped.elapsed() < Duration::from_secs(3) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        server.streams_cut_short(),
        1,
        "{what}: the upstream answer was still being read 3 s after the stream was dropped"
    );
}

/// A 200 answer that is not the provider's response shape is `BadGateway`,
/// naming provider and model.
pub async fn malformed_body_is_bad_gateway<H: Conformance>() {
    let server = start::<H>().await;
    let provider = H::provider(&server.url(), None);
    let request = H::chat_request();
    server.enqueue(H::malformed_body());
    let err = provider.chat(request.clone()).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::BadGateway, "{err}");
    let prefix = format!("cannot decode {} response", H::PROVIDER);
    assert!(err.message.starts_with(&prefix), "{}", err.message);
    assert_eq!(err.provider.as_deref(), Some(H::PROVIDER));
    assert_eq!(err.model.as_deref(), Some(request.model.as_str()));
}

/// The call timeout bounds the wait for the response head, for whole and
/// streamed calls alike.
pub async fn timeout_is_timeout<H: Conformance>() {
    let server = start::<H>().await;
    let provider = H::provider(&server.url(), Some(SHORT_TIMEOUT));
    let request = H::chat_request();
    // The head arrives after the timeout, so the body is never read.
    let slow = || MockResponse::json(200, &json!({})).with_delay(SLOW_HEAD);

    server.enqueue(slow());
    let started = Instant::now();
    let err = provider.chat(request.clone()).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Timeout, "{err}");
    // Before the slow head could have arrived: the timeout cut the wait.
    assert!(started.elapsed() < SLOW_HEAD, "{:?}", started.elapsed());
    assert_eq!(err.provider.as_deref(), Some(H::PROVIDER));
    assert_eq!(err.model.as_deref(), Some(request.model.as_str()));

    server.enqueue(slow());
    let started = Instant::now();
    let err = stream_refused(&*provider, request.clone()).await;
    assert_eq!(err.kind, ErrorKind::Timeout, "stream: {err}");
    assert!(
        started.elapsed() < SLOW_HEAD,
        "stream: {:?}",
        started.elapsed()
    );
    assert_eq!(err.provider.as_deref(), Some(H::PROVIDER));
}

/// Nothing listening on the port is `ApiConnection` (HTTP 500), naming
/// provider and model.
pub async fn connection_refused_is_api_connection<H: Conformance>() {
    let server = start::<H>().await;
    let url = server.url();
    drop(server);
    // Let the runtime close the dropped server's listener.
    tokio::time::sleep(Duration::from_millis(20)).await;
    let provider = H::provider(&url, None);
    let request = H::chat_request();

    let err = provider.chat(request.clone()).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::ApiConnection, "{err}");
    assert_eq!(err.status(), 500);
    assert_eq!(err.upstream_status, None);
    assert_eq!(err.provider.as_deref(), Some(H::PROVIDER));
    assert_eq!(err.model.as_deref(), Some(request.model.as_str()));

    let err = stream_refused(&*provider, request).await;
    assert_eq!(err.kind, ErrorKind::ApiConnection, "stream: {err}");
}

/// One `#[tokio::test]` per conformance family for `$harness` (a type
/// implementing [`Conformance`](crate::conformance::Conformance)), in a
/// module named `conformance` so each shows as `conformance::<family>`.
#[macro_export]
macro_rules! conformance_tests {
    ($harness:ty) => {
        mod conformance {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test]
            async fn error_statuses_map_to_kinds() {
                $crate::conformance::error_statuses_map_to_kinds::<$harness>().await;
            }

            #[tokio::test]
            async fn stream_split_at_every_byte_decodes_the_same() {
                $crate::conformance::stream_split_at_every_byte_decodes_the_same::<$harness>()
                    .await;
            }

            #[tokio::test]
            async fn mid_stream_error_ends_the_stream() {
                $crate::conformance::mid_stream_error_ends_the_stream::<$harness>().await;
            }

            #[tokio::test]
            async fn truncated_stream_is_an_error() {
                $crate::conformance::truncated_stream_is_an_error::<$harness>().await;
            }

            #[tokio::test]
            async fn aborted_connection_is_an_error() {
                $crate::conformance::aborted_connection_is_an_error::<$harness>().await;
            }

            #[tokio::test]
            async fn dropped_stream_stops_the_upstream_read() {
                $crate::conformance::dropped_stream_stops_the_upstream_read::<$harness>().await;
            }

            #[tokio::test]
            async fn malformed_body_is_bad_gateway() {
                $crate::conformance::malformed_body_is_bad_gateway::<$harness>().await;
            }

            #[tokio::test]
            async fn timeout_is_timeout() {
                $crate::conformance::timeout_is_timeout::<$harness>().await;
            }

            #[tokio::test]
            async fn connection_refused_is_api_connection() {
                $crate::conformance::connection_refused_is_api_connection::<$harness>().await;
            }
        }
    };
}
