//! Users and teams: who keys belong to, with budgets, limits and model access
//! of their own. LiteLLM's management paths and fields: `/user/new|info|
//! update|delete|list`, `/team/new|info|update|delete|list|member_add|
//! member_delete|block|unblock`. Master key only.
//!
//! A key with a `user_id` or `team_id` spends from that user's and team's
//! budgets as well as its own; a blocked team blocks its keys; a team's
//! `models` bound its keys' models.

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use llmux_core::{Error, ErrorKind};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::admin::fields::{
    check_duration, check_limit, check_money, id_or_new, refuse_existing, required, required_query,
    store_error, Page,
};
use crate::admin::keys::key_info;
use crate::admin::AdminKeys;
use crate::auth::virtual_keys::{generate_key, VirtualKeys};
use crate::body::{parse_json_or_default, JsonBody};
use crate::error::ApiError;
use llmux_store::{from_nano, KeyRecord, Kind, Owner, Store};

use crate::http::Shared;

/// Fields of `/user/new|update` and `/team/new|update`. Absent fields are
/// left alone on update.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct OwnerFields {
    user_id: Option<String>,
    team_id: Option<String>,
    user_email: Option<String>,
    user_role: Option<String>,
    team_alias: Option<String>,
    teams: Option<Vec<String>>,
    members_with_roles: Option<Vec<Member>>,
    models: Option<Vec<String>>,
    max_budget: Option<f64>,
    budget_duration: Option<String>,
    tpm_limit: Option<i64>,
    rpm_limit: Option<i64>,
    blocked: Option<bool>,
    metadata: Option<Map<String, Value>>,
    /// `/user/new` also creates a key for the user unless this is `false`.
    auto_create_key: Option<bool>,
}

/// A team member.
#[derive(Debug, Clone, Deserialize, serde::Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub(crate) struct Member {
    pub user_id: String,
    #[serde(default = "default_role")]
    pub role: String,
}

fn default_role() -> String {
    "user".into()
}

impl OwnerFields {
    /// The id field of `kind` (`user_id` or `team_id`).
    fn id(&self, kind: Kind) -> Option<&String> {
        match kind {
            Kind::User => self.user_id.as_ref(),
            Kind::Team => self.team_id.as_ref(),
        }
    }
}

fn apply(kind: Kind, o: &mut Owner, f: &OwnerFields, now: i64) -> Result<(), Error> {
    let misplaced = match kind {
        Kind::User => [
            ("team_alias", f.team_alias.is_some()),
            ("members_with_roles", f.members_with_roles.is_some()),
            ("blocked", f.blocked.is_some()),
        ],
        Kind::Team => [
            ("user_email", f.user_email.is_some()),
            ("user_role", f.user_role.is_some()),
            ("teams", f.teams.is_some()),
        ],
    };
    if let Some((field, _)) = misplaced.iter().find(|(_, set)| *set) {
        return Err(
            Error::bad_request(format!("{field} is not a field of a {}", kind.name()))
                .with_param(*field),
        );
    }
    match kind {
        Kind::User => {
            if let Some(v) = &f.user_email {
                o.label = Some(v.clone());
            }
            if let Some(v) = &f.user_role {
                o.role = Some(v.clone());
            }
            if let Some(v) = &f.teams {
                o.members = v.iter().map(|t| json!(t)).collect();
            }
        }
        Kind::Team => {
            if let Some(v) = &f.team_alias {
                o.label = Some(v.clone());
            }
            if let Some(v) = &f.members_with_roles {
                o.members = v.iter().map(|m| json!(m)).collect();
            }
            if let Some(b) = f.blocked {
                o.blocked = b;
            }
        }
    }
    if let Some(m) = &f.models {
        o.models.clone_from(m);
    }
    o.max_budget_nano = check_money("max_budget", f.max_budget)?.or(o.max_budget_nano);
    if let Some(d) = &f.budget_duration {
        o.budget_reset_at = Some(now + check_duration("budget_duration", d)?);
        o.budget_duration = Some(d.clone());
    }
    o.tpm_limit = check_limit("tpm_limit", f.tpm_limit)?.or(o.tpm_limit);
    o.rpm_limit = check_limit("rpm_limit", f.rpm_limit)?.or(o.rpm_limit);
    if let Some(m) = &f.metadata {
        o.metadata.clone_from(m);
    }
    o.updated_at = now;
    Ok(())
}

