//! `llmux keys create|list|info|delete`: manage a running gateway's virtual
//! keys through its management API (`/key/generate`, `/key/list`,
//! `/key/info`, `/key/delete`), with the master key. Tables by default,
//! the gateway's JSON with `--json`.

use clap::{Args, Subcommand};

use crate::admin::{pretty, table, usd, AdminArgs, AdminClient};
use llmux_core::calendar::rfc3339;
use serde_json::{json, Map, Value};

/// Arguments of `llmux keys`.
#[derive(Args, Debug)]
pub(crate) struct KeysArgs {
    #[command(subcommand)]
    command: KeysCommand,
    #[command(flatten)]
    admin: AdminArgs,
}

#[derive(Subcommand, Debug)]
enum KeysCommand {
    /// Create a key (shown once: save it).
    Create(CreateArgs),
    /// List keys, newest first.
    List(ListArgs),
    /// Show one key's settings and spend.
    Info {
        /// The key (`sk-…`) or its token (the SHA-256 hash `keys list` shows).
        key: String,
    },
    /// Delete keys.
    Delete {
        /// Keys (`sk-…`) or tokens.
        #[arg(required = true)]
        keys: Vec<String>,
    },
}

#[derive(Args, Debug)]
struct CreateArgs {
    /// Models the key may call (comma-separated or repeated); all when omitted.
    #[arg(long, value_delimiter = ',')]
    models: Vec<String>,
    /// Budget in USD.
    #[arg(long, value_name = "USD", allow_negative_numbers = true)]
    max_budget: Option<f64>,
    /// Budget period, after which spend resets: 30s, 30m, 24h, 30d, 1mo.
    #[arg(long, value_name = "PERIOD")]
    budget_duration: Option<String>,
    /// Requests per minute.
    #[arg(long, allow_negative_numbers = true)]
    rpm: Option<i64>,
    /// Tokens per minute.
    #[arg(long, allow_negative_numbers = true)]
    tpm: Option<i64>,
    /// Requests in flight at once.
    #[arg(long, allow_negative_numbers = true)]
    max_parallel: Option<i64>,
    /// Lifetime, after which the key expires: 30s, 30m, 24h, 30d.
    #[arg(long, value_name = "PERIOD")]
    duration: Option<String>,
    /// A name for the key.
    #[arg(long)]
    alias: Option<String>,
    /// Owner user id.
    #[arg(long)]
    user_id: Option<String>,
    /// Owner team id.
    #[arg(long)]
    team_id: Option<String>,
    /// Metadata, a JSON object.
    #[arg(long, value_name = "JSON")]
    metadata: Option<String>,
    /// Use this key instead of a random one (must start with sk-).
    #[arg(long)]
    key: Option<String>,
}

#[derive(Args, Debug)]
struct ListArgs {
    /// Page, from 1.
    #[arg(long, default_value_t = 1)]
    page: u32,
    /// Keys per page (at most 100).
    #[arg(long, default_value_t = 10)]
    size: u32,
    /// Only this user's keys.
    #[arg(long)]
    user_id: Option<String>,
    /// Only this team's keys.
    #[arg(long)]
    team_id: Option<String>,
}

