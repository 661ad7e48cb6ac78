//! `llmux import-litellm`: a LiteLLM proxy's PostgreSQL database (laid out as
//! LiteLLM's `schema.prisma` lays it out) copied into llmux's tables, after
//! which the old `sk-…` keys call models through an llmux gateway with their
//! models, budgets, limits and spend intact. Re-running changes nothing.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

use llmux_import::{import_litellm, import_litellm_at, ImportReport, TableCount};
use llmux_proxy::auth::virtual_keys::hash_key;
use llmux_store::{KeyRecord, Store};
mod common;

use llmux_tests::db::TestDb;
use llmux_tests::gateway::{
    config_yaml, master_key_settings, openai_deployment, TestGateway, PRICED,
};
use llmux_tests::litellm;
use llmux_tests::mock::{openai, MockServer};
use llmux_tests::services::{self, Service};
use serde_json::{json, Map, Value};
use sqlx::{Column, Row};

const MASTER: &str = "sk-master-import";
/// "Now" for the import: rows LiteLLM left without times get it.
const NOW: i64 = 1_750_000_000;
/// The mock's usage (9 prompt, 5 completion tokens) at the config's prices.
const CALL_COST_NANO: i64 = 19_000;

/// A LiteLLM database with a bit of everything: budgets (one only a soft
/// budget, linked from a key), a team with members, a user, keys (the
/// well-known `sk-1234`, one on `all-team-models` and blocked, one expired,
/// one whose budget is spent, one with no row times) and spend logs.
fn seed() -> String {
    format!(
        r#"
INSERT INTO "LiteLLM_BudgetTable" (budget_id, max_budget, soft_budget, max_parallel_requests, tpm_limit, rpm_limit, budget_duration, created_at, created_by, updated_at, updated_by) VALUES
  ('b-soft', NULL, 5.0, NULL, NULL, NULL, NULL, '2025-01-01 00:00:00', 'admin', '2025-01-01 00:00:00', 'admin'),
  ('b-team', 100.0, 80.0, 2, 1000, 10, '30d', '2025-01-01 00:00:00', 'admin', '2025-01-02 03:04:05', 'admin');

INSERT INTO "LiteLLM_TeamTable" (team_id, team_alias, admins, members, members_with_roles, metadata, max_budget, spend, models, tpm_limit, rpm_limit, budget_duration, budget_reset_at, blocked, created_at, updated_at) VALUES
  ('team-1', 'Platform', ARRAY['u-1'], ARRAY['u-1'], '[{{"role": "admin", "user_id": "u-1", "user_email": "ada@example.com"}}]', '{{"cost_center": "42"}}', 50.0, 1.25, ARRAY['gpt-4o', 'gpt-4o-mini'], 5000, 100, '30d', '2030-01-01 00:00:00', false, '2025-01-02 03:04:05', '2025-01-02 03:04:05'),
  ('team-2', NULL, ARRAY[]::TEXT[], ARRAY['u-2', 'u-3'], '{{}}', '{{}}', NULL, 0.0, ARRAY[]::TEXT[], NULL, NULL, NULL, NULL, true, '2025-01-02 03:04:05', '2025-01-03 00:00:00');

INSERT INTO "LiteLLM_UserTable" (user_id, teams, user_role, max_budget, spend, user_email, models, metadata, tpm_limit, rpm_limit, budget_duration, budget_reset_at, created_at, updated_at) VALUES
  ('u-1', ARRAY['team-1'], 'internal_user', 20.0, 0.5, 'ada@example.com', ARRAY[]::TEXT[], '{{"dept": "eng"}}', 100000, 600, '7d', NULL, '2025-01-01 00:00:00', NULL);

INSERT INTO "LiteLLM_VerificationToken" (token, key_name, key_alias, spend, expires, models, aliases, user_id, team_id, max_parallel_requests, metadata, blocked, tpm_limit, rpm_limit, max_budget, budget_duration, budget_reset_at, budget_id, created_at, created_by, updated_at, updated_by) VALUES
  ('{k1234}', 'sk-...1234', 'old-key', 0.25, '2099-01-01 00:00:00', ARRAY['gpt-4o'], '{{"fast": "gpt-4o"}}', 'u-1', 'team-1', 5, '{{"env": "prod"}}', NULL, 10000, 60, 10.0, '30d', '2099-02-01 00:00:00', 'b-soft', '2025-03-01 12:00:00.123', 'admin', '2025-03-01 12:00:00.999', 'admin'),
  ('{kteam}', 'sk-...dels', NULL, 0.0, NULL, ARRAY['all-team-models'], '{{}}', NULL, 'team-1', NULL, '{{}}', true, NULL, NULL, NULL, NULL, NULL, NULL, '2025-03-01 12:00:00', 'admin', '2025-03-01 12:00:00', 'admin'),
  ('{kexpired}', 'sk-...ired', NULL, 0.0, '2020-01-01 00:00:00', ARRAY[]::TEXT[], '{{}}', NULL, NULL, NULL, '{{}}', false, NULL, NULL, NULL, NULL, NULL, NULL, '2019-01-01 00:00:00', 'admin', '2019-01-01 00:00:00', 'admin'),
  ('{kspent}', 'sk-...pent', 'spent', 2.0, NULL, ARRAY[]::TEXT[], '{{}}', NULL, NULL, NULL, '{{}}', false, NULL, NULL, 2.0, NULL, NULL, NULL, NULL, NULL, NULL, NULL);

INSERT INTO "LiteLLM_SpendLogs" (request_id, call_type, api_key, spend, total_tokens, prompt_tokens, completion_tokens, "startTime", "endTime", request_duration_ms, model, model_id, model_group, custom_llm_provider, "user", cache_hit, team_id, status) VALUES
  ('req-1', 'acompletion', '{k1234}', 0.15, 150, 100, 50, '2025-03-02 10:00:00', '2025-03-02 10:00:01.500', 1500, 'gpt-4o', 'dep-1', 'gpt-4o', 'openai', 'u-1', 'False', 'team-1', 'success'),
  ('req-2', 'acompletion', '{k1234}', 0.1, 30, 20, 10, '2025-03-02 10:05:00', '2025-03-02 10:05:00.250', NULL, 'gpt-4o-2024-08-06', '', '', '', 'u-1', 'True', 'team-1', NULL),
  ('req-3', 'aembedding', '', 0.0, 5, 5, 0, '2025-03-02 11:00:00', '2025-03-02 11:00:00', 3, 'text-embedding-3-small', NULL, NULL, NULL, '', '', NULL, 'failure');
"#,
        k1234 = hash_key("sk-1234"),
        kteam = hash_key("sk-team-models"),
        kexpired = hash_key("sk-expired"),
        kspent = hash_key("sk-spent"),
    )
}