/// A user or team as LiteLLM's info endpoints show it.
pub(crate) fn owner_info(kind: Kind, o: &Owner) -> Value {
    let mut v = json!({
        kind.id_column(): o.id,
        "models": o.models,
        "spend": from_nano(o.spend_nano),
        "max_budget": o.max_budget_nano.map(from_nano),
        "budget_duration": o.budget_duration,
        "budget_reset_at": o.budget_reset_at,
        "tpm_limit": o.tpm_limit,
        "rpm_limit": o.rpm_limit,
        "metadata": o.metadata,
        "created_at": o.created_at,
        "updated_at": o.updated_at,
    });
    match kind {
        Kind::User => {
            v["user_email"] = json!(o.label);
            v["user_role"] = json!(o.role);
            v["teams"] = json!(o.members);
        }
        Kind::Team => {
            v["team_alias"] = json!(o.label);
            v["members_with_roles"] = json!(o.members);
            v["blocked"] = json!(o.blocked);
        }
    }
    v
}

fn not_found(kind: Kind, id: &str) -> ApiError {
    ApiError(
        Error::new(
            ErrorKind::NotFound,
            format!("{} not found: {id}", kind.name()),
        )
        .with_param(kind.id_column()),
    )
}

async fn find(store: &Store, kind: Kind, id: &str) -> Result<Owner, ApiError> {
    store
        .get_owner(kind, id)
        .await
        .map_err(store_error)?
        .ok_or_else(|| not_found(kind, id))
}

/// `POST /user/new`, `/team/new`
pub(crate) async fn create<K: OwnerKind>(
    State(gw): Shared,
    AdminKeys(keys): AdminKeys,
    body: Bytes,
) -> Result<Response, ApiError> {
    let kind = K::KIND;
    let fields: OwnerFields = parse_json_or_default(&body)?;
    let id = id_or_new(fields.id(kind).cloned(), kind.id_column(), kind.name())?;
    let now = gw.clock.now();
    let mut owner = Owner {
        id: id.clone(),
        created_at: now,
        ..Owner::default()
    };
    apply(kind, &mut owner, &fields, now)?;
    refuse_existing(
        keys.store().get_owner(kind, &id).await,
        || format!("{} already exists: {id}", kind.name()),
        kind.id_column(),
    )?;
    keys.store()
        .save_owner(kind, &owner, true)
        .await
        .map_err(store_error)?;
    let mut out = owner_info(kind, &owner);
    if kind == Kind::User && fields.auto_create_key != Some(false) {
        // LiteLLM's /user/new answers with a key for the new user.
        let key = generate_key()?;
        let record = KeyRecord {
            token_hash: crate::auth::virtual_keys::hash_key(&key),
            key_name: crate::auth::virtual_keys::display_name(&key),
            user_id: Some(id),
            created_at: now,
            updated_at: now,
            ..KeyRecord::default()
        };
        keys.store()
            .insert_key(&record)
            .await
            .map_err(store_error)?;
        out["key"] = json!(key);
    }
    Ok(Json(out).into_response())
}

/// `POST /user/update`, `/team/update`
pub(crate) async fn update<K: OwnerKind>(
    State(gw): Shared,
    AdminKeys(keys): AdminKeys,
    JsonBody(fields): JsonBody<OwnerFields>,
) -> Result<Response, ApiError> {
    let kind = K::KIND;
    let id = required(fields.id(kind), kind.id_column())?;
    let mut owner = find(keys.store(), kind, id).await?;
    apply(kind, &mut owner, &fields, gw.clock.now())?;
    save_changed(&keys, kind, owner).await
}

