//! Stored Responses API responses (`previous_response_id`, `GET/DELETE
//! /v1/responses/{id}`): the response and its input items as JSON text,
//! with the key and team that created it.

use sqlx::Row;

use crate::db::{ctx, Result, Store};

/// One stored response.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StoredResponse {
    /// The response id (`resp_…`).
    pub id: String,
    /// Hash of the virtual key that created it (none for the master key or
    /// a gateway without keys).
    pub token_hash: Option<String>,
    /// That key's team, whose other keys may read it too.
    pub team_id: Option<String>,
    /// The model group asked for.
    pub model_group: String,
    /// When it was created, in Unix seconds (retention deletes by this).
    pub created_at: i64,
    /// The `response` object, as JSON.
    pub response: String,
    /// Every input item of the conversation up to this turn (history
    /// included), as a JSON array.
    pub input_items: String,
}

const COLUMNS: &str = "id, token_hash, team_id, model_group, created_at, response, input_items";

fn from_row(r: &sqlx::any::AnyRow) -> std::result::Result<StoredResponse, sqlx::Error> {
    Ok(StoredResponse {
        id: r.try_get("id")?,
        token_hash: r.try_get("token_hash")?,
        team_id: r.try_get("team_id")?,
        model_group: r.try_get("model_group")?,
        created_at: r.try_get("created_at")?,
        response: r.try_get("response")?,
        input_items: r.try_get("input_items")?,
    })
}

/// Storage of Responses API responses.
impl Store {
    /// Store a response (a second write of the same id replaces it).
    pub async fn put_response(&self, r: &StoredResponse) -> Result<()> {
        sqlx::query(&format!(
            "INSERT INTO llmux_responses ({COLUMNS}) VALUES ($1,$2,$3,$4,$5,$6,$7) \
             ON CONFLICT (id) DO UPDATE SET response = excluded.response, input_items = excluded.input_items"
        ))
        .bind(&r.id)
        .bind(&r.token_hash)
        .bind(&r.team_id)
        .bind(&r.model_group)
        .bind(r.created_at)
        .bind(&r.response)
        .bind(&r.input_items)
        .execute(self.pool())
        .await
        .map_err(ctx("store response"))?;
        Ok(())
    }

    /// One response, if stored.
    pub async fn get_response(&self, id: &str) -> Result<Option<StoredResponse>> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM llmux_responses WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(self.pool())
        .await
        .map_err(ctx("read response"))?;
        row.map(|r| from_row(&r))
            .transpose()
            .map_err(ctx("decode response"))
    }

    /// Delete a response; whether it existed.
    pub async fn delete_response(&self, id: &str) -> Result<bool> {
        let r = sqlx::query("DELETE FROM llmux_responses WHERE id = $1")
            .bind(id)
            .execute(self.pool())
            .await
            .map_err(ctx("delete response"))?;
        Ok(r.rows_affected() > 0)
    }

    /// Delete responses created before `unix_seconds`; how many.
    pub async fn delete_responses_before(&self, unix_seconds: i64) -> Result<u64> {
        let r = sqlx::query("DELETE FROM llmux_responses WHERE created_at < $1")
            .bind(unix_seconds)
            .execute(self.pool())
            .await
            .map_err(ctx("delete old responses"))?;
        Ok(r.rows_affected())
    }
}
