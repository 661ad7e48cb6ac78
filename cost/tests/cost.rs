#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Cost figures against hand-computed values (prices from the embedded table,
//! which carries LiteLLM's figures; each test states the prices it uses).

use llmux_core::types::chat::{
    ChatCompletion, Choice, CompletionTokensDetails, PromptTokensDetails, ResponseMessage, Usage,
};
use llmux_core::types::embeddings::EmbeddingUsage;
use llmux_cost::{
    completion_cost, cost_per_token, embedding_cost, get_model_info, Capability, Cost,
    CostBreakdown, CostError, CostOptions, Mode, PriceOverride, PriceTable, ServiceTier,
};
use serde_json::json;

/// USD → exact femto-dollars, for expected values written as decimals.
fn usd(s: &str) -> Cost {
    Cost::from_femto(i128::from(llmux_cost::Rate::parse_usd(s).unwrap().femto()))
}

fn usage(prompt: u64, completion: u64) -> Usage {
    Usage::new(prompt, completion)
}

fn with_prompt_details(mut u: Usage, cached: u64, created: u64, audio: u64) -> Usage {
    u.prompt_tokens_details = Some(PromptTokensDetails {
        cached_tokens: Some(cached),
        cache_creation_tokens: Some(created),
        audio_tokens: Some(audio),
        ..Default::default()
    });
    u
}

fn with_completion_details(mut u: Usage, reasoning: u64, audio: u64) -> Usage {
    u.completion_tokens_details = Some(CompletionTokensDetails {
        reasoning_tokens: Some(reasoning),
        audio_tokens: Some(audio),
        ..Default::default()
    });
    u
}

#[test]
fn gpt_4o_plain() {
    // gpt-4o: $2.50 / 1M in, $10 / 1M out.
    let c = cost_per_token("gpt-4o", &usage(1000, 500)).unwrap();
    assert_eq!(
        c,
        CostBreakdown {
            input: usd("0.0025"),
            output: usd("0.005"),
            ..Default::default()
        }
    );
    assert_eq!(c.total(), usd("0.0075"));
    assert_eq!(c.total().nano(), 7_500_000);
    assert_eq!(c.total().usd(), 0.0075);
    assert_eq!(c.prompt(), usd("0.0025"));
    assert_eq!(c.completion(), usd("0.005"));
}

#[test]
fn cached_tokens_are_billed_at_the_cache_read_price() {
    // gpt-4o: cached input $1.25 / 1M. 600 of the 1000 prompt tokens cached.
    let u = with_prompt_details(usage(1000, 500), 600, 0, 0);
    let c = cost_per_token("openai/gpt-4o", &u).unwrap();
    assert_eq!(c.input, usd("0.001")); // 400 × 2.5e-6
    assert_eq!(c.cache_read, usd("0.00075")); // 600 × 1.25e-6
    assert_eq!(c.output, usd("0.005"));
    assert_eq!(c.total().nano(), 6_750_000);
}

#[test]
fn anthropic_cache_read_and_write() {
    // claude-sonnet-4-5: in $3, out $15, cache read $0.30, cache write $3.75,
    // one-hour cache write $6 (per 1M). prompt_tokens counts all of them.
    let u = with_prompt_details(usage(10_000, 1_000), 6_000, 2_000, 0);
    let c = cost_per_token("anthropic/claude-sonnet-4-5", &u).unwrap();
    assert_eq!(c.input, usd("0.006")); // 2000 × 3e-6
    assert_eq!(c.cache_read, usd("0.0018")); // 6000 × 3e-7
    assert_eq!(c.cache_write, usd("0.0075")); // 2000 × 3.75e-6
    assert_eq!(c.output, usd("0.015"));
    assert_eq!(c.total(), usd("0.0303"));

    // Half of the cache write to the one-hour cache.
    let mut u = u;
    u.prompt_tokens_details.as_mut().unwrap().extra.insert(
        "cache_creation_token_details".into(),
        json!({"ephemeral_5m_input_tokens": 1000, "ephemeral_1h_input_tokens": 1000}),
    );
    let c = cost_per_token("claude-sonnet-4-5", &u).unwrap();
    assert_eq!(c.cache_write, usd("0.00975")); // 1000 × 3.75e-6 + 1000 × 6e-6
}