/// `source` imported (at `NOW`) into a fresh llmux store on `target`: the
/// store and the report.
async fn import_into(source: &TestDb, target: &TestDb) -> (Store, ImportReport) {
    let store = Store::connect(&target.url).await.unwrap();
    let report = import_litellm_at(&source.url, &store, NOW).await.unwrap();
    (store, report)
}

/// A LiteLLM database of `schema` and `seed` imported into a fresh SQLite
/// store: both databases (kept for the test's length), the store, the
/// report; `None` when PostgreSQL is not there and the test may skip.
async fn import_into_sqlite(
    schema: &str,
    seed: &str,
) -> Option<((TestDb, TestDb), Store, ImportReport)> {
    if !services::available(&[Service::Postgres]).await {
        return None;
    }
    let source = litellm_db(schema, seed).await;
    let target = TestDb::sqlite();
    let (store, report) = import_into(&source, &target).await;
    Some(((source, target), store, report))
}

async fn litellm_db(schema: &str, seed: &str) -> TestDb {
    let db = TestDb::postgres().await.unwrap();
    litellm::execute(&db.url, schema).await.unwrap();
    litellm::execute(&db.url, seed).await.unwrap();
    db
}

fn counts(read: u64, imported: u64, skipped: u64) -> TableCount {
    TableCount {
        read,
        imported,
        skipped,
        missing: false,
    }
}

fn map(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        other => panic!("not an object: {other}"),
    }
}

