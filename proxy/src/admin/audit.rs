//! The audit log of admin changes, LiteLLM's shape and paths (`GET /audit`,
//! `GET /audit/{id}`): who changed which key, user, team or budget, when,
//! and the object before and after, with no secret in it.
//!
//! Entries are written by the master-key layer, not by each handler, so a
//! new admin route cannot forget to audit: [`Pending::begin`] reads the
//! objects a change names before the handler runs, [`Pending::finish`]
//! reads them again after it and records each one that changed. A failed
//! change leaves nothing; a delete that failed half-way records the objects
//! it did delete.

use std::sync::atomic::{AtomicU64, Ordering};

use axum::body::Body;
use axum::extract::{Path, Query};
use axum::response::{IntoResponse, Response};
use axum::Json;
use llmux_core::calendar::rfc3339;
use llmux_core::text::redact_secrets;
use llmux_core::{Error, ErrorKind};
use llmux_store::{AuditEntry, AuditFilter, Kind, Store, StoreError};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::admin::budgets::budget_info;
use crate::admin::fields::{store_error, token_hash_of, Page};
use crate::admin::keys::key_info;
use crate::admin::org::owner_info;
use crate::admin::reports::date_range;
use crate::admin::AdminKeys;
use crate::auth::virtual_keys::VirtualKeys;
use crate::error::ApiError;

/// The kinds of object an admin change touches, by LiteLLM's table names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Table {
    Key,
    User,
    Team,
    Budget,
}

impl Table {
    /// LiteLLM's name of the table (what `table_name` filters on).
    fn name(self) -> &'static str {
        match self {
            Table::Key => "LiteLLM_VerificationToken",
            Table::User => "LiteLLM_UserTable",
            Table::Team => "LiteLLM_TeamTable",
            Table::Budget => "LiteLLM_BudgetTable",
        }
    }

    /// The request fields naming one object or a list of them.
    fn id_fields(self) -> (&'static str, &'static str) {
        match self {
            Table::Key => ("key", "keys"),
            Table::User => ("user_id", "user_ids"),
            Table::Team => ("team_id", "team_ids"),
            Table::Budget => ("budget_id", "id"),
        }
    }

    /// The response field holding a new object's id.
    fn created_id_field(self) -> &'static str {
        match self {
            Table::Key => "token",
            Table::User => "user_id",
            Table::Team => "team_id",
            Table::Budget => "budget_id",
        }
    }

    /// The object as its info endpoint shows it, if it exists.
    async fn snapshot(self, store: &Store, id: &str) -> Result<Option<Value>, ApiError> {
        let value = match self {
            Table::Key => store.get_key(id).await.map(|k| k.map(|k| key_info(&k))),
            Table::User => owner(store, Kind::User, id).await,
            Table::Team => owner(store, Kind::Team, id).await,
            Table::Budget => store
                .get_budget(id)
                .await
                .map(|b| b.map(|b| budget_info(&b))),
        };
        Ok(value.map_err(store_error)?.map(without_secrets))
    }
}

async fn owner(store: &Store, kind: Kind, id: &str) -> Result<Option<Value>, StoreError> {
    Ok(store
        .get_owner(kind, id)
        .await?
        .map(|o| owner_info(kind, &o)))
}

/// What a `POST` admin route does: LiteLLM's action name and the table.
fn change_of(path: &str) -> Option<(&'static str, Table)> {
    Some(match path {
        "/key/generate" => ("created", Table::Key),
        "/key/update" | "/key/unblock" => ("updated", Table::Key),
        "/key/delete" => ("deleted", Table::Key),
        "/key/regenerate" => ("rotated", Table::Key),
        "/key/block" => ("blocked", Table::Key),
        "/user/new" => ("created", Table::User),
        "/user/update" => ("updated", Table::User),
        "/user/delete" => ("deleted", Table::User),
        "/team/new" => ("created", Table::Team),
        "/team/update" | "/team/member_add" | "/team/member_delete" | "/team/unblock" => {
            ("updated", Table::Team)
        }
        "/team/delete" => ("deleted", Table::Team),
        "/team/block" => ("blocked", Table::Team),
        "/budget/new" => ("created", Table::Budget),
        "/budget/update" => ("updated", Table::Budget),
        "/budget/delete" => ("deleted", Table::Budget),
        _ => return None,
    })
}

