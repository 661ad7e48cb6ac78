-- Responses API conversation state: each stored response with the input
-- items it answered, so `previous_response_id` rebuilds the history, and its
-- owner (key and team), so only they can read or delete it.
CREATE TABLE llmux_responses (
    id          TEXT PRIMARY KEY,
    token_hash  TEXT,
    team_id     TEXT,
    model_group TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    response    TEXT NOT NULL,
    input_items TEXT NOT NULL
);

CREATE INDEX llmux_responses_created_at ON llmux_responses (created_at);
