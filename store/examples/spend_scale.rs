//! Spend at scale: seed a database with millions of spend rows, then time
//! the queries the gateway's admin routes make of it (hardening issue).
//!
//! ```sh
//! cargo run --release -p llmux-store --example spend_scale -- \
//!     --rows 10000000 --url sqlite://target/spend-scale.db
//! cargo run --release -p llmux-store --example spend_scale -- \
//!     --rows 10000000 --url postgres://postgres@127.0.0.1:5432/spend_scale
//! ```
//!
//! The database must be new (the rows are inserted with fixed ids). Rows
//! cover 90 days, 1,000 keys, 200 users, 20 teams and 10 model groups.
//! Each query runs five times; the table shows the median.

#![allow(clippy::print_stdout, clippy::print_stderr)] // a measuring tool that reports on stdout

use std::time::{Duration, Instant};

use llmux_store::{Backend, KeyRecord, ReportGroup, SpendFilter, SpendRow, Store};

const DAY: i64 = 86_400;
const DAYS: i64 = 90;
/// The newest row's time (2026-12-01).
const END: i64 = 1_764_547_200;

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

/// Insert rows `from..to` (1-based ids) in one statement.
fn seed_sql(backend: Backend, from: i64, to: i64, rows: i64) -> String {
    let series = match backend {
        Backend::Postgres => {
            format!("generate_series(CAST({from} AS BIGINT), CAST({to} AS BIGINT)) AS s(g)")
        }
        Backend::Sqlite => format!(
            "(WITH RECURSIVE s(g) AS (SELECT {from} UNION ALL SELECT g + 1 FROM s WHERE g < {to}) SELECT g FROM s)"
        ),
    };
    let start = END - DAYS * DAY;
    format!(
        "INSERT INTO llmux_spend_logs (call_id, request_id, token_hash, user_id, team_id, model, model_group, \
         deployment_id, provider, prompt_tokens, completion_tokens, total_tokens, spend_nano, start_time, end_time, \
         latency_ms, status, cache_hit, call_type) \
         SELECT 'call_' || g, 'req_' || g, 'key_' || (g % 1000), 'user_' || (g % 200), 'team_' || (g % 20), \
         'openai/gpt-4o', 'group_' || (g % 10), 'd1', 'openai', 10, 5, 15, 19000, \
         {start} + (g * {span}) / {rows}, {start} + (g * {span}) / {rows} + 1, 900, 'success', 0, 'acompletion' \
         FROM {series}",
        span = DAYS * DAY,
    )
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

async fn time<T, F, Fut>(what: &str, mut f: F) -> Result<String, String>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, llmux_store::StoreError>>,
{
    let mut times = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        f().await.map_err(|e| format!("{what}: {e}"))?;
        times.push(started.elapsed());
    }
    let m = median(times);
    let verdict = if m <= Duration::from_millis(100) {
        "met"
    } else {
        "**missed**"
    };
    Ok(format!(
        "| {what} | {:.1} ms | {verdict} |",
        m.as_secs_f64() * 1e3
    ))
}

fn spend_row(i: i64, start_time: i64) -> SpendRow {
    SpendRow {
        call_id: format!("live_{i}"),
        request_id: format!("live_{i}"),
        token_hash: Some("key_1".into()),
        user_id: Some("user_1".into()),
        team_id: Some("team_1".into()),
        model: "openai/gpt-4o".into(),
        model_group: "group_1".into(),
        deployment_id: None,
        provider: Some("openai".into()),
        prompt_tokens: 10,
        completion_tokens: 5,
        total_tokens: 15,
        spend_nano: 19_000,
        start_time,
        end_time: start_time + 1,
        latency_ms: 900,
        status: "success".into(),
        cache_hit: false,
        call_type: "acompletion".into(),
        messages: None,
        response: None,
    }
}

