-- Each spend row is keyed by the gateway's own call id, not by the request
-- id: a client may send the same x-request-id on several calls, and each of
-- them is spent. Rows written before keep their request id as their call id.
CREATE TABLE llmux_spend_logs_v2 (
    call_id           TEXT PRIMARY KEY,
    request_id        TEXT NOT NULL,
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

INSERT INTO llmux_spend_logs_v2 (call_id, request_id, token_hash, user_id, team_id, model, model_group, deployment_id, provider, prompt_tokens, completion_tokens, total_tokens, spend_nano, start_time, end_time, latency_ms, status, cache_hit)
SELECT request_id, request_id, token_hash, user_id, team_id, model, model_group, deployment_id, provider, prompt_tokens, completion_tokens, total_tokens, spend_nano, start_time, end_time, latency_ms, status, cache_hit
FROM llmux_spend_logs;

DROP TABLE llmux_spend_logs;
ALTER TABLE llmux_spend_logs_v2 RENAME TO llmux_spend_logs;

CREATE INDEX IF NOT EXISTS llmux_spend_logs_token ON llmux_spend_logs (token_hash);
CREATE INDEX IF NOT EXISTS llmux_spend_logs_start ON llmux_spend_logs (start_time);
CREATE INDEX IF NOT EXISTS llmux_spend_logs_request ON llmux_spend_logs (request_id);
