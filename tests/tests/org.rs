//! Users, teams and spend reports end to end: management API, enforcement of
//! team blocks, team model access and user/team budgets, and reports whose
//! sums match the calls made, on SQLite and PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

mod common;

use common::pick;

use llmux_tests::gateway::{
    config_yaml, master_key_settings, openai_deployment, TestGateway, PRICED,
};
use llmux_tests::mock::{openai, MockServer};
use serde_json::{json, Value};

const MASTER: &str = "sk-master-org";

fn config(upstream: &MockServer) -> String {
    let base = upstream.url();
    config_yaml(
        &[
            openai_deployment("gpt-4o", "gpt-4o", &base, PRICED),
            openai_deployment("gpt-4o-mini", "gpt-4o-mini", &base, PRICED),
        ],
        &master_key_settings(MASTER),
    )
}

async fn send(
    gw: &TestGateway,
    method: reqwest::Method,
    path: &str,
    key: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let r = common::send(gw, method, path, Some(key), body).await;
    (r.status, r.body)
}

async fn post(gw: &TestGateway, path: &str, body: Value) -> (u16, Value) {
    send(gw, reqwest::Method::POST, path, MASTER, Some(body)).await
}

async fn get(gw: &TestGateway, path: &str) -> (u16, Value) {
    send(gw, reqwest::Method::GET, path, MASTER, None).await
}

async fn chat(gw: &TestGateway, key: &str, model: &str) -> (u16, Value) {
    let body = common::hi_body(model, json!({"max_tokens": 10}));
    let r = common::post(gw, "/v1/chat/completions", Some(key), body).await;
    (r.status, r.body)
}

/// `post` that must answer 200: the body.
async fn post_ok(gw: &TestGateway, path: &str, body: Value) -> Value {
    let (s, v) = post(gw, path, body).await;
    assert_eq!(s, 200, "{path}: {v}");
    v
}

fn message(v: &Value) -> &str {
    v["error"]["message"].as_str().unwrap_or_default()
}

