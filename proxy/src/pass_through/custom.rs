//! Custom pass-through routes, from `general_settings.pass_through_endpoints`
//! as LiteLLM reads them: a gateway `path` forwarded to a fixed `target`
//! URL with configured `headers` (`os.environ/NAME` resolved anywhere in a
//! value), optionally the caller's own headers (`forward_headers`) and
//! anything below the path (`include_subpath`), priced at `cost_per_request`.

use std::time::Duration;

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use llmux_core::pass_through::PassThroughBody;
use llmux_core::transport::UpstreamStream;
use llmux_core::{Env, Error, ErrorKind, HttpTransport};
use serde::Deserialize;
use std::collections::BTreeMap;

/// How long a custom target may take to start answering.
const HEAD_TIMEOUT: Duration = Duration::from_secs(600);

/// One entry of `general_settings.pass_through_endpoints`, as written.
#[derive(Debug, Clone, Deserialize)]
pub struct CustomEndpointConfig {
    /// The gateway path (`/v1/rerank-custom`).
    pub path: String,
    /// The URL calls are forwarded to.
    pub target: String,
    /// Headers sent to the target (values may hold `os.environ/NAME`).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Also forward the caller's headers (never its llmux key).
    #[serde(default)]
    pub forward_headers: bool,
    /// Serve everything below `path` too, appended to `target`.
    #[serde(default)]
    pub include_subpath: bool,
    /// Require an llmux key (default: yes; `false` opens the route to anyone).
    #[serde(default)]
    pub auth: Option<bool>,
    /// USD charged per call.
    #[serde(default)]
    pub cost_per_request: Option<f64>,
}

/// A custom route, resolved at start.
pub struct CustomEndpoint {
    path: String,
    target: String,
    headers: Vec<(HeaderName, HeaderValue)>,
    forward_headers: bool,
    include_subpath: bool,
    /// Callers need an llmux key.
    pub(super) auth: bool,
    /// Nano-dollars per call.
    pub(super) cost_per_request: Option<i64>,
    /// Metrics route label and spend `call_type`: `pass_through` + the path.
    pub(super) name: &'static str,
}

impl CustomEndpoint {
    /// Resolve `config` (entry `index` of the list) against `env`.
    pub fn resolve(
        config: &CustomEndpointConfig,
        index: usize,
        env: &dyn Env,
    ) -> Result<Self, String> {
        let at = format!("general_settings.pass_through_endpoints[{index}]");
        let path = format!("/{}", config.path.trim().trim_matches('/'));
        if path == "/" {
            return Err(format!(
                "{at}.path: must name a path such as /v1/my-endpoint"
            ));
        }
        let target = config.target.trim().trim_end_matches('/').to_string();
        let parsed: Result<axum::http::Uri, _> = target.parse();
        if !parsed
            .is_ok_and(|u| matches!(u.scheme_str(), Some("http" | "https")) && u.host().is_some())
        {
            return Err(format!("{at}.target: not an http(s) URL: {target}"));
        }
        let mut headers = Vec::new();
        for (name, value) in &config.headers {
            let value =
                resolve_embedded(value, env).map_err(|e| format!("{at}.headers.{name}: {e}"))?;
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| format!("{at}.headers: invalid header name {name:?}"))?;
            let value = HeaderValue::from_str(&value)
                .map_err(|_| format!("{at}.headers.{name}: not a valid header value"))?;
            headers.push((name, value));
        }
        let cost_per_request = match config.cost_per_request {
            Some(usd) if usd.is_finite() && usd >= 0.0 => Some(llmux_store::to_nano(usd)),
            Some(usd) => {
                return Err(format!(
                    "{at}.cost_per_request: must be a number of USD ≥ 0, got {usd}"
                ))
            }
            None => None,
        };
        // Bounded by the config: one name per configured route, made once.
        let name: &'static str = Box::leak(format!("pass_through{path}").into_boxed_str());
        Ok(CustomEndpoint {
            path,
            target,
            headers,
            forward_headers: config.forward_headers,
            include_subpath: config.include_subpath,
            auth: config.auth.unwrap_or(true),
            cost_per_request,
            name,
        })
    }

    /// The gateway path this route serves.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Whether this route serves `path`; the part below its own path.
    pub(super) fn matches<'p>(&self, path: &'p str) -> Option<&'p str> {
        let rest = path.strip_prefix(self.path.as_str())?;
        if rest.is_empty() || rest == "/" {
            Some("")
        } else if self.include_subpath && rest.starts_with('/') {
            Some(rest)
        } else {
            None
        }
    }

    /// Send the caller's call to the target.
    pub(super) async fn send(
        &self,
        caller: &axum::http::request::Parts,
        rest: &str,
        query: Option<&str>,
        forwarded: HeaderMap,
        body: PassThroughBody,
    ) -> Result<UpstreamStream, Error> {
        let url = match query {
            Some(q) => format!("{}{rest}?{q}", self.target),
            None => format!("{}{rest}", self.target),
        };
        let mut headers = if self.forward_headers {
            forwarded
        } else {
            let mut h = HeaderMap::new();
            if let Some(ct) = caller.headers.get(axum::http::header::CONTENT_TYPE) {
                h.insert(axum::http::header::CONTENT_TYPE, ct.clone());
            }
            h
        };
        for (k, v) in &self.headers {
            headers.insert(k, v.clone());
        }
        let mut request = axum::http::Request::builder()
            .method(caller.method.clone())
            .uri(url)
            .body(match body {
                PassThroughBody::Whole(b) => reqwest::Body::from(b),
                PassThroughBody::Streamed(b) => b,
            })
            .map_err(|e| {
                Error::new(
                    ErrorKind::BadRequest,
                    format!("invalid pass-through request: {e}"),
                )
            })?;
        *request.headers_mut() = headers;
        HttpTransport::shared()
            .forward(request, Some(HEAD_TIMEOUT))
            .await
    }
}