/// `sk-1234` as llmux holds it after the import.
fn expected_key_1234() -> KeyRecord {
    KeyRecord {
        token_hash: hash_key("sk-1234"),
        key_name: "sk-...1234".into(),
        key_alias: Some("old-key".into()),
        user_id: Some("u-1".into()),
        team_id: Some("team-1".into()),
        models: vec!["gpt-4o".into()],
        aliases: map(json!({"fast": "gpt-4o"})),
        max_budget_nano: Some(10_000_000_000),
        soft_budget_nano: Some(5_000_000_000),
        budget_duration: Some("30d".into()),
        budget_reset_at: Some(4_073_587_200), // 2099-02-01
        spend_nano: 250_000_000,
        tpm_limit: Some(10_000),
        rpm_limit: Some(60),
        max_parallel_requests: Some(5),
        expires_at: Some(4_070_908_800), // 2099-01-01
        blocked: false,
        metadata: map(json!({"env": "prod"})),
        created_at: 1_740_830_400, // 2025-03-01 12:00:00.123, to the second
        updated_at: 1_740_830_400,
    }
}

/// Every row of a table as JSON (integers and text; NULL as null).
async fn dump(store: &Store, sql: &str) -> Vec<Value> {
    let rows = sqlx::query(sql).fetch_all(store.pool()).await.unwrap();
    rows.iter()
        .map(|r| {
            let mut m = Map::new();
            for (i, c) in r.columns().iter().enumerate() {
                let v = match r.try_get::<Option<i64>, _>(i) {
                    Ok(n) => json!(n),
                    Err(_) => json!(r.try_get::<Option<String>, _>(i).unwrap()),
                };
                m.insert(c.name().to_string(), v);
            }
            Value::Object(m)
        })
        .collect()
}

async fn all_tables(store: &Store) -> Vec<Vec<Value>> {
    let mut out = Vec::new();
    for sql in [
        "SELECT * FROM llmux_budgets ORDER BY budget_id",
        "SELECT * FROM llmux_teams ORDER BY team_id",
        "SELECT * FROM llmux_users ORDER BY user_id",
        "SELECT * FROM llmux_keys ORDER BY token_hash",
        "SELECT * FROM llmux_spend_logs ORDER BY request_id",
    ] {
        out.push(dump(store, sql).await);
    }
    out
}

fn first_import_report() -> ImportReport {
    ImportReport {
        budgets: counts(2, 2, 0),
        teams: counts(2, 2, 0),
        users: counts(1, 1, 0),
        keys: counts(4, 4, 0),
        spend_logs: counts(3, 3, 0),
        warnings: vec![],
    }
}

