//! Where Responses API responses are kept for `previous_response_id` and
//! `GET/DELETE /v1/responses/{id}`: the database when the gateway has one
//! (so every instance sharing it sees every response), else memory bounded
//! in bytes. Either way responses older than the retention are deleted.

use std::sync::Arc;
use std::time::Duration;

use llmux_core::{Error, ErrorKind};
use llmux_store::{Store, StoredResponse};

use crate::auth::virtual_keys::Caller;

/// Memory held by stored responses when there is no database.
const MEMORY_BYTES: u64 = 256 << 20;

/// How long responses are kept when `general_settings.responses_retention`
/// is not set (OpenAI keeps them 30 days).
pub(crate) const DEFAULT_RETENTION: Duration = Duration::from_secs(30 * 24 * 3600);

/// The response store.
#[derive(Clone)]
pub(crate) enum Conversations {
    /// Rows of `llmux_responses`.
    Database {
        /// The gateway's database.
        store: Store,
        /// Rows older than this are deleted (hourly).
        retention: Duration,
    },
    /// This process only.
    Memory(moka::future::Cache<String, Arc<StoredResponse>>),
}

fn unavailable(doing: &str, e: impl std::fmt::Display) -> Error {
    tracing::warn!(error = %e, "response store: {doing} failed");
    Error::new(
        ErrorKind::ServiceUnavailable,
        format!("database unavailable while trying to {doing}"),
    )
}

impl Conversations {
    /// Responses in memory, kept for `retention`.
    pub(crate) fn memory(retention: Duration) -> Conversations {
        let cache = moka::future::Cache::builder()
            .max_capacity(MEMORY_BYTES)
            .weigher(|_, r: &Arc<StoredResponse>| {
                u32::try_from(r.response.len() + r.input_items.len()).unwrap_or(u32::MAX)
            })
            .time_to_live(retention)
            .build();
        Conversations::Memory(cache)
    }

    /// Store a response.
    pub(crate) async fn put(&self, r: StoredResponse) -> Result<(), Error> {
        match self {
            Conversations::Database { store, .. } => store
                .put_response(&r)
                .await
                .map_err(|e| unavailable("store the response", e)),
            Conversations::Memory(cache) => {
                cache.insert(r.id.clone(), Arc::new(r)).await;
                Ok(())
            }
        }
    }

    /// The response `id` if it exists and `caller` may see it: the key
    /// that created it, another key of its team, or the master key. Any
    /// other caller is told it does not exist.
    pub(crate) async fn get(
        &self,
        id: &str,
        caller: &Caller,
    ) -> Result<Option<Arc<StoredResponse>>, Error> {
        let found = match self {
            Conversations::Database { store, .. } => store
                .get_response(id)
                .await
                .map_err(|e| unavailable("read the response", e))?
                .map(Arc::new),
            Conversations::Memory(cache) => cache.get(id).await,
        };
        Ok(found.filter(|r| may_see(caller, r)))
    }

    /// Delete the response `id` (after [`get`](Self::get) allowed it).
    pub(crate) async fn delete(&self, id: &str) -> Result<(), Error> {
        match self {
            Conversations::Database { store, .. } => store
                .delete_response(id)
                .await
                .map(drop)
                .map_err(|e| unavailable("delete the response", e)),
            Conversations::Memory(cache) => {
                cache.invalidate(id).await;
                Ok(())
            }
        }
    }

    /// Delete database rows past the retention (memory expires by itself).
    pub(crate) async fn purge(&self, now_unix: i64) {
        if let Conversations::Database { store, retention } = self {
            let cutoff = now_unix - i64::try_from(retention.as_secs()).unwrap_or(i64::MAX);
            match store.delete_responses_before(cutoff).await {
                Ok(0) => {}
                Ok(n) => {
                    tracing::info!(deleted = n, "stored responses past their retention deleted")
                }
                Err(e) => {
                    tracing::warn!(error = %e, "stored responses not purged; retried next hour")
                }
            }
        }
    }
}

/// Whether `caller` may read or delete `r`.
fn may_see(caller: &Caller, r: &StoredResponse) -> bool {
    let Some(key) = caller.key.as_deref() else {
        // The master key, or a gateway without keys.
        return true;
    };
    r.token_hash.as_deref() == Some(key.token_hash.as_str())
        || (key.team_id.is_some() && r.team_id == key.team_id)
}
