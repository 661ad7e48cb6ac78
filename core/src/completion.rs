//! Whole chat completions as provider codecs build them from their answers:
//! the fixed parts of OpenAI's shape filled once, so a codec only says what
//! its provider answered.

use serde_json::Value;

use crate::types::chat::{ChatCompletion, Choice, Extra, FinishReason, ResponseMessage, Usage};

/// A completion with the provider's `id`, `created` and `model`, the
/// `choices` and `usage`; no fingerprint or service tier.
pub fn provider_completion(
    id: String,
    created: u64,
    model: String,
    choices: Vec<Choice>,
    usage: Option<Usage>,
) -> ChatCompletion {
    ChatCompletion {
        id,
        object: "chat.completion".into(),
        created,
        model,
        choices,
        usage,
        system_fingerprint: None,
        service_tier: None,
        extra: Extra::new(),
    }
}

/// The only choice (index 0) of a provider that answers one choice a call.
pub fn only_choice(
    message: ResponseMessage,
    logprobs: Option<Value>,
    finish_reason: Option<FinishReason>,
) -> Choice {
    Choice {
        index: 0,
        message,
        logprobs,
        finish_reason,
        extra: Extra::new(),
    }
}

/// `Some(items)` unless there are none: OpenAI leaves empty lists out.
pub fn non_empty<T>(items: Vec<T>) -> Option<Vec<T>> {
    (!items.is_empty()).then_some(items)
}
