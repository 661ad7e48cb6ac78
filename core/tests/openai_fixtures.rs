#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Serde round trips of OpenAI's documented example payloads.
//!
//! Every file in `tests/fixtures/openai/` is an example taken from OpenAI's API
//! reference, guides, OpenAPI spec or official SDK test captures;
//! `tests/fixtures/openai/README.md` names the source of each and every edit made
//! to make it valid JSON. Each test deserialises a fixture into llmux-core's type,
//! checks that the data landed in the typed fields (not in the catch-all `extra`),
//! serialises it back and asserts the JSON value EQUALS the fixture — after the
//! normalisations listed in [`Norm`], which each test names explicitly. A
//! normalisation a test names but does not need fails the test too, so the lists
//! stay exact.

use llmux_core::error::OpenAiErrorBody;
use llmux_core::sse::SseDecoder;
use llmux_core::types::audio::{SpeechRequest, Transcription};
use llmux_core::types::chat::{
    ChatCompletion, ChatCompletionChunk, ChatCompletionRequest, ChatMessage, ContentPart,
    FinishReason, MessageContent, ResponseFormat, ToolCallDelta, ToolChoice,
};
use llmux_core::types::embeddings::{
    EmbeddingInput, EmbeddingRequest, EmbeddingResponse, EmbeddingVector,
};
use llmux_core::types::images::{Image, ImageGenerationRequest, ImagesResponse};
use llmux_core::types::models::{Model, ModelList};
use llmux_core::types::moderations::{ModerationRequest, ModerationResponse};
use llmux_core::types::OneOrMany;
use llmux_core::StreamAggregator;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Value};

mod common;

use common::{read_fixture, round_trip_text, Norm};

fn read(name: &str) -> String {
    read_fixture("openai", name)
}

fn round_trip<T: DeserializeOwned + Serialize>(name: &str, norms: &[Norm]) -> T {
    round_trip_text(name, &read(name), norms)
}

fn user_text(m: &ChatMessage) -> Option<&str> {
    match m {
        ChatMessage::User(u) => match &u.content {
            MessageContent::Text(t) => Some(t),
            MessageContent::Parts(_) => None,
        },
        _ => None,
    }
}

// ---------------------------------------------------------------- chat requests

#[test]
fn chat_request_default() {
    let req: ChatCompletionRequest = round_trip("chat_request_default.json", &[]);
    assert_eq!(req.model, "VAR_model_id");
    assert_eq!(req.messages.len(), 2);
    assert_eq!(
        req.messages[0],
        ChatMessage::system("You are a helpful assistant.")
    );
    assert_eq!(req.messages[1], ChatMessage::user("Hello!"));
    assert!(req.extra.is_empty());
}

#[test]
fn chat_request_developer_role() {
    let req: ChatCompletionRequest = round_trip("chat_request_developer.json", &[]);
    assert_eq!(req.messages[0].role(), "developer");
    match &req.messages[0] {
        ChatMessage::Developer(m) => {
            assert_eq!(m.content.text(), "You are a helpful assistant.");
            assert!(m.extra.is_empty());
        }
        other => panic!("{other:?}"),
    }
    assert!(req.extra.is_empty());
}

#[test]
fn chat_request_image_input() {
    let req: ChatCompletionRequest = round_trip("chat_request_image_input.json", &[]);
    assert_eq!(req.max_tokens, Some(300));
    let ChatMessage::User(user) = &req.messages[0] else {
        panic!("{:?}", req.messages[0]);
    };
    let MessageContent::Parts(parts) = &user.content else {
        panic!("{:?}", user.content);
    };
    assert!(matches!(&parts[0], ContentPart::Text(t) if t.text == "What's in this image?"));
    match &parts[1] {
        ContentPart::ImageUrl(p) => {
            assert!(p
                .image_url
                .url
                .ends_with("2560px-Gfp-wisconsin-madison-the-nature-boardwalk.jpg"));
            assert_eq!(p.image_url.detail, None);
            assert!(p.extra.is_empty());
        }
        other => panic!("{other:?}"),
    }
    assert!(req.extra.is_empty());
}

