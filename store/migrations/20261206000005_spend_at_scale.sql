-- Spend at scale: reports and totals read daily aggregates kept as rows are
-- written, not millions of log rows; list queries by owner read compound
-- (owner, time) indexes; the log is listed newest first by (time, call id)
-- so a page can start where the last one ended (keyset pagination).
CREATE TABLE llmux_spend_daily (
    day               BIGINT NOT NULL,
    token_hash        TEXT NOT NULL,
    user_id           TEXT NOT NULL,
    team_id           TEXT NOT NULL,
    model_group       TEXT NOT NULL,
    spend_nano        BIGINT NOT NULL,
    requests          BIGINT NOT NULL,
    prompt_tokens     BIGINT NOT NULL,
    completion_tokens BIGINT NOT NULL,
    PRIMARY KEY (day, token_hash, user_id, team_id, model_group)
);

INSERT INTO llmux_spend_daily (day, token_hash, user_id, team_id, model_group, spend_nano, requests, prompt_tokens, completion_tokens)
SELECT CAST(start_time / 86400 AS BIGINT), COALESCE(token_hash, ''), COALESCE(user_id, ''), COALESCE(team_id, ''), model_group,
       CAST(SUM(spend_nano) AS BIGINT), CAST(COUNT(*) AS BIGINT), CAST(SUM(prompt_tokens) AS BIGINT), CAST(SUM(completion_tokens) AS BIGINT)
FROM llmux_spend_logs
GROUP BY CAST(start_time / 86400 AS BIGINT), COALESCE(token_hash, ''), COALESCE(user_id, ''), COALESCE(team_id, ''), model_group;

CREATE INDEX llmux_spend_daily_token ON llmux_spend_daily (token_hash, day);

DROP INDEX IF EXISTS llmux_spend_logs_token;
DROP INDEX IF EXISTS llmux_spend_logs_start;
CREATE INDEX llmux_spend_logs_token_time ON llmux_spend_logs (token_hash, start_time, call_id);
CREATE INDEX llmux_spend_logs_user_time ON llmux_spend_logs (user_id, start_time, call_id);
CREATE INDEX llmux_spend_logs_team_time ON llmux_spend_logs (team_id, start_time, call_id);
CREATE INDEX llmux_spend_logs_group_time ON llmux_spend_logs (model_group, start_time, call_id);
CREATE INDEX llmux_spend_logs_time ON llmux_spend_logs (start_time, call_id);