async fn run() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rows: i64 = arg(&args, "--rows")
        .map(|r| {
            r.parse()
                .map_err(|_| format!("--rows must be a number, got {r}"))
        })
        .transpose()?
        .unwrap_or(10_000_000);
    let url = arg(&args, "--url").ok_or("--url is required (sqlite://FILE or postgres://…)")?;
    let store = Store::connect(&url).await.map_err(|e| e.to_string())?;
    let existing: i64 = sqlx::query_scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM llmux_spend_logs")
        .fetch_one(store.pool())
        .await
        .map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    if existing == 0 {
        let started = Instant::now();
        let step = 1_000_000;
        let mut from = 1;
        while from <= rows {
            let to = (from + step - 1).min(rows);
            sqlx::query(&seed_sql(store.backend, from, to, rows))
                .execute(store.pool())
                .await
                .map_err(|e| format!("seed: {e}"))?;
            eprintln!(
                "seeded {to} of {rows} rows ({:.0} s)",
                started.elapsed().as_secs_f64()
            );
            from = to + 1;
        }
        let seeded = started.elapsed();
        let started = Instant::now();
        store
            .rebuild_daily_spend()
            .await
            .map_err(|e| e.to_string())?;
        out.push(format!(
            "seeded {rows} rows in {:.0} s; daily aggregates built in {:.1} s",
            seeded.as_secs_f64(),
            started.elapsed().as_secs_f64()
        ));
        for i in 0..1000 {
            let key = KeyRecord {
                token_hash: format!("key_{i}"),
                key_name: "sk-...".into(),
                max_budget_nano: Some(1_000_000_000),
                budget_duration: Some("30d".into()),
                budget_reset_at: Some(END - DAY),
                created_at: END - DAYS * DAY,
                updated_at: END - DAYS * DAY,
                ..KeyRecord::default()
            };
            store.insert_key(&key).await.map_err(|e| e.to_string())?;
        }
    } else {
        out.push(format!("{existing} rows already there (not seeded again)"));
    }
    let count: i64 = sqlx::query_scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM llmux_spend_logs")
        .fetch_one(store.pool())
        .await
        .map_err(|e| e.to_string())?;
    out.push(format!("\n{count} spend rows, {:?}\n", store.backend));
    out.push("| query (what the admin route runs) | median of 5 | ≤ 100 ms |".into());
    out.push("|---|---|---|".into());

    let key = |k: &str| SpendFilter {
        token_hash: Some(k.into()),
        ..SpendFilter::default()
    };
    let all = SpendFilter::default();
    let key_7 = key("key_7");
    let month = SpendFilter {
        start: Some(END - 30 * DAY),
        end: Some(END + DAY),
        ..SpendFilter::default()
    };
    out.push(time("/key/info: the key", || store.get_key("key_7")).await?);
    out.push(
        time("/spend/logs: newest 1,000 rows", || {
            store.spend_logs(&all, 1000)
        })
        .await?,
    );
    out.push(
        time("/spend/logs?api_key=: a key's newest 100", || {
            store.spend_logs(&key_7, 100)
        })
        .await?,
    );
    let deep = SpendFilter {
        before: Some((END - 45 * DAY, "call_5".into())),
        ..SpendFilter::default()
    };
    out.push(
        time("/spend/logs?cursor=: a page 45 days back", || {
            store.spend_logs(&deep, 1000)
        })
        .await?,
    );
    let deep_key = SpendFilter {
        before: Some((END - 45 * DAY, "call_5".into())),
        ..key("key_7")
    };
    out.push(
        time(
            "/spend/logs?api_key=&cursor=: a key's page 45 days back",
            || store.spend_logs(&deep_key, 100),
        )
        .await?,
    );
    out.push(time("/global/spend: all-time total", || store.spend_total(&all)).await?);
    out.push(
        time("/global/spend/report?group_by=key: last 30 days", || {
            store.spend_report(&month, ReportGroup::Key)
        })
        .await?,
    );
    out.push(
        time("/global/spend/report?group_by=day: all time", || {
            store.spend_report(&all, ReportGroup::Day)
        })
        .await?,
    );
    out.push(
        time(
            "/global/spend/report?group_by=model&api_key=: a key, 30 days",
            || {
                let f = SpendFilter {
                    token_hash: Some("key_7".into()),
                    ..month.clone()
                };
                let s = &store;
                async move { s.spend_report(&f, ReportGroup::Model).await }
            },
        )
        .await?,
    );
    out.push(
        time("proxy max_budget: total spend at start", || {
            store.total_spend(None)
        })
        .await?,
    );
    let mut live = 0;
    out.push(
        time("spend batch: 200 new rows written", || {
            live += 200;
            let batch: Vec<SpendRow> = (live - 200..live).map(|i| spend_row(i, END)).collect();
            let s = &store;
            async move { s.record_spend(&batch).await }
        })
        .await?,
    );
    out.push(
        time("budget reset job: keys due", || {
            store.reset_due_budgets(END + 40 * DAY)
        })
        .await?,
    );
    out.push(
        time(
            "retention: one batch of 1,000 old rows (the job's batch)",
            || store.delete_spend_logs_before(END - 60 * DAY, 1_000),
        )
        .await?,
    );
    println!("{}", out.join("\n"));
    Ok(())
}

fn main() -> std::process::ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("spend_scale: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("spend_scale: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
