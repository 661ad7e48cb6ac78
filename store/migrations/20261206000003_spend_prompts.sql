-- The request's messages and the answer, as JSON text, for spend rows of
-- gateways with `general_settings.store_prompts_in_spend_logs` (LiteLLM's
-- `messages` and `response` columns); NULL otherwise and in older rows.
ALTER TABLE llmux_spend_logs ADD COLUMN messages TEXT;
ALTER TABLE llmux_spend_logs ADD COLUMN response TEXT;
