//! Rerank through the OpenAI preset table: Jina AI takes Cohere's rerank
//! request as is at `{base}/rerank` and answers in Cohere's shape (plus its
//! `model` and `usage`, kept). Vendors without a rerank row say so.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

use llmux_core::types::rerank::RerankRequest;
use llmux_core::{ErrorKind, MapEnv, Provider, ProviderParams};
use llmux_openai::OpenAiProvider;
use llmux_tests::mock::{openai, MockResponse};
use serde_json::json;

fn request() -> RerankRequest {
    serde_json::from_value(json!({
        "model": "jina-reranker-v2-base-multilingual",
        "query": "Organic skincare products for sensitive skin",
        "documents": [
            "Organic skincare for sensitive skin with aloe vera and chamomile.",
            "New makeup trends focus on bold colors and innovative techniques."
        ],
        "top_n": 1,
        "return_documents": true
    }))
    .unwrap()
}

#[tokio::test]
async fn jina_rerank_sends_cohere_shape_and_keeps_the_answer() {
    let server = openai::start().await.unwrap();
    let answer = json!({
        "model": "jina-reranker-v2-base-multilingual",
        "usage": {"total_tokens": 38},
        "results": [{"index": 0, "document": {"text": "Organic skincare for sensitive skin with aloe vera and chamomile."},
                     "relevance_score": 0.8783142566680908}]
    });
    server.enqueue(MockResponse::json(200, &answer));
    let env = MapEnv::new([
        ("JINA_AI_API_KEY", "jina-key".to_string()),
        ("JINA_AI_API_BASE", format!("{}/v1", server.url())),
    ]);
    let jina = OpenAiProvider::from_params("jina_ai", &ProviderParams::default(), &env).unwrap();
    let resp = jina.rerank(request()).await.unwrap();
    let sent = server.last_request().unwrap();
    assert_eq!(sent.path, "/v1/rerank");
    assert_eq!(sent.header("authorization"), Some("Bearer jina-key"));
    assert_eq!(sent.json(), serde_json::to_value(request()).unwrap());
    assert_eq!(serde_json::to_value(&resp).unwrap(), answer);

    // Jina errors are OpenAI-style `{"detail": …}`; statuses map as usual.
    server.enqueue(MockResponse::json(
        401,
        &json!({"detail": "Invalid API key"}),
    ));
    let err = jina.rerank(request()).await.unwrap_err();
    assert_eq!(
        (err.kind, err.message.as_str()),
        (ErrorKind::Authentication, "Invalid API key")
    );

    // Jina has no chat endpoint in the table.
    let err = jina
        .chat(llmux_core::ChatCompletionRequest::new(
            "m",
            vec![llmux_core::ChatMessage::user("x")],
        ))
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Unsupported);
}

#[tokio::test]
async fn vendors_without_a_rerank_row_are_unsupported() {
    let env = MapEnv::new([("OPENAI_API_KEY", "k"), ("GROQ_API_KEY", "k")]);
    for name in ["openai", "groq"] {
        let p = OpenAiProvider::from_params(name, &ProviderParams::default(), &env).unwrap();
        let err = p.rerank(request()).await.unwrap_err();
        assert_eq!(err.kind, ErrorKind::Unsupported, "{name}");
        assert_eq!(
            err.message,
            format!("{name} does not support the rerank endpoint")
        );
    }
}
