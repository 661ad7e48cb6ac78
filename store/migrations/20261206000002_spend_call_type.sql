-- What kind of call each spend row is, in LiteLLM's words (`acompletion`,
-- `aresponses`, `anthropic_messages`, `aembedding`, …), so spend can be told
-- apart by API as in LiteLLM's `call_type`. Rows written before: ''.
ALTER TABLE llmux_spend_logs ADD COLUMN call_type TEXT NOT NULL DEFAULT '';
