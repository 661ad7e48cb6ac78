//! A fast mock OpenAI upstream for the benchmark: plain hyper on 127.0.0.1,
//! answering every `POST …/chat/completions` with a fixed chat completion, or
//! with a fixed SSE stream when the body asks for `"stream":true`.
//!
//! It does as little as it can (no JSON parsing: the request is scanned for
//! a few byte patterns), so that the numbers measure the gateway, not the mock.
//! A model name containing `slow` gets a slow stream: the first chunk at once,
//! then one chunk every [`SLOW_CHUNK_EVERY`] for [`SLOW_CHUNKS`] chunks: this
//! is how the benchmark holds 1,000 streams open at the same time.
//! A model name containing `flaky` (the soak) fails every fourth call: a
//! 500 for a whole answer, a stream that stops before `[DONE]`.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http::{header, Request, Response, StatusCode};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// Delay between the chunks of a slow stream.
pub(super) const SLOW_CHUNK_EVERY: Duration = Duration::from_millis(100);
/// Content chunks in a slow stream.
pub(super) const SLOW_CHUNKS: usize = 20;

type Body = UnsyncBoxBody<Bytes, Infallible>;

/// Calls to `flaky` models so far.
static FLAKY_CALLS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

const COMPLETION: &str = r#"{"id":"chatcmpl-bench","object":"chat.completion","created":1700000000,"model":"gpt-4o-mini","system_fingerprint":"fp_bench","choices":[{"index":0,"message":{"role":"assistant","content":"Hello from the bench upstream!","refusal":null},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":9,"completion_tokens":6,"total_tokens":15}}"#;

fn chunk(delta: &str, finish: &str) -> String {
    format!(
        "data: {{\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,\"model\":\"gpt-4o-mini\",\"system_fingerprint\":\"fp_bench\",\"choices\":[{{\"index\":0,\"delta\":{delta},\"logprobs\":null,\"finish_reason\":{finish}}}]}}\n\n"
    )
}

const USAGE_CHUNK: &str = "data: {\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,\"model\":\"gpt-4o-mini\",\"system_fingerprint\":\"fp_bench\",\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":6,\"total_tokens\":15}}\n\n";

/// The events of the fixed stream, without usage and `[DONE]`.
fn stream_events(contents: &[&str]) -> Vec<Bytes> {
    let mut events = vec![Bytes::from(chunk(
        r#"{"role":"assistant","content":""}"#,
        "null",
    ))];
    for c in contents {
        events.push(Bytes::from(chunk(
            &format!("{{\"content\":\"{c}\"}}"),
            "null",
        )));
    }
    events.push(Bytes::from(chunk("{}", "\"stop\"")));
    events
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn respond(status: StatusCode, content_type: &'static str, body: Body) -> Response<Body> {
    let mut r = Response::new(body);
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static(content_type),
    );
    r
}

/// The fixed Responses API answer.
const RESPONSE: &str = r#"{"id":"resp_bench","object":"response","created_at":1700000000,"status":"completed","model":"gpt-4o-mini","output":[{"type":"message","id":"msg_bench","status":"completed","role":"assistant","content":[{"type":"output_text","text":"Hello from the bench upstream!","annotations":[]}]}],"usage":{"input_tokens":9,"input_tokens_details":{"cached_tokens":0},"output_tokens":6,"output_tokens_details":{"reasoning_tokens":0},"total_tokens":15}}"#;