/// Everything the import writes, row by row, exactly.
async fn assert_imported_rows(store: &Store) {
    let [budgets, teams, users, _keys, spend]: [Vec<Value>; 5] =
        all_tables(store).await.try_into().unwrap();
    assert_eq!(
        budgets,
        vec![
            json!({"budget_id": "b-soft", "max_budget_nano": null, "soft_budget_nano": 5_000_000_000i64, "budget_duration": null, "tpm_limit": null, "rpm_limit": null, "max_parallel_requests": null, "created_at": 1_735_689_600, "updated_at": 1_735_689_600}),
            json!({"budget_id": "b-team", "max_budget_nano": 100_000_000_000i64, "soft_budget_nano": 80_000_000_000i64, "budget_duration": "30d", "tpm_limit": 1000, "rpm_limit": 10, "max_parallel_requests": 2, "created_at": 1_735_689_600, "updated_at": 1_735_787_045}),
        ]
    );
    assert_eq!(
        teams,
        vec![
            json!({"team_id": "team-1", "team_alias": "Platform",
                "members": r#"[{"role":"admin","user_email":"ada@example.com","user_id":"u-1"}]"#,
                "models": r#"["gpt-4o","gpt-4o-mini"]"#, "max_budget_nano": 50_000_000_000i64,
                "budget_duration": "30d", "budget_reset_at": 1_893_456_000, "spend_nano": 1_250_000_000,
                "tpm_limit": 5000, "rpm_limit": 100, "blocked": 0, "metadata": r#"{"cost_center":"42"}"#,
                "created_at": 1_735_787_045, "updated_at": 1_735_787_045}),
            // `members_with_roles` at its `{}` default: the plain member ids.
            json!({"team_id": "team-2", "team_alias": null,
                "members": r#"[{"role":"user","user_id":"u-2"},{"role":"user","user_id":"u-3"}]"#,
                "models": "[]", "max_budget_nano": null, "budget_duration": null, "budget_reset_at": null,
                "spend_nano": 0, "tpm_limit": null, "rpm_limit": null, "blocked": 1, "metadata": "{}",
                "created_at": 1_735_787_045, "updated_at": 1_735_862_400}),
        ]
    );
    assert_eq!(
        users,
        vec![
            // A budget period without a reset time: the first reset is one period from now.
            json!({"user_id": "u-1", "user_email": "ada@example.com", "user_role": "internal_user",
                "teams": r#"["team-1"]"#, "models": "[]", "max_budget_nano": 20_000_000_000i64,
                "budget_duration": "7d", "budget_reset_at": NOW + 7 * 86_400, "spend_nano": 500_000_000,
                "tpm_limit": 100_000, "rpm_limit": 600, "metadata": r#"{"dept":"eng"}"#,
                "created_at": 1_735_689_600, "updated_at": 1_735_689_600}),
        ]
    );
    assert_eq!(
        spend,
        vec![
            json!({"call_id": "req-1", "request_id": "req-1", "token_hash": hash_key("sk-1234"), "user_id": "u-1", "team_id": "team-1",
                "model": "gpt-4o", "model_group": "gpt-4o", "deployment_id": "dep-1", "provider": "openai",
                "prompt_tokens": 100, "completion_tokens": 50, "total_tokens": 150, "spend_nano": 150_000_000,
                "start_time": 1_740_909_600, "end_time": 1_740_909_601, "latency_ms": 1500, "status": "success", "cache_hit": 0, "call_type": "acompletion", "messages": null, "response": null}),
            // No duration logged: end − start; no model group: the model; no status: success.
            json!({"call_id": "req-2", "request_id": "req-2", "token_hash": hash_key("sk-1234"), "user_id": "u-1", "team_id": "team-1",
                "model": "gpt-4o-2024-08-06", "model_group": "gpt-4o-2024-08-06", "deployment_id": null, "provider": null,
                "prompt_tokens": 20, "completion_tokens": 10, "total_tokens": 30, "spend_nano": 100_000_000,
                "start_time": 1_740_909_900, "end_time": 1_740_909_900, "latency_ms": 250, "status": "success", "cache_hit": 1, "call_type": "acompletion", "messages": null, "response": null}),
            // LiteLLM's '' defaults are absent values in llmux.
            json!({"call_id": "req-3", "request_id": "req-3", "token_hash": null, "user_id": null, "team_id": null,
                "model": "text-embedding-3-small", "model_group": "text-embedding-3-small", "deployment_id": null, "provider": null,
                "prompt_tokens": 5, "completion_tokens": 0, "total_tokens": 5, "spend_nano": 0,
                "start_time": 1_740_913_200, "end_time": 1_740_913_200, "latency_ms": 3, "status": "failure", "cache_hit": 0, "call_type": "aembedding", "messages": null, "response": null}),
        ]
    );

    let mut keys = store.list_keys(None, None, 100, 0).await.unwrap();
    keys.sort_by(|a, b| {
        a.key_alias
            .cmp(&b.key_alias)
            .then(a.key_name.cmp(&b.key_name))
    });
    let blocked = KeyRecord {
        team_id: Some("team-1".into()),
        // `all-team-models` → the team's models.
        models: vec!["gpt-4o".into(), "gpt-4o-mini".into()],
        blocked: true,
        ..imported_key("sk-team-models", "sk-...dels", 1_740_830_400)
    };
    let expired = KeyRecord {
        expires_at: Some(1_577_836_800),
        ..imported_key("sk-expired", "sk-...ired", 1_546_300_800)
    };
    // No times in LiteLLM: the time of the import.
    let spent = KeyRecord {
        key_alias: Some("spent".into()),
        max_budget_nano: Some(2_000_000_000),
        spend_nano: 2_000_000_000,
        ..imported_key("sk-spent", "sk-...pent", NOW)
    };
    assert_eq!(keys, vec![blocked, expired, expected_key_1234(), spent]);
}