async fn users_teams_and_reports(gw: &TestGateway) {
    // A team, a user in it, and a key for each.
    let team = post_ok(
        gw,
        "/team/new",
        json!({"team_id": "t-ml", "team_alias": "ML", "models": ["gpt-4o"], "max_budget": 1.0}),
    )
    .await;
    assert_eq!(
        pick(
            &team,
            &["team_id", "team_alias", "models", "max_budget", "blocked"]
        ),
        json!({"team_id": "t-ml", "team_alias": "ML", "models": ["gpt-4o"], "max_budget": 1.0, "blocked": false})
    );
    let user = post_ok(
        gw,
        "/user/new",
        json!({"user_id": "u-ana", "user_email": "ana@example.com", "max_budget": 0.5}),
    )
    .await;
    let user_key = user["key"].as_str().unwrap().to_string();
    assert!(user_key.starts_with("sk-"));
    let team_key = post_ok(
        gw,
        "/key/generate",
        json!({"team_id": "t-ml", "user_id": "u-ana"}),
    )
    .await;
    let team_key = team_key["key"].as_str().unwrap().to_string();

    let (s, added) = post(
        gw,
        "/team/member_add",
        json!({"team_id": "t-ml", "member": {"user_id": "u-ana", "role": "admin"}}),
    )
    .await;
    assert_eq!(
        (s, added["members_with_roles"].clone()),
        (200, json!([{"user_id": "u-ana", "role": "admin"}]))
    );
    let (s, again) = post(
        gw,
        "/team/member_add",
        json!({"team_id": "t-ml", "member": {"user_id": "u-ana"}}),
    )
    .await;
    assert_eq!(
        (s, message(&again)),
        (400, "user u-ana is already a member of team t-ml")
    );

    // The team's models bound its keys.
    assert_eq!(chat(gw, &team_key, "gpt-4o").await.0, 200);
    let (s, denied) = chat(gw, &team_key, "gpt-4o-mini").await;
    assert_eq!(
        (s, message(&denied)),
        (
            403,
            "team t-ml is not allowed to access model=gpt-4o-mini. Allowed models: gpt-4o"
        )
    );
    assert_eq!(chat(gw, &user_key, "gpt-4o-mini").await.0, 200);

    // Blocking the team blocks its keys, not the user's own key.
    assert_eq!(
        post(gw, "/team/block", json!({"team_id": "t-ml"})).await.0,
        200
    );
    let (s, blocked) = chat(gw, &team_key, "gpt-4o").await;
    assert_eq!(
        (s, message(&blocked)),
        (401, "Authentication Error: team t-ml has been blocked")
    );
    assert_eq!(chat(gw, &user_key, "gpt-4o").await.0, 200);
    assert_eq!(
        post(gw, "/team/unblock", json!({"team_id": "t-ml"}))
            .await
            .0,
        200
    );
    assert_eq!(chat(gw, &team_key, "gpt-4o").await.0, 200);

    // Info shows owned keys; list pages.
    let (s, info) = get(gw, "/team/info?team_id=t-ml").await;
    assert_eq!(s, 200);
    assert_eq!(info["team_info"]["team_alias"], json!("ML"));
    assert_eq!(info["keys"].as_array().unwrap().len(), 1);
    let (_, info) = get(gw, "/user/info?user_id=u-ana").await;
    assert_eq!(info["user_info"]["user_email"], json!("ana@example.com"));
    assert_eq!(info["keys"].as_array().unwrap().len(), 2);
    let (_, users) = get(gw, "/user/list").await;
    assert_eq!(users["users"].as_array().unwrap().len(), 1);
    let (_, teams) = get(gw, "/team/list").await;
    assert_eq!(teams["teams"][0]["team_id"], json!("t-ml"));

    // Reports: 4 successful calls at 9×1,000 + 5×2,000 nano each.
    gw.gateway.flush().await;
    let (s, total) = get(gw, "/global/spend").await;
    assert_eq!(
        (s, total["spend"].clone(), total["requests"].clone()),
        (200, json!(0.000076), json!(4))
    );
    let (_, by_team) = get(gw, "/global/spend/report?group_by=team").await;
    assert_eq!(
        by_team,
        json!([
            {"group_by": "team", "group": "t-ml", "spend": 0.000038, "requests": 2, "prompt_tokens": 18, "completion_tokens": 10},
            {"group_by": "team", "group": null, "spend": 0.000038, "requests": 2, "prompt_tokens": 18, "completion_tokens": 10}
        ])
    );
    let (_, by_model) = get(gw, "/global/spend/report?group_by=model").await;
    assert_eq!(by_model[0]["group"], json!("gpt-4o"));
    assert_eq!(by_model[0]["requests"], json!(3));
    let (_, by_day) = get(gw, "/global/spend/report?group_by=day").await;
    assert_eq!(by_day.as_array().unwrap().len(), 1);
    assert_eq!(by_day[0]["requests"], json!(4));
    let (_, logs) = get(gw, "/spend/logs?user_id=u-ana&model=gpt-4o").await;
    assert_eq!(logs.as_array().unwrap().len(), 3);
    assert!(logs
        .as_array()
        .unwrap()
        .iter()
        .all(|l| l["spend"] == json!(0.000019)));
    let (_, by_key) = get(gw, &format!("/spend/logs?api_key={team_key}")).await;
    assert_eq!(by_key.as_array().unwrap().len(), 2);
    let (s, bad) = get(gw, "/global/spend/report?group_by=week").await;
    assert_eq!(
        (s, message(&bad)),
        (
            400,
            "group_by must be key, user, team, model or day, got 'week'"
        )
    );
    let (s, bad) = get(gw, "/spend/logs?start_date=yesterday").await;
    assert_eq!(
        (s, message(&bad)),
        (
            400,
            "start_date must be a date like 2026-11-25, got 'yesterday'"
        )
    );
    // A year past 9999 overflowed the seconds (found reading for the
    // OpenAPI description).
    let (s, bad) = get(gw, "/global/spend/report?end_date=300000000000-01-01").await;
    assert_eq!(
        (s, message(&bad)),
        (
            400,
            "end_date must be a date like 2026-11-25, got '300000000000-01-01'"
        )
    );

    // The budget is spent: user and team spend are up to date once written.
    let (_, info) = get(gw, "/team/info?team_id=t-ml").await;
    assert_eq!(info["team_info"]["spend"], json!(0.000038));

    // Update, member_delete, delete.
    let (s, upd) = post(gw, "/team/update", json!({"team_id": "t-ml", "models": []})).await;
    assert_eq!((s, upd["models"].clone()), (200, json!([])));
    assert_eq!(chat(gw, &team_key, "gpt-4o-mini").await.0, 200);
    post_ok(
        gw,
        "/team/member_delete",
        json!({"team_id": "t-ml", "user_id": "u-ana"}),
    )
    .await;
    let (s, gone) = post(
        gw,
        "/team/member_delete",
        json!({"team_id": "t-ml", "user_id": "u-ana"}),
    )
    .await;
    assert_eq!(
        (s, message(&gone)),
        (404, "user u-ana is not a member of team t-ml")
    );
    assert_eq!(
        post(gw, "/user/delete", json!({"user_ids": ["u-ana"]}))
            .await
            .0,
        200
    );
    let (s, missing) = get(gw, "/user/info?user_id=u-ana").await;
    assert_eq!((s, message(&missing)), (404, "user not found: u-ana"));
    assert_eq!(
        post(gw, "/team/delete", json!({"team_ids": ["t-ml"]}))
            .await
            .0,
        200
    );
}

