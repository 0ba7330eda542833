CREATE TABLE IF NOT EXISTS ingest_tokens (id INTEGER PRIMARY KEY AUTOINCREMENT, label TEXT NOT NULL, token TEXT NOT NULL UNIQUE, active INTEGER NOT NULL DEFAULT 1, created_at TEXT NOT NULL DEFAULT (DATETIME('now')), last_seen_at TEXT NULL);
ALTER TABLE usage_log ADD COLUMN api_key_id INTEGER NULL;
ALTER TABLE usage_log ADD COLUMN ingest_token_id INTEGER NULL REFERENCES ingest_tokens(id) ON DELETE SET NULL;
ALTER TABLE usage_log ADD COLUMN source TEXT NOT NULL DEFAULT 'ingest';
ALTER TABLE usage_log ADD COLUMN event_id TEXT NULL;
CREATE UNIQUE INDEX IF NOT EXISTS idx_usage_event ON usage_log(ingest_token_id, event_id) WHERE event_id IS NOT NULL;
CREATE UNIQUE INDEX IF NOT EXISTS idx_ingest_tokens_label ON ingest_tokens(label);
CREATE UNIQUE INDEX IF NOT EXISTS idx_ingest_tokens_token ON ingest_tokens(token);