#[test]
fn bedrock_prompt_caching() {
    // anthropic.claude-3-5-sonnet-20240620-v1:0 on Bedrock: in $3, out $15, read $0.30, write $3.75.
    let u = with_prompt_details(usage(5_000, 100), 4_000, 500, 0);
    for model in [
        "bedrock/anthropic.claude-3-5-sonnet-20240620-v1:0",
        "bedrock/converse/anthropic.claude-3-5-sonnet-20240620-v1:0",
        "anthropic.claude-3-5-sonnet-20240620-v1:0",
    ] {
        let c = cost_per_token(model, &u).unwrap();
        assert_eq!(c.input, usd("0.0015"), "{model}"); // 500 × 3e-6
        assert_eq!(c.cache_read, usd("0.0012")); // 4000 × 3e-7
        assert_eq!(c.cache_write, usd("0.001875")); // 500 × 3.75e-6
        assert_eq!(c.output, usd("0.0015")); // 100 × 1.5e-5
    }
}

#[test]
fn reasoning_tokens_at_output_price_when_not_priced_apart() {
    // o1: in $15, out $60. 800 of the 1000 completion tokens are reasoning.
    let u = with_completion_details(usage(100, 1_000), 800, 0);
    let c = cost_per_token("o1", &u).unwrap();
    assert_eq!(c.output, usd("0.012")); // 200 × 6e-5
    assert_eq!(c.reasoning, usd("0.048")); // 800 × 6e-5
    assert_eq!(c.completion(), usd("0.06"));
    assert_eq!(c.input, usd("0.0015"));
}

#[test]
fn reasoning_tokens_with_their_own_price() {
    // dashscope/qwen-plus-2025-04-28: in $0.40, out $1.20, reasoning $4 (per 1M).
    let u = with_completion_details(usage(1_000, 1_000), 600, 0);
    let c = cost_per_token("dashscope/qwen-plus-2025-04-28", &u).unwrap();
    assert_eq!(c.input, usd("0.0004"));
    assert_eq!(c.output, usd("0.00048")); // 400 × 1.2e-6
    assert_eq!(c.reasoning, usd("0.0024")); // 600 × 4e-6
}

#[test]
fn audio_tokens() {
    // gpt-4o-audio-preview-2024-12-17: text in $2.50 out $10, audio in $40 out $80.
    let u = with_prompt_details(usage(1_000, 500), 0, 0, 300);
    let u = with_completion_details(u, 0, 200);
    let c = cost_per_token("gpt-4o-audio-preview-2024-12-17", &u).unwrap();
    assert_eq!(c.input, usd("0.00175")); // 700 × 2.5e-6
    assert_eq!(c.input_audio, usd("0.012")); // 300 × 4e-5
    assert_eq!(c.output, usd("0.003")); // 300 × 1e-5
    assert_eq!(c.output_audio, usd("0.016")); // 200 × 8e-5
    assert_eq!(c.total(), usd("0.03275"));
}

#[test]
fn context_tier_above_200k() {
    // gemini-2.5-pro (Gemini API): $1.25 / $10 up to 200k prompt tokens,
    // $2.50 / $15 above, cache read $0.125 / $0.25.
    let below = cost_per_token("gemini/gemini-2.5-pro", &usage(200_000, 1_000)).unwrap();
    assert_eq!(below.input, usd("0.25")); // 200000 × 1.25e-6: the threshold itself is not above
    assert_eq!(below.output, usd("0.01"));
    let above = cost_per_token(
        "gemini/gemini-2.5-pro",
        &with_prompt_details(usage(250_000, 1_000), 50_000, 0, 0),
    )
    .unwrap();
    assert_eq!(above.input, usd("0.5")); // 200000 × 2.5e-6
    assert_eq!(above.cache_read, usd("0.0125")); // 50000 × 2.5e-7
    assert_eq!(above.output, usd("0.015")); // 1000 × 1.5e-5
                                            // Vertex AI's entry for the same model.
    let vertex = cost_per_token("vertex_ai/gemini-2.5-pro", &usage(250_000, 1_000)).unwrap();
    assert_eq!(vertex.input, usd("0.625"));
}

#[test]
fn xai_threshold_is_inclusive() {
    // xai/grok-4.20: $1.25 in up to 200k, $2.50 from 200k on (xAI bills the
    // higher price once the prompt reaches the threshold).
    let c = cost_per_token("xai/grok-4.20", &usage(200_000, 0)).unwrap();
    assert_eq!(c.input, usd("0.5"));
    let c = cost_per_token("xai/grok-4.20", &usage(199_999, 0)).unwrap();
    assert_eq!(c.input, usd("0.24999875"));
}

