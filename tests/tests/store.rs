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
