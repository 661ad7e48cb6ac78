//! The admin plane: key, user, team and budget management and spend
//! reports, LiteLLM's paths. One router behind one master-key layer
//! ([`require_master_key`]), so a new admin route cannot forget the check;
//! handlers take the key store as an [`AdminKeys`] extractor, which only
//! that layer provides. The same layer writes the audit log ([`audit`]).

use std::sync::Arc;

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::{get, post};
use llmux_core::{Error, ErrorKind};

use crate::auth::virtual_keys::VirtualKeys;
use crate::auth::Principal;
use crate::error::{internal, ApiError};
use crate::gateway::Gateway;
use crate::http::Routes;

pub(crate) mod audit;
pub(crate) mod budgets;
pub(crate) mod fields;
pub(crate) mod keys;
pub(crate) mod org;
pub(crate) mod reports;

pub use keys::key_info;

/// Every admin route as `(method, path)`: the master key only. Tests walk
/// this list route by route.
pub const ADMIN_ROUTES: &[(&str, &str)] = &[
    ("POST", "/key/generate"),
    ("GET", "/key/info"),
    ("POST", "/key/update"),
    ("POST", "/key/delete"),
    ("GET", "/key/list"),
    ("POST", "/key/regenerate"),
    ("POST", "/key/block"),
    ("POST", "/key/unblock"),
    ("POST", "/user/new"),
    ("GET", "/user/info"),
    ("POST", "/user/update"),
    ("POST", "/user/delete"),
    ("GET", "/user/list"),
    ("POST", "/team/new"),
    ("GET", "/team/info"),
    ("POST", "/team/update"),
    ("POST", "/team/delete"),
    ("GET", "/team/list"),
    ("POST", "/team/member_add"),
    ("POST", "/team/member_delete"),
    ("POST", "/team/block"),
    ("POST", "/team/unblock"),
    ("POST", "/budget/new"),
    ("POST", "/budget/info"),
    ("POST", "/budget/update"),
    ("POST", "/budget/delete"),
    ("GET", "/budget/list"),
    ("GET", "/spend/logs"),
    ("GET", "/global/spend"),
    ("GET", "/global/spend/report"),
    ("GET", "/audit"),
    ("GET", "/audit/{id}"),
];

/// The admin routes, behind the master-key layer.
pub(crate) fn routes(gateway: Arc<Gateway>) -> Routes {
    use org::{Team, User};
    axum::Router::new()
        .route("/key/generate", post(keys::generate))
        .route("/key/info", get(keys::info))
        .route("/key/update", post(keys::update))
        .route("/key/delete", post(keys::delete))
        .route("/key/list", get(keys::list))
        .route("/key/regenerate", post(keys::regenerate))
        .route("/key/block", post(keys::set_blocked::<true>))
        .route("/key/unblock", post(keys::set_blocked::<false>))
        .route("/user/new", post(org::create::<User>))
        .route("/user/info", get(org::info::<User>))
        .route("/user/update", post(org::update::<User>))
        .route("/user/delete", post(org::delete::<User>))
        .route("/user/list", get(org::list::<User>))
        .route("/team/new", post(org::create::<Team>))
        .route("/team/info", get(org::info::<Team>))
        .route("/team/update", post(org::update::<Team>))
        .route("/team/delete", post(org::delete::<Team>))
        .route("/team/list", get(org::list::<Team>))
        .route("/team/member_add", post(org::team_member_add))
        .route("/team/member_delete", post(org::team_member_delete))
        .route("/team/block", post(org::team_set_blocked::<true>))
        .route("/team/unblock", post(org::team_set_blocked::<false>))
        .route("/budget/new", post(budgets::new))
        .route("/budget/info", post(budgets::info))
        .route("/budget/update", post(budgets::update))
        .route("/budget/delete", post(budgets::delete))
        .route("/budget/list", get(budgets::list))
        .route("/spend/logs", get(reports::spend_logs))
        .route("/global/spend", get(reports::global_spend))
        .route("/global/spend/report", get(reports::global_spend_report))
        .route("/audit", get(audit::list))
        .route("/audit/{id}", get(audit::info))
        .route_layer(axum::middleware::from_fn_with_state(
            gateway,
            require_master_key,
        ))
}

/// Admit only the master key; hand the key store to the handler.
async fn require_master_key(
    State(gw): State<Arc<Gateway>>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let Some(keys) = gw.keys.clone() else {
        return Err(ApiError(Error::bad_request(
            "key management needs general_settings.master_key (and a database; SQLite llmux.db by default)",
        )));
    };
    let peer = crate::gateway::peer_of(&request);
    let caller = gw.authenticate_request(request.headers(), peer).await?;
    if caller.principal != Principal::Admin {
        return Err(ApiError(Error::new(
            ErrorKind::PermissionDenied,
            "only the master key may manage keys",
        )));
    }
    // A NUL byte in an id reached the database, which answered with its own
    // error text; admin input never needs one.
    if request.uri().query().is_some_and(|q| q.contains("%00")) {
        return Err(nul_refused());
    }
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, gw.max_body_bytes)
        .await
        .map_err(|e| {
            ApiError(Error::bad_request(format!(
                "cannot read the request body: {e}"
            )))
        })?;
    if body.windows(6).any(|w| w.eq_ignore_ascii_case(b"\\u0000")) {
        return Err(nul_refused());
    }
    let change = audit::Pending::begin(&keys, &parts.method, parts.uri.path(), &body).await?;
    let mut request = Request::from_parts(parts, axum::body::Body::from(body));
    request.extensions_mut().insert(AdminKeys(keys.clone()));
    let response = next.run(request).await;
    Ok(match change {
        Some(change) => change.finish(&keys, gw.clock.now(), response).await,
        None => response,
    })
}

fn nul_refused() -> ApiError {
    ApiError(Error::bad_request(
        "admin requests may not contain NUL characters (\\u0000 or %00)",
    ))
}

/// The key store, for a request [`require_master_key`] admitted.
#[derive(Clone)]
pub(crate) struct AdminKeys(pub Arc<VirtualKeys>);

impl<S: Send + Sync> FromRequestParts<S> for AdminKeys {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<AdminKeys>()
            .cloned()
            .ok_or_else(|| internal("an admin handler was reached without the master-key layer"))
    }
}