/// The fixed Responses API stream, as OpenAI orders its events.
fn response_events() -> Vec<Bytes> {
    let pending = r#"{"id":"resp_bench","object":"response","created_at":1700000000,"status":"in_progress","model":"gpt-4o-mini","output":[],"usage":null}"#;
    let mut events = vec![
        format!(r#"{{"type":"response.created","sequence_number":0,"response":{pending}}}"#),
        format!(r#"{{"type":"response.in_progress","sequence_number":1,"response":{pending}}}"#),
        r#"{"type":"response.output_item.added","sequence_number":2,"output_index":0,"item":{"type":"message","id":"msg_bench","status":"in_progress","role":"assistant","content":[]}}"#.to_string(),
    ];
    for (i, d) in ["Hello", " from the", " bench upstream!"]
        .iter()
        .enumerate()
    {
        events.push(format!(
            r#"{{"type":"response.output_text.delta","sequence_number":{},"item_id":"msg_bench","output_index":0,"content_index":0,"delta":"{d}","logprobs":[]}}"#,
            3 + i
        ));
    }
    events.push(format!(
        r#"{{"type":"response.completed","sequence_number":6,"response":{RESPONSE}}}"#
    ));
    named_events(events)
}

/// JSON events as SSE, each named by its `type` (its first string value).
fn named_events(events: Vec<String>) -> Vec<Bytes> {
    events
        .into_iter()
        .map(|e| {
            let name = e.split('"').nth(3).unwrap_or("message").to_string();
            Bytes::from(format!("event: {name}\ndata: {e}\n\n"))
        })
        .collect()
}

/// The fixed Anthropic Messages API answer.
const MESSAGE: &str = r#"{"id":"msg_bench","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[{"type":"text","text":"Hello from the bench upstream!"}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":9,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":6}}"#;

/// The fixed Messages API stream, as Anthropic orders its events.
fn message_events() -> Vec<Bytes> {
    let mut events = vec![
        r#"{"type":"message_start","message":{"id":"msg_bench","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":9,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":1}}}"#.to_string(),
        r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#.to_string(),
    ];
    for d in ["Hello", " from the", " bench upstream!"] {
        events.push(format!(
            r#"{{"type":"content_block_delta","index":0,"delta":{{"type":"text_delta","text":"{d}"}}}}"#
        ));
    }
    events.push(r#"{"type":"content_block_stop","index":0}"#.to_string());
    events.push(r#"{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":6}}"#.to_string());
    events.push(r#"{"type":"message_stop"}"#.to_string());
    named_events(events)
}

/// A fixed answer: `whole`, or `events` as SSE when the request streams.
fn fixed(stream: bool, whole: &'static str, events: fn() -> Vec<Bytes>) -> Response<Body> {
    if !stream {
        return respond(
            StatusCode::OK,
            "application/json",
            Full::new(Bytes::from_static(whole.as_bytes())).boxed_unsync(),
        );
    }
    let frames = futures::stream::iter(
        events()
            .into_iter()
            .map(|e| Ok::<_, Infallible>(Frame::data(e))),
    );
    respond(
        StatusCode::OK,
        "text/event-stream",
        StreamBody::new(frames).boxed_unsync(),
    )
}

async fn handle(req: Request<Incoming>) -> Result<Response<Body>, Infallible> {
    // Logging callbacks' sinks (webhook, OTLP): take the body, answer 200.
    if req.uri().path().starts_with("/sink/") {
        let _ = req.into_body().collect().await;
        return Ok(respond(
            StatusCode::OK,
            "application/json",
            Full::new(Bytes::from_static(b"{}")).boxed_unsync(),
        ));
    }
    let is_responses = req.uri().path().ends_with("/responses");
    let is_messages = req.uri().path().ends_with("/v1/messages");
    let is_chat = is_responses || is_messages || req.uri().path().ends_with("/chat/completions");
    let body = match req.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => Bytes::new(),
    };
    if !is_chat {
        return Ok(respond(
            StatusCode::NOT_FOUND,
            "application/json",
            Full::new(Bytes::from_static(
                br#"{"error":{"message":"Invalid URL","type":"invalid_request_error","param":null,"code":null}}"#,
            ))
            .boxed_unsync(),
        ));
    }
    let stream = contains(&body, br#""stream":true"#);
    if is_responses {
        return Ok(fixed(stream, RESPONSE, response_events));
    }
    if is_messages {
        return Ok(fixed(stream, MESSAGE, message_events));
    }
    let fail = contains(&body, b"flaky")
        && FLAKY_CALLS
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            .is_multiple_of(4);
    if fail && !stream {
        return Ok(respond(
            StatusCode::INTERNAL_SERVER_ERROR,
            "application/json",
            Full::new(Bytes::from_static(
                br#"{"error":{"message":"The server had an error while processing your request.","type":"server_error","param":null,"code":null}}"#,
            ))
            .boxed_unsync(),
        ));
    }
    if !stream {
        return Ok(respond(
            StatusCode::OK,
            "application/json",
            Full::new(Bytes::from_static(COMPLETION.as_bytes())).boxed_unsync(),
        ));
    }
    let usage = contains(&body, br#""include_usage":true"#);
    let slow = contains(&body, b"slow");
    let contents: Vec<&str> = if slow {
        vec!["tok"; SLOW_CHUNKS]
    } else {
        vec!["Hello", " from the", " bench upstream!"]
    };
    let mut events = stream_events(&contents);
    if fail {
        // The first event, then the body ends: no finish, no [DONE].
        events.truncate(1);
    } else {
        if usage {
            events.push(Bytes::from_static(USAGE_CHUNK.as_bytes()));
        }
        events.push(Bytes::from_static(b"data: [DONE]\n\n"));
    }
    let frames = futures::stream::unfold(
        (events.into_iter(), true),
        move |(mut it, first)| async move {
            let event = it.next()?;
            if slow && !first {
                tokio::time::sleep(SLOW_CHUNK_EVERY).await;
            }
            Some((Ok::<_, Infallible>(Frame::data(event)), (it, false)))
        },
    );
    Ok(respond(
        StatusCode::OK,
        "text/event-stream",
        StreamBody::new(frames).boxed_unsync(),
    ))
}

/// Bind on 127.0.0.1 and serve on the current runtime until it stops.
pub(super) async fn start() -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service_fn(handle))
                    .await;
            });
        }
    });
    Ok(addr)
}
