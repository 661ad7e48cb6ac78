//! Virtual keys: generation, hashing (SHA-256 hex of the `sk-…` key, as
//! LiteLLM stores it, so imported keys keep working), a short-TTL cache so the
//! hot path does not touch the database, and the checks every call passes:
//! valid, not expired, not blocked, model allowed, budget left, within rpm and
//! parallel limits.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::http::HeaderMap;
use futures::future::BoxFuture;
use llmux_core::{Error, ErrorKind, Result};

use crate::auth::{presented_key, Authenticator, Principal};
pub use llmux_store::keys::{display_name, hash_key};
use llmux_store::{KeyRecord, Store, StoreError};
use llmux_store::{Kind, Owner};

/// A new key: `sk-` and 32 random base62 characters (~190 bits).
pub fn generate_key() -> Result<String> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut body = String::with_capacity(32);
    while body.len() < 32 {
        let mut bytes = [0u8; 64];
        getrandom::fill(&mut bytes).map_err(|e| {
            Error::new(
                ErrorKind::InternalServer,
                format!("no randomness for a new key: {e}"),
            )
        })?;
        // Bytes of 248 and above are rejected so every character is equally likely.
        for b in bytes.iter().filter(|b| **b < 248).take(32 - body.len()) {
            body.push(ALPHABET[usize::from(*b) % ALPHABET.len()] as char);
        }
    }
    Ok(format!("sk-{body}"))
}

/// The caller of a request, with what the gateway knows about it.
#[derive(Debug, Clone)]
pub struct Caller {
    /// Who the caller is: anonymous, the master key, or a virtual key.
    pub principal: Principal,
    /// The stored record of the virtual key presented, if any.
    pub key: Option<Arc<KeyRecord>>,
    /// The key's user and team, when it has them (and they exist).
    pub user: Option<Arc<Owner>>,
    /// The key's team, when it has one (and it exists).
    pub team: Option<Arc<Owner>>,
}

impl Caller {
    /// A caller with no key (anonymous or the master key).
    pub fn keyless(principal: Principal) -> Caller {
        Caller {
            principal,
            key: None,
            user: None,
            team: None,
        }
    }
}

/// Master key plus virtual keys from the store.
pub struct VirtualKeys {
    master_key: Option<String>,
    store: Store,
    /// Looked-up keys, `None` for unknown ones; concurrent misses for one
    /// key share a single database read.
    cache: moka::future::Cache<String, Option<Arc<KeyRecord>>>,
    /// Users and teams, by `user:<id>` / `team:<id>`, cached the same way.
    owners: moka::future::Cache<String, Option<Arc<Owner>>>,
}

/// A user's or team's entry in the owner cache.
fn owner_key(kind: Kind, id: &str) -> String {
    format!("{}:{id}", kind.name())
}

/// What `load` finds, through `cache` under `key`; a store failure is a 503
/// naming what was being checked (`what`, made only then).
async fn cached<V: Send + Sync + 'static>(
    cache: &moka::future::Cache<String, Option<Arc<V>>>,
    key: &str,
    load: impl Future<Output = std::result::Result<Option<V>, StoreError>>,
    what: impl FnOnce() -> String,
) -> Result<Option<Arc<V>>> {
    cache
        .try_get_with_by_ref(key, async { load.await.map(|v| v.map(Arc::new)) })
        .await
        .map_err(|e| {
            Error::new(
                ErrorKind::ServiceUnavailable,
                format!("cannot check {}: {e}", what()),
            )
        })
}

impl VirtualKeys {
    /// Keys are cached for `ttl` (and dropped from the cache on every change
    /// made through this gateway).
    pub fn new(master_key: Option<String>, store: Store, ttl: Duration) -> Self {
        VirtualKeys {
            master_key,
            store,
            cache: moka::future::Cache::builder()
                .max_capacity(100_000)
                .time_to_live(ttl)
                .build(),
            owners: moka::future::Cache::builder()
                .max_capacity(100_000)
                .time_to_live(ttl)
                .build(),
        }
    }

    /// The master key's hash (who made an admin change), if there is one.
    pub fn master_key_hash(&self) -> Option<String> {
        self.master_key.as_deref().map(hash_key)
    }

    /// The store behind the keys.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Forget a cached key after it changed.
    pub async fn invalidate(&self, token_hash: &str) {
        self.cache.invalidate(token_hash).await;
    }

    /// Forget a cached user or team after it changed.
    pub async fn invalidate_owner(&self, kind: Kind, id: &str) {
        self.owners.invalidate(&owner_key(kind, id)).await;
    }