#[test]
fn chat_request_tools_and_tool_choice() {
    let req: ChatCompletionRequest = round_trip("chat_request_tools.json", &[]);
    assert_eq!(req.tool_choice, Some(ToolChoice::Auto));
    let tools = req.tools.as_ref().unwrap();
    assert_eq!(tools.len(), 1);
    assert_eq!(tools[0].r#type, "function");
    let f = tools[0].function.as_ref().unwrap();
    assert_eq!(f.name, "get_current_weather");
    assert_eq!(
        f.description.as_deref(),
        Some("Get the current weather in a given location")
    );
    assert_eq!(
        f.parameters.as_ref().unwrap()["required"],
        json!(["location"])
    );
    assert_eq!(f.strict, None);
    assert!(tools[0].extra.is_empty());
    assert!(req.extra.is_empty());
}

#[test]
fn chat_request_strict_tool_stream_store() {
    let req: ChatCompletionRequest = round_trip("chat_request_tools_strict_stream.json", &[]);
    let f = req.tools.as_ref().unwrap()[0].function.as_ref().unwrap();
    assert_eq!(f.name, "get_weather");
    assert_eq!(f.strict, Some(true));
    assert_eq!(
        f.parameters.as_ref().unwrap()["additionalProperties"],
        json!(false)
    );
    assert!(req.is_stream());
    assert_eq!(req.store, Some(true));
    assert_eq!(
        user_text(&req.messages[0]),
        Some("What's the weather like in Paris today?")
    );
    assert!(req.extra.is_empty());
}

/// `tool_choice` naming a function, in the shape the API reference documents
/// (`{"type": "function", "function": {"name": "my_function"}}`).
#[test]
fn chat_request_named_tool_choice() {
    let text = r#"{"model":"gpt-4o","messages":[{"role":"user","content":"Hi"}],
        "tool_choice":{"type":"function","function":{"name":"my_function"}}}"#;
    let req: ChatCompletionRequest = round_trip_text("named tool_choice", text, &[]);
    assert_eq!(
        req.tool_choice,
        Some(ToolChoice::Function("my_function".into()))
    );
    for (s, want) in [
        ("none", ToolChoice::None),
        ("auto", ToolChoice::Auto),
        ("required", ToolChoice::Required),
    ] {
        let choice: ToolChoice = round_trip_text(s, &format!("\"{s}\""), &[]);
        assert_eq!(choice, want);
    }
}

#[test]
fn chat_request_logprobs() {
    let req: ChatCompletionRequest = round_trip("chat_request_logprobs.json", &[]);
    assert_eq!(req.logprobs, Some(true));
    assert_eq!(req.top_logprobs, Some(2));
    assert!(req.extra.is_empty());
}

