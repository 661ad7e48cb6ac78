#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Serde round trips of OpenAI's documented Responses API payloads.
//!
//! Every file in `tests/fixtures/openai/responses/` is an example taken from
//! OpenAI's API reference, cookbook or SDK test captures;
//! `tests/fixtures/openai/responses/README.md` names the source of each and
//! every edit made to it. As in `openai_fixtures.rs`, each test deserialises a
//! fixture, checks that the data landed in typed fields (not in `extra`),
//! serialises it back and asserts the JSON value EQUALS the fixture after the
//! normalisations it names (see [`Norm`]; a listed normalisation that changes
//! nothing fails the test).

use llmux_core::sse::SseDecoder;
use llmux_core::types::responses::Response;
use llmux_core::types::responses::{
    ContentPart, CreateResponseRequest, InputItemList, InputTokensRequest, InputTokensResponse,
    Item, MessageContent, ResponseDeleted, ResponseInput, ResponseStatus, ResponseStreamEvent,
    ResponsesToolChoice, Role, TextFormat, Tool, ToolOutput,
};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Value};

mod common;

use common::{read_fixture, round_trip_text, Norm};

fn read(name: &str) -> String {
    read_fixture("openai/responses", name)
}

fn round_trip<T: DeserializeOwned + Serialize>(name: &str, norms: &[Norm]) -> T {
    round_trip_text(name, &read(name), norms)
}

/// Every `event:`/`data:` pair of an SSE fixture: the event name must repeat
/// the payload's `type`; each payload must round-trip as a typed (never
/// `Unknown`) event after `norms`, and each norm must be needed by some event.
fn round_trip_stream(name: &str, norms: &[Norm]) -> Vec<ResponseStreamEvent> {
    let body = read(name);
    let mut dec = SseDecoder::new();
    dec.push(body.as_bytes());
    let mut raw = Vec::new();
    while let Some(ev) = dec.next_event().unwrap() {
        raw.push(ev);
    }
    if let Some(ev) = dec.finish().unwrap() {
        raw.push(ev);
    }
    let mut used = vec![false; norms.len()];
    let mut out = Vec::new();
    for (i, ev) in raw.into_iter().enumerate() {
        let what = format!("{name} event {i}");
        let typed: ResponseStreamEvent =
            serde_json::from_str(&ev.data).unwrap_or_else(|e| panic!("{what}: {e}"));
        assert!(
            !typed.is_unknown(),
            "{what}: parsed as Unknown: {}",
            ev.data
        );
        assert_eq!(ev.event.as_deref(), Some(typed.type_name()), "{what}");
        let back = serde_json::to_value(&typed).unwrap();
        let mut expected: Value = serde_json::from_str(&ev.data).unwrap();
        for (n, norm) in norms.iter().enumerate() {
            let before = expected.clone();
            norm.apply(&mut expected);
            used[n] |= before != expected;
        }
        assert_eq!(
            back,
            expected,
            "{what}: round trip differs\n back: {}\n want: {}",
            serde_json::to_string_pretty(&back).unwrap(),
            serde_json::to_string_pretty(&expected).unwrap()
        );
        out.push(typed);
    }
    for (norm, used) in norms.iter().zip(used) {
        assert!(
            used,
            "{name}: normalisation {norm:?} is listed but not needed"
        );
    }
    out
}

fn sequence_number(ev: &ResponseStreamEvent) -> u64 {
    serde_json::to_value(ev).unwrap()["sequence_number"]
        .as_u64()
        .unwrap()
}

// ---------------------------------------------------------------- requests

#[test]
fn request_text_input() {
    let req: CreateResponseRequest = round_trip("request_text_input.json", &[]);
    assert_eq!(req.model, "gpt-4.1");
    assert_eq!(
        req.input,
        Some(ResponseInput::Text(
            "Tell me a three sentence bedtime story about a unicorn.".into()
        ))
    );
    let items = req.input_items();
    assert!(matches!(&items[0], Item::Message(m) if m.role == Role::User));
    assert!(req.extra.is_empty());
}

