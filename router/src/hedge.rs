//! The hedge stage: for groups with `router_settings.hedging`, a second
//! deployment is asked when the first is slower than the group's latency
//! percentile, and the first answer wins. Other groups pass straight through.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use llmux_core::{Error, ErrorKind, Result};
use tower::hedge::Hedge;
use tower::{Layer, ServiceExt};

use crate::call::{Call, RouterRequest};
use crate::config::{seconds, HedgeSettings};
use crate::select::SelectService;

/// Hedging applies to whole, idempotent calls; streams are not hedged.
#[derive(Clone, Copy, Debug)]
pub struct HedgePolicy;

impl tower::hedge::Policy<RouterRequest> for HedgePolicy {
    fn clone_request(&self, req: &RouterRequest) -> Option<RouterRequest> {
        (!matches!(req.call, Call::ChatStream(_))).then(|| req.clone())
    }

    fn can_retry(&self, _req: &RouterRequest) -> bool {
        true
    }
}

/// Sends a call through its group's hedge when it has one, else straight to select.
#[derive(Clone)]
pub struct HedgeService {
    hedges: Arc<HashMap<String, tokio::sync::Mutex<Hedge<SelectService, HedgePolicy>>>>,
    select: SelectService,
}

always_ready_service!(HedgeService, |this, req| {
    let hedges = this.hedges.clone();
    let mut select = this.select.clone();
    Box::pin(async move {
        let Some(hedge) = hedges.get(&req.group) else {
            return select.call(req).await;
        };
        let fut = {
            let mut h = hedge.lock().await;
            h.ready().await.map_err(from_box_error)?;
            h.call(req)
        };
        fut.await.map_err(from_box_error)
    })
});

fn from_box_error(e: tower::BoxError) -> Error {
    match e.downcast::<Error>() {
        Ok(e) => *e,
        Err(other) => Error::new(ErrorKind::InternalServer, other.to_string()),
    }
}

/// Puts a [`HedgeService`] over the select stage, with a hedge per group
/// that `router_settings.hedging` names.
#[derive(Debug, Clone)]
pub struct HedgeLayer {
    /// Per group: minimum samples, latency percentile (0–1), period.
    groups: Vec<(String, u64, f32, Duration)>,
}

impl HedgeLayer {
    /// Validate `router_settings.hedging`.
    pub fn new(hedging: Option<&BTreeMap<String, HedgeSettings>>) -> Result<HedgeLayer> {
        let mut groups = Vec::new();
        for (group, h) in hedging.into_iter().flatten() {
            if !(h.percentile > 0.0 && h.percentile < 100.0) {
                return Err(Error::bad_request(format!(
                    "router_settings.hedging.{group}.percentile must be between 0 and 100, got {}",
                    h.percentile
                )));
            }
            let period = seconds(
                &format!("router_settings.hedging.{group}.period"),
                Some(h.period),
            )?
            .filter(|p| !p.is_zero())
            .unwrap_or(Duration::from_secs(10));
            groups.push((
                group.clone(),
                h.min_samples,
                (h.percentile / 100.0) as f32,
                period,
            ));
        }
        Ok(HedgeLayer { groups })
    }
}

impl Layer<SelectService> for HedgeLayer {
    type Service = HedgeService;

    fn layer(&self, select: SelectService) -> HedgeService {
        let hedges = self
            .groups
            .iter()
            .map(|(group, min_samples, percentile, period)| {
                let hedge = Hedge::new::<RouterRequest>(
                    select.clone(),
                    HedgePolicy,
                    *min_samples,
                    *percentile,
                    *period,
                );
                (group.clone(), tokio::sync::Mutex::new(hedge))
            })
            .collect();
        HedgeService {
            hedges: Arc::new(hedges),
            select,
        }
    }
}