/// `value` with every `os.environ/NAME` in it replaced by the variable
/// (`Bearer os.environ/COHERE_API_KEY` works, as in LiteLLM's examples).
fn resolve_embedded(value: &str, env: &dyn Env) -> Result<String, String> {
    const MARK: &str = "os.environ/";
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(at) = rest.find(MARK) {
        out.push_str(&rest[..at]);
        let after = &rest[at + MARK.len()..];
        let end = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(after.len());
        let name = &after[..end];
        let v = env
            .var(name)
            .ok_or_else(|| format!("environment variable {name} is not set"))?;
        out.push_str(&v);
        rest = &after[end..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use llmux_core::MapEnv;

    fn endpoint(yaml: serde_json::Value) -> Result<CustomEndpoint, String> {
        let config: CustomEndpointConfig = serde_json::from_value(yaml).unwrap();
        CustomEndpoint::resolve(&config, 0, &MapEnv::new([("CO_KEY", "secret")]))
    }

    #[test]
    fn resolves_headers_paths_and_prices() {
        let e = endpoint(serde_json::json!({
            "path": "/v1/rerank-custom/", "target": "http://127.0.0.1:9/v1/rerank",
            "headers": {"Authorization": "bearer os.environ/CO_KEY"},
            "include_subpath": true, "cost_per_request": 0.5
        }))
        .unwrap();
        assert_eq!(e.path(), "/v1/rerank-custom");
        assert_eq!(e.headers[0].1, "bearer secret");
        assert_eq!(e.cost_per_request, Some(500_000_000));
        assert!(e.auth);
        assert_eq!(e.name, "pass_through/v1/rerank-custom");
        assert_eq!(e.matches("/v1/rerank-custom"), Some(""));
        assert_eq!(e.matches("/v1/rerank-custom/a/b"), Some("/a/b"));
        assert_eq!(e.matches("/v1/rerank-customer"), None);
        let e = endpoint(serde_json::json!({"path": "/x", "target": "https://h", "auth": false}))
            .unwrap();
        assert_eq!(e.matches("/x/y"), None);
        assert!(!e.auth);
        assert_eq!(
            endpoint(serde_json::json!({"path": "/x", "target": "ftp://h"}))
                .err()
                .unwrap(),
            "general_settings.pass_through_endpoints[0].target: not an http(s) URL: ftp://h"
        );
        assert_eq!(
            endpoint(serde_json::json!({"path": "/x", "target": "http://h", "headers": {"a": "os.environ/NOPE"}})).err().unwrap(),
            "general_settings.pass_through_endpoints[0].headers.a: environment variable NOPE is not set"
        );
    }
}