#[test]
fn chat_request_response_format_json_schema() {
    let req: ChatCompletionRequest = round_trip("chat_request_json_schema.json", &[]);
    match req.response_format.as_ref().unwrap() {
        ResponseFormat::JsonSchema { json_schema } => {
            assert_eq!(json_schema.name, "math_reasoning");
            assert_eq!(json_schema.strict, Some(true));
            assert_eq!(json_schema.description, None);
            assert_eq!(
                json_schema.schema.as_ref().unwrap()["required"],
                json!(["steps", "final_answer"])
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(req.extra.is_empty());
}

#[test]
fn chat_request_audio_output() {
    let req: ChatCompletionRequest = round_trip("chat_request_audio_output.json", &[]);
    assert_eq!(
        req.modalities.as_deref(),
        Some(&["text".to_string(), "audio".to_string()][..])
    );
    let audio = req.audio.as_ref().unwrap();
    assert_eq!(audio.voice, json!("alloy"));
    assert_eq!(audio.format, "wav");
    assert!(req.extra.is_empty());
}

#[test]
fn chat_request_audio_input_part() {
    let req: ChatCompletionRequest = round_trip("chat_request_audio_input.json", &[]);
    let ChatMessage::User(user) = &req.messages[0] else {
        panic!("{:?}", req.messages[0]);
    };
    let MessageContent::Parts(parts) = &user.content else {
        panic!("{:?}", user.content);
    };
    match &parts[1] {
        ContentPart::InputAudio(p) => {
            assert_eq!(p.input_audio.data, "<base64 bytes here>");
            assert_eq!(p.input_audio.format, "wav");
        }
        other => panic!("{other:?}"),
    }
    assert!(req.extra.is_empty());
}

#[test]
fn chat_request_prediction() {
    let req: ChatCompletionRequest = round_trip("chat_request_prediction.json", &[]);
    let prediction = req.prediction.as_ref().unwrap();
    assert_eq!(prediction.r#type, "content");
    assert_eq!(
        Some(prediction.content.text().as_str()),
        user_text(&req.messages[1])
    );
    assert!(req.extra.is_empty());
}

#[test]
fn chat_request_stream_options_include_usage() {
    let req: ChatCompletionRequest = round_trip(
        "chat_request_stream_usage.json",
        &[Norm::IntegralAsFloat(&["temperature"])],
    );
    assert_eq!(req.temperature, Some(0.0));
    assert!(req.is_stream());
    let opts = req.stream_options.as_ref().unwrap();
    assert_eq!(opts.include_usage, Some(true));
    assert!(opts.extra.is_empty());
    assert!(req.extra.is_empty());
}

// --------------------------------------------------------------- chat responses

#[test]
fn chat_response_default() {
    let c: ChatCompletion = round_trip("chat_response_default.json", &[]);
    assert_eq!(
        c.text(),
        Some("\n\nHello there, how may I assist you today?")
    );
    assert_eq!(c.choices[0].finish_reason, Some(FinishReason::Stop));
    assert_eq!(c.system_fingerprint.as_deref(), Some("fp_44709d6fcb"));
    let usage = c.usage.as_ref().unwrap();
    assert_eq!(
        (
            usage.prompt_tokens,
            usage.completion_tokens,
            usage.total_tokens
        ),
        (9, 12, 21)
    );
    assert_eq!(usage.reasoning_tokens(), 0);
    assert!(usage
        .completion_tokens_details
        .as_ref()
        .unwrap()
        .extra
        .is_empty());
    assert!(c.extra.is_empty());
}

#[test]
fn chat_response_with_usage_details() {
    for name in [
        "chat_response_usage_details.json",
        "chat_response_object.json",
    ] {
        let c: ChatCompletion =
            round_trip(name, &[Norm::NullOmitted(&["choices/*/message/refusal"])]);
        assert_eq!(c.service_tier.as_deref(), Some("default"));
        let msg = &c.choices[0].message;
        assert_eq!(msg.refusal, None);
        assert_eq!(msg.annotations.as_deref(), Some(&[][..]));
        let usage = c.usage.as_ref().unwrap();
        let prompt = usage.prompt_tokens_details.as_ref().unwrap();
        assert_eq!(
            (prompt.cached_tokens, prompt.audio_tokens),
            (Some(0), Some(0))
        );
        assert!(prompt.extra.is_empty());
        let completion = usage.completion_tokens_details.as_ref().unwrap();
        assert_eq!(completion.accepted_prediction_tokens, Some(0));
        assert_eq!(completion.rejected_prediction_tokens, Some(0));
        assert!(completion.extra.is_empty());
        assert!(msg.extra.is_empty() && c.choices[0].extra.is_empty() && c.extra.is_empty());
    }
}

#[test]
fn chat_response_tool_calls() {
    let c: ChatCompletion = round_trip("chat_response_tool_calls.json", &[]);
    let choice = &c.choices[0];
    assert_eq!(choice.finish_reason, Some(FinishReason::ToolCalls));
    assert_eq!(choice.message.content, None);
    let calls = choice.message.tool_calls.as_ref().unwrap();
    assert_eq!(
        calls[0],
        llmux_core::types::chat::ToolCall::function(
            "call_abc123",
            "get_current_weather",
            "{\n\"location\": \"Boston, MA\"\n}"
        )
    );
    assert!(choice.message.extra.is_empty() && c.extra.is_empty());
}

/// Regression: a `custom` tool call (`{"type": "custom", "custom": {"name",
/// "input"}}`, documented in the chat completion object) made the whole
/// `chat.completion` fail to deserialise, because `ToolCall` required `function`.
#[test]
fn custom_tool_call_in_chat_completion_failed_to_deserialize() {
    let c: ChatCompletion = round_trip("chat_response_custom_tool_call.json", &[]);
    let calls = c.choices[0].message.tool_calls.as_ref().unwrap();
    assert_eq!(
        calls[0],
        llmux_core::types::chat::ToolCall::function("call_fn", "get_weather", "{}")
    );
    assert_eq!(calls[1].r#type, "custom");
    assert_eq!(calls[1].function.name, "run_python");
    assert_eq!(calls[1].function.arguments, "print(1)");
    // The same call sent back on the next turn keeps its shape.
    let text = r#"{"model":"gpt-5","messages":[{"role":"assistant","content":null,
        "tool_calls":[{"id":"call_custom","type":"custom","custom":{"name":"run_python","input":"print(1)"}}]},
        {"role":"tool","tool_call_id":"call_custom","content":"1"}]}"#;
    let req: ChatCompletionRequest = round_trip_text(
        "custom tool call sent back",
        text,
        &[Norm::NullOmitted(&["messages/*/content"])],
    );
    assert_eq!(req.messages[1].role(), "tool");
    let bad = r#"{"id":"call_x","type":"custom"}"#;
    let err = serde_json::from_str::<llmux_core::types::chat::ToolCall>(bad).unwrap_err();
    assert!(
        err.to_string().contains("neither `function` nor `custom`"),
        "{err}"
    );
}

#[test]
fn chat_response_logprobs() {
    let c: ChatCompletion = round_trip(
        "chat_response_logprobs.json",
        &[Norm::NullOmitted(&["system_fingerprint"])],
    );
    let lp = c.choices[0].logprobs.as_ref().unwrap();
    let tokens: Vec<&str> = lp["content"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["token"].as_str().unwrap())
        .collect();
    assert_eq!(
        tokens,
        ["Hello", "!", " How", " can", " I", " assist", " you", " today", "?"]
    );
    // A token without a byte representation keeps its explicit `bytes: null`.
    assert_eq!(lp["content"][2]["top_logprobs"][1]["bytes"], Value::Null);
    assert_eq!(c.system_fingerprint, None);
}

#[test]
fn chat_response_prediction_usage() {
    let c: ChatCompletion = round_trip("chat_response_prediction_usage.json", &[]);
    let details = c
        .usage
        .as_ref()
        .unwrap()
        .completion_tokens_details
        .as_ref()
        .unwrap();
    assert_eq!(details.accepted_prediction_tokens, Some(18));
    assert_eq!(details.rejected_prediction_tokens, Some(10));
    assert!(c.choices.is_empty());
}

// ------------------------------------------------------------------ chat chunks

/// Decode an SSE body into its `data:` payloads, feeding it in pieces.
fn sse_data(body: &[u8], pieces: &[&[u8]]) -> Vec<String> {
    let mut dec = SseDecoder::new();
    let mut out = Vec::new();
    for piece in pieces {
        dec.push(piece);
        while let Some(ev) = dec.next_event().unwrap() {
            out.push(ev.data);
        }
    }
    if let Some(ev) = dec.finish().unwrap() {
        out.push(ev.data);
    }
    assert_eq!(pieces.concat(), body);
    out
}

/// The payloads of `name`, checked identical when the bytes arrive whole, one
/// at a time, and split in two at every index.
fn stream_payloads(name: &str) -> Vec<String> {
    let body = read(name).into_bytes();
    let whole = sse_data(&body, &[&body]);
    let bytes: Vec<&[u8]> = body.chunks(1).collect();
    assert_eq!(sse_data(&body, &bytes), whole, "{name}: byte by byte");
    for i in 0..=body.len() {
        let (a, b) = body.split_at(i);
        assert_eq!(sse_data(&body, &[a, b]), whole, "{name}: split at {i}");
    }
    assert_eq!(whole.last().map(String::as_str), Some("[DONE]"));
    whole
}

/// Round-trip every chunk of `name`; returns the chunks and their aggregate.
fn round_trip_stream(name: &str, norms: &[Norm]) -> (Vec<ChatCompletionChunk>, ChatCompletion) {
    let payloads = stream_payloads(name);
    let (done, data) = payloads.split_last().unwrap();
    assert_eq!(done, "[DONE]");
    let mut agg = StreamAggregator::new();
    let mut chunks = Vec::new();
    // A norm need not apply to every chunk, but must apply to some chunk.
    let mut used = vec![false; norms.len()];
    for (i, payload) in data.iter().enumerate() {
        let chunk: ChatCompletionChunk = serde_json::from_str(payload).unwrap();
        let back = serde_json::to_value(&chunk).unwrap();
        let mut expected: Value = serde_json::from_str(payload).unwrap();
        for (norm, used) in norms.iter().zip(&mut used) {
            let before = expected.clone();
            norm.apply(&mut expected);
            *used |= before != expected;
        }
        assert_eq!(back, expected, "{name}: chunk {i} round trip differs");
        assert!(
            chunk.extra.is_empty(),
            "{name}: chunk {i}: {:?}",
            chunk.extra
        );
        for c in &chunk.choices {
            assert!(
                c.extra.is_empty() && c.delta.extra.is_empty(),
                "{name}: chunk {i}"
            );
        }
        agg.push(&chunk);
        chunks.push(chunk);
    }
    for (norm, used) in norms.iter().zip(used) {
        assert!(
            used,
            "{name}: normalisation {norm:?} is listed but not needed"
        );
    }
    (chunks, agg.finish())
}

#[test]
fn chat_stream_content_deltas() {
    let (chunks, completion) = round_trip_stream(
        "chat_stream_content.sse",
        &[Norm::NullOmitted(&["choices/*/logprobs"])],
    );
    assert_eq!(chunks.len(), 3);
    assert_eq!(
        chunks[0].choices[0].delta.role.as_deref(),
        Some("assistant")
    );
    assert_eq!(chunks[0].choices[0].delta.content.as_deref(), Some(""));
    assert_eq!(chunks[2].choices[0].finish_reason, Some(FinishReason::Stop));
    assert_eq!(
        serde_json::to_value(&completion).unwrap(),
        json!({
            "id": "chatcmpl-123",
            "object": "chat.completion",
            "created": 1694268190,
            "model": "gpt-4o-mini",
            "system_fingerprint": "fp_44709d6fcb",
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": "Hello"},
                "logprobs": null,
                "finish_reason": "stop"
            }]
        })
    );
}

