//! Durations and budget periods, as LiteLLM writes them (`30d`, `1mo`), and
//! the job that starts new budget periods.

use crate::db::{ctx, Result, Store};

/// Parse a LiteLLM duration (`30s`, `30m`, `24h`, `30d`, `1mo`) into seconds.
pub fn parse_duration(s: &str) -> Option<i64> {
    let s = s.trim();
    let (num, unit) = match s.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => (&s[..i], &s[i..]),
        None => (s, "s"),
    };
    let n: i64 = num.parse().ok()?;
    let mult = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        "mo" => 30 * 86_400,
        "y" => 365 * 86_400,
        _ => return None,
    };
    n.checked_mul(mult)
        .filter(|v| (1..=MAX_DURATION).contains(v))
}

/// The longest duration accepted (1,000 years): a time plus a duration
/// must never overflow.
pub const MAX_DURATION: i64 = 1_000 * 365 * 86_400;

/// The end of the budget period that `now` falls in, for a budget that
/// resets every `duration` seconds from `reset_at` (both the admission path
/// and the reset job count periods with this).
pub fn period_end(reset_at: i64, duration: i64, now: i64) -> i64 {
    if now < reset_at || duration <= 0 {
        return reset_at;
    }
    reset_at + ((now - reset_at) / duration + 1) * duration
}

impl Store {
    /// Start a new budget period for every key whose period ended by `now`:
    /// spend becomes what was logged since the new period began (usually
    /// nothing), next reset one `budget_duration` on (skipping whole periods
    /// missed while the gateway was down). Keys, users and teams alike.
    /// Returns `table:id` of each budget reset.
    pub async fn reset_due_budgets(&self, now: i64) -> Result<Vec<String>> {
        let mut reset = Vec::new();
        for (table, column) in [
            ("llmux_keys", "token_hash"),
            ("llmux_users", "user_id"),
            ("llmux_teams", "team_id"),
        ] {
            let rows: Vec<(String, Option<String>, i64)> = sqlx::query_as(&format!(
                "SELECT {column}, budget_duration, budget_reset_at FROM {table} WHERE budget_reset_at IS NOT NULL AND budget_reset_at <= $1"
            ))
            .bind(now)
            .fetch_all(self.pool())
            .await
            .map_err(ctx("find budgets to reset"))?;
            for (id, duration, reset_at) in rows {
                let Some(d) = duration.as_deref().and_then(parse_duration) else {
                    continue;
                };
                let next = period_end(reset_at, d, now);
                // Only if no other instance reset it meanwhile.
                let done = sqlx::query(&format!(
                    "UPDATE {table} SET spend_nano = (SELECT CAST(COALESCE(SUM(spend_nano), 0) AS BIGINT) FROM llmux_spend_logs WHERE {column} = $2 AND start_time >= $4), budget_reset_at = $1 WHERE {column} = $2 AND budget_reset_at = $3"
                ))
                .bind(next)
                .bind(&id)
                .bind(reset_at)
                .bind(next - d)
                .execute(self.pool())
                .await
                .map_err(ctx("reset budget"))?;
                if done.rows_affected() > 0 {
                    reset.push(format!("{table}:{id}"));
                }
            }
        }
        Ok(reset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s"), Some(30));
        assert_eq!(parse_duration("30m"), Some(1800));
        assert_eq!(parse_duration("24h"), Some(86_400));
        assert_eq!(parse_duration("30d"), Some(2_592_000));
        assert_eq!(parse_duration("1mo"), Some(2_592_000));
        assert_eq!(parse_duration("soon"), None);
        assert_eq!(parse_duration("0d"), None);
        assert_eq!(parse_duration("1000y"), Some(MAX_DURATION));
        assert_eq!(parse_duration("1001y"), None);
        assert_eq!(parse_duration("9223372036854775000s"), None);
    }

    #[test]
    fn periods_roll_over_at_the_reset_time() {
        assert_eq!(period_end(100, 30, 99), 100);
        assert_eq!(period_end(100, 30, 100), 130);
        assert_eq!(period_end(100, 30, 129), 130);
        assert_eq!(period_end(100, 30, 161), 190);
    }
}