/// An admin change under way: the objects it names, as they were.
pub(crate) struct Pending {
    action: &'static str,
    table: Table,
    /// `(object id, the object before)` for each object the request names.
    before: Vec<(String, Option<Value>)>,
}

/// The most objects one request's audit entries cover: a request body is
/// untrusted, and a delete naming more is audited up to here (logged).
const MAX_OBJECTS: usize = 1_000;

impl Pending {
    /// The change a request makes, with its objects read before it runs;
    /// `None` for a request that changes nothing.
    pub(crate) async fn begin(
        keys: &VirtualKeys,
        method: &axum::http::Method,
        path: &str,
        body: &[u8],
    ) -> Result<Option<Pending>, ApiError> {
        if method != axum::http::Method::POST {
            return Ok(None);
        }
        let Some((action, table)) = change_of(path) else {
            return Ok(None);
        };
        let mut before = Vec::new();
        if action != "created" {
            let request: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
            for id in named_ids(table, &request) {
                let object = table.snapshot(keys.store(), &id).await?;
                before.push((id, object));
            }
        }
        Ok(Some(Pending {
            action,
            table,
            before,
        }))
    }

    /// Record what the change did, given the handler's response (which is
    /// passed on unchanged). Only a creation or a rotation needs the
    /// answer (the new object's id); other changes are judged by the store.
    pub(crate) async fn finish(self, keys: &VirtualKeys, now: i64, response: Response) -> Response {
        let succeeded = response.status().is_success();
        if !matches!(self.action, "created" | "rotated") {
            self.log_failure(self.record(keys, now, succeeded, &Value::Null).await);
            return response;
        }
        let (parts, body) = response.into_parts();
        let bytes = match axum::body::to_bytes(body, MAX_RESPONSE_BYTES).await {
            Ok(b) => b,
            Err(e) => {
                tracing::error!(error = %e, "audit: cannot read an admin response; the change is not audited");
                return crate::error::internal("cannot read the admin response").into_response();
            }
        };
        let answer: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        self.log_failure(self.record(keys, now, succeeded, &answer).await);
        Response::from_parts(parts, Body::from(bytes))
    }

    fn log_failure(&self, recorded: Result<(), ApiError>) {
        if let Err(e) = recorded {
            tracing::error!(error = %e.0, action = self.action, table = self.table.name(), "audit: the change was made but its audit entry was not written");
        }
    }

    async fn record(
        &self,
        keys: &VirtualKeys,
        now: i64,
        succeeded: bool,
        answer: &Value,
    ) -> Result<(), ApiError> {
        let store = keys.store();
        let by = keys.master_key_hash().unwrap_or_default();
        let write = |object_id: &str, before: Option<&Value>, after: Option<&Value>| {
            let entry = AuditEntry {
                id: new_audit_id(),
                updated_at: now,
                changed_by: "master_key".into(),
                changed_by_api_key: by.clone(),
                action: self.action.into(),
                table_name: self.table.name().into(),
                object_id: object_id.into(),
                before_value: before.map(Value::to_string),
                updated_values: after.map(Value::to_string),
            };
            async move { store.insert_audit(&entry).await.map_err(store_error) }
        };
        match self.action {
            "created" if succeeded => {
                let Some(id) = answer[self.table.created_id_field()].as_str() else {
                    return Ok(());
                };
                let after = self.table.snapshot(store, id).await?;
                write(id, None, after.as_ref()).await?;
            }
            "rotated" if succeeded => {
                let (Some((old, before)), Some(new)) =
                    (self.before.first(), answer["token"].as_str())
                else {
                    return Ok(());
                };
                let after = self.table.snapshot(store, new).await?;
                write(old, before.as_ref(), after.as_ref()).await?;
            }
            "created" | "rotated" => {}
            _ => {
                // Whatever the status: a delete may stop half-way.
                for (id, before) in &self.before {
                    let after = self.table.snapshot(store, id).await?;
                    if before.is_some() && after != *before {
                        write(id, before.as_ref(), after.as_ref()).await?;
                    }
                }
            }
        }
        Ok(())
    }
}