#[test]
fn chat_stream_tool_call_deltas_and_final_usage_chunk() {
    let (chunks, completion) = round_trip_stream(
        "chat_stream_tool_calls.sse",
        &[Norm::NullOmitted(&[
            "choices/*/logprobs",
            "choices/*/delta/content",
            "choices/*/delta/refusal",
        ])],
    );
    assert_eq!(chunks.len(), 17);
    let first = &chunks[0].choices[0].delta.tool_calls.as_ref().unwrap()[0];
    assert_eq!(first.id.as_deref(), Some("call_7PhhveOvvpPK53s1fV8TWhoV"));
    assert_eq!(
        first.function.as_ref().unwrap().name.as_deref(),
        Some("GetWeatherArgs")
    );
    let last = chunks.last().unwrap();
    assert!(last.choices.is_empty());
    assert_eq!(last.usage.as_ref().unwrap().total_tokens, 100);
    assert_eq!(
        serde_json::to_value(&completion).unwrap(),
        json!({
            "id": "chatcmpl-9tXjnXkjzholyB3ceNegQC7g5zP57",
            "object": "chat.completion",
            "created": 1723024755,
            "model": "gpt-4o-2024-08-06",
            "system_fingerprint": "fp_845eaabc1f",
            "choices": [{
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": null,
                    "tool_calls": [{
                        "id": "call_7PhhveOvvpPK53s1fV8TWhoV",
                        "type": "function",
                        "function": {
                            "name": "GetWeatherArgs",
                            "arguments": "{\"city\":\"Edinburgh\",\"country\":\"GB\",\"units\":\"c\"}"
                        }
                    }]
                },
                "logprobs": null,
                "finish_reason": "tool_calls"
            }],
            "usage": {"prompt_tokens": 76, "completion_tokens": 24, "total_tokens": 100}
        })
    );
}

