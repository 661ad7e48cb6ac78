//! The gateway's store on SQLite and on the real PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

use llmux_store::{to_nano, KeyRecord, SpendRow, Store, StoredResponse};
use llmux_tests::db::TestDb;
use llmux_tests::services::{self, Service};

fn key(hash: &str, created_at: i64) -> KeyRecord {
    KeyRecord {
        token_hash: hash.into(),
        key_name: "sk-...abcd".into(),
        key_alias: Some("alias".into()),
        user_id: Some("u1".into()),
        team_id: None,
        models: vec!["gpt-4o".into()],
        aliases: Default::default(),
        max_budget_nano: Some(to_nano(10.0)),
        soft_budget_nano: None,
        budget_duration: Some("30d".into()),
        budget_reset_at: Some(1_800_000_000),
        spend_nano: 0,
        tpm_limit: Some(1000),
        rpm_limit: None,
        max_parallel_requests: Some(2),
        expires_at: None,
        blocked: false,
        metadata: serde_json::json!({"team": "blue"})
            .as_object()
            .unwrap()
            .clone(),
        created_at,
        updated_at: created_at,
    }
}

fn spend(request_id: &str, token_hash: &str, usd: f64) -> SpendRow {
    SpendRow {
        call_id: format!("call-{request_id}"),
        request_id: request_id.into(),
        token_hash: Some(token_hash.into()),
        user_id: Some("u1".into()),
        team_id: None,
        model: "gpt-4o".into(),
        model_group: "gpt-4o".into(),
        deployment_id: Some("d1".into()),
        provider: Some("openai".into()),
        prompt_tokens: 10,
        completion_tokens: 5,
        total_tokens: 15,
        spend_nano: to_nano(usd),
        start_time: 1_700_000_000,
        end_time: 1_700_000_001,
        latency_ms: 1000,
        status: "success".into(),
        cache_hit: false,
        call_type: "acompletion".into(),
        messages: None,
        response: None,
    }
}

