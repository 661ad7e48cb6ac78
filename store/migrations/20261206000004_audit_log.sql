-- The audit log of admin changes (LiteLLM's LiteLLM_AuditLog): who changed
-- which key, user, team or budget, when, and the object before and after
-- (as JSON text, with secrets removed by the gateway before it is written).
CREATE TABLE llmux_audit_log (
    id                 TEXT PRIMARY KEY,
    updated_at         BIGINT NOT NULL,
    changed_by         TEXT NOT NULL,
    changed_by_api_key TEXT NOT NULL,
    action             TEXT NOT NULL,
    table_name         TEXT NOT NULL,
    object_id          TEXT NOT NULL,
    before_value       TEXT,
    updated_values     TEXT
);

CREATE INDEX llmux_audit_log_updated_at ON llmux_audit_log (updated_at);
CREATE INDEX llmux_audit_log_object ON llmux_audit_log (object_id, updated_at);