/// Admin answers are a few kilobytes; a list is at most 100 rows.
const MAX_RESPONSE_BYTES: usize = 16 * 1024 * 1024;

/// The ids of the objects a change request names (a key by its hash).
fn named_ids(table: Table, request: &Value) -> Vec<String> {
    let (one, many) = table.id_fields();
    let mut ids: Vec<String> = match (&request[one], &request[many]) {
        (Value::String(id), _) | (_, Value::String(id)) => vec![id.clone()],
        (_, Value::Array(list)) => list
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    };
    if ids.len() > MAX_OBJECTS {
        tracing::warn!(
            objects = ids.len(),
            "audit: a change names more than {MAX_OBJECTS} objects; only the first are audited"
        );
        ids.truncate(MAX_OBJECTS);
    }
    if table == Table::Key {
        ids = ids.iter().map(|k| token_hash_of(k)).collect();
    }
    ids
}

/// An audit id: `audit_`, the time in nanoseconds (strictly increasing in
/// this process), then randomness, so that entries written one after
/// another sort in that order: the log is listed by id, and several changes
/// fall in one second.
fn new_audit_id() -> String {
    static LAST: AtomicU64 = AtomicU64::new(0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
    let previous = LAST
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |last| {
            Some(now.max(last + 1))
        })
        .unwrap_or(now);
    let nanos = now.max(previous + 1);
    format!("audit_{nanos:016x}{:08x}", fastrand::u32(..))
}

/// Field names whose string values are secrets (callback credentials in
/// metadata). Narrower than "anything with key in its name": a key's
/// `token` is its hash and a `public_key` is public, and both help an
/// auditor.
fn is_secret_field(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    [
        "secret",
        "password",
        "credential",
        "api_key",
        "private_key",
        "authorization",
    ]
    .iter()
    .any(|s| name.contains(s))
}

/// `v` with secrets replaced by `[redacted]`: values of secret-named
/// fields (an `os.environ/…` reference is kept: it names, not holds, the
/// secret) and anything credential-shaped in any string.
fn without_secrets(v: Value) -> Value {
    match v {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(name, value)| {
                    let value = match value {
                        Value::String(s)
                            if is_secret_field(&name) && !s.starts_with("os.environ/") =>
                        {
                            Value::String("[redacted]".into())
                        }
                        other => without_secrets(other),
                    };
                    (name, value)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(without_secrets).collect()),
        Value::String(s) => Value::String(redact_secrets(&s).into_owned()),
        other => other,
    }
}