#[tokio::test]
async fn users_teams_and_reports_on_sqlite() {
    let (_upstream, gw) = common::started(config).await;
    users_teams_and_reports(&gw).await;
}

#[tokio::test]
async fn users_teams_and_reports_on_postgres() {
    let upstream = openai::start().await.unwrap();
    let gw = TestGateway::start_on_postgres(&config(&upstream)).await;
    if let Some(gw) = gw.unwrap() {
        users_teams_and_reports(&gw).await;
    }
}

#[tokio::test]
async fn user_and_team_budgets_bound_their_keys() {
    let (_upstream, gw) = common::started(config).await;
    // Each call may cost up to 28,000 nano and costs 19,000: a 40,000
    // budget takes one call, whatever the key's own budget.
    assert_eq!(
        post(
            &gw,
            "/team/new",
            json!({"team_id": "t-small", "max_budget": 0.00004})
        )
        .await
        .0,
        200
    );
    let (_, k) = post(
        &gw,
        "/key/generate",
        json!({"team_id": "t-small", "max_budget": 100}),
    )
    .await;
    let key = k["key"].as_str().unwrap().to_string();
    assert_eq!(chat(&gw, &key, "gpt-4o").await.0, 200);
    let (s, refused) = chat(&gw, &key, "gpt-4o").await;
    assert_eq!(
        (
            s,
            refused["error"]["code"].clone(),
            refused["error"]["param"].clone()
        ),
        (400, json!("budget_exceeded"), json!("team"))
    );

    let (_, u) = post(
        &gw,
        "/user/new",
        json!({"user_id": "u-small", "max_budget": 0.00004, "auto_create_key": false}),
    )
    .await;
    assert_eq!(u.get("key"), None);
    let (_, k) = post(&gw, "/key/generate", json!({"user_id": "u-small"})).await;
    let key = k["key"].as_str().unwrap().to_string();
    assert_eq!(chat(&gw, &key, "gpt-4o").await.0, 200);
    let (s, refused) = chat(&gw, &key, "gpt-4o").await;
    assert_eq!((s, refused["error"]["param"].clone()), (400, json!("user")));
}