/// Write a changed user or team, drop it from the key cache, and answer with
/// its info.
async fn save_changed(keys: &VirtualKeys, kind: Kind, owner: Owner) -> Result<Response, ApiError> {
    keys.store()
        .save_owner(kind, &owner, false)
        .await
        .map_err(store_error)?;
    keys.invalidate_owner(kind, &owner.id).await;
    Ok(Json(owner_info(kind, &owner)).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DeleteOwners {
    #[serde(default)]
    user_ids: Vec<String>,
    #[serde(default)]
    team_ids: Vec<String>,
}

/// `POST /user/delete`, `/team/delete`
pub(crate) async fn delete<K: OwnerKind>(
    AdminKeys(keys): AdminKeys,
    JsonBody(req): JsonBody<DeleteOwners>,
) -> Result<Response, ApiError> {
    let kind = K::KIND;
    let (ids, field) = match kind {
        Kind::User => (req.user_ids, "user_ids"),
        Kind::Team => (req.team_ids, "team_ids"),
    };
    if ids.is_empty() {
        return Err(ApiError(
            Error::bad_request(format!("{field} must list at least one id")).with_param(field),
        ));
    }
    for id in &ids {
        if !keys
            .store()
            .delete_owner(kind, id)
            .await
            .map_err(store_error)?
        {
            return Err(not_found(kind, id));
        }
        keys.invalidate_owner(kind, id).await;
    }
    Ok(Json(json!({ "deleted": ids })).into_response())
}

#[derive(Deserialize)]
pub(crate) struct InfoQuery {
    user_id: Option<String>,
    team_id: Option<String>,
}

/// `GET /user/info?user_id=`, `/team/info?team_id=`
pub(crate) async fn info<K: OwnerKind>(
    AdminKeys(keys): AdminKeys,
    Query(q): Query<InfoQuery>,
) -> Result<Response, ApiError> {
    let kind = K::KIND;
    let id = match kind {
        Kind::User => q.user_id,
        Kind::Team => q.team_id,
    };
    let id = required_query(id, kind.id_column())?;
    let owner = find(keys.store(), kind, &id).await?;
    let (user, team) = match kind {
        Kind::User => (Some(id.as_str()), None),
        Kind::Team => (None, Some(id.as_str())),
    };
    let owned = keys
        .store()
        .list_keys(user, team, 1000, 0)
        .await
        .map_err(store_error)?;
    let key_infos: Vec<Value> = owned.iter().map(key_info).collect();
    let info_field = format!("{}_info", kind.name());
    Ok(Json(json!({
        kind.id_column(): id,
        info_field: owner_info(kind, &owner),
        "keys": key_infos,
    }))
    .into_response())
}

#[derive(Deserialize)]
pub(crate) struct PageQuery {
    page: Option<i64>,
    page_size: Option<i64>,
}

/// `GET /user/list`, `/team/list`
pub(crate) async fn list<K: OwnerKind>(
    AdminKeys(keys): AdminKeys,
    Query(q): Query<PageQuery>,
) -> Result<Response, ApiError> {
    let kind = K::KIND;
    let page = Page::of(q.page, q.page_size, 25)?;
    let owners = keys
        .store()
        .list_owners(kind, page.size, page.offset)
        .await
        .map_err(store_error)?;
    let items: Vec<Value> = owners.iter().map(|o| owner_info(kind, o)).collect();
    let field = format!("{}s", kind.name());
    Ok(Json(json!({ field: items, "page": page.number, "page_size": page.size })).into_response())
}

/// Which kind of owner a generic handler serves: `create::<User>` serves
/// `/user/new`, `create::<Team>` serves `/team/new`.
pub(crate) trait OwnerKind {
    const KIND: Kind;
}

/// Users (`/user/*`).
pub(crate) struct User;
/// Teams (`/team/*`).
pub(crate) struct Team;

impl OwnerKind for User {
    const KIND: Kind = Kind::User;
}

impl OwnerKind for Team {
    const KIND: Kind = Kind::Team;
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct MemberAdd {
    team_id: String,
    member: MemberOrMany,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum MemberOrMany {
    One(Member),
    Many(Vec<Member>),
}

/// `POST /team/member_add` with `{"team_id", "member": {...} | [...]}`.
pub(crate) async fn team_member_add(
    State(gw): Shared,
    AdminKeys(keys): AdminKeys,
    JsonBody(req): JsonBody<MemberAdd>,
) -> Result<Response, ApiError> {
    let mut team = find(keys.store(), Kind::Team, &req.team_id).await?;
    let new = match req.member {
        MemberOrMany::One(m) => vec![m],
        MemberOrMany::Many(v) => v,
    };
    for m in new {
        let present = team
            .members
            .iter()
            .any(|v| v["user_id"] == json!(m.user_id));
        if present {
            return Err(ApiError(
                Error::bad_request(format!(
                    "user {} is already a member of team {}",
                    m.user_id, team.id
                ))
                .with_param("member"),
            ));
        }
        team.members.push(json!(m));
    }
    team.updated_at = gw.clock.now();
    save_changed(&keys, Kind::Team, team).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct MemberDelete {
    team_id: String,
    user_id: String,
}

/// `POST /team/member_delete` with `{"team_id", "user_id"}`.
pub(crate) async fn team_member_delete(
    State(gw): Shared,
    AdminKeys(keys): AdminKeys,
    JsonBody(req): JsonBody<MemberDelete>,
) -> Result<Response, ApiError> {
    let mut team = find(keys.store(), Kind::Team, &req.team_id).await?;
    let before = team.members.len();
    team.members.retain(|v| v["user_id"] != json!(req.user_id));
    if team.members.len() == before {
        return Err(ApiError(
            Error::new(
                ErrorKind::NotFound,
                format!("user {} is not a member of team {}", req.user_id, team.id),
            )
            .with_param("user_id"),
        ));
    }
    team.updated_at = gw.clock.now();
    save_changed(&keys, Kind::Team, team).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TeamId {
    team_id: String,
}

/// `POST /team/block` (`BLOCKED`) and `/team/unblock` with `{"team_id"}`.
pub(crate) async fn team_set_blocked<const BLOCKED: bool>(
    State(gw): Shared,
    AdminKeys(keys): AdminKeys,
    JsonBody(req): JsonBody<TeamId>,
) -> Result<Response, ApiError> {
    let mut team = find(keys.store(), Kind::Team, &req.team_id).await?;
    team.blocked = BLOCKED;
    team.updated_at = gw.clock.now();
    save_changed(&keys, Kind::Team, team).await
}
