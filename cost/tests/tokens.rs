#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Token counts against the counts OpenAI's cookbook ("How to count tokens
//! with tiktoken") publishes, which it checked against the API's
//! `usage.prompt_tokens`.

use llmux_core::types::chat::Extra;
use llmux_core::types::chat::{
    AssistantMessage, ChatMessage, FunctionCall, FunctionDefinition, MessageContent, SystemMessage,
    Tool, ToolCall,
};
use llmux_cost::{count_messages, token_counter, tokenizer_for, Encoding, TokenInput};
use serde_json::json;

fn named_system(name: &str, text: &str) -> ChatMessage {
    ChatMessage::System(SystemMessage {
        content: MessageContent::Text(text.into()),
        name: Some(name.into()),
        extra: Extra::new(),
    })
}

/// The cookbook's `example_messages`.
fn cookbook_messages() -> Vec<ChatMessage> {
    vec![
        ChatMessage::system("You are a helpful, pattern-following assistant that translates corporate jargon into plain English."),
        named_system("example_user", "New synergies will help drive top-line growth."),
        named_system("example_assistant", "Things working well together will increase revenue."),
        named_system("example_user", "Let's circle back when we have more bandwidth to touch base on opportunities for increased leverage."),
        named_system("example_assistant", "Let's talk later when we're less busy about how to do better."),
        ChatMessage::user("This late pivot means we don't have time to boil the ocean for the client deliverable."),
    ]
}

#[test]
fn cookbook_message_counts() {
    let m = cookbook_messages();
    // Published: 129 for gpt-3.5-turbo, gpt-4-0613 and gpt-4; 124 for gpt-4o and gpt-4o-mini.
    for model in ["gpt-3.5-turbo", "gpt-4-0613", "gpt-4", "openai/gpt-4"] {
        assert_eq!(token_counter(model, &m), 129, "{model}");
    }
    for model in ["gpt-4o", "gpt-4o-mini", "azure/gpt-4o-2024-08-06"] {
        assert_eq!(token_counter(model, &m), 124, "{model}");
    }
}

/// The cookbook's weather tool.
fn weather_tool() -> Tool {
    Tool::function(FunctionDefinition {
        name: "get_current_weather".into(),
        description: Some("Get the current weather in a given location".into()),
        parameters: Some(json!({
            "type": "object",
            "properties": {
                "location": {"type": "string", "description": "The city and state, e.g. San Francisco, CA"},
                "unit": {"type": "string", "description": "The unit of temperature to return", "enum": ["celsius", "fahrenheit"]}
            },
            "required": ["location"]
        })),
        strict: None,
    })
}

#[test]
fn cookbook_tool_counts() {
    let m = vec![
        ChatMessage::system(
            "You are a helpful assistant that can answer to questions about the weather.",
        ),
        ChatMessage::user("What's the weather like in San Francisco?"),
    ];
    let tools = [weather_tool()];
    // Published: 105 for gpt-3.5-turbo and gpt-4, 101 for gpt-4o and gpt-4o-mini.
    for model in ["gpt-3.5-turbo", "gpt-4"] {
        assert_eq!(
            token_counter(model, TokenInput::MessagesWithTools(&m, &tools)),
            105,
            "{model}"
        );
    }
    for model in ["gpt-4o", "gpt-4o-mini"] {
        assert_eq!(
            token_counter(model, TokenInput::MessagesWithTools(&m, &tools)),
            101,
            "{model}"
        );
    }
    // No tools: no tool overhead.
    assert_eq!(
        token_counter("gpt-4o", TokenInput::MessagesWithTools(&m, &[])),
        token_counter("gpt-4o", &m)
    );
}

#[test]
fn text_counts() {
    // The cookbook's "tiktoken is great!" is 6 tokens in both encodings.
    assert_eq!(token_counter("gpt-4o", "tiktoken is great!"), 6);
    assert_eq!(token_counter("gpt-4", "tiktoken is great!"), 6);
    assert_eq!(token_counter("gpt-4o", ""), 0);
    // Special-token text is ordinary text, not a control token.
    assert!(token_counter("gpt-4o", "<|endoftext|>") > 1);
}

#[test]
fn encodings_by_family() {
    for m in [
        "gpt-4o",
        "gpt-4o-mini",
        "gpt-4.1",
        "gpt-4.1-nano",
        "gpt-5",
        "gpt-5-mini",
        "o1",
        "o3-mini",
        "o4-mini",
        "openai/gpt-4o",
        "azure/gpt-5",
        "chatgpt-4o-latest",
        "gpt-oss-120b",
    ] {
        assert_eq!(tokenizer_for(m), (Encoding::O200kBase, true), "{m}");
    }
    for m in [
        "gpt-4",
        "gpt-4-turbo",
        "gpt-3.5-turbo",
        "text-embedding-3-small",
        "text-embedding-ada-002",
    ] {
        assert_eq!(tokenizer_for(m), (Encoding::Cl100kBase, true), "{m}");
    }
    for m in [
        "anthropic/claude-sonnet-4-5",
        "gemini/gemini-2.5-pro",
        "mistral/mistral-large",
        "llama3",
    ] {
        assert_eq!(tokenizer_for(m), (Encoding::Cl100kBase, false), "{m}");
    }
    assert_eq!(Encoding::O200kBase.name(), "o200k_base");
}

#[test]
fn assistant_tool_calls_and_tool_results() {
    let enc = Encoding::O200kBase;
    let call = ChatMessage::Assistant(AssistantMessage {
        content: None,
        tool_calls: Some(vec![ToolCall {
            id: "call_1".into(),
            r#type: "function".into(),
            function: FunctionCall {
                name: "get_current_weather".into(),
                arguments: r#"{"location":"Paris"}"#.into(),
            },
        }]),
        ..Default::default()
    });
    let result = ChatMessage::tool("call_1", "22 C");
    let n = |s: &str| enc.count(s);
    // reply priming 3; per message 3 + role; call: name + arguments + 1;
    // tool result: content + tool_call_id.
    let want = 3
        + (3 + n("assistant") + n("get_current_weather") + n(r#"{"location":"Paris"}"#) + 1)
        + (3 + n("tool") + n("22 C") + n("call_1"));
    assert_eq!(count_messages(enc, &[call, result]), want);
}