#[tokio::test]
async fn bad_user_and_team_input_is_a_clear_4xx() {
    let (_upstream, gw) = common::started(config).await;
    #[rustfmt::skip] // one case a line
    let cases = [
        ("/user/new", json!({"max_budget": -2}), 400, "max_budget must be a non-negative number, got -2"),
        ("/user/new", json!({"team_alias": "x"}), 400, "team_alias is not a field of a user"),
        ("/team/new", json!({"user_email": "a@b"}), 400, "user_email is not a field of a team"),
        ("/team/new", json!({"team_id": ""}), 400, "team_id must not be empty"),
        ("/team/update", json!({"models": []}), 400, "team_id is required"),
        ("/team/update", json!({"team_id": "nope"}), 404, "team not found: nope"),
        ("/team/delete", json!({"team_ids": []}), 400, "team_ids must list at least one id"),
        ("/team/member_add", json!({"team_id": "nope", "member": {"user_id": "u"}}), 404, "team not found: nope"),
    ];
    for (path, body, status, text) in cases {
        let (s, v) = post(&gw, path, body.clone()).await;
        assert_eq!((s, message(&v)), (status, text), "{path} {body}");
    }
    post_ok(&gw, "/team/new", json!({"team_id": "dup"})).await;
    let (s, v) = post(&gw, "/team/new", json!({"team_id": "dup"})).await;
    assert_eq!((s, message(&v)), (400, "team already exists: dup"));
    let (s, v) = post(&gw, "/user/new", json!({"max_budget": "lots"})).await;
    assert_eq!(s, 400, "{v}");
    // Keys of other users may not manage.
    let (_, k) = post(&gw, "/key/generate", json!({})).await;
    let (s, _) = send(
        &gw,
        reqwest::Method::GET,
        "/global/spend",
        k["key"].as_str().unwrap(),
        None,
    )
    .await;
    assert_eq!(s, 403);
}

#[tokio::test]
async fn named_budgets_give_keys_their_limits() {
    let (_upstream, gw) = common::started(config).await;
    let b = post_ok(&gw, "/budget/new", json!({"budget_id": "tier-1", "max_budget": 5, "budget_duration": "30d", "rpm_limit": 1, "max_parallel_requests": 4})).await;
    assert_eq!(
        pick(
            &b,
            &["budget_id", "max_budget", "rpm_limit", "budget_duration"]
        ),
        json!({"budget_id": "tier-1", "max_budget": 5.0, "rpm_limit": 1, "budget_duration": "30d"})
    );
    let (s, again) = post(&gw, "/budget/new", json!({"budget_id": "tier-1"})).await;
    assert_eq!((s, message(&again)), (400, "budget already exists: tier-1"));

    // A key from the budget takes its limits; its own fields win.
    let k = post_ok(
        &gw,
        "/key/generate",
        json!({"budget_id": "tier-1", "max_parallel_requests": 2}),
    )
    .await;
    assert_eq!(
        pick(
            &k,
            &[
                "max_budget",
                "rpm_limit",
                "max_parallel_requests",
                "budget_duration"
            ]
        ),
        json!({"max_budget": 5.0, "rpm_limit": 1, "max_parallel_requests": 2, "budget_duration": "30d"})
    );
    let key = k["key"].as_str().unwrap().to_string();
    assert_eq!(chat(&gw, &key, "gpt-4o").await.0, 200);
    assert_eq!(chat(&gw, &key, "gpt-4o").await.0, 429);

    let (s, u) = post(
        &gw,
        "/budget/update",
        json!({"budget_id": "tier-1", "rpm_limit": 100}),
    )
    .await;
    assert_eq!(
        (s, u["rpm_limit"].clone(), u["max_budget"].clone()),
        (200, json!(100), json!(5.0))
    );
    let (s, info) = post(&gw, "/budget/info", json!({"budgets": ["tier-1"]})).await;
    assert_eq!((s, info[0]["rpm_limit"].clone()), (200, json!(100)));
    let (_, all) = get(&gw, "/budget/list").await;
    assert_eq!(all.as_array().unwrap().len(), 1);
    let (s, bad) = post(
        &gw,
        "/key/update",
        json!({"key": key, "budget_id": "tier-1"}),
    )
    .await;
    assert_eq!(
        (s, message(&bad)),
        (
            400,
            "budget_id applies when a key is generated; update the key's limits directly"
        )
    );
    let (s, missing) = post(&gw, "/key/generate", json!({"budget_id": "nope"})).await;
    assert_eq!((s, message(&missing)), (404, "budget not found: nope"));
    assert_eq!(
        post(&gw, "/budget/delete", json!({"id": "tier-1"})).await.0,
        200
    );
    let (s, gone) = post(&gw, "/budget/delete", json!({"id": "tier-1"})).await;
    assert_eq!((s, message(&gone)), (404, "budget not found: tier-1"));
    let (s, neg) = post(&gw, "/budget/new", json!({"max_budget": -1})).await;
    assert_eq!(
        (s, message(&neg)),
        (400, "max_budget must be a non-negative number, got -1")
    );
}