/// Run `llmux keys …`; the error is the message to print.
pub(crate) async fn run(args: KeysArgs) -> Result<(), String> {
    let gw = AdminClient::new(&args.admin)?;
    let out = match &args.command {
        KeysCommand::Create(c) => {
            let resp = gw.post("/key/generate", &create_body(c)?).await?;
            if args.admin.json {
                pretty(&resp)
            } else {
                eprintln!("Save this key now: it is shown only once.");
                let mut rows = vec![("key", field(&resp, "key"))];
                rows.extend(info_rows(&resp));
                render_fields(&rows)
            }
        }
        KeysCommand::List(l) => {
            let mut query = vec![("page", l.page.to_string()), ("size", l.size.to_string())];
            if let Some(u) = &l.user_id {
                query.push(("user_id", u.clone()));
            }
            if let Some(t) = &l.team_id {
                query.push(("team_id", t.clone()));
            }
            let resp = gw.get("/key/list", &query).await?;
            if args.admin.json {
                pretty(&resp)
            } else {
                let mut infos = Vec::new();
                for token in resp["keys"].as_array().into_iter().flatten() {
                    let token = token.as_str().unwrap_or_default().to_string();
                    let info = gw.get("/key/info", &[("key", token)]).await?;
                    infos.push(info["info"].clone());
                }
                render_list(&infos)
            }
        }
        KeysCommand::Info { key } => {
            let resp = gw.get("/key/info", &[("key", key.clone())]).await?;
            if args.admin.json {
                pretty(&resp)
            } else {
                render_info(&resp["info"])
            }
        }
        KeysCommand::Delete { keys } => {
            let resp = gw.post("/key/delete", &json!({ "keys": keys })).await?;
            if args.admin.json {
                pretty(&resp)
            } else {
                resp["deleted_keys"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|k| format!("deleted {}\n", k.as_str().unwrap_or_default()))
                    .collect()
            }
        }
    };
    print!("{out}");
    Ok(())
}

/// The `/key/generate` body: only what was asked for.
fn create_body(c: &CreateArgs) -> Result<Value, String> {
    let mut body = Map::new();
    let mut put = |k: &str, v: Value| {
        if !v.is_null() {
            body.insert(k.to_string(), v);
        }
    };
    if !c.models.is_empty() {
        put("models", json!(c.models));
    }
    put("max_budget", json!(c.max_budget));
    put("budget_duration", json!(c.budget_duration));
    put("rpm_limit", json!(c.rpm));
    put("tpm_limit", json!(c.tpm));
    put("max_parallel_requests", json!(c.max_parallel));
    put("duration", json!(c.duration));
    put("key_alias", json!(c.alias));
    put("user_id", json!(c.user_id));
    put("team_id", json!(c.team_id));
    put("key", json!(c.key));
    if let Some(m) = &c.metadata {
        match serde_json::from_str::<Value>(m) {
            Ok(v @ Value::Object(_)) => put("metadata", v),
            Ok(_) => return Err(format!("--metadata must be a JSON object, got {m}")),
            Err(e) => return Err(format!("--metadata is not valid JSON ({e}): {m}")),
        }
    }
    Ok(Value::Object(body))
}