#[test]
fn request_tools_tool_choice_previous_response() {
    let req: CreateResponseRequest = round_trip("request_tools_previous_response.json", &[]);
    assert_eq!(req.tool_choice, Some(ResponsesToolChoice::Auto));
    assert_eq!(
        req.previous_response_id.as_deref(),
        Some("resp_67ccd2bed1ec8190b14f964abc0542670bb6a6b452d3795b")
    );
    let tools = req.tools.as_ref().unwrap();
    let Tool::Function(f) = &tools[0] else {
        panic!("{:?}", tools[0]);
    };
    assert_eq!(f.name, "get_current_weather");
    assert_eq!(
        f.parameters.as_ref().unwrap()["required"],
        json!(["location", "unit"])
    );
    assert_eq!(f.strict, None);
    assert!(f.extra.is_empty());
    assert!(req.extra.is_empty());
}

/// The cookbook's second turn: the whole first output (reasoning item and
/// function call) sent back with the function's result, as Codex CLI does.
#[test]
fn request_reasoning_and_function_call_output_items() {
    let req: CreateResponseRequest = round_trip("request_reasoning_function_call_output.json", &[]);
    let Some(ResponseInput::Items(items)) = &req.input else {
        panic!("{:?}", req.input);
    };
    assert_eq!(items.len(), 4);
    match &items[0] {
        Item::Message(m) => {
            assert_eq!(m.r#type, None, "short form has no type and keeps none");
            assert_eq!(m.role, Role::User);
            assert_eq!(m.text(), "What's the weather like in Paris today?");
        }
        other => panic!("{other:?}"),
    }
    match &items[1] {
        Item::Reasoning(r) => {
            assert_eq!(
                r.id.as_deref(),
                Some("rs_68210c71a95c81919cc44afadb9d220400c77cc15fd2f785")
            );
            assert!(r.summary.is_empty());
            assert!(r.extra.is_empty());
        }
        other => panic!("{other:?}"),
    }
    match &items[2] {
        Item::FunctionCall(fc) => {
            assert_eq!(fc.call_id, "call_9ylqPOZUyFEwhxvBwgpNDqPT");
            assert_eq!(fc.name, "get_weather");
            assert_eq!(fc.arguments, r#"{"latitude":48.8566,"longitude":2.3522}"#);
            assert_eq!(fc.status.as_deref(), Some("completed"));
            assert!(fc.extra.is_empty());
        }
        other => panic!("{other:?}"),
    }
    match &items[3] {
        Item::FunctionCallOutput(o) => {
            assert_eq!(o.call_id, "call_9ylqPOZUyFEwhxvBwgpNDqPT");
            assert_eq!(o.output, ToolOutput::Text("16.3".into()));
            assert!(o.extra.is_empty());
        }
        other => panic!("{other:?}"),
    }
    let Tool::Function(f) = &req.tools.as_ref().unwrap()[0] else {
        panic!();
    };
    assert_eq!(f.strict, Some(true));
    assert!(req.extra.is_empty());
}

/// Every `tool_choice` shape the API reference lists.
#[test]
fn tool_choice_shapes() {
    for (text, want) in [
        (r#""none""#, ResponsesToolChoice::None),
        (r#""auto""#, ResponsesToolChoice::Auto),
        (r#""required""#, ResponsesToolChoice::Required),
        (
            r#"{"type":"function","name":"get_weather"}"#,
            ResponsesToolChoice::Function("get_weather".into()),
        ),
        (
            r#"{"type":"custom","name":"code_exec"}"#,
            ResponsesToolChoice::Custom("code_exec".into()),
        ),
        (
            r#"{"type":"allowed_tools","mode":"auto","tools":[{"type":"function","name":"get_weather"},{"type":"image_generation"}]}"#,
            ResponsesToolChoice::AllowedTools {
                mode: "auto".into(),
                tools: vec![
                    json!({"type":"function","name":"get_weather"}),
                    json!({"type":"image_generation"}),
                ],
            },
        ),
        (
            r#"{"type":"web_search_preview"}"#,
            ResponsesToolChoice::Hosted("web_search_preview".into()),
        ),
        (
            r#"{"type":"mcp","server_label":"deepwiki","name":"ask_question"}"#,
            ResponsesToolChoice::Other(
                json!({"type":"mcp","server_label":"deepwiki","name":"ask_question"}),
            ),
        ),
    ] {
        let choice: ResponsesToolChoice = round_trip_text(text, text, &[]);
        assert_eq!(choice, want, "{text}");
    }
}

/// `text.format` json_schema (flat, unlike chat), `reasoning`, hosted tools
/// kept raw, Codex item shapes typed.
#[test]
fn request_structured_output_hosted_tools_and_codex_items() {
    let text = r#"{
      "model": "gpt-5",
      "instructions": "You are Codex.",
      "input": [
        {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "be brief"}]},
        {"type": "message", "role": "user", "content": [
          {"type": "input_text", "text": "what is in this image and file?"},
          {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}},
          {"type": "input_image", "image_url": "https://example.com/a.png", "detail": "high"},
          {"type": "input_file", "filename": "a.pdf", "file_data": "data:application/pdf;base64,AAAA"}
        ]},
        {"type": "local_shell_call", "id": "lsh_1", "call_id": "call_1", "status": "completed",
         "action": {"type": "exec", "command": ["bash", "-lc", "ls"], "timeout_ms": 1000, "working_directory": "/tmp"}},
        {"type": "local_shell_call_output", "id": "call_1", "output": "{\"output\":\"a\\n\"}"},
        {"type": "custom_tool_call", "id": "ctc_1", "call_id": "call_2", "name": "apply_patch", "input": "*** Begin Patch"},
        {"type": "custom_tool_call_output", "call_id": "call_2", "output": "Done!"},
        {"type": "web_search_call", "id": "ws_1", "status": "completed", "action": {"type": "search", "query": "x"}},
        {"type": "item_reference", "id": "msg_1"}
      ],
      "tools": [
        {"type": "custom", "name": "apply_patch", "description": "patch files", "format": {"type": "text"}},
        {"type": "web_search_preview", "search_context_size": "low"},
        {"type": "local_shell"}
      ],
      "text": {"format": {"type": "json_schema", "name": "answer", "strict": true,
               "schema": {"type": "object", "properties": {"a": {"type": "string"}}}}, "verbosity": "low"},
      "reasoning": {"effort": "high", "summary": "auto"},
      "include": ["reasoning.encrypted_content"],
      "store": false,
      "stream": true,
      "prompt_cache_key": "abc",
      "parallel_tool_calls": false,
      "max_output_tokens": 1024
    }"#;
    let req: CreateResponseRequest = round_trip_text("codex-like request", text, &[]);
    let Some(ResponseInput::Items(items)) = &req.input else {
        panic!();
    };
    let types: Vec<&str> = items.iter().map(Item::type_name).collect();
    assert_eq!(
        types,
        [
            "message",
            "message",
            "local_shell_call",
            "local_shell_call_output",
            "custom_tool_call",
            "custom_tool_call_output",
            "web_search_call",
            "item_reference"
        ]
    );
    assert!(matches!(&items[6], Item::Other(_)));
    let Item::Message(m) = &items[1] else {
        panic!()
    };
    let MessageContent::Parts(parts) = &m.content else {
        panic!()
    };
    // A part type llmux does not model is kept as it came.
    assert!(matches!(&parts[1], ContentPart::Other(_)));
    assert_eq!(parts[1].type_name(), "input_audio");
    assert!(matches!(&parts[2], ContentPart::InputImage(i) if i.detail.as_deref() == Some("high")));
    assert!(
        matches!(&parts[3], ContentPart::InputFile(f) if f.filename.as_deref() == Some("a.pdf"))
    );
    let Item::LocalShellCall(ls) = &items[2] else {
        panic!()
    };
    assert_eq!(ls.action.command, ["bash", "-lc", "ls"]);
    let tools = req.tools.as_ref().unwrap();
    assert!(matches!(&tools[0], Tool::Custom(c) if c.name == "apply_patch"));
    assert!(matches!(&tools[1], Tool::Hosted(_)));
    assert_eq!(tools[1].type_name(), "web_search_preview");
    match req.text.as_ref().unwrap().format.as_ref().unwrap() {
        TextFormat::JsonSchema(s) => {
            assert_eq!(s.name, "answer");
            assert_eq!(s.strict, Some(true));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        req.reasoning.as_ref().unwrap().effort.as_deref(),
        Some("high")
    );
    assert!(req.extra.is_empty());
}

#[test]
fn input_tokens_request_and_response() {
    let text = r#"{"model":"gpt-5","input":"Tell me a joke.","instructions":"be funny"}"#;
    let req: InputTokensRequest = round_trip_text("input_tokens request", text, &[]);
    assert_eq!(req.model.as_deref(), Some("gpt-5"));
    assert!(req.extra.is_empty());
    let resp: InputTokensResponse = round_trip("input_tokens_response.json", &[]);
    assert_eq!(resp.object, "response.input_tokens");
    assert_eq!(resp.input_tokens, 123);
}

// ---------------------------------------------------------------- responses

#[test]
fn response_message_with_usage_details() {
    let resp: Response = round_trip(
        "response_message_usage.json",
        &[Norm::NullOmitted(&[
            "max_tool_calls",
            "prompt_cache_key",
            "safety_identifier",
            "reasoning/effort",
            "reasoning/summary",
        ])],
    );
    assert_eq!(resp.status, ResponseStatus::Completed);
    assert_eq!(resp.background, Some(false));
    assert_eq!(resp.service_tier.as_deref(), Some("default"));
    assert_eq!(resp.top_logprobs, Some(0));
    assert_eq!(
        resp.text.as_ref().unwrap().verbosity.as_deref(),
        Some("medium")
    );
    assert!(resp
        .output_text()
        .starts_with("I can't provide real-time updates"));
    let usage = resp.usage.as_ref().unwrap();
    assert_eq!(
        (usage.input_tokens, usage.output_tokens, usage.total_tokens),
        (14, 50, 64)
    );
    assert_eq!(
        usage.input_tokens_details.as_ref().unwrap().cached_tokens,
        0
    );
    assert_eq!(
        usage
            .output_tokens_details
            .as_ref()
            .unwrap()
            .reasoning_tokens,
        0
    );
    let Item::Message(m) = &resp.output[0] else {
        panic!()
    };
    let MessageContent::Parts(parts) = &m.content else {
        panic!()
    };
    assert!(
        matches!(&parts[0], ContentPart::OutputText(t) if t.logprobs == Some(vec![]) && t.extra.is_empty())
    );
    assert!(resp.extra.is_empty());
}

#[test]
fn response_function_call() {
    let resp: Response = round_trip(
        "response_function_call.json",
        &[Norm::NullOmitted(&[
            "reasoning/effort",
            "reasoning/summary",
        ])],
    );
    let Item::FunctionCall(fc) = &resp.output[0] else {
        panic!("{:?}", resp.output[0]);
    };
    assert_eq!(
        fc.id.as_deref(),
        Some("fc_67ca09c6bedc8190a7abfec07b1a1332096610f474011cc0")
    );
    assert_eq!(fc.call_id, "call_unLAR8MvFNptuiZK6K6HCy5k");
    assert_eq!(
        fc.arguments,
        r#"{"location":"Boston, MA","unit":"celsius"}"#
    );
    assert_eq!(resp.output_text(), "");
    assert!(
        matches!(&resp.tools.as_ref().unwrap()[0], Tool::Function(f) if f.strict == Some(true))
    );
    assert_eq!(resp.usage.as_ref().unwrap().input_tokens_details, None);
    assert!(resp.extra.is_empty());
}

#[test]
fn response_with_reasoning_item() {
    let resp: Response = round_trip(
        "response_reasoning_item.json",
        &[Norm::NullOmitted(&["output/*/status", "reasoning/summary"])],
    );
    let Item::Reasoning(r) = &resp.output[0] else {
        panic!("{:?}", resp.output[0]);
    };
    assert_eq!(
        r.id.as_deref(),
        Some("rs_6820f383d7c08191846711c5df8233bc0ac5ba57aafcbac7")
    );
    assert!(r.summary.is_empty() && r.encrypted_content.is_none());
    let reasoning = resp.reasoning.as_ref().unwrap();
    assert_eq!(reasoning.effort.as_deref(), Some("medium"));
    // The deprecated `generate_summary` is not modelled; it rides in `extra`.
    assert_eq!(reasoning.extra.get("generate_summary"), Some(&Value::Null));
    assert_eq!(
        resp.usage
            .as_ref()
            .unwrap()
            .output_tokens_details
            .as_ref()
            .unwrap()
            .reasoning_tokens,
        128
    );
    assert_eq!(
        resp.output_text(),
        "Why don\u{2019}t scientists trust atoms?  \nBecause they make up everything!"
    );
    assert!(resp.extra.is_empty());
}

#[test]
fn input_item_list_and_delete() {
    let list: InputItemList = round_trip("input_item_list.json", &[]);
    assert_eq!(list.first_id.as_deref(), Some("msg_abc123"));
    assert!(!list.has_more);
    let Item::Message(m) = &list.data[0] else {
        panic!()
    };
    assert_eq!(m.id.as_deref(), Some("msg_abc123"));
    assert!(
        matches!(&m.content, MessageContent::Parts(p) if matches!(&p[0], ContentPart::InputText(_)))
    );
    let del: ResponseDeleted = round_trip("response_deleted.json", &[]);
    assert!(del.deleted);
    assert_eq!(del.id, "resp_6786a1bec27481909a17d673315b29f6");
}

// ---------------------------------------------------------------- streams

#[test]
fn stream_text_answer() {
    let events = round_trip_stream(
        "stream_text.sse",
        &[
            Norm::NullOmitted(&["response/reasoning/effort", "response/reasoning/summary"]),
            Norm::IntegralAsFloat(&["response/temperature", "response/top_p"]),
        ],
    );
    let names: Vec<&str> = events.iter().map(ResponseStreamEvent::type_name).collect();
    assert_eq!(
        names,
        [
            "response.created",
            "response.in_progress",
            "response.output_item.added",
            "response.content_part.added",
            "response.output_text.delta",
            "response.output_text.delta",
            "response.output_text.delta",
            "response.output_text.done",
            "response.content_part.done",
            "response.output_item.done",
            "response.completed"
        ]
    );
    for (i, ev) in events.iter().enumerate() {
        assert_eq!(sequence_number(ev), i as u64);
    }
    let text: String = events
        .iter()
        .filter_map(|e| match e {
            ResponseStreamEvent::OutputTextDelta(d) => Some(d.delta.as_str()),
            _ => None,
        })
        .collect();
    let ResponseStreamEvent::OutputTextDone(done) = &events[7] else {
        panic!()
    };
    assert_eq!(text, done.text);
    assert_eq!(
        (done.item_id.as_str(), done.output_index, done.content_index),
        ("msg_123", 0, 0)
    );
    let last = events.last().unwrap();
    assert!(last.is_terminal());
    let resp = last.response().unwrap();
    assert_eq!(resp.status, ResponseStatus::Completed);
    assert_eq!(resp.output_text(), text);
    // Fields of an older API version that llmux does not model stay in `extra`.
    assert!(resp.extra.contains_key("reasoning_effort") && resp.extra.contains_key("input"));
}

#[test]
fn stream_function_call() {
    let events = round_trip_stream(
        "stream_function_call.sse",
        &[Norm::NullOmitted(&[
            "response/reasoning/effort",
            "response/reasoning/summary",
        ])],
    );
    let ResponseStreamEvent::OutputItemAdded(added) = &events[2] else {
        panic!("{:?}", events[2]);
    };
    let Item::FunctionCall(fc) = &added.item else {
        panic!()
    };
    assert_eq!(fc.arguments, "");
    assert_eq!(fc.status.as_deref(), Some("in_progress"));
    let args: String = events
        .iter()
        .filter_map(|e| match e {
            ResponseStreamEvent::FunctionCallArgumentsDelta(d) => {
                assert_eq!(
                    d.item_id,
                    "fc_67ca09c6bedc8190a7abfec07b1a1332096610f474011cc0"
                );
                Some(d.delta.as_str())
            }
            _ => None,
        })
        .collect();
    let done = events
        .iter()
        .find_map(|e| match e {
            ResponseStreamEvent::FunctionCallArgumentsDone(d) => Some(d),
            _ => None,
        })
        .unwrap();
    assert_eq!(args, done.arguments);
    assert_eq!(args, r#"{"location":"Boston, MA","unit":"celsius"}"#);
    for (i, ev) in events.iter().enumerate() {
        assert_eq!(sequence_number(ev), i as u64);
    }
    assert!(matches!(
        events.last(),
        Some(ResponseStreamEvent::Completed(_))
    ));
}

/// Event shapes from the API reference's Streaming section that the two
/// streams above do not contain, one by one.
#[test]
fn stream_event_shapes() {
    for (text, name) in [
        (
            r#"{"type":"response.output_text.annotation.added","item_id":"msg_abc123","output_index":1,"content_index":0,"annotation_index":0,"sequence_number":1,"annotation":{"type":"file_citation","index":390,"file_id":"file-4wDz5b167pAf72nx1h9eiN","filename":"dragons.pdf"}}"#,
            "response.output_text.annotation.added",
        ),
        (
            r#"{"type":"response.refusal.delta","item_id":"msg_123","output_index":0,"content_index":0,"delta":"refusal text so far","sequence_number":1}"#,
            "response.refusal.delta",
        ),
        (
            r#"{"type":"response.refusal.done","item_id":"item-abc","output_index":1,"content_index":2,"refusal":"final refusal text","sequence_number":1}"#,
            "response.refusal.done",
        ),
        (
            r#"{"type":"response.reasoning_summary_part.added","item_id":"rs_6806bfca0b2481918a5748308061a2600d3ce51bdffd5476","output_index":0,"summary_index":0,"part":{"type":"summary_text","text":""},"sequence_number":1}"#,
            "response.reasoning_summary_part.added",
        ),
        (
            r#"{"type":"response.reasoning_summary_text.delta","item_id":"rs_6806bfca0b2481918a5748308061a2600d3ce51bdffd5476","output_index":0,"summary_index":0,"delta":"**Responding to a greeting**","sequence_number":1}"#,
            "response.reasoning_summary_text.delta",
        ),
        (
            r#"{"type":"response.reasoning_summary_text.done","item_id":"rs_6806bfca0b2481918a5748308061a2600d3ce51bdffd5476","output_index":0,"summary_index":0,"text":"**Responding to a greeting**","sequence_number":1}"#,
            "response.reasoning_summary_text.done",
        ),
        (
            r#"{"type":"response.reasoning_text.delta","item_id":"rs_1","output_index":0,"content_index":0,"delta":"hm","sequence_number":3}"#,
            "response.reasoning_text.delta",
        ),
        (
            r#"{"type":"response.custom_tool_call_input.delta","item_id":"ctc_1","output_index":0,"delta":"*** Begin","sequence_number":4}"#,
            "response.custom_tool_call_input.delta",
        ),
        (
            r#"{"type":"response.custom_tool_call_input.done","item_id":"ctc_1","output_index":0,"input":"*** Begin Patch","sequence_number":5}"#,
            "response.custom_tool_call_input.done",
        ),
        (
            r#"{"type":"response.file_search_call.searching","output_index":0,"item_id":"fs_123","sequence_number":1}"#,
            "response.file_search_call.searching",
        ),
        (
            r#"{"type":"response.image_generation_call.partial_image","output_index":0,"item_id":"item-123","sequence_number":0,"partial_image_index":0,"partial_image_b64":"..."}"#,
            "response.image_generation_call.partial_image",
        ),
        (
            r#"{"type":"error","code":"ERR_SOMETHING","message":"Something went wrong","param":null,"sequence_number":1}"#,
            "error",
        ),
    ] {
        let ev: ResponseStreamEvent = round_trip_text(name, text, &[]);
        assert!(!ev.is_unknown(), "{name}");
        assert_eq!(ev.type_name(), name);
    }
}

/// An event type llmux does not know parses (forward compatibility), is told
/// apart, and is written back unchanged.
#[test]
fn unknown_stream_event_is_kept() {
    let text =
        r#"{"type":"response.future_thing.delta","sequence_number":7,"item_id":"x","delta":"y"}"#;
    let ev: ResponseStreamEvent = round_trip_text("unknown", text, &[]);
    assert!(ev.is_unknown());
    assert_eq!(ev.type_name(), "response.future_thing.delta");
    assert!(!ev.is_terminal());
}
