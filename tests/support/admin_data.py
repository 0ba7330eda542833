"""Usage events written straight into a server's SQLite file (the server stopped), for the admin read tests and
benchmarks: thousands to millions of rows in seconds, where ingesting them over HTTP would take minutes."""
import sqlite3

MODELS = ["gpt-4o-mini", "gpt-4o", "claude-3-5-sonnet", "claude-3-haiku", "gemini-1.5-pro", "o1-mini"]
PROVIDERS = ["openai", "anthropic", "google"]

# One row per event; the values are a fixed function of the row number n, so a test can recompute any of them.
_BULK_INSERT = """
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < :count - 1)
INSERT INTO usage_events (ts, received_at, token_id, event_id, provider, model, input_tokens, output_tokens,
  total_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens, cost_nusd, cost_source, price_ref, source,
  user, session_id, session_type, project, feature, environment, meta)
SELECT :start + i * :step + (i * 7919) % max(:step, 1), :start + i * :step + 1000,
  (SELECT id FROM bulk_tokens WHERE k = (i * 31) % :tokens),
  printf('ev-%012d', :first + i),
  CASE (i * 13) % 3 WHEN 0 THEN 'openai' WHEN 1 THEN 'anthropic' ELSE 'google' END,
  CASE (i * 17) % 6 WHEN 0 THEN 'gpt-4o-mini' WHEN 1 THEN 'gpt-4o' WHEN 2 THEN 'claude-3-5-sonnet'
                    WHEN 3 THEN 'claude-3-haiku' WHEN 4 THEN 'gemini-1.5-pro' ELSE 'o1-mini' END,
  100 + (i * 37) % 5000, 10 + (i * 53) % 800, 110 + (i * 37) % 5000 + (i * 53) % 800, (i * 37) % 100, i % 2,
  (i * 11) % 10, 1000 + (i * 7727) % 900000, 'server', 'openai/gpt-4o-mini@base', 'ingest',
  'user-' || ((i * 101) % 1000), 'sess-' || ((:first + i) / 20),
  CASE i % 3 WHEN 0 THEN 'chat' WHEN 1 THEN 'agent' ELSE 'batch' END,
  CASE WHEN i % 4 = 0 THEN NULL ELSE 'proj-' || (i % 5) END, 'feat-' || (i % 7),
  CASE i % 3 WHEN 0 THEN 'prod' WHEN 1 THEN 'staging' ELSE 'dev' END,
  CASE WHEN i % 10 = 0 THEN '{"n":' || i || '}' ELSE NULL END
FROM n
"""


def connect(db_path):
    conn = sqlite3.connect(db_path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    return conn


def ensure_tokens(conn, labels, created_at_us=1_700_000_000_000_000):
    """Tracking tokens with these labels (created when missing); returns their ids in label order."""
    ids = []
    for label in labels:
        row = conn.execute("SELECT id FROM tracking_tokens WHERE label = ? AND deleted_at IS NULL", (label,)).fetchone()
        if row is None:
            cur = conn.execute("INSERT INTO tracking_tokens (label, token, active, created_at) VALUES (?, ?, 1, ?)",
                               (label, f"tok-{label}-0123456789abcdef", created_at_us))
            ids.append(cur.lastrowid)
        else:
            ids.append(row[0])
    return ids


def bulk_events(db_path, count, start_us, step_us, labels=("app-a", "app-b", "app-c"), synchronous_off=True):
    """Appends `count` generated events, `step_us` apart from `start_us` (each jittered inside its step), spread over
    tokens with `labels`. Returns (first id, last id)."""
    conn = connect(db_path)
    try:
        if synchronous_off:
            conn.execute("PRAGMA synchronous=OFF")
        ids = ensure_tokens(conn, labels)
        conn.execute("CREATE TEMP TABLE bulk_tokens (k INTEGER PRIMARY KEY, id INTEGER)")
        conn.executemany("INSERT INTO bulk_tokens VALUES (?, ?)", list(enumerate(ids)))
        first = conn.execute("SELECT coalesce(max(id), 0) FROM usage_events").fetchone()[0] + 1
        conn.execute("BEGIN")
        conn.execute(_BULK_INSERT, {"count": count, "start": start_us, "step": step_us, "tokens": len(labels),
                                    "first": first})
        conn.execute("COMMIT")
        last = conn.execute("SELECT max(id) FROM usage_events").fetchone()[0]
        return first, last
    finally:
        conn.close()


def insert_event(conn, **values):
    """One event with defaults for whatever `values` leaves out; returns its id."""
    row = {"ts": 1_735_689_600_000_000, "received_at": None, "token_id": None, "event_id": None, "provider": "openai",
           "model": "gpt-4o-mini", "input_tokens": 10, "output_tokens": 5, "total_tokens": None,
           "cache_read_tokens": 0, "cache_write_tokens": 0, "reasoning_tokens": 0, "cost_nusd": 4500,
           "cost_source": "server", "price_ref": "", "source": "ingest", "user": None, "session_id": None,
           "session_type": None, "project": None, "feature": None, "environment": None, "meta": None}
    row.update(values)
    if row["received_at"] is None:
        row["received_at"] = row["ts"]
    if row["total_tokens"] is None:
        row["total_tokens"] = row["input_tokens"] + row["output_tokens"]
    cols = ", ".join(row)
    marks = ", ".join("?" for _ in row)
    return conn.execute(f"INSERT INTO usage_events ({cols}) VALUES ({marks})", list(row.values())).lastrowid
