//! Who may call the gateway. Today: the master key, as `Authorization: Bearer`
//! or (for Anthropic clients) `x-api-key`. Virtual keys plug in behind the
//! same [`Authenticator`] trait.

use axum::http::HeaderMap;
use futures::future::BoxFuture;
use llmux_core::{Error, ErrorKind, Result};

pub mod virtual_keys;

pub use virtual_keys::Caller;

/// Who the caller is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// No master key is configured: the gateway is open.
    Anonymous,
    /// The master key.
    Admin,
    /// A virtual key (see [`Caller::key`]).
    Key,
}

/// Decides whether a request may proceed.
pub trait Authenticator: Send + Sync + 'static {
    /// The caller behind `headers`, or a 401.
    fn authenticate<'a>(&'a self, headers: &'a HeaderMap) -> BoxFuture<'a, Result<Caller>>;

    /// Whether `caller` may make a request at `now` (Unix seconds): not
    /// blocked, not expired, and, when the request names a `model`, allowed
    /// to use it. Rate limits and budgets are checked after.
    fn check(&self, caller: &Caller, model: Option<&str>, now: i64) -> Result<()> {
        let _ = (caller, model, now);
        Ok(())
    }
}

/// The key a request presents, from `Authorization: Bearer …` or `x-api-key`.
pub fn presented_key(headers: &HeaderMap) -> Option<&str> {
    if let Some(v) = headers.get("authorization").and_then(|v| v.to_str().ok()) {
        let v = v.trim();
        let key = v
            .strip_prefix("Bearer ")
            .or_else(|| v.strip_prefix("bearer "))
            .unwrap_or(v)
            .trim();
        if !key.is_empty() {
            return Some(key);
        }
    }
    headers
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|k| !k.is_empty())
}

/// Only the master key (or nothing, when none is set).
pub struct MasterKey(pub Option<String>);

/// Compare without an early exit on the first differing byte.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl MasterKey {
    fn check(&self, headers: &HeaderMap) -> Result<Principal> {
        let Some(master) = &self.0 else {
            return Ok(Principal::Anonymous);
        };
        match presented_key(headers) {
            Some(k) if constant_time_eq(k.as_bytes(), master.as_bytes()) => Ok(Principal::Admin),
            Some(_) => Err(Error::new(
                ErrorKind::Authentication,
                "Authentication Error: invalid API key",
            )
            .with_code("invalid_api_key")),
            None => Err(Error::new(
                ErrorKind::Authentication,
                "Authentication Error: no API key passed in. Send it as 'Authorization: Bearer <key>'",
            )
            .with_code("invalid_api_key")),
        }
    }
}

impl Authenticator for MasterKey {
    fn authenticate<'a>(&'a self, headers: &'a HeaderMap) -> BoxFuture<'a, Result<Caller>> {
        Box::pin(async move { self.check(headers).map(Caller::keyless) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[tokio::test]
    async fn master_key_from_bearer_or_x_api_key() {
        let auth = MasterKey(Some("sk-master".into()));
        assert_eq!(
            auth.check(&headers(&[("authorization", "Bearer sk-master")]))
                .unwrap(),
            Principal::Admin
        );
        assert_eq!(
            auth.check(&headers(&[("x-api-key", "sk-master")])).unwrap(),
            Principal::Admin
        );
        let err = auth
            .authenticate(&headers(&[("authorization", "Bearer nope")]))
            .await
            .unwrap_err();
        assert_eq!(
            (err.status(), err.message.as_str()),
            (401, "Authentication Error: invalid API key")
        );
        assert_eq!(auth.check(&HeaderMap::new()).unwrap_err().status(), 401);
        assert_eq!(
            MasterKey(None).check(&HeaderMap::new()).unwrap(),
            Principal::Anonymous
        );
    }
}