async fn exercise(store: &Store) {
    let a = key("hash-a", 100);
    store.insert_key(&a).await.unwrap();
    store.insert_key(&key("hash-b", 200)).await.unwrap();
    assert_eq!(store.get_key("hash-a").await.unwrap(), Some(a.clone()));
    assert_eq!(store.get_key("missing").await.unwrap(), None);

    let listed: Vec<String> = store
        .list_keys(Some("u1"), None, 10, 0)
        .await
        .unwrap()
        .into_iter()
        .map(|k| k.token_hash)
        .collect();
    assert_eq!(listed, vec!["hash-b", "hash-a"]);
    assert!(store
        .list_keys(Some("nobody"), None, 10, 0)
        .await
        .unwrap()
        .is_empty());

    let mut changed = a.clone();
    changed.blocked = true;
    changed.models = vec![];
    changed.updated_at = 300;
    assert!(store.update_key(&changed).await.unwrap());
    assert!(store.get_key("hash-a").await.unwrap().unwrap().blocked);

    // Spend: exact sums in nano-dollars; a replayed batch adds nothing.
    let rows = vec![
        spend("r1", "hash-a", 0.1),
        spend("r2", "hash-a", 0.2),
        spend("r3", "hash-b", 0.000_001),
    ];
    store.record_spend(&rows).await.unwrap();
    store.record_spend(&rows).await.unwrap();
    let a_now = store.get_key("hash-a").await.unwrap().unwrap();
    assert_eq!(a_now.spend_nano, to_nano(0.1) + to_nano(0.2));
    assert_eq!(
        store.total_spend(Some("hash-a")).await.unwrap(),
        300_000_000
    );
    assert_eq!(store.total_spend(None).await.unwrap(), 300_001_000);

    // Two calls that share a client's request id are both spent; one call
    // twice in a batch is spent once; a row spilled before call ids existed
    // is keyed by its request id (and so also replays safely).
    let mut shared = spend("r1", "hash-a", 0.5);
    shared.call_id = "call-r1-again".into();
    let mut old = spend("r-old", "hash-a", 0.25);
    old.call_id = String::new();
    let batch = vec![shared.clone(), shared, old.clone()];
    store.record_spend(&batch).await.unwrap();
    store.record_spend(&[old]).await.unwrap();
    assert_eq!(
        store.get_key("hash-a").await.unwrap().unwrap().spend_nano,
        to_nano(0.1) + to_nano(0.2) + to_nano(0.5) + to_nano(0.25)
    );

    // A batch larger than one INSERT statement's rows: every row, exactly.
    let many: Vec<SpendRow> = (0..450)
        .map(|i| spend(&format!("m{i}"), "hash-b", 0.000_000_007))
        .collect();
    store.record_spend(&many).await.unwrap();
    store.record_spend(&many).await.unwrap();
    assert_eq!(
        store.get_key("hash-b").await.unwrap().unwrap().spend_nano,
        1000 + 450 * 7
    );
    let a_total = to_nano(0.1) + to_nano(0.2) + to_nano(0.5) + to_nano(0.25);
    assert_eq!(
        store.total_spend(None).await.unwrap(),
        a_total + 1000 + 450 * 7
    );

    assert!(store
        .rekey("hash-b", "hash-c", "sk-...wxyz", 400)
        .await
        .unwrap());
    assert_eq!(store.get_key("hash-b").await.unwrap(), None);
    assert_eq!(
        store.get_key("hash-c").await.unwrap().unwrap().spend_nano,
        1000 + 450 * 7
    );

    assert!(store.delete_key("hash-a").await.unwrap());
    assert!(!store.delete_key("hash-a").await.unwrap());

    // Stored Responses API responses: written, replaced, deleted, and purged
    // by age (the retention setting).
    let response = |id: &str, created_at: i64| StoredResponse {
        id: id.into(),
        token_hash: Some("hash-c".into()),
        team_id: None,
        model_group: "gpt-4o".into(),
        created_at,
        response: format!(r#"{{"id":"{id}"}}"#),
        input_items: "[]".into(),
    };
    store
        .put_response(&response("resp_old", 1_000))
        .await
        .unwrap();
    store
        .put_response(&response("resp_new", 2_000))
        .await
        .unwrap();
    let mut replaced = response("resp_new", 2_000);
    replaced.input_items = r#"[{"role":"user","content":"Hi"}]"#.into();
    store.put_response(&replaced).await.unwrap();
    assert_eq!(
        store.get_response("resp_new").await.unwrap(),
        Some(replaced)
    );
    assert_eq!(store.delete_responses_before(1_500).await.unwrap(), 1);
    assert_eq!(store.get_response("resp_old").await.unwrap(), None);
    assert!(store.delete_response("resp_new").await.unwrap());
    assert!(!store.delete_response("resp_new").await.unwrap());
}

#[tokio::test]
async fn store_on_sqlite() {
    let db = TestDb::sqlite();
    let store = Store::connect(&db.url).await.unwrap();
    exercise(&store).await;
    // Migrations are idempotent: connecting again keeps the data.
    let again = Store::connect(&db.url).await.unwrap();
    assert!(again.get_key("hash-c").await.unwrap().is_some());
}

#[tokio::test]
async fn store_on_postgres() {
    if !services::available(&[Service::Postgres]).await {
        return;
    }
    let db = TestDb::postgres().await.unwrap();
    let store = Store::connect(&db.url).await.unwrap();
    exercise(&store).await;
}

/// Several gateways started at once on one fresh database all come up: the
/// migration of one does not fail the others.
async fn concurrent_first_start(url: &str) {
    let starts: Vec<_> = (0..4)
        .map(|_| {
            let url = url.to_string();
            tokio::spawn(async move { Store::connect(&url).await.map(|_| ()) })
        })
        .collect();
    for start in starts {
        start.await.unwrap().unwrap();
    }
    let store = Store::connect(url).await.unwrap();
    store.insert_key(&key("hash-after", 1)).await.unwrap();
    assert!(store.get_key("hash-after").await.unwrap().is_some());
}

#[tokio::test]
async fn concurrent_first_start_on_sqlite() {
    concurrent_first_start(&TestDb::sqlite().url).await;
}

#[tokio::test]
async fn concurrent_first_start_on_postgres() {
    if !services::available(&[Service::Postgres]).await {
        return;
    }
    let db = TestDb::postgres().await.unwrap();
    concurrent_first_start(&db.url).await;
}

/// Hardening issue, spend at scale: reports and totals come from daily
/// aggregates kept as rows are written (a replayed batch counted once) and
/// agree with the log; the log pages by keyset; retention deletes old rows
/// in batches and leaves totals and reports whole.
async fn spend_at_scale(store: &Store) {
    const DAY: i64 = 86_400;
    let today = 1_765_000_000 - 1_765_000_000 % DAY;
    let rows: Vec<SpendRow> = (0..30i64)
        .map(|i| {
            let mut r = spend(
                &format!("req-{}", i % 7),
                if i % 2 == 0 { "k1" } else { "k2" },
                0.0,
            );
            r.call_id = format!("call-{i:02}");
            r.spend_nano = 1_000 * (i + 1);
            r.prompt_tokens = i;
            r.completion_tokens = 2 * i;
            // Three days; two rows share each second, so the keyset's
            // call-id tiebreak matters.
            r.start_time = today - (i % 3) * DAY + i / 2;
            r
        })
        .collect();
    store.record_spend(&rows[..20]).await.unwrap();
    // A replayed batch, overlapping the first.
    store.record_spend(&rows[10..]).await.unwrap();

    let all = llmux_store::SpendFilter::default();
    let sum = |pick: &dyn Fn(&SpendRow) -> bool| {
        let picked: Vec<&SpendRow> = rows.iter().filter(|r| pick(r)).collect();
        (
            picked.iter().map(|r| r.spend_nano).sum::<i64>(),
            picked.len() as i64,
        )
    };
    assert_eq!(store.spend_total(&all).await.unwrap(), sum(&|_| true));
    assert_eq!(
        store.total_spend(Some("k2")).await.unwrap(),
        sum(&|r| r.token_hash.as_deref() == Some("k2")).0
    );
    // Whole days: the aggregates. Within a day, or by request id: the log.
    // Both must agree with the rows.
    let yesterday = llmux_store::SpendFilter {
        start: Some(today - DAY),
        end: Some(today),
        ..Default::default()
    };
    assert_eq!(
        store.spend_total(&yesterday).await.unwrap(),
        sum(&|r| (today - DAY..today).contains(&r.start_time))
    );
    let part_of_today = llmux_store::SpendFilter {
        start: Some(today + 5),
        ..Default::default()
    };
    assert_eq!(
        store.spend_total(&part_of_today).await.unwrap(),
        sum(&|r| r.start_time >= today + 5)
    );
    let one_request = llmux_store::SpendFilter {
        request_id: Some("req-3".into()),
        ..Default::default()
    };
    assert_eq!(
        store.spend_total(&one_request).await.unwrap(),
        sum(&|r| r.request_id == "req-3")
    );
    let mut by_day: Vec<(i64, i64, i64, i64, i64)> = store
        .spend_report(&all, llmux_store::ReportGroup::Day)
        .await
        .unwrap()
        .into_iter()
        .map(|g| {
            (
                g.day.unwrap(),
                g.spend_nano,
                g.requests,
                g.prompt_tokens,
                g.completion_tokens,
            )
        })
        .collect();
    by_day.sort();
    let mut expected = Vec::new();
    for d in [today - 2 * DAY, today - DAY, today] {
        let of_day: Vec<&SpendRow> = rows
            .iter()
            .filter(|r| r.start_time.div_euclid(DAY) == d / DAY)
            .collect();
        expected.push((
            d / DAY,
            of_day.iter().map(|r| r.spend_nano).sum(),
            of_day.len() as i64,
            of_day.iter().map(|r| r.prompt_tokens).sum(),
            of_day.iter().map(|r| r.completion_tokens).sum(),
        ));
    }
    assert_eq!(by_day, expected);
    let mut by_key: Vec<(Option<String>, i64)> = store
        .spend_report(&yesterday, llmux_store::ReportGroup::Key)
        .await
        .unwrap()
        .into_iter()
        .map(|g| (g.group, g.requests))
        .collect();
    by_key.sort();
    assert_eq!(by_key, vec![(Some("k1".into()), 5), (Some("k2".into()), 5)]);

    // Keyset pages of 4: every row once, newest first, (time, call id) descending.
    let mut order: Vec<(i64, String)> = rows
        .iter()
        .map(|r| (r.start_time, r.call_id.clone()))
        .collect();
    order.sort_by(|a, b| b.cmp(a));
    let mut seen = Vec::new();
    let mut page = llmux_store::SpendFilter::default();
    loop {
        let got = store.spend_logs(&page, 4).await.unwrap();
        seen.extend(got.iter().map(|r| (r.start_time, r.call_id.clone())));
        let Some(last) = got.last() else { break };
        page.before = Some((last.start_time, last.call_id.clone()));
        if got.len() < 4 {
            break;
        }
    }
    assert_eq!(seen, order);

    // Retention: everything before today, five rows a statement.
    let totals = store.spend_total(&all).await.unwrap();
    let mut batches = Vec::new();
    loop {
        let n = store.delete_spend_logs_before(today, 5).await.unwrap();
        batches.push(n);
        if n < 5 {
            break;
        }
    }
    assert_eq!(batches, vec![5, 5, 5, 5, 0]);
    let left = store.spend_logs(&all, 100).await.unwrap();
    assert_eq!(left.len(), 10);
    assert!(left.iter().all(|r| r.start_time >= today));
    assert_eq!(store.spend_total(&all).await.unwrap(), totals);
}

#[tokio::test]
async fn spend_at_scale_on_sqlite() {
    let db = TestDb::sqlite();
    spend_at_scale(&Store::connect(&db.url).await.unwrap()).await;
}

#[tokio::test]
async fn spend_at_scale_on_postgres() {
    if !services::available(&[Service::Postgres]).await {
        return;
    }
    let db = TestDb::postgres().await.unwrap();
    spend_at_scale(&Store::connect(&db.url).await.unwrap()).await;
}
