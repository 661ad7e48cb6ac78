//! A pass-through answer on its way to the caller, read for its usage as it
//! goes by, and settled exactly once: when it ends, fails, or the caller
//! goes away (then the upstream call is cancelled by dropping its body, and
//! what was produced until then is priced).

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::Stream;
use llmux_core::pass_through::UsageReader;
use llmux_core::stream::ByteStream;
use llmux_core::types::chat::Usage;
use llmux_router::RouteInfo;
use serde_json::Value;

use crate::gateway::{Admission, Gateway};

/// What settling a metered answer needs.
pub(super) struct Settlement {
    pub gateway: Arc<Gateway>,
    pub admission: Admission,
    pub route: RouteInfo,
    /// A model endpoint: an answer that reports no usage is estimated.
    pub priced: bool,
    /// An embeddings endpoint: no output tokens in that estimate.
    pub embeds: bool,
    /// The request body's size, for that estimate.
    pub prompt_bytes: u64,
    /// A flat price per call, in nano-dollars.
    pub cost_per_request: Option<i64>,
}

/// The answer's body with its usage reader and its settlement.
pub(super) struct Metered {
    body: ByteStream,
    reader: Option<Box<dyn UsageReader>>,
    settlement: Option<Settlement>,
    /// Body bytes passed to the caller, for the estimate.
    sent: u64,
}

impl Metered {
    pub(super) fn new(
        body: ByteStream,
        reader: Option<Box<dyn UsageReader>>,
        settlement: Settlement,
    ) -> Self {
        Metered {
            body,
            reader,
            settlement: Some(settlement),
            sent: 0,
        }
    }

    /// Price the call from what was read, settle its reservation and write
    /// its spend row; once.
    fn settle(&mut self) {
        let Some(s) = self.settlement.take() else {
            return;
        };
        let reported = self.reader.as_mut().and_then(|r| r.usage());
        let usage = match reported {
            Some(u) => Some(u),
            // No usage from a model endpoint: about four bytes a token, so
            // that no served call is recorded as free.
            None if s.priced => {
                tracing::warn!(deployment = %s.route.deployment_id, model = crate::gateway::loggable(&s.route.upstream_model), "pass-through answer reported no usage; spend estimated from the body sizes");
                let output = if s.embeds { 0 } else { self.sent.div_ceil(4) };
                Some(Usage::new(s.prompt_bytes.div_ceil(4), output))
            }
            None => None,
        };
        let cost = match (s.cost_per_request, &usage) {
            (Some(flat), _) => Some(flat),
            (None, Some(u)) => match u.extra.get("search_units").and_then(Value::as_f64) {
                Some(units) => {
                    let units = units.max(0.0).round() as u64;
                    s.gateway
                        .pricing
                        .rerank_cost(&s.route, units, u.prompt_tokens)
                }
                None => s.gateway.pricing.cost(&s.route, u),
            },
            (None, None) => None,
        };
        s.gateway
            .settle(s.admission, &s.route, usage.as_ref(), cost);
    }
}

impl Stream for Metered {
    type Item = Result<Bytes, llmux_core::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let polled = self.body.as_mut().poll_next(cx);
        match &polled {
            Poll::Ready(Some(Ok(bytes))) => {
                self.sent += bytes.len() as u64;
                if let Some(r) = self.reader.as_mut() {
                    r.push(bytes);
                }
            }
            Poll::Ready(Some(Err(_)) | None) => self.settle(),
            Poll::Pending => {}
        }
        polled
    }
}

impl Drop for Metered {
    fn drop(&mut self) {
        self.settle();
    }
}