    async fn owner(&self, kind: Kind, id: Option<&str>) -> Result<Option<Arc<Owner>>> {
        let Some(id) = id else {
            return Ok(None);
        };
        let load = self.store.get_owner(kind, id);
        cached(&self.owners, &owner_key(kind, id), load, || {
            format!("the API key's {}", kind.name())
        })
        .await
    }

    async fn lookup(&self, token_hash: &str) -> Result<Option<Arc<KeyRecord>>> {
        let load = self.store.get_key(token_hash);
        cached(&self.cache, token_hash, load, || "the API key".into()).await
    }

    /// Check that `key` may make a request at `now` (Unix seconds): not
    /// blocked, not expired, and allowed `model` when one is named. Limits
    /// and budgets come after.
    pub fn check(key: &KeyRecord, model: Option<&str>, now: i64) -> Result<()> {
        if key.blocked {
            return Err(
                Error::authentication("Authentication Error: this key has been blocked")
                    .with_code("key_blocked"),
            );
        }
        if key.expires_at.is_some_and(|e| e <= now) {
            return Err(
                Error::authentication("Authentication Error: this key has expired")
                    .with_code("key_expired"),
            );
        }
        let Some(model) = model else {
            return Ok(());
        };
        if allows_model(&key.models, model) || key.aliases.contains_key(model) {
            return Ok(());
        }
        Err(model_denied(
            "this key",
            &key.models,
            model,
            "key_model_access_denied",
        ))
    }
}

/// A blocked team blocks its keys; a team's models bound its keys' models.
fn check_team(team: &Owner, model: Option<&str>) -> Result<()> {
    if team.blocked {
        return Err(Error::authentication(format!(
            "Authentication Error: team {} has been blocked",
            team.id
        ))
        .with_code("team_blocked"));
    }
    let Some(model) = model else {
        return Ok(());
    };
    if allows_model(&team.models, model) {
        return Ok(());
    }
    let who = format!("team {}", team.id);
    Err(model_denied(
        &who,
        &team.models,
        model,
        "team_model_access_denied",
    ))
}

/// Whether a model list (a key's or a team's) lets `model` through: an
/// empty list and `all-proxy-models` / `*` allow every model.
fn allows_model(models: &[String], model: &str) -> bool {
    models.is_empty()
        || models
            .iter()
            .any(|m| m == model || m == "all-proxy-models" || m == "*")
}

/// The 403 for a model that `who`'s list (`models`) does not allow.
fn model_denied(who: &str, models: &[String], model: &str, code: &'static str) -> Error {
    Error::new(
        ErrorKind::PermissionDenied,
        format!(
            "{who} is not allowed to access model={model}. Allowed models: {}",
            models.join(", ")
        ),
    )
    .with_code(code)
    .with_param("model")
}

impl Authenticator for VirtualKeys {
    fn authenticate<'a>(&'a self, headers: &'a HeaderMap) -> BoxFuture<'a, Result<Caller>> {
        Box::pin(async move {
            let Some(presented) = presented_key(headers) else {
                if self.master_key.is_none() {
                    return Ok(Caller::keyless(Principal::Anonymous));
                }
                return Err(Error::authentication(
                    "Authentication Error: no API key passed in. Send it as 'Authorization: Bearer <key>'",
                )
                .with_code("invalid_api_key"));
            };
            if self
                .master_key
                .as_deref()
                .is_some_and(|m| crate::auth::constant_time_eq(m.as_bytes(), presented.as_bytes()))
            {
                return Ok(Caller::keyless(Principal::Admin));
            }
            match self.lookup(&hash_key(presented)).await? {
                Some(k) => Ok(Caller {
                    principal: Principal::Key,
                    user: self.owner(Kind::User, k.user_id.as_deref()).await?,
                    team: self.owner(Kind::Team, k.team_id.as_deref()).await?,
                    key: Some(k),
                }),
                None => Err(
                    Error::authentication("Authentication Error: invalid API key")
                        .with_code("invalid_api_key"),
                ),
            }
        })
    }

    fn check(&self, caller: &Caller, model: Option<&str>, now: i64) -> Result<()> {
        if let Some(team) = &caller.team {
            check_team(team, model)?;
        }
        match &caller.key {
            Some(k) => VirtualKeys::check(k, model, now),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_look_like_litellm_keys_and_hash_like_litellm() {
        let k = generate_key().unwrap();
        assert!(k.starts_with("sk-") && k.len() == 35, "{k}");
        assert_ne!(k, generate_key().unwrap());
        // hashlib.sha256(b"sk-1234").hexdigest()
        assert_eq!(
            hash_key("sk-1234"),
            "88dc28d0f030c55ed4ab77ed8faf098196cb1c05df778539800c9f1243fe6b4b"
        );
        assert_eq!(display_name("sk-abcdefgh"), "sk-...efgh");
    }
}
