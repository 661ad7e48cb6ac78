//! The one HTTP transport every provider uses, against mock upstreams:
//! redirects stay on the upstream's own host, and whole responses are capped.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

use bytes::Bytes;
use llmux_core::transport::{HttpTransport, TransportConfig, UpstreamResponse};
use llmux_core::{Error, ErrorKind};
use llmux_tests::conformance::assert_error;
use llmux_tests::mock::{openai, MockResponse};

fn post(url: &str) -> http::Request<Bytes> {
    http::Request::builder()
        .method("POST")
        .uri(url)
        .header("authorization", "Bearer sk-provider-key-0123456789")
        .header("content-type", "application/json")
        .body(Bytes::from_static(
            br#"{"model":"gpt-4o","messages":[{"role":"user","content":"secret"}]}"#,
        ))
        .unwrap()
}

fn decode(r: &UpstreamResponse) -> Error {
    Error::new(
        ErrorKind::from_status(r.status.as_u16()),
        String::from_utf8_lossy(&r.body).to_string(),
    )
}

/// `transport.call` for a POST to `url`.
async fn call(transport: &HttpTransport, url: &str) -> Result<UpstreamResponse, Error> {
    transport
        .call(post(url), None, "openai", "gpt-4o", &decode)
        .await
}

/// Hardening issue, finding 10: a 307 to another host re-POSTed the prompt
/// (and the provider key) there.
#[tokio::test]
async fn redirects_to_another_host_are_not_followed() {
    let up = openai::start().await.unwrap();
    let elsewhere = openai::start().await.unwrap();
    // Another port on the same address is another origin.
    let target = format!("{}/v1/chat/completions", elsewhere.url());
    up.enqueue(MockResponse::raw(307, "text/plain", "").with_header("location", &target));
    let transport = HttpTransport::shared();
    let err = call(&transport, &format!("{}/v1/chat/completions", up.url()))
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::BadGateway);
    assert_eq!(
        err.message,
        format!("upstream redirected to {target}; redirects to another host are not followed")
    );
    assert!(elsewhere.requests().is_empty(), "nothing was re-sent");

    // On the upstream's own origin a redirect is followed.
    let same = format!("{}/v1/chat/completions?moved=1", up.url());
    up.enqueue(MockResponse::raw(307, "text/plain", "").with_header("location", &same));
    let ok = call(&transport, &format!("{}/v1/chat/completions", up.url()))
        .await
        .unwrap();
    assert_eq!(ok.status, 200);
    let paths: Vec<String> = up.requests().iter().map(|r| r.path_and_query()).collect();
    assert_eq!(paths.last().unwrap(), "/v1/chat/completions?moved=1");
}

/// Hardening issue, finding 11: a 600 MB answer was buffered whole.
#[tokio::test]
async fn whole_responses_are_capped() {
    let up = openai::start().await.unwrap();
    let transport = HttpTransport::new(&TransportConfig {
        max_response_bytes: 1024,
        ..TransportConfig::default()
    })
    .unwrap();
    up.enqueue(MockResponse::raw(200, "application/json", vec![b' '; 4096]));
    let err = call(&transport, &format!("{}/v1/x", up.url()))
        .await
        .unwrap_err();
    assert_error(
        &err,
        ErrorKind::BadGateway,
        "upstream response is larger than 1024 bytes (4096); not read",
    );
    up.enqueue(MockResponse::raw(200, "application/json", vec![b' '; 1024]));
    let ok = call(&transport, &format!("{}/v1/x", up.url()))
        .await
        .unwrap();
    assert_eq!(ok.body.len(), 1024);
    // An error body is cut to its first MiB, not refused.
    up.enqueue(MockResponse::raw(500, "text/plain", vec![b'e'; 2 << 20]));
    let err = call(&transport, &format!("{}/v1/x", up.url()))
        .await
        .unwrap_err();
    assert_eq!(err.message.len(), 1 << 20);
}
