//! Which of a provider's endpoints a pass-through path calls: the model
//! the path names, and whether the call is priced from its usage (then the
//! gateway reads the JSON body for its `model` and its size).

use percent_encoding::percent_decode_str;

/// What the gateway knows of one pass-through call from its path.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Endpoint {
    /// The model the path names (Gemini, Vertex AI, Bedrock, Azure deployments).
    pub model: Option<String>,
    /// A model endpoint whose answer reports usage: read the body, price the call.
    pub priced: bool,
    /// An embeddings endpoint: its answer has no output tokens.
    pub embeds: bool,
}

impl Endpoint {
    fn priced(path: &str) -> Endpoint {
        Endpoint {
            model: None,
            priced: true,
            embeds: path.contains("embed") || path.ends_with(":predict"),
        }
    }

    fn priced_for(model: &str, path: &str) -> Endpoint {
        Endpoint {
            model: Some(percent_decode_str(model).decode_utf8_lossy().into_owned()),
            ..Endpoint::priced(path)
        }
    }
}

/// OpenAI-shaped model endpoints (OpenAI, Azure's v1 API, Mistral, vLLM).
const OPENAI_PRICED: [&str; 4] = [
    "/chat/completions",
    "/completions",
    "/embeddings",
    "/responses",
];

/// Gemini and Vertex AI methods that run a model (`countTokens` is free).
const GOOGLE_PRICED: [&str; 8] = [
    "generateContent",
    "streamGenerateContent",
    "embedContent",
    "batchEmbedContents",
    "predict",
    "rawPredict",
    "streamRawPredict",
    "batchPredict",
];

/// Classify `path` (after the route prefix) of provider route `prefix`.
pub(crate) fn classify(prefix: &str, path: &str) -> Endpoint {
    let path = path.trim_end_matches('/');
    match prefix {
        "openai" | "mistral" | "vllm" => openai(path),
        "azure" => {
            if let Some(rest) = path.strip_prefix("/openai/deployments/") {
                if let Some((deployment, op)) = rest.split_once('/') {
                    if OPENAI_PRICED.iter().any(|p| p[1..] == *op) {
                        return Endpoint::priced_for(deployment, path);
                    }
                }
                return Endpoint::default();
            }
            openai(path)
        }
        "anthropic" => {
            if path.ends_with("/v1/messages") {
                Endpoint::priced(path)
            } else {
                Endpoint::default()
            }
        }
        "gemini" | "vertex_ai" => google(path),
        "bedrock" => bedrock(path),
        "cohere" => {
            let op = path.rsplit('/').next().unwrap_or_default();
            let versioned = path.starts_with("/v1/") || path.starts_with("/v2/");
            if versioned && matches!(op, "chat" | "embed" | "rerank" | "generate") {
                Endpoint::priced(path)
            } else {
                Endpoint::default()
            }
        }
        "ollama" => match path {
            "/api/chat" | "/api/generate" | "/api/embed" | "/api/embeddings" => {
                Endpoint::priced(path)
            }
            _ => openai(path),
        },
        _ => Endpoint::default(),
    }
}

fn openai(path: &str) -> Endpoint {
    if OPENAI_PRICED.iter().any(|p| path.ends_with(p)) {
        Endpoint::priced(path)
    } else {
        Endpoint::default()
    }
}

/// `…/models/{model}:{method}` (Gemini API, and Vertex AI's
/// `…/publishers/{publisher}/models/{model}:{method}`).
fn google(path: &str) -> Endpoint {
    let Some((_, rest)) = path.rsplit_once("/models/") else {
        return Endpoint::default();
    };
    match rest.rsplit_once(':') {
        Some((model, method)) if !model.contains('/') && GOOGLE_PRICED.contains(&method) => {
            Endpoint::priced_for(model, path)
        }
        _ => Endpoint::default(),
    }
}

/// `/model/{modelId}/{converse|converse-stream|invoke|invoke-with-response-stream}`.
fn bedrock(path: &str) -> Endpoint {
    let Some(rest) = path.strip_prefix("/model/") else {
        return Endpoint::default();
    };
    match rest.rsplit_once('/') {
        Some((
            model,
            "converse" | "converse-stream" | "invoke" | "invoke-with-response-stream",
        )) => Endpoint::priced_for(model, path),
        _ => Endpoint::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(prefix: &str, path: &str) -> (Option<String>, bool) {
        let e = classify(prefix, path);
        (e.model, e.priced)
    }

    #[test]
    fn known_endpoints_name_their_model() {
        let some = |m: &str| (Some(m.to_string()), true);
        assert_eq!(model("openai", "/v1/chat/completions"), (None, true));
        assert_eq!(model("openai", "/v1/responses"), (None, true));
        assert_eq!(model("openai", "/v1/files"), (None, false));
        assert_eq!(model("openai", "/v1/responses/resp_1"), (None, false));
        assert_eq!(
            model("azure", "/openai/deployments/my-gpt/chat/completions"),
            some("my-gpt")
        );
        assert_eq!(
            model("azure", "/openai/deployments/my-gpt/files"),
            (None, false)
        );
        assert_eq!(model("anthropic", "/v1/messages"), (None, true));
        assert_eq!(
            model("anthropic", "/v1/messages/count_tokens"),
            (None, false)
        );
        assert_eq!(
            model(
                "gemini",
                "/v1beta/models/gemini-2.5-flash:streamGenerateContent"
            ),
            some("gemini-2.5-flash")
        );
        assert_eq!(
            model(
                "gemini",
                "/v1beta/models/text-embedding-004:batchEmbedContents"
            ),
            some("text-embedding-004")
        );
        assert_eq!(
            model("gemini", "/v1beta/models/gemini-2.5-flash:countTokens"),
            (None, false)
        );
        assert_eq!(model("gemini", "/v1beta/cachedContents"), (None, false));
        assert_eq!(
            model(
                "vertex_ai",
                "/v1/projects/p/locations/us-central1/publishers/anthropic/models/claude-sonnet-4-5:streamRawPredict"
            ),
            some("claude-sonnet-4-5")
        );
        assert_eq!(
            model(
                "bedrock",
                "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse-stream"
            ),
            some("anthropic.claude-3-5-sonnet-20240620-v1:0")
        );
        assert_eq!(model("bedrock", "/model/x/unknown"), (None, false));
        assert_eq!(model("cohere", "/v2/chat"), (None, true));
        assert_eq!(model("cohere", "/v1/rerank"), (None, true));
        assert_eq!(model("cohere", "/v1/models"), (None, false));
        assert_eq!(model("ollama", "/api/chat"), (None, true));
        assert_eq!(model("ollama", "/api/tags"), (None, false));
        assert_eq!(model("ollama", "/v1/chat/completions"), (None, true));
    }
}
