//! Per-request cache controls, as LiteLLM takes them in the request body:
//! `"cache": {"no-cache": true, "no-store": true, "ttl": 600, "s-maxage": 60,
//! "namespace": "team-a"}`. The field is removed before the call goes upstream.

use std::time::Duration;

use llmux_core::endpoint::Call;
use llmux_core::types::chat::Extra;
use llmux_core::{Error, Result};
use serde_json::Value;

/// What the caller asked of the cache for one call.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CacheControl {
    /// Do not read from the cache (still store the answer).
    pub no_cache: bool,
    /// Do not store the answer.
    pub no_store: bool,
    /// Keep the stored answer this long instead of the default.
    pub ttl: Option<Duration>,
    /// Accept a stored answer only if it is at most this old.
    pub s_maxage: Option<Duration>,
    /// Separate key space (e.g. per team).
    pub namespace: Option<String>,
}

fn extra_of(call: &mut Call) -> Option<&mut Extra> {
    Some(match call {
        Call::Chat(r) | Call::ChatStream(r) => &mut r.extra,
        Call::Embeddings(r) => &mut r.extra,
        Call::ImageGeneration(r) => &mut r.extra,
        Call::Speech(r) => &mut r.extra,
        Call::Moderation(r) => &mut r.extra,
        Call::Rerank(r) => &mut r.extra,
        Call::Responses(r) | Call::ResponsesStream(r) => &mut r.extra,
        Call::Messages(m) | Call::MessagesStream(m) => &mut m.chat.extra,
        Call::Transcription(_) => return None,
    })
}

fn seconds(field: &str, v: &Value) -> Result<Duration> {
    v.as_f64()
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(Duration::from_secs_f64)
        .ok_or_else(|| {
            Error::bad_request(format!(
                "cache.{field} must be a number of seconds, got {v}"
            ))
            .with_param(format!("cache.{field}"))
        })
}

fn flag(field: &str, v: &Value) -> Result<bool> {
    v.as_bool().ok_or_else(|| {
        Error::bad_request(format!("cache.{field} must be true or false, got {v}"))
            .with_param(format!("cache.{field}"))
    })
}

impl CacheControl {
    /// Remove the `cache` field from the call and parse it.
    pub fn take(call: &mut Call) -> Result<CacheControl> {
        let Some(value) = extra_of(call).and_then(|e| e.remove("cache")) else {
            return Ok(CacheControl::default());
        };
        let Value::Object(map) = value else {
            return Err(Error::bad_request(format!(
                "cache must be an object like {{\"no-cache\": true}}, got {value}"
            ))
            .with_param("cache"));
        };
        let mut c = CacheControl::default();
        for (k, v) in &map {
            match k.as_str() {
                "no-cache" => c.no_cache = flag(k, v)?,
                "no-store" => c.no_store = flag(k, v)?,
                "ttl" => c.ttl = Some(seconds(k, v)?),
                "s-maxage" => c.s_maxage = Some(seconds(k, v)?),
                "namespace" => {
                    c.namespace = Some(
                        v.as_str()
                            .ok_or_else(|| Error::bad_request("cache.namespace must be a string").with_param("cache.namespace"))?
                            .to_string(),
                    )
                }
                other => {
                    return Err(Error::bad_request(format!(
                        "unknown cache control '{other}'; use no-cache, no-store, ttl, s-maxage, namespace"
                    ))
                    .with_param("cache"))
                }
            }
        }
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use llmux_core::{ChatCompletionRequest, ChatMessage};
    use serde_json::json;

    fn call_with(cache: Value) -> Call {
        let mut r = ChatCompletionRequest::new("m", vec![ChatMessage::user("x")]);
        r.extra.insert("cache".into(), cache);
        Call::Chat(r)
    }

    #[test]
    fn parses_and_removes_the_field() {
        let mut call =
            call_with(json!({"no-cache": true, "ttl": 60, "s-maxage": 5, "namespace": "t"}));
        let c = CacheControl::take(&mut call).unwrap();
        assert_eq!(
            c,
            CacheControl {
                no_cache: true,
                no_store: false,
                ttl: Some(Duration::from_secs(60)),
                s_maxage: Some(Duration::from_secs(5)),
                namespace: Some("t".into()),
            }
        );
        let Call::Chat(r) = &call else { unreachable!() };
        assert!(!r.extra.contains_key("cache"));
    }

    #[test]
    fn rejects_bad_controls() {
        for bad in [
            json!(true),
            json!({"ttl": "soon"}),
            json!({"no-store": 1}),
            json!({"maxage": 1}),
        ] {
            let err = CacheControl::take(&mut call_with(bad.clone())).unwrap_err();
            assert_eq!(err.status(), 400, "{bad}");
        }
    }
}