/// An imported key `key` named `name`, created and last updated at `at`, with
/// nothing else set.
fn imported_key(key: &str, name: &str, at: i64) -> KeyRecord {
    KeyRecord {
        token_hash: hash_key(key),
        key_name: name.into(),
        created_at: at,
        updated_at: at,
        ..Default::default()
    }
}

fn gateway_config(upstream: &MockServer) -> String {
    let base = upstream.url();
    config_yaml(
        &[
            openai_deployment("gpt-4o", "gpt-4o", &base, PRICED),
            openai_deployment("gpt-4o-mini", "gpt-4o-mini", &base, ""),
        ],
        &master_key_settings(MASTER),
    )
}

async fn chat(gw: &TestGateway, key: &str, model: &str) -> (u16, Value) {
    let r = common::chat(gw, key, model).await;
    (r.status, r.json().clone())
}

fn error_of(body: &Value) -> (&str, &str) {
    (
        body["error"]["message"].as_str().unwrap_or_default(),
        body["error"]["code"].as_str().unwrap_or_default(),
    )
}

#[tokio::test]
async fn litellm_keys_keep_working_after_the_import() {
    if !services::available(&[Service::Postgres]).await {
        return;
    }
    let source = litellm_db(litellm::SCHEMA, &seed()).await;
    let target = TestDb::sqlite();
    let store = Store::connect(&target.url).await.unwrap();

    let report = import_litellm_at(&source.url, &store, NOW).await.unwrap();
    assert_eq!(report, first_import_report());
    assert_imported_rows(&store).await;
    let before = all_tables(&store).await;

    // Re-running skips every row and changes nothing.
    let again = import_litellm_at(&source.url, &store, NOW + 3600)
        .await
        .unwrap();
    assert_eq!(
        again,
        ImportReport {
            budgets: counts(2, 0, 2),
            teams: counts(2, 0, 2),
            users: counts(1, 0, 1),
            keys: counts(4, 0, 4),
            spend_logs: counts(3, 0, 3),
            warnings: vec![],
        }
    );
    assert_eq!(all_tables(&store).await, before);
    store.pool().close().await;

    // The old key, through an llmux gateway on the imported database.
    let upstream = openai::start().await.unwrap();
    let url = target.url.clone();
    let gw = TestGateway::start_with(&gateway_config(&upstream), None, &url)
        .await
        .unwrap();
    let (status, body) = chat(&gw, "sk-1234", "gpt-4o").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["choices"][0]["message"]["content"], openai::REPLY);
    let sent = upstream.last_request().unwrap();
    assert_eq!(sent.header("authorization"), Some("Bearer sk-upstream"));
    assert_eq!(sent.json()["model"], "gpt-4o");

    // Its model list came along (gpt-4o-mini is not on it), and so did
    // blocking, expiry and a spent budget: (key, model, status, code, message).
    #[rustfmt::skip]
    let refusals = [
        ("sk-1234", "gpt-4o-mini", 403, "key_model_access_denied", Some("this key is not allowed to access model=gpt-4o-mini. Allowed models: gpt-4o")),
        ("sk-team-models", "gpt-4o", 401, "key_blocked", None),
        ("sk-expired", "gpt-4o", 401, "key_expired", None),
        ("sk-spent", "gpt-4o", 400, "budget_exceeded", Some("Budget has been exceeded! Current cost: 2, Max budget: 2")),
    ];
    for (key, model, status, code, message) in refusals {
        let (s, body) = chat(&gw, key, model).await;
        assert_eq!((s, error_of(&body).1), (status, code), "{key}: {body}");
        if let Some(message) = message {
            assert_eq!(error_of(&body).0, message, "{key}");
        }
    }
    // A key LiteLLM never had is still refused.
    let (status, _) = chat(&gw, "sk-5678", "gpt-4o").await;
    assert_eq!(status, 401);

    // /key/info shows the LiteLLM settings, with the new call's cost added
    // to the spend LiteLLM had recorded.
    gw.gateway.flush().await;
    let info = common::get_json(&gw, "/key/info?key=sk-1234", Some(MASTER)).await;
    let mut expected = expected_key_1234();
    expected.spend_nano += CALL_COST_NANO;
    assert_eq!(
        info,
        json!({"key": hash_key("sk-1234"), "info": llmux_proxy::admin::key_info(&expected)})
    );
    gw.stop().await.unwrap();

    // The spend log now holds LiteLLM's three rows and the new call.
    let store = Store::connect(&url).await.unwrap();
    assert_eq!(
        store.total_spend(Some(&hash_key("sk-1234"))).await.unwrap(),
        250_000_000 + CALL_COST_NANO
    );
    let logs = dump(
        &store,
        "SELECT request_id FROM llmux_spend_logs ORDER BY request_id",
    )
    .await;
    assert_eq!(logs.len(), 4);

    // Importing once more after the switch-over: nothing overwritten (the
    // key keeps its new spend), nothing duplicated.
    let after = all_tables(&store).await;
    let third = import_litellm(&source.url, &store).await.unwrap();
    assert_eq!(third.keys, counts(4, 0, 4));
    assert_eq!(third.spend_logs, counts(3, 0, 3));
    assert_eq!(all_tables(&store).await, after);
    store.pool().close().await;
    drop(target);
}