#[test]
fn service_tiers() {
    let table = PriceTable::embedded();
    let gpt4o = table.lookup("gpt-4o").unwrap();
    // Priority: $4.25 / $17.
    let c = gpt4o
        .cost_per_token(
            &usage(1_000, 500),
            &CostOptions::tier(ServiceTier::Priority),
        )
        .unwrap();
    assert_eq!(c.total(), usd("0.01275"));
    // Batch: $1.25 / $5.
    let c = gpt4o
        .cost_per_token(&usage(1_000, 500), &CostOptions::tier(ServiceTier::Batch))
        .unwrap();
    assert_eq!(c.total(), usd("0.00375"));
    // Flex is not priced for gpt-4o: standard prices apply.
    let c = gpt4o
        .cost_per_token(&usage(1_000, 500), &CostOptions::tier(ServiceTier::Flex))
        .unwrap();
    assert_eq!(c.total(), usd("0.0075"));
    // gemini-2.5-pro priority above 200k: $4.50 in.
    let c = table
        .lookup("gemini/gemini-2.5-pro")
        .unwrap()
        .cost_per_token(
            &usage(300_000, 0),
            &CostOptions::tier(ServiceTier::Priority),
        )
        .unwrap();
    assert_eq!(c.input, usd("1.35"));
}

fn completion(service_tier: Option<&str>, usage: Option<Usage>) -> ChatCompletion {
    ChatCompletion {
        id: "chatcmpl-1".into(),
        object: "chat.completion".into(),
        created: 1,
        model: "gpt-5-2025-08-07".into(),
        choices: vec![Choice {
            index: 0,
            message: ResponseMessage {
                content: Some("hi".into()),
                ..Default::default()
            },
            logprobs: None,
            finish_reason: None,
            extra: Default::default(),
        }],
        usage,
        system_fingerprint: None,
        service_tier: service_tier.map(str::to_string),
        extra: Default::default(),
    }
}

#[test]
fn completion_cost_reads_usage_and_service_tier() {
    // gpt-5: standard $1.25 / $10, flex $0.625 / $5, priority $2.50 / $20;
    // "default" and "auto" are standard.
    let u = Some(usage(2_000, 1_000));
    for (tier, want) in [
        (None, "0.0125"),
        (Some("default"), "0.0125"),
        (Some("auto"), "0.0125"),
        (Some("flex"), "0.00625"),
        (Some("priority"), "0.025"),
    ] {
        let c = completion_cost("openai/gpt-5", &completion(tier, u.clone())).unwrap();
        assert_eq!(c.total(), usd(want), "{tier:?}");
    }
    let err = completion_cost("gpt-5", &completion(None, None)).unwrap_err();
    assert_eq!(
        err,
        CostError::NoUsage {
            model: "gpt-5".into()
        }
    );
    assert_eq!(
        err.to_string(),
        "cannot price a call to gpt-5: the response has no usage"
    );
}

#[test]
fn embeddings() {
    // text-embedding-3-small: $0.02 / 1M.
    let u = EmbeddingUsage {
        prompt_tokens: 1_000,
        total_tokens: 1_000,
    };
    let c = embedding_cost("openai/text-embedding-3-small", &u).unwrap();
    assert_eq!(c.total(), usd("0.00002"));
    assert_eq!(c.total().nano(), 20_000);
    // One token: 20 nano-dollars exactly.
    let one = embedding_cost(
        "text-embedding-3-small",
        &EmbeddingUsage {
            prompt_tokens: 1,
            total_tokens: 1,
        },
    )
    .unwrap();
    assert_eq!(one.total().femto(), 20_000_000);
    assert_eq!(one.total().nano(), 20);
}

#[test]
fn unknown_models_are_an_error_never_zero() {
    for model in [
        "openai/my-finetune",
        "no-such-model",
        "azure/my-deployment",
        // A bare name never borrows another provider's price.
        "groq/gpt-4o",
        "openai/claude-sonnet-4-5",
    ] {
        let err = cost_per_token(model, &usage(1, 1)).unwrap_err();
        assert_eq!(
            err,
            CostError::NoPrice {
                model: model.into()
            },
            "{model}"
        );
    }
    assert_eq!(
        cost_per_token("nope", &usage(1, 1)).unwrap_err().to_string(),
        "no price for nope: it is not in llmux's price table; set input_cost_per_token/output_cost_per_token for the deployment or load a LiteLLM-format prices file"
    );
}

