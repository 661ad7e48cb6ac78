//! Retries as a tower [`Policy`]: how many depends on the error kind
//! (`num_retries`, or `retry_policy` per kind), waits back off exponentially
//! with jitter and honour the upstream's `retry-after`.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use llmux_core::{Error, ErrorKind, Result};
use tower::retry::Policy;

use crate::call::{RouterRequest, RouterResponse};
use crate::shared::Shared;

/// A wait longer than this from `retry-after` is not waited for: the error is
/// returned so the caller (or a fallback) can act now.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);
/// Cap on the exponential backoff.
const MAX_BACKOFF: Duration = Duration::from_secs(8);

/// LiteLLM's `retry_policy` key for a kind.
pub fn retry_policy_key(kind: ErrorKind) -> Option<&'static str> {
    Some(match kind {
        ErrorKind::BadRequest | ErrorKind::UnprocessableEntity => "BadRequestErrorRetries",
        ErrorKind::Authentication => "AuthenticationErrorRetries",
        ErrorKind::Timeout => "TimeoutErrorRetries",
        ErrorKind::RateLimit => "RateLimitErrorRetries",
        ErrorKind::ContentPolicyViolation => "ContentPolicyViolationErrorRetries",
        ErrorKind::InternalServer
        | ErrorKind::BadGateway
        | ErrorKind::ServiceUnavailable
        | ErrorKind::ApiConnection => "InternalServerErrorRetries",
        _ => return None,
    })
}

/// Retry policy for one call; cloned fresh for every call by tower.
#[derive(Clone)]
pub struct RetryPolicy {
    pub(crate) shared: Arc<Shared>,
    pub(crate) retries_done: u32,
}

impl RetryPolicy {
    /// A policy for calls of the router sharing `shared`.
    pub(crate) fn new(shared: Arc<Shared>) -> RetryPolicy {
        RetryPolicy {
            shared,
            retries_done: 0,
        }
    }

    fn allowed(&self, group: &str, kind: ErrorKind) -> u32 {
        let s = &self.shared.settings;
        if let Some(n) = retry_policy_key(kind).and_then(|k| s.retry_policy.get(k)) {
            return u32::try_from(*n).unwrap_or(u32::MAX);
        }
        if !kind.is_retryable() {
            return 0;
        }
        let n = self
            .shared
            .group_max_retries(group)
            .unwrap_or(s.num_retries);
        u32::try_from(n).unwrap_or(u32::MAX)
    }

    /// Wait before retry number `n` (1-based).
    fn backoff(&self, n: u32, err: &Error) -> Option<Duration> {
        let min = self.shared.settings.retry_after;
        if let Some(ra) = err.retry_after {
            if ra > MAX_RETRY_AFTER {
                return None;
            }
            return Some(ra.max(min));
        }
        let exp = self
            .shared
            .settings
            .backoff_base
            .saturating_mul(1u32 << (n - 1).min(16))
            .min(MAX_BACKOFF);
        // Jitter between half and all of the exponential delay.
        let jittered = exp.mul_f64(0.5 + fastrand::f64() * 0.5);
        Some(jittered.max(min))
    }
}

impl Policy<RouterRequest, RouterResponse, Error> for RetryPolicy {
    type Future = Pin<Box<dyn Future<Output = ()> + Send>>;

    fn retry(
        &mut self,
        req: &mut RouterRequest,
        result: &mut Result<RouterResponse>,
    ) -> Option<Self::Future> {
        let err = result.as_ref().err()?;
        if self.retries_done >= self.allowed(&req.group, err.kind) {
            return None;
        }
        self.retries_done += 1;
        let wait = self.backoff(self.retries_done, err)?;
        tracing::debug!(group = %req.group, retry = self.retries_done, wait_ms = wait.as_millis() as u64, error = %err, "retrying");
        Some(Box::pin(tokio::time::sleep(wait)))
    }

    fn clone_request(&mut self, req: &RouterRequest) -> Option<RouterRequest> {
        Some(req.clone())
    }
}