#[tokio::test]
async fn imports_into_postgres_too() {
    if !services::available(&[Service::Postgres]).await {
        return;
    }
    let source = litellm_db(litellm::SCHEMA, &seed()).await;
    let target = TestDb::postgres().await.unwrap();
    let (store, report) = import_into(&source, &target).await;
    assert_eq!(report, first_import_report());
    assert_imported_rows(&store).await;
    let before = all_tables(&store).await;
    let again = import_litellm_at(&source.url, &store, NOW).await.unwrap();
    assert_eq!(again.keys, counts(4, 0, 4));
    assert_eq!(all_tables(&store).await, before);
    store.pool().close().await;
}

/// An older LiteLLM install, with its tables as the baseline migration made
/// them: columns added since are read as absent.
#[tokio::test]
async fn imports_a_database_from_litellm_s_baseline_schema() {
    let seed = format!(
        r#"
INSERT INTO "LiteLLM_TeamTable" (team_id, members, models, spend) VALUES ('t-old', ARRAY['u-old'], ARRAY['gpt-4o'], 0.5);
INSERT INTO "LiteLLM_UserTable" (user_id, user_email, models, spend, max_budget) VALUES ('u-old', NULL, NULL, 1.5, 3.0);
INSERT INTO "LiteLLM_VerificationToken" (token, key_name, spend, models, user_id, team_id, max_budget, budget_duration) VALUES ('{hash}', 'sk-...1234', 0.75, ARRAY['all-team-models'], 'u-old', 't-old', 5.0, '1mo');
INSERT INTO "LiteLLM_SpendLogs" (request_id, call_type, api_key, spend, total_tokens, prompt_tokens, completion_tokens, "startTime", "endTime", model, "user", cache_hit) VALUES
  ('old-1', 'acompletion', '{hash}', 0.75, 12, 10, 2, '2024-05-01 00:00:00', '2024-05-01 00:00:02.345', 'gpt-4o', 'u-old', 'True');
"#,
        hash = hash_key("sk-1234")
    );
    let Some((_dbs, store, report)) = import_into_sqlite(litellm::BASELINE_SCHEMA, &seed).await
    else {
        return;
    };
    assert_eq!(
        report,
        ImportReport {
            budgets: counts(0, 0, 0),
            teams: counts(1, 1, 0),
            users: counts(1, 1, 0),
            keys: counts(1, 1, 0),
            spend_logs: counts(1, 1, 0),
            warnings: vec![],
        }
    );
    let key = store.get_key(&hash_key("sk-1234")).await.unwrap().unwrap();
    assert_eq!(
        key,
        KeyRecord {
            token_hash: hash_key("sk-1234"),
            key_name: "sk-...1234".into(),
            user_id: Some("u-old".into()),
            team_id: Some("t-old".into()),
            models: vec!["gpt-4o".into()],
            max_budget_nano: Some(5_000_000_000),
            budget_duration: Some("1mo".into()),
            budget_reset_at: Some(NOW + 30 * 86_400),
            spend_nano: 750_000_000,
            created_at: NOW,
            updated_at: NOW,
            ..Default::default()
        }
    );
    assert_eq!(
        dump(
            &store,
            "SELECT user_id, models, spend_nano, max_budget_nano, created_at FROM llmux_users"
        )
        .await,
        vec![
            json!({"user_id": "u-old", "models": "[]", "spend_nano": 1_500_000_000, "max_budget_nano": 3_000_000_000i64, "created_at": NOW})
        ]
    );
    assert_eq!(
        dump(&store, "SELECT team_id, members, blocked FROM llmux_teams").await,
        vec![
            json!({"team_id": "t-old", "members": r#"[{"role":"user","user_id":"u-old"}]"#, "blocked": 0})
        ]
    );
    assert_eq!(
        dump(&store, "SELECT request_id, model_group, latency_ms, status, cache_hit, spend_nano FROM llmux_spend_logs").await,
        vec![json!({"request_id": "old-1", "model_group": "gpt-4o", "latency_ms": 2345, "status": "success", "cache_hit": 1, "spend_nano": 750_000_000})]
    );
    store.pool().close().await;
}

#[tokio::test]
async fn warnings_name_what_did_not_carry_over_cleanly() {
    let seed = format!(
        r#"
INSERT INTO "LiteLLM_VerificationToken" (token, key_name, models, budget_duration, max_budget) VALUES
  ('sk-plaintext-old', NULL, ARRAY[]::TEXT[], 'fortnight', 1.0);
INSERT INTO "LiteLLM_VerificationToken" (token, key_name, models) VALUES ('{hash}', 'sk-...1234', NULL);
"#,
        hash = hash_key("sk-1234")
    );
    let Some((_dbs, store, report)) = import_into_sqlite(litellm::SCHEMA, &seed).await else {
        return;
    };
    assert_eq!(report.keys, counts(2, 2, 0));
    assert_eq!(
        report.warnings,
        vec![
            "key sk-...-old: stored in plaintext by LiteLLM; llmux keeps only its SHA-256 hash",
            "key sk-...-old: budget_duration 'fortnight' is not understood by llmux (use 30s, 30m, 24h, 30d, 1mo); this budget will not reset",
        ]
    );
    // The plaintext key is stored hashed, so it still authenticates.
    let k = store
        .get_key(&hash_key("sk-plaintext-old"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            k.budget_duration.as_deref(),
            k.budget_reset_at,
            k.max_budget_nano
        ),
        (Some("fortnight"), None, Some(1_000_000_000))
    );
    let dump = dump(
        &store,
        "SELECT token_hash FROM llmux_keys ORDER BY token_hash",
    )
    .await;
    assert!(!dump.iter().any(|r| r["token_hash"] == "sk-plaintext-old"));
    store.pool().close().await;
}

#[tokio::test]
async fn a_bad_source_is_a_clear_error() {
    if !services::available(&[Service::Postgres]).await {
        return;
    }
    let target = TestDb::sqlite();
    let store = Store::connect(&target.url).await.unwrap();

    let err = import_litellm("mysql://root:pw@db/litellm", &store)
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "the LiteLLM database URL must start with postgres:// or postgresql:// (LiteLLM keeps its state in PostgreSQL), got 'mysql://root:***@db/litellm'"
    );

    // Nothing listening: the connection error, password hidden.
    let err = import_litellm("postgres://llm:hunter2@127.0.0.1:1/litellm", &store)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with(
            "cannot connect to the LiteLLM database at postgres://llm:***@127.0.0.1:1/litellm: "
        ),
        "{err}"
    );
    assert!(!err.contains("hunter2"), "{err}");

    // A database that does not exist on a real server.
    let err = import_litellm(
        "postgres://postgres@127.0.0.1:5432/no_such_litellm_db",
        &store,
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(
        err.starts_with("cannot connect to the LiteLLM database at postgres://postgres@127.0.0.1:5432/no_such_litellm_db: ")
            && err.contains("no_such_litellm_db\" does not exist"),
        "{err}"
    );

    // A PostgreSQL database that is not LiteLLM's.
    let empty = TestDb::postgres().await.unwrap();
    let err = import_litellm(&empty.url, &store).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("{} does not look like a LiteLLM database: none of the tables LiteLLM_VerificationToken, LiteLLM_UserTable, LiteLLM_TeamTable, LiteLLM_BudgetTable, LiteLLM_SpendLogs exist in its current schema", empty.url)
    );

    // Nothing was written anywhere along the way.
    assert_eq!(
        dump(&store, "SELECT COUNT(*) AS n FROM llmux_keys").await,
        vec![json!({"n": 0})]
    );
    store.pool().close().await;
}