/// An entry as LiteLLM's `/audit` shows it.
fn entry_json(e: &AuditEntry) -> Value {
    let parsed = |s: &Option<String>| {
        s.as_deref()
            .and_then(|s| serde_json::from_str::<Value>(s).ok())
            .unwrap_or(Value::Null)
    };
    json!({
        "id": e.id,
        "updated_at": rfc3339(e.updated_at),
        "changed_by": e.changed_by,
        "changed_by_api_key": e.changed_by_api_key,
        "action": e.action,
        "table_name": e.table_name,
        "object_id": e.object_id,
        "before_value": parsed(&e.before_value),
        "updated_values": parsed(&e.updated_values),
    })
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct AuditQuery {
    page: Option<i64>,
    page_size: Option<i64>,
    object_id: Option<String>,
    table_name: Option<String>,
    action: Option<String>,
    changed_by: Option<String>,
    /// `YYYY-MM-DD`, inclusive.
    start_date: Option<String>,
    /// `YYYY-MM-DD`, inclusive.
    end_date: Option<String>,
}

/// `GET /audit?page=&page_size=&object_id=&table_name=&action=&changed_by=&start_date=&end_date=`:
/// newest first.
pub(crate) async fn list(
    AdminKeys(keys): AdminKeys,
    Query(q): Query<AuditQuery>,
) -> Result<Response, ApiError> {
    let page = Page::of(q.page, q.page_size, 10)?;
    let (start, end) = date_range(q.start_date.as_deref(), q.end_date.as_deref())?;
    let filter = AuditFilter {
        object_id: q.object_id,
        table_name: q.table_name,
        action: q.action,
        changed_by: q.changed_by,
        start,
        end,
    };
    let (entries, total) = keys
        .store()
        .list_audit(&filter, page.size, page.offset)
        .await
        .map_err(store_error)?;
    let logs: Vec<Value> = entries.iter().map(entry_json).collect();
    Ok(Json(json!({
        "audit_logs": logs,
        "total": total,
        "page": page.number,
        "page_size": page.size,
        "total_pages": (total + page.size - 1) / page.size,
    }))
    .into_response())
}

/// `GET /audit/{id}`
pub(crate) async fn info(
    AdminKeys(keys): AdminKeys,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    match keys.store().get_audit(&id).await.map_err(store_error)? {
        Some(e) => Ok(Json(entry_json(&e)).into_response()),
        None => Err(ApiError(Error::new(
            ErrorKind::NotFound,
            format!("audit entry not found: {id}"),
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_removed_and_references_kept() {
        let v = json!({
            "token": "ab12",
            "metadata": {"logging": [{"callback_vars": {
                "langfuse_public_key": "pk-lf-1",
                "langfuse_secret_key": "sk-lf-2",
                "langfuse_host": "os.environ/LANGFUSE_HOST",
                "api_key": "os.environ/OPENAI_API_KEY",
            }}], "note": "Bearer abcdefghijklmnopqrstuvwxyz0123"},
            "max_budget": 5.0,
        });
        assert_eq!(
            without_secrets(v),
            json!({
                "token": "ab12",
                "metadata": {"logging": [{"callback_vars": {
                    "langfuse_public_key": "pk-lf-1",
                    "langfuse_secret_key": "[redacted]",
                    "langfuse_host": "os.environ/LANGFUSE_HOST",
                    "api_key": "os.environ/OPENAI_API_KEY",
                }}], "note": "Bearer [redacted]"},
                "max_budget": 5.0,
            })
        );
    }

    #[test]
    fn a_request_names_its_objects() {
        let hash = token_hash_of("sk-one");
        assert_eq!(
            named_ids(Table::Key, &json!({"key": "sk-one"})),
            std::slice::from_ref(&hash)
        );
        assert_eq!(
            named_ids(Table::Key, &json!({"keys": ["sk-one", 7, hash.clone()]})),
            [hash.clone(), hash]
        );
        assert_eq!(
            named_ids(Table::Team, &json!({"team_ids": ["a", "b"]})),
            ["a", "b"]
        );
        assert_eq!(named_ids(Table::Budget, &json!({"id": "b1"})), ["b1"]);
        assert!(named_ids(Table::User, &json!("not an object")).is_empty());
        let many: Vec<String> = (0..2_000).map(|i| i.to_string()).collect();
        assert_eq!(
            named_ids(Table::User, &json!({"user_ids": many})).len(),
            MAX_OBJECTS
        );
    }

    #[test]
    fn every_post_admin_route_is_a_change_and_no_read_is() {
        for (method, path) in crate::admin::ADMIN_ROUTES {
            let read = *method == "GET" || path.ends_with("/info");
            assert_eq!(change_of(path).is_none(), read, "{method} {path}");
        }
    }

    #[test]
    fn ids_sort_in_writing_order() {
        let ids: Vec<String> = (0..100).map(|_| new_audit_id()).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(ids, sorted);
    }
}
