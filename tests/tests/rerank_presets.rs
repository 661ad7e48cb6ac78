//! Rerank through the OpenAI preset table: Jina AI takes Cohere's rerank
//! request as is at `{base}/rerank` and answers in Cohere's shape (plus its
//! `model` and `usage`, kept); Voyage AI's dialect is translated both ways
//! (rerank and embeddings). Vendors without a rerank row say so.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

use llmux_tests::conformance::{api_env, assert_error, assert_sent_to};

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
    let env = api_env("JINA_AI", "jina-key", format!("{}/v1", server.url()));
    let jina = OpenAiProvider::from_params("jina_ai", &ProviderParams::default(), &env).unwrap();
    let resp = jina.rerank(request()).await.unwrap();
    let sent = server.last_request().unwrap();
    assert_sent_to(&sent, "/v1/rerank", ("authorization", "Bearer jina-key"));
    assert_eq!(sent.json(), serde_json::to_value(request()).unwrap());
    assert_eq!(serde_json::to_value(&resp).unwrap(), answer);

    // Jina errors are OpenAI-style `{"detail": …}`; statuses map as usual.
    server.enqueue(MockResponse::json(
        401,
        &json!({"detail": "Invalid API key"}),
    ));
    let err = jina.rerank(request()).await.unwrap_err();
    assert_error(&err, ErrorKind::Authentication, "Invalid API key");

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

fn voyage(server: &llmux_tests::mock::MockServer) -> OpenAiProvider {
    let env = api_env("VOYAGE", "pa-voyage", format!("{}/v1", server.url()));
    OpenAiProvider::from_params("voyage", &ProviderParams::default(), &env).unwrap()
}

/// Voyage's rerank answer (docs.voyageai.com/reference/reranker-api).
fn voyage_rerank_answer() -> serde_json::Value {
    json!({
        "object": "list",
        "data": [{"relevance_score": 0.4375, "index": 0,
                  "document": "Organic skincare for sensitive skin with aloe vera and chamomile."}],
        "model": "rerank-2",
        "usage": {"total_tokens": 26}
    })
}

#[tokio::test]
async fn voyage_rerank_speaks_voyages_dialect() {
    let server = openai::start().await.unwrap();
    let voyage = voyage(&server);
    server.enqueue(MockResponse::json(200, &voyage_rerank_answer()));
    let mut req = request();
    req.model = "rerank-2".into();
    // An object document is sent as its text; Voyage's own fields pass through.
    req.documents[1] = serde_json::from_value(
        json!({"text": "New makeup trends focus on bold colors and innovative techniques.", "id": 7}),
    )
    .unwrap();
    req.extra.insert("truncation".into(), json!(false));
    let resp = voyage.rerank(req).await.unwrap();
    let sent = server.last_request().unwrap();
    assert_sent_to(&sent, "/v1/rerank", ("authorization", "Bearer pa-voyage"));
    assert_eq!(
        sent.json(),
        json!({
            "model": "rerank-2",
            "query": "Organic skincare products for sensitive skin",
            "documents": [
                "Organic skincare for sensitive skin with aloe vera and chamomile.",
                "New makeup trends focus on bold colors and innovative techniques."
            ],
            "top_k": 1,
            "return_documents": true,
            "truncation": false
        })
    );
    assert_eq!(
        serde_json::to_value(&resp).unwrap(),
        json!({
            "results": [{"index": 0, "relevance_score": 0.4375,
                         "document": {"text": "Organic skincare for sensitive skin with aloe vera and chamomile."}}],
            "meta": {"billed_units": {"total_tokens": 26},
                     "tokens": {"input_tokens": 26, "output_tokens": 0}}
        })
    );

    // Voyage's errors are `{"detail": …}`.
    server.enqueue(MockResponse::json(
        400,
        &json!({"detail": "The query is too long."}),
    ));
    let err = voyage.rerank(request()).await.unwrap_err();
    assert_error(&err, ErrorKind::BadRequest, "The query is too long.");
    server.enqueue(MockResponse::json(200, &json!({"object": "list"})));
    let err = voyage.rerank(request()).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::BadGateway, "{err:?}");
}

#[tokio::test]
async fn voyage_embeddings_speak_voyages_dialect() {
    use llmux_core::types::embeddings::EmbeddingRequest;
    let server = openai::start().await.unwrap();
    let voyage = voyage(&server);
    let answer = json!({
        "object": "list",
        "data": [{"object": "embedding", "embedding": [0.25, -0.5], "index": 0}],
        "model": "voyage-3.5",
        "usage": {"total_tokens": 5}
    });
    server.enqueue(MockResponse::json(200, &answer));
    server.enqueue(MockResponse::json(200, &answer));
    let req: EmbeddingRequest = serde_json::from_value(json!({
        "model": "voyage-3.5", "input": ["good morning"], "dimensions": 512,
        "encoding_format": "float", "user": "u-1", "input_type": "query"
    }))
    .unwrap();
    let resp = voyage.embeddings(req).await.unwrap();
    assert_eq!(server.last_request().unwrap().path, "/v1/embeddings");
    assert_eq!(
        server.last_request().unwrap().json(),
        json!({"input": ["good morning"], "model": "voyage-3.5", "output_dimension": 512, "input_type": "query"})
    );
    let mut expected = answer.clone();
    expected["usage"] = json!({"prompt_tokens": 5, "total_tokens": 5});
    assert_eq!(serde_json::to_value(&resp).unwrap(), expected);

    // base64 is asked for as Voyage names it.
    let req: EmbeddingRequest = serde_json::from_value(
        json!({"model": "voyage-3.5", "input": "hi", "encoding_format": "base64"}),
    )
    .unwrap();
    voyage.embeddings(req).await.unwrap();
    assert_eq!(
        server.last_request().unwrap().json(),
        json!({"input": "hi", "model": "voyage-3.5", "encoding_format": "base64"})
    );
}