#[test]
fn a_missing_price_the_call_needs_is_an_error() {
    let mut table = PriceTable::empty();
    table
        .load_litellm_json(r#"{"in-only": {"input_cost_per_token": 1e-6, "litellm_provider": "openai", "mode": "chat"}}"#)
        .unwrap();
    let info = table.lookup("in-only").unwrap();
    // No completion tokens: no output price needed.
    let c = info
        .cost_per_token(&usage(10, 0), &CostOptions::default())
        .unwrap();
    assert_eq!(c.total(), usd("0.00001"));
    let err = info
        .cost_per_token(&usage(10, 1), &CostOptions::default())
        .unwrap_err();
    assert_eq!(
        err,
        CostError::MissingPrice {
            model: "in-only".into(),
            price: "output_cost_per_token"
        }
    );
    // A cache read without a cache price falls back to the input price, not 0.
    let c = info
        .cost_per_token(
            &with_prompt_details(usage(10, 0), 10, 0, 0),
            &CostOptions::default(),
        )
        .unwrap();
    assert_eq!(c.cache_read, usd("0.00001"));
}

#[test]
fn deployment_prices_override_the_table() {
    let table = PriceTable::embedded();
    let params = json!({
        "model": "openai/gpt-4o",
        "api_key": "os.environ/OPENAI_API_KEY",
        "input_cost_per_token": 0.000002,
        "output_cost_per_token": "8e-6",
    });
    let o = PriceOverride::from_litellm_params(params.as_object().unwrap());
    let info = table.resolve("openai/gpt-4o", Some(&o)).unwrap();
    let u = with_prompt_details(usage(1_000, 500), 200, 0, 0);
    let c = info.cost_per_token(&u, &CostOptions::default()).unwrap();
    assert_eq!(c.input, usd("0.0016")); // 800 × 2e-6 (override)
    assert_eq!(c.cache_read, usd("0.00025")); // 200 × 1.25e-6 (table)
    assert_eq!(c.output, usd("0.004")); // 500 × 8e-6 (override)
    assert_eq!(info.max_input_tokens, Some(128_000));
    // The shared table is untouched.
    assert_eq!(
        cost_per_token("openai/gpt-4o", &usage(1_000, 0))
            .unwrap()
            .total(),
        usd("0.0025")
    );

    // A model the table does not know, priced by its deployment only.
    let o = PriceOverride::per_token(1e-7, 2e-7);
    let info = table.resolve("hosted_vllm/my-llama", Some(&o)).unwrap();
    let c = info
        .cost_per_token(&usage(1_000, 1_000), &CostOptions::default())
        .unwrap();
    assert_eq!(c.total(), usd("0.0003"));
    // No override, or an empty one: the plain lookup and its error.
    let empty = PriceOverride::from_litellm_params(json!({"api_key": "k"}).as_object().unwrap());
    assert!(empty.is_empty());
    assert_eq!(
        table
            .resolve("hosted_vllm/my-llama", Some(&empty))
            .unwrap_err(),
        CostError::NoPrice {
            model: "hosted_vllm/my-llama".into()
        }
    );
}

#[test]
fn litellm_file_extends_and_overrides() {
    let dir = std::env::temp_dir().join(format!("llmux-cost-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("prices.json");
    std::fs::write(
        &path,
        r#"{
          "sample_spec": {"input_cost_per_token": 0.0},
          "gpt-4o": {"input_cost_per_token": 5e-06, "output_cost_per_token": 1.5e-05,
                     "litellm_provider": "openai", "mode": "chat", "max_input_tokens": 64000},
          "my-corp/llm": {"input_cost_per_token": 1e-06, "output_cost_per_token": 2e-06,
                          "cache_read_input_token_cost": 1e-07,
                          "litellm_provider": "my-corp", "mode": "chat", "supports_vision": true}
        }"#,
    )
    .unwrap();
    let mut table = PriceTable::with_embedded();
    let before = table.len();
    assert_eq!(table.load_litellm_file(&path).unwrap(), 2);
    assert_eq!(table.len(), before + 1);
    let c = table
        .lookup("gpt-4o")
        .unwrap()
        .cost_per_token(&usage(1_000, 1_000), &CostOptions::default())
        .unwrap();
    assert_eq!(c.total(), usd("0.02"));
    // An entry replaces the table's: its batch prices are gone with it.
    assert_eq!(
        table.lookup("gpt-4o").unwrap().max_input_tokens,
        Some(64_000)
    );
    let corp = table.lookup("my-corp/llm").unwrap();
    assert!(corp.supports(Capability::Vision));
    assert_eq!(corp.mode, Mode::Chat);
    // The embedded table itself is unchanged.
    assert_eq!(
        PriceTable::embedded()
            .lookup("gpt-4o")
            .unwrap()
            .max_input_tokens,
        Some(128_000)
    );

    std::fs::write(&path, "{ not json").unwrap();
    let err = table.load_litellm_file(&path).unwrap_err();
    assert!(
        matches!(&err, CostError::InvalidPrices { source_name, .. } if source_name == &path.display().to_string()),
        "{err}"
    );
    let missing = dir.join("missing.json");
    let err = table.load_litellm_file(&missing).unwrap_err();
    assert!(matches!(err, CostError::Io { .. }), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn model_info() {
    let info = get_model_info("gpt-4o").unwrap();
    assert_eq!(info.key, "gpt-4o");
    assert_eq!(info.provider, "openai");
    assert_eq!(info.mode, Mode::Chat);
    assert_eq!(info.max_input_tokens, Some(128_000));
    assert_eq!(info.max_output_tokens, Some(16_384));
    assert!(info.supports(Capability::Vision));
    assert!(info.supports(Capability::FunctionCalling));
    assert!(info.supports(Capability::PromptCaching));
    assert!(!info.supports(Capability::Reasoning));
    assert_eq!(
        info.base_price(llmux_cost::PriceField::Input)
            .unwrap()
            .usd_per_million(),
        2.5
    );
    let emb = get_model_info("openai/text-embedding-3-small").unwrap();
    assert_eq!(emb.mode, Mode::Embedding);
    assert_eq!(emb.max_input_tokens, Some(8191));
    assert!(get_model_info("o1")
        .unwrap()
        .supports(Capability::Reasoning));
    // Azure's own entry, not OpenAI's.
    assert_eq!(get_model_info("azure/gpt-4o").unwrap().provider, "azure");
}

#[test]
fn spend_sums_exactly_in_nano_dollars() {
    // 10,000 calls of 1234 in / 567 out on gpt-4o-mini ($0.15 / $0.60):
    // each 0.0001851 + 0.0003402 = $0.0005253 = 525,300 nano-dollars.
    let one = cost_per_token("gpt-4o-mini", &usage(1_234, 567))
        .unwrap()
        .total();
    assert_eq!(one.nano(), 525_300);
    let total: Cost = (0..10_000).map(|_| one).sum();
    assert_eq!(total.nano(), 5_253_000_000);
    let nanos: i64 = (0..10_000).map(|_| one.nano()).sum();
    assert_eq!(nanos, total.nano());
    let floats: f64 = (0..10_000).map(|_| one.usd()).sum();
    assert_ne!(floats, 5.253, "floats drift; that is why spend is integer");
}

#[test]
fn every_table_model_prices_a_call_or_says_why() {
    let u = with_completion_details(
        with_prompt_details(usage(10_000, 1_000), 1_000, 500, 0),
        100,
        0,
    );
    let mut priced = 0;
    PriceTable::embedded().parse_all().unwrap();
    for m in PriceTable::embedded().models() {
        match m.cost_per_token(&u, &CostOptions::default()) {
            Ok(c) => {
                priced += 1;
                assert!(c.total() >= Cost::ZERO, "{}", m.key);
            }
            Err(CostError::MissingPrice { model, .. }) => assert_eq!(model, m.key),
            Err(e) => panic!("{}: {e}", m.key),
        }
        // Every entry is found under its own key.
        assert_eq!(PriceTable::embedded().lookup(&m.key).unwrap().key, m.key);
    }
    assert!(priced > 3_000, "{priced}");
}

#[test]
fn rerank_is_priced_per_query_or_per_token() {
    let opts = CostOptions::default();
    // Cohere rerank-v3.5: $0.002 per search unit, token prices 0.
    let cohere = get_model_info("cohere/rerank-v3.5").unwrap();
    assert_eq!(cohere.mode, Mode::Rerank);
    let c = cohere.rerank_cost(3, 5_000, &opts).unwrap();
    assert_eq!((c.queries, c.input), (usd("0.006"), Cost::ZERO));
    assert_eq!(c.total().nano(), 6_000_000);
    // Voyage rerank-2 and Jina: per token ($0.05 / 1M), no per-query price.
    let voyage = get_model_info("voyage/rerank-2").unwrap();
    assert_eq!(
        voyage.rerank_cost(1, 1_000_000, &opts).unwrap().total(),
        usd("0.05")
    );
    let jina = get_model_info("jina_ai/jina-reranker-v2-base-multilingual").unwrap();
    assert_eq!(
        jina.rerank_cost(1, 20, &opts).unwrap().total().nano(),
        1_000
    );
    // A model priced by neither is an error, not 0.
    let unpriced = PriceTable::parse("x/rr\tx\trerank\t\t\t\t0\tout=0");
    assert!(matches!(
        unpriced.lookup("x/rr").unwrap().rerank_cost(1, 10, &opts),
        Err(CostError::MissingPrice { .. })
    ));
}