/// One field of a key for display: `-` when absent.
fn field(info: &Value, name: &str) -> String {
    match &info[name] {
        Value::Null => "-".into(),
        Value::String(s) if s.is_empty() => "-".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn money(info: &Value, name: &str) -> String {
    info[name].as_f64().map(usd).unwrap_or_else(|| "-".into())
}

/// A time the gateway gives as Unix seconds (or already as text).
fn time(info: &Value, name: &str) -> String {
    match &info[name] {
        Value::Number(n) => n.as_i64().map(rfc3339).unwrap_or_else(|| n.to_string()),
        _ => field(info, name),
    }
}

fn models(info: &Value) -> String {
    let list: Vec<&str> = info["models"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    if list.is_empty() {
        "all".into()
    } else {
        list.join(", ")
    }
}

/// A JSON object field, `-` when empty.
fn object(info: &Value, name: &str) -> String {
    match &info[name] {
        Value::Object(m) if m.is_empty() => "-".into(),
        Value::Null => "-".into(),
        v => v.to_string(),
    }
}

fn budget(info: &Value) -> String {
    match (
        info["max_budget"].as_f64(),
        info["budget_duration"].as_str(),
    ) {
        (None, _) => "-".into(),
        (Some(b), None) => usd(b),
        (Some(b), Some(d)) => format!("{} per {d}", usd(b)),
    }
}

/// `name  value` lines, names padded to one width.
fn render_fields(rows: &[(&str, String)]) -> String {
    let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    rows.iter()
        .map(|(k, v)| format!("{k:<width$}  {v}\n"))
        .collect()
}

/// One key, a field per line.
fn render_info(info: &Value) -> String {
    render_fields(&info_rows(info))
}

fn info_rows(info: &Value) -> Vec<(&'static str, String)> {
    let blocked = if info["blocked"].as_bool() == Some(true) {
        "yes"
    } else {
        "no"
    };
    vec![
        ("token", field(info, "token")),
        ("name", field(info, "key_name")),
        ("alias", field(info, "key_alias")),
        ("user", field(info, "user_id")),
        ("team", field(info, "team_id")),
        ("models", models(info)),
        ("aliases", object(info, "aliases")),
        ("spend", money(info, "spend")),
        ("max budget", budget(info)),
        ("soft budget", money(info, "soft_budget")),
        ("budget resets", time(info, "budget_reset_at")),
        ("tpm limit", field(info, "tpm_limit")),
        ("rpm limit", field(info, "rpm_limit")),
        ("max parallel", field(info, "max_parallel_requests")),
        ("expires", time(info, "expires")),
        ("blocked", blocked.to_string()),
        ("metadata", object(info, "metadata")),
        ("created", time(info, "created_at")),
        ("updated", time(info, "updated_at")),
    ]
}

/// Keys as a table, one per line.
fn render_list(infos: &[Value]) -> String {
    if infos.is_empty() {
        return "no keys\n".into();
    }
    let header = [
        "TOKEN", "NAME", "ALIAS", "USER", "TEAM", "MODELS", "SPEND", "BUDGET", "EXPIRES",
    ];
    let rows: Vec<[String; 9]> = infos
        .iter()
        .map(|i| {
            [
                field(i, "token"),
                field(i, "key_name"),
                field(i, "key_alias"),
                field(i, "user_id"),
                field(i, "team_id"),
                models(i),
                money(i, "spend"),
                budget(i),
                time(i, "expires"),
            ]
        })
        .collect();
    let rows: Vec<Vec<String>> = rows.into_iter().map(Vec::from).collect();
    table(&header, &rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money() {
        assert_eq!(usd(0.0), "$0.00");
        assert_eq!(usd(10.5), "$10.50");
        assert_eq!(usd(0.250019), "$0.250019");
    }

    #[test]
    fn create_sends_only_what_was_given() {
        let c = CreateArgs {
            models: vec!["gpt-4o".into(), "gpt-4o-mini".into()],
            max_budget: Some(10.5),
            budget_duration: Some("30d".into()),
            rpm: Some(60),
            tpm: None,
            max_parallel: Some(2),
            duration: None,
            alias: Some("ci".into()),
            user_id: None,
            team_id: Some("t1".into()),
            metadata: Some(r#"{"env": "ci"}"#.into()),
            key: None,
        };
        assert_eq!(
            create_body(&c).unwrap(),
            json!({"models": ["gpt-4o", "gpt-4o-mini"], "max_budget": 10.5, "budget_duration": "30d", "rpm_limit": 60, "max_parallel_requests": 2, "key_alias": "ci", "team_id": "t1", "metadata": {"env": "ci"}})
        );
        let bad = CreateArgs {
            metadata: Some("[1]".into()),
            ..c
        };
        assert_eq!(
            create_body(&bad).unwrap_err(),
            "--metadata must be a JSON object, got [1]"
        );
    }

    #[test]
    fn list_table() {
        let a = json!({"token": "aaaa", "key_name": "sk-...1234", "key_alias": "ci", "user_id": null, "team_id": "t1", "models": ["gpt-4o"], "spend": 0.5, "max_budget": 10.0, "budget_duration": "30d", "expires": null});
        let b = json!({"token": "bbbb", "key_name": "sk-...5678", "key_alias": null, "user_id": "u1", "team_id": null, "models": [], "spend": 0.0, "max_budget": null, "budget_duration": null, "expires": 4_070_908_800i64});
        assert_eq!(
            render_list(&[a, b]),
            "TOKEN  NAME        ALIAS  USER  TEAM  MODELS  SPEND  BUDGET          EXPIRES\n\
             aaaa   sk-...1234  ci     -     t1    gpt-4o  $0.50  $10.00 per 30d  -\n\
             bbbb   sk-...5678  -      u1    -     all     $0.00  -               2099-01-01T00:00:00Z\n"
        );
        assert_eq!(render_list(&[]), "no keys\n");
    }
}
