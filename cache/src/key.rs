//! Cache keys: SHA-256 of the request with everything that cannot change the
//! answer removed (`user`, `metadata`, `stream`, `stream_options`, `store`,
//! `service_tier`, the cache controls), under the model group asked for.
//! serde_json's maps are ordered by key, so equal requests serialize equally.

use llmux_core::endpoint::Call;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// Fields that do not change a model's output.
const IGNORED: &[&str] = &[
    "model",
    "user",
    "metadata",
    "stream",
    "stream_options",
    "store",
    "service_tier",
    "cache",
];

/// The key for `call` to `model_group`, or `None` for endpoints that are not cached.
pub fn cache_key(namespace: Option<&str>, model_group: &str, call: &Call) -> Option<String> {
    let (kind, body) = match call {
        // A stream and a whole response to the same request share one entry.
        Call::Chat(r) | Call::ChatStream(r) => ("chat", serde_json::to_value(r)),
        Call::Embeddings(r) => ("embeddings", serde_json::to_value(r)),
        Call::Rerank(r) => ("rerank", serde_json::to_value(r)),
        _ => return None,
    };
    let mut body = body.ok()?;
    if let Value::Object(map) = &mut body {
        for field in IGNORED {
            map.remove(*field);
        }
    }
    let mut hasher = Sha256::new();
    hasher.update(kind.as_bytes());
    hasher.update([0]);
    hasher.update(model_group.as_bytes());
    hasher.update([0]);
    hasher.update(serde_json::to_vec(&body).ok()?);
    let hex = llmux_core::text::hex(&hasher.finalize());
    Some(match namespace {
        Some(ns) => format!("llmux:cache:{ns}:{hex}"),
        None => format!("llmux:cache:{hex}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use llmux_core::{ChatCompletionRequest, ChatMessage};
    use serde_json::json;

    fn chat(f: impl FnOnce(&mut ChatCompletionRequest)) -> Call {
        let mut r = ChatCompletionRequest::new("gpt-4o", vec![ChatMessage::user("Hi")]);
        r.temperature = Some(0.0);
        f(&mut r);
        Call::Chat(r)
    }

    #[test]
    fn ignores_what_cannot_change_the_answer() {
        let base = cache_key(None, "g", &chat(|_| {})).unwrap();
        assert!(base.starts_with("llmux:cache:") && base.len() == "llmux:cache:".len() + 64);
        let same = [
            chat(|r| r.user = Some("u1".into())),
            chat(|r| r.stream = Some(true)),
            chat(|r| {
                r.metadata = Some(json!({"a": 1}).as_object().unwrap().clone());
            }),
            {
                let Call::Chat(r) = chat(|_| {}) else {
                    unreachable!()
                };
                Call::ChatStream(r)
            },
        ];
        for c in &same {
            assert_eq!(cache_key(None, "g", c).unwrap(), base);
        }
    }

    #[test]
    fn differs_on_what_can() {
        let base = cache_key(None, "g", &chat(|_| {})).unwrap();
        let different = [
            cache_key(None, "other-group", &chat(|_| {})),
            cache_key(Some("team"), "g", &chat(|_| {})),
            cache_key(None, "g", &chat(|r| r.temperature = Some(0.7))),
            cache_key(
                None,
                "g",
                &chat(|r| r.messages.push(ChatMessage::user("more"))),
            ),
            cache_key(
                None,
                "g",
                &chat(|r| {
                    r.extra.insert("top_k".into(), json!(3));
                }),
            ),
        ];
        for k in different {
            assert_ne!(k.unwrap(), base);
        }
    }
}