/// Only some of LiteLLM's tables present (a partial restore): the rest are
/// reported absent, the present ones imported.
#[tokio::test]
async fn absent_tables_are_reported_and_skipped() {
    if !services::available(&[Service::Postgres]).await {
        return;
    }
    let keys_only = litellm::SCHEMA
        .split("CREATE TABLE ")
        .filter(|t| {
            t.starts_with("\"LiteLLM_VerificationToken\"")
                || t.starts_with("\"LiteLLM_BudgetTable\"")
        })
        .map(|t| format!("CREATE TABLE {t}"))
        .collect::<String>();
    let source = litellm_db(
        &keys_only,
        &format!(
            r#"INSERT INTO "LiteLLM_VerificationToken" (token, models) VALUES ('{}', ARRAY['gpt-4o'])"#,
            hash_key("sk-1234")
        ),
    )
    .await;
    let target = TestDb::sqlite();
    let (store, report) = import_into(&source, &target).await;
    let absent = TableCount {
        missing: true,
        ..Default::default()
    };
    assert_eq!(
        report,
        ImportReport {
            budgets: counts(0, 0, 0),
            teams: absent.clone(),
            users: absent.clone(),
            keys: counts(1, 1, 0),
            spend_logs: absent,
            warnings: vec![],
        }
    );
    assert_eq!(
        report.to_string(),
        "            from LiteLLM                   read  imported  already there
budgets     LiteLLM_BudgetTable               0         0              0
teams       LiteLLM_TeamTable          (table absent, skipped)
users       LiteLLM_UserTable          (table absent, skipped)
keys        LiteLLM_VerificationToken         1         1              0
spend logs  LiteLLM_SpendLogs          (table absent, skipped)
"
    );
    store.pool().close().await;
}

