//! `GET /models`, `/models/{id}` and `/model/info`: the model groups a
//! caller may use.

use crate::gateway::{loggable, Gateway};

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use llmux_core::{Error, ErrorKind};

use serde_json::{json, Value};

use crate::auth::{Caller, Principal};
use crate::error::ApiError;

use crate::http::{prefixed, Routes, Shared};

/// The routes of this module.
pub(crate) fn routes() -> Routes {
    prefixed([
        ("/models", get(list_models)),
        ("/models/{*id}", get(get_model)),
        ("/model/info", get(model_info)),
    ])
}

pub(crate) fn model_object(id: &str) -> Value {
    json!({"id": id, "object": "model", "created": 1_677_610_602u64, "owned_by": "openai"})
}

/// The model groups `caller` may use, sorted: every configured group
/// its key and team allow, and the `provider/model` names its key lists
/// that a wildcard group serves.
pub(crate) fn visible_models(gw: &Gateway, caller: &Caller) -> Vec<String> {
    let mut ids: Vec<String> = gw
        .router
        .model_groups()
        .into_iter()
        .filter(|g| gw.may_use(caller, g))
        .collect();
    if let Some(key) = caller.key.as_deref() {
        let named = key.models.iter().chain(key.aliases.keys());
        for m in named {
            if gw.router.group_name(m).is_some() && gw.may_use(caller, m) {
                ids.push(m.clone());
            }
        }
    }
    ids.sort();
    ids.dedup();
    ids
}

pub(crate) async fn list_models(
    State(gw): Shared,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let caller = gw.admit_listing("models", &headers).await?;
    let ids = visible_models(&gw, &caller);
    if headers.contains_key("anthropic-version") {
        return Ok(axum::Json(anthropic_page(ids)).into_response());
    }
    let data: Vec<Value> = ids.iter().map(|g| model_object(g)).collect();
    Ok(axum::Json(json!({"object": "list", "data": data})).into_response())
}

/// The model list in Anthropic's shape, for clients that send
/// `anthropic-version` (Claude Code, the anthropic SDKs): one page, every
/// model group.
fn anthropic_page(ids: Vec<String>) -> Value {
    let page = llmux_anthropic::wire::ModelsPage {
        first_id: ids.first().cloned(),
        last_id: ids.last().cloned(),
        has_more: false,
        data: ids
            .into_iter()
            .map(|id| llmux_anthropic::wire::ModelInfo {
                display_name: Some(id.clone()),
                id,
                created_at: Some("2023-06-14T00:00:00Z".into()),
                r#type: Some("model".into()),
            })
            .collect(),
    };
    serde_json::to_value(page).unwrap_or(Value::Null)
}

pub(crate) async fn get_model(
    State(gw): Shared,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let caller = gw.admit_listing("models", &headers).await?;
    if visible_models(&gw, &caller).contains(&id) {
        return Ok(axum::Json(model_object(&id)).into_response());
    }
    Err(ApiError(
        Error::new(
            ErrorKind::NotFound,
            format!("The model '{}' does not exist", loggable(&id)),
        )
        .with_param("model")
        .with_code("model_not_found"),
    ))
}

/// The deployments of the groups `caller` may use; `api_base` (where the
/// gateway's upstreams live) only for the master key.
pub(crate) async fn model_info(
    State(gw): Shared,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let caller = gw.admit_listing("model_info", &headers).await?;
    let admin = matches!(caller.principal, Principal::Admin | Principal::Anonymous);
    let data: Vec<Value> = gw
        .model_info
        .iter()
        .filter(|m| {
            m["model_name"]
                .as_str()
                .is_some_and(|g| gw.may_use(&caller, g))
        })
        .map(|m| {
            let mut m = m.clone();
            if !admin {
                if let Some(params) = m["litellm_params"].as_object_mut() {
                    params.remove("api_base");
                }
            }
            m
        })
        .collect();
    Ok(axum::Json(json!({"data": data})).into_response())
}
