-- llmux gateway state. Portable SQL: runs unchanged on SQLite and PostgreSQL.
-- Money is stored as integer nano-dollars (1e-9 USD) so sums are exact.
-- Times are Unix seconds. JSON documents are TEXT.

CREATE TABLE IF NOT EXISTS llmux_keys (
    token_hash            TEXT PRIMARY KEY,      -- SHA-256 hex of the key, as LiteLLM stores it
    key_name              TEXT NOT NULL,         -- "sk-...abcd", for display
    key_alias             TEXT,
    user_id               TEXT,
    team_id               TEXT,
    models                TEXT NOT NULL DEFAULT '[]',
    aliases               TEXT NOT NULL DEFAULT '{}',
    max_budget_nano       BIGINT,
    soft_budget_nano      BIGINT,
    budget_duration       TEXT,
    budget_reset_at       BIGINT,
    spend_nano            BIGINT NOT NULL DEFAULT 0,
    tpm_limit             BIGINT,
    rpm_limit             BIGINT,
    max_parallel_requests BIGINT,
    expires_at            BIGINT,
    blocked               BIGINT NOT NULL DEFAULT 0,
    metadata              TEXT NOT NULL DEFAULT '{}',
    created_at            BIGINT NOT NULL,
    updated_at            BIGINT NOT NULL
);

CREATE TABLE IF NOT EXISTS llmux_users (
    user_id          TEXT PRIMARY KEY,
    user_email       TEXT,
    user_role        TEXT,
    teams            TEXT NOT NULL DEFAULT '[]',
    models           TEXT NOT NULL DEFAULT '[]',
    max_budget_nano  BIGINT,
    budget_duration  TEXT,
    budget_reset_at  BIGINT,
    spend_nano       BIGINT NOT NULL DEFAULT 0,
    tpm_limit        BIGINT,
    rpm_limit        BIGINT,
    metadata         TEXT NOT NULL DEFAULT '{}',
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);

CREATE TABLE IF NOT EXISTS llmux_teams (
    team_id          TEXT PRIMARY KEY,
    team_alias       TEXT,
    members          TEXT NOT NULL DEFAULT '[]',
    models           TEXT NOT NULL DEFAULT '[]',
    max_budget_nano  BIGINT,
    budget_duration  TEXT,
    budget_reset_at  BIGINT,
    spend_nano       BIGINT NOT NULL DEFAULT 0,
    tpm_limit        BIGINT,
    rpm_limit        BIGINT,
    blocked          BIGINT NOT NULL DEFAULT 0,
    metadata         TEXT NOT NULL DEFAULT '{}',
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);

CREATE TABLE IF NOT EXISTS llmux_budgets (
    budget_id             TEXT PRIMARY KEY,
    max_budget_nano       BIGINT,
    soft_budget_nano      BIGINT,
    budget_duration       TEXT,
    tpm_limit             BIGINT,
    rpm_limit             BIGINT,
    max_parallel_requests BIGINT,
    created_at            BIGINT NOT NULL,
    updated_at            BIGINT NOT NULL
);

CREATE TABLE IF NOT EXISTS llmux_spend_logs (
    request_id        TEXT PRIMARY KEY,
    token_hash        TEXT,
    user_id           TEXT,
    team_id           TEXT,
    model             TEXT NOT NULL,
    model_group       TEXT NOT NULL,
    deployment_id     TEXT,
    provider          TEXT,
    prompt_tokens     BIGINT NOT NULL DEFAULT 0,
    completion_tokens BIGINT NOT NULL DEFAULT 0,
    total_tokens      BIGINT NOT NULL DEFAULT 0,
    spend_nano        BIGINT NOT NULL DEFAULT 0,
    start_time        BIGINT NOT NULL,
    end_time          BIGINT NOT NULL,
    latency_ms        BIGINT NOT NULL DEFAULT 0,
    status            TEXT NOT NULL,
    cache_hit         BIGINT NOT NULL DEFAULT 0
);

CREATE INDEX IF NOT EXISTS llmux_spend_logs_token ON llmux_spend_logs (token_hash);
CREATE INDEX IF NOT EXISTS llmux_spend_logs_start ON llmux_spend_logs (start_time);
