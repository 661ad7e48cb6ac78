//! `llmux spend`: a running gateway's spend, grouped by key, user, team,
//! model or day (`/global/spend/report`), or its spend-log rows
//! (`/spend/logs`). Tables by default, the gateway's JSON with `--json`.

use clap::{Args, ValueEnum};
use serde_json::Value;

use crate::admin::{pretty, table, usd, AdminArgs, AdminClient};

/// Arguments of `llmux spend`.
#[derive(Args, Debug)]
pub(crate) struct SpendArgs {
    /// Group spend by this.
    #[arg(long, value_enum, default_value = "day")]
    group_by: GroupBy,
    /// List the spend-log rows instead (newest first).
    #[arg(long)]
    logs: bool,
    /// First day, YYYY-MM-DD (inclusive).
    #[arg(long)]
    start_date: Option<String>,
    /// Last day, YYYY-MM-DD (inclusive).
    #[arg(long)]
    end_date: Option<String>,
    /// Only this key (`sk-…` or its token).
    #[arg(long)]
    key: Option<String>,
    /// Only this user.
    #[arg(long)]
    user_id: Option<String>,
    /// Only this team.
    #[arg(long)]
    team_id: Option<String>,
    /// Only this model group.
    #[arg(long)]
    model: Option<String>,
    /// Most log rows to list.
    #[arg(long, default_value_t = 100)]
    limit: u32,
    #[command(flatten)]
    admin: AdminArgs,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum GroupBy {
    Key,
    User,
    Team,
    Model,
    Day,
}

impl GroupBy {
    fn as_str(self) -> &'static str {
        match self {
            GroupBy::Key => "key",
            GroupBy::User => "user",
            GroupBy::Team => "team",
            GroupBy::Model => "model",
            GroupBy::Day => "day",
        }
    }
}

/// Run `llmux spend`; the error is the message to print.
pub(crate) async fn run(args: SpendArgs) -> Result<(), String> {
    let gw = AdminClient::new(&args.admin)?;
    let mut query: Vec<(&str, String)> = Vec::new();
    for (name, v) in [
        ("start_date", &args.start_date),
        ("end_date", &args.end_date),
        ("api_key", &args.key),
        ("user_id", &args.user_id),
        ("team_id", &args.team_id),
        ("model", &args.model),
    ] {
        if let Some(v) = v {
            query.push((name, v.clone()));
        }
    }
    let out = if args.logs {
        query.push(("limit", args.limit.to_string()));
        let rows = gw.get("/spend/logs", &query).await?;
        if args.admin.json {
            pretty(&rows)
        } else {
            render_logs(&rows)
        }
    } else {
        query.push(("group_by", args.group_by.as_str().to_string()));
        let report = gw.get("/global/spend/report", &query).await?;
        if args.admin.json {
            pretty(&report)
        } else {
            render_report(args.group_by, &report)
        }
    };
    print!("{out}");
    Ok(())
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        other => other.to_string(),
    }
}

fn render_report(by: GroupBy, report: &Value) -> String {
    let items = report.as_array().map(Vec::as_slice).unwrap_or_default();
    if items.is_empty() {
        return "no spend\n".into();
    }
    let group = by.as_str().to_uppercase();
    let header = [
        group.as_str(),
        "SPEND",
        "REQUESTS",
        "PROMPT TOKENS",
        "COMPLETION TOKENS",
    ];
    let mut requests = 0;
    let mut rows: Vec<Vec<String>> = items
        .iter()
        .map(|i| {
            requests += i["requests"].as_i64().unwrap_or(0);
            vec![
                text(&i["group"]),
                usd(i["spend"].as_f64().unwrap_or(0.0)),
                text(&i["requests"]),
                text(&i["prompt_tokens"]),
                text(&i["completion_tokens"]),
            ]
        })
        .collect();
    // Sum in nano-dollars so the total is exact.
    let nano: i64 = items
        .iter()
        .map(|i| (i["spend"].as_f64().unwrap_or(0.0) * 1e9).round() as i64)
        .sum();
    rows.push(vec![
        "TOTAL".into(),
        usd(nano as f64 / 1e9),
        requests.to_string(),
        String::new(),
        String::new(),
    ]);
    table(&header, &rows)
}

fn render_logs(rows: &Value) -> String {
    let items = rows.as_array().map(Vec::as_slice).unwrap_or_default();
    if items.is_empty() {
        return "no spend logs\n".into();
    }
    let header = [
        "REQUEST", "MODEL", "USER", "TEAM", "TOKENS", "SPEND", "STATUS",
    ];
    let rows: Vec<Vec<String>> = items
        .iter()
        .map(|r| {
            vec![
                text(&r["request_id"]),
                text(&r["model_group"]),
                text(&r["user"]),
                text(&r["team_id"]),
                text(&r["total_tokens"]),
                usd(r["spend"].as_f64().unwrap_or(0.0)),
                text(&r["status"]),
            ]
        })
        .collect();
    table(&header, &rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn report_table_with_exact_total() {
        let report = json!([
            {"group": "gpt-4o", "spend": 0.1, "requests": 2, "prompt_tokens": 18, "completion_tokens": 10},
            {"group": null, "spend": 0.2, "requests": 1, "prompt_tokens": 9, "completion_tokens": 5}
        ]);
        assert_eq!(
            render_report(GroupBy::Model, &report),
            "MODEL   SPEND  REQUESTS  PROMPT TOKENS  COMPLETION TOKENS\n\
             gpt-4o  $0.10  2         18             10\n\
             -       $0.20  1         9              5\n\
             TOTAL   $0.30  3                        \n"
        );
        assert_eq!(render_report(GroupBy::Day, &json!([])), "no spend\n");
    }
}