#[test]
fn chat_stream_logprobs_chunks() {
    let (_, completion) = round_trip_stream(
        "chat_stream_logprobs.sse",
        &[Norm::NullOmitted(&[
            "choices/*/logprobs",
            "choices/*/delta/refusal",
        ])],
    );
    assert_eq!(completion.text(), Some("Foo."));
    assert_eq!(
        completion.choices[0].logprobs,
        Some(json!({"content": [
            {"token": "Foo", "logprob": -0.0067602484, "bytes": [70, 111, 111], "top_logprobs": []},
            {"token": ".", "logprob": -2.4962392, "bytes": [46], "top_logprobs": []}
        ]}))
    );
    assert_eq!(completion.usage.as_ref().unwrap().total_tokens, 11);
}

/// The `delta.tool_calls` values the function-calling guide prints for a
/// streamed call: explicit `null`s for the fields a continuation fragment lacks.
#[test]
fn chat_tool_call_deltas_from_the_guide() {
    let deltas: Vec<Option<Vec<ToolCallDelta>>> = round_trip(
        "chat_tool_call_deltas_guide.json",
        &[Norm::NullOmitted(&[
            "*/*/id",
            "*/*/function/name",
            "*/*/type",
        ])],
    );
    let args: String = deltas
        .iter()
        .flatten()
        .flatten()
        .filter_map(|d| d.function.as_ref()?.arguments.clone())
        .collect();
    assert_eq!(args, r#"{"location":"Paris, France"}"#);
    assert_eq!(deltas.last(), Some(&None));
}

// ------------------------------------------------------------------- embeddings

#[test]
fn embeddings_request_float_and_base64() {
    let req: EmbeddingRequest = round_trip("embeddings_request.json", &[]);
    assert_eq!(
        req.input,
        EmbeddingInput::Text("The food was delicious and the waiter...".into())
    );
    assert_eq!(req.encoding_format.as_deref(), Some("float"));
    assert!(req.extra.is_empty());
    let req: EmbeddingRequest = round_trip("embeddings_request_base64.json", &[]);
    assert_eq!(req.encoding_format.as_deref(), Some("base64"));
}

#[test]
fn embeddings_response_float() {
    let resp: EmbeddingResponse = round_trip("embeddings_response_float.json", &[]);
    assert_eq!(
        resp.data[0].embedding,
        EmbeddingVector::Float(vec![0.0023064255, -0.009327292, -0.0028842222])
    );
    assert_eq!((resp.usage.prompt_tokens, resp.usage.total_tokens), (8, 8));
    assert!(resp.extra.is_empty());
}

#[test]
fn embeddings_response_base64() {
    let resp: EmbeddingResponse = round_trip("embeddings_response_base64.json", &[]);
    let EmbeddingVector::Base64(b64) = &resp.data[0].embedding else {
        panic!("{:?}", resp.data[0].embedding);
    };
    assert_eq!(b64, "ZicXO4DRGLw4BT27");
}

// ------------------------------------------------------ models, images, audio, …

#[test]
fn models_list_and_model() {
    let list: ModelList = round_trip("models_list.json", &[]);
    let ids: Vec<&str> = list.data.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(ids, ["model-id-0", "model-id-1", "model-id-2"]);
    assert!(list.data.iter().all(|m| m.extra.is_empty()));
    let model: Model = round_trip("model_retrieve.json", &[]);
    assert_eq!(
        (model.id.as_str(), model.created, model.owned_by.as_str()),
        ("gpt-4o", 1686935002, "openai")
    );
}

#[test]
fn image_generation_requests_and_responses() {
    let req: ImageGenerationRequest = round_trip("images_request_dalle3.json", &[]);
    assert_eq!(
        (req.model.as_deref(), req.n, req.size.as_deref()),
        (Some("dall-e-3"), Some(1), Some("1024x1024"))
    );
    assert!(req.extra.is_empty());
    let req: ImageGenerationRequest = round_trip("images_request_gpt_image_1.json", &[]);
    assert_eq!(req.model.as_deref(), Some("gpt-image-1"));

    let resp: ImagesResponse = round_trip("images_response_url.json", &[]);
    assert_eq!(resp.data.len(), 2);
    assert_eq!(resp.data[0].url.as_deref(), Some("https://..."));
    let resp: ImagesResponse = round_trip("images_response_gpt_image_1.json", &[]);
    assert_eq!(resp.data[0].b64_json.as_deref(), Some("..."));
    assert_eq!(
        resp.usage.as_ref().unwrap()["input_tokens_details"]["image_tokens"],
        40
    );
    assert!(resp.extra.is_empty());
    let image: Image = round_trip("image_object.json", &[]);
    assert_eq!(image.revised_prompt.as_deref(), Some("..."));
}

#[test]
fn moderation_requests_and_responses() {
    let req: ModerationRequest = round_trip("moderation_request_text.json", &[]);
    assert_eq!(
        (req.input.as_str(), req.model.as_deref()),
        (Some("I want to kill them."), None)
    );
    let req: ModerationRequest = round_trip("moderation_request_multimodal.json", &[]);
    assert_eq!(req.model.as_deref(), Some("omni-moderation-latest"));
    assert_eq!(req.input[1]["type"], "image_url");

    let resp: ModerationResponse = round_trip("moderation_response_text.json", &[]);
    assert!(resp.results[0].flagged);
    assert_eq!(resp.results[0].categories["violence"], json!(true));
    assert_eq!(resp.results[0].category_applied_input_types, None);
    let resp: ModerationResponse = round_trip("moderation_response_omni.json", &[]);
    let applied = resp.results[0]
        .category_applied_input_types
        .as_ref()
        .unwrap();
    assert_eq!(applied["violence"], json!(["text", "image"]));
    assert_eq!(resp.results[0].category_scores.len(), 13);
}

#[test]
fn transcription_responses() {
    let t: Transcription = round_trip("transcription_response_json.json", &[]);
    assert!(t.text.starts_with("Imagine the wildest idea"));
    assert!(t.extra.is_empty());
    for name in [
        "transcription_response_verbose_words.json",
        "transcription_response_verbose_segments.json",
    ] {
        let t: Transcription = round_trip(name, &[]);
        assert_eq!(t.language.as_deref(), Some("english"));
        assert_eq!(t.duration, Some(8.470000267028809));
        assert_eq!(t.extra["task"], "transcribe");
    }
}

#[test]
fn speech_request() {
    let req: SpeechRequest = round_trip("speech_request.json", &[]);
    assert_eq!((req.model.as_str(), req.voice.as_str()), ("tts-1", "alloy"));
    assert!(req.extra.is_empty());
}

#[test]
fn error_body() {
    let body: OpenAiErrorBody = round_trip("error_invalid_api_key.json", &[]);
    assert_eq!(body.error.r#type, "invalid_request_error");
    assert_eq!(body.error.code.as_deref(), Some("invalid_api_key"));
    assert_eq!(body.error.param, None);
}

/// `stop` as a string and as a list (the API reference documents both).
#[test]
fn stop_string_or_list() {
    let text = r#"{"model":"m","messages":[],"stop":"\n"}"#;
    let req: ChatCompletionRequest = round_trip_text("stop string", text, &[]);
    assert_eq!(req.stop, Some(OneOrMany::One("\n".into())));
    let text = r#"{"model":"m","messages":[],"stop":["\n","END"]}"#;
    let req: ChatCompletionRequest = round_trip_text("stop list", text, &[]);
    assert_eq!(req.stop.unwrap().to_vec(), ["\n", "END"]);
}
