//! `llmux import-litellm` as an operator runs it: the real binary, a real
//! PostgreSQL database laid out as LiteLLM lays it out, output compared
//! exactly. (What lands in each table is pinned in
//! `tests/tests/import_litellm.rs`.)

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

use llmux_tests::services::{self, Service};
use std::process::Command;

use llmux_proxy::auth::virtual_keys::hash_key;
use llmux_tests::db::TestDb;
use llmux_tests::litellm;

fn llmux(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_llmux"))
        .args(args)
        .env_clear()
        .envs(env.iter().copied())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn imports_then_skips_what_is_already_there() {
    if !services::available(&[Service::Postgres]).await {
        return;
    }
    let source = TestDb::postgres().await.unwrap();
    litellm::execute(&source.url, litellm::SCHEMA)
        .await
        .unwrap();
    litellm::execute(
        &source.url,
        &format!(
            r#"
INSERT INTO "LiteLLM_TeamTable" (team_id, models) VALUES ('t1', ARRAY['gpt-4o']);
INSERT INTO "LiteLLM_UserTable" (user_id) VALUES ('u1'), ('u2');
INSERT INTO "LiteLLM_VerificationToken" (token, key_name, user_id, team_id, spend, max_budget) VALUES ('{h}', 'sk-...1234', 'u1', 't1', 1.5, 10.0);
INSERT INTO "LiteLLM_SpendLogs" (request_id, call_type, api_key, spend, "startTime", "endTime", model) VALUES
  ('r1', 'acompletion', '{h}', 1.0, '2025-01-01 00:00:00', '2025-01-01 00:00:01', 'gpt-4o'),
  ('r2', 'acompletion', '{h}', 0.5, '2025-01-01 00:01:00', '2025-01-01 00:01:01', 'gpt-4o');
"#,
            h = hash_key("sk-1234")
        ),
    )
    .await
    .unwrap();
    let target = TestDb::sqlite();

    // The target from DATABASE_URL, as `llmux serve` would pick it.
    let env = [("DATABASE_URL", target.url.as_str())];
    let header = format!(
        "Imported LiteLLM state from {} into {}:\n            from LiteLLM                   read  imported  already there\n",
        source.url, target.url
    );
    let first = llmux(&["import-litellm", "--database-url", &source.url], &env);
    assert_eq!(
        first,
        (
            0,
            format!(
                "{header}\
budgets     LiteLLM_BudgetTable               0         0              0
teams       LiteLLM_TeamTable                 1         1              0
users       LiteLLM_UserTable                 2         2              0
keys        LiteLLM_VerificationToken         1         1              0
spend logs  LiteLLM_SpendLogs                 2         2              0
"
            ),
            String::new()
        )
    );
    let second = llmux(&["import-litellm", "--database-url", &source.url], &env);
    assert_eq!(
        second,
        (
            0,
            format!(
                "{header}\
budgets     LiteLLM_BudgetTable               0         0              0
teams       LiteLLM_TeamTable                 1         0              1
users       LiteLLM_UserTable                 2         0              2
keys        LiteLLM_VerificationToken         1         0              1
spend logs  LiteLLM_SpendLogs                 2         0              2
"
            ),
            String::new()
        )
    );

    // The key is there, hashed as LiteLLM had it, with its spend.
    let store = llmux_store::Store::connect(&target.url).await.unwrap();
    let key = store.get_key(&hash_key("sk-1234")).await.unwrap().unwrap();
    assert_eq!(
        (key.spend_nano, key.max_budget_nano, key.models),
        (1_500_000_000, Some(10_000_000_000), vec![])
    );
    store.pool().close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_source_exits_non_zero_with_the_reason() {
    if !services::available(&[Service::Postgres]).await {
        return;
    }
    let target = TestDb::sqlite();
    let flag = ["--target-database-url", target.url.as_str()];

    let (code, out, err) = llmux(
        &[
            &["import-litellm", "--database-url", "sqlite://litellm.db"][..],
            &flag,
        ]
        .concat(),
        &[],
    );
    assert_eq!(
        (code, out.as_str(), err.as_str()),
        (
            1,
            "",
            "error: the LiteLLM database URL must start with postgres:// or postgresql:// (LiteLLM keeps its state in PostgreSQL), got 'sqlite://litellm.db'\n"
        )
    );
    // Refused before the target was opened: no file was created.
    assert!(!std::path::Path::new(target.url.trim_start_matches("sqlite://")).exists());

    let (code, out, err) = llmux(
        &[
            &[
                "import-litellm",
                "--database-url",
                "postgres://litellm:s3cret@127.0.0.1:1/litellm",
            ][..],
            &flag,
        ]
        .concat(),
        &[],
    );
    assert_eq!((code, out.as_str()), (1, ""));
    assert!(
        err.starts_with(
            "error: cannot connect to the LiteLLM database at postgres://litellm:***@127.0.0.1:1/litellm: "
        ),
        "{err}"
    );
    assert!(!err.contains("s3cret"), "{err}");

    let (code, _, err) = llmux(&["import-litellm"], &[]);
    assert_eq!(code, 2);
    assert!(
        err.contains(
            "the following required arguments were not provided:\n  --database-url <postgres://…>"
        ),
        "{err}"
    );
}