/// LiteLLM's `DATABASE_URL` may name a Prisma schema (`?schema=…`): the
/// tables are read from there.
#[tokio::test]
async fn reads_the_schema_prisma_names_in_the_url() {
    if !services::available(&[Service::Postgres]).await {
        return;
    }
    let source = TestDb::postgres().await.unwrap();
    litellm::execute(
        &source.url,
        &format!(
            "CREATE SCHEMA litellm; SET search_path TO litellm; {} INSERT INTO \"LiteLLM_VerificationToken\" (token, models) VALUES ('{}', ARRAY['gpt-4o']);",
            litellm::SCHEMA,
            hash_key("sk-1234")
        ),
    )
    .await
    .unwrap();
    let target = TestDb::sqlite();
    let store = Store::connect(&target.url).await.unwrap();
    // Without the schema: public is empty.
    let err = import_litellm(&source.url, &store).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("does not look like a LiteLLM database"),
        "{err}"
    );
    let url = format!("{}?schema=litellm", source.url);
    let report = import_litellm_at(&url, &store, NOW).await.unwrap();
    assert_eq!(report.keys, counts(1, 1, 0));
    assert_eq!(
        store
            .get_key(&hash_key("sk-1234"))
            .await
            .unwrap()
            .unwrap()
            .models,
        vec!["gpt-4o".to_string()]
    );
    store.pool().close().await;
}
