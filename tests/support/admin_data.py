"""Usage events written straight into a server's database (the server stopped), for the admin read tests and
benchmarks: thousands to millions of rows in seconds, where ingesting them over HTTP would take minutes.

Every function takes the database as Server.database gives it: a SQLite file's path, or a PostgreSQL URL. On
PostgreSQL the rows go into the same tables and columns as on SQLite (times in unix microseconds, cost in integer
nano-USD), written through /usr/bin/psql (cg_postgres); what the schema's types are there is looked up, not assumed.
"""
import datetime
import sqlite3

import cg_postgres

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


def ensure_months(url, low_us, high_us):
    """On PostgreSQL usage_events is partitioned by UTC month and a row needs its month's partition: the gateway
    makes them as events arrive, so rows written straight into the table (the server stopped) need them made here,
    named and bounded as the gateway does (usage_events_YYYY_MM, [first µs of the month, first µs of the next))."""
    first = datetime.datetime.fromtimestamp(low_us // 1_000_000, datetime.timezone.utc)
    last = datetime.datetime.fromtimestamp(high_us // 1_000_000, datetime.timezone.utc)
    year, month = first.year, first.month
    script = []
    while (year, month) <= (last.year, last.month):
        nxt = (year + (month == 12), month % 12 + 1)
        lo = int(datetime.datetime(year, month, 1, tzinfo=datetime.timezone.utc).timestamp()) * 1_000_000
        hi = int(datetime.datetime(*nxt, 1, tzinfo=datetime.timezone.utc).timestamp()) * 1_000_000
        script.append(f"CREATE TABLE IF NOT EXISTS usage_events_{year:04d}_{month:02d} PARTITION OF usage_events "
                      f"FOR VALUES FROM ({lo}) TO ({hi});")
        year, month = nxt
    cg_postgres.psql(url, "\n".join(script))


def is_postgresql(database):
    return str(database).startswith(("postgresql://", "postgres://"))


class PostgresSeed:
    """What connect() gives for a PostgreSQL database: insert_event() collects rows, close() writes them all in one
    transaction (one psql call, not one per row)."""

    def __init__(self, url):
        self.url = url
        self.pending = []

    def close(self):
        rows, self.pending = self.pending, []
        if not rows:
            return
        stamps = [int(r["ts"]) for r in rows if r.get("ts") is not None]
        if stamps:
            ensure_months(self.url, min(stamps), max(stamps))
        cols = ", ".join(f'"{c}"' for c in rows[0])
        values = ",\n".join("(" + ", ".join(cg_postgres.literal(v) for v in row.values()) + ")" for row in rows)
        cg_postgres.psql(self.url, f"BEGIN;\nINSERT INTO usage_events ({cols}) VALUES\n{values};\nCOMMIT;\n")


def connect(database):
    """A connection to write with: sqlite3 for a file, a PostgresSeed for a PostgreSQL URL. Close it when done."""
    if is_postgresql(database):
        return PostgresSeed(database)
    conn = sqlite3.connect(database, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    return conn


def _ensure_tokens_postgresql(url, labels, created_at_us):
    script = ["BEGIN;"]
    for label in labels:
        lit = cg_postgres.literal(label)
        script.append(
            f"INSERT INTO tracking_tokens (label, token, active, created_at) SELECT {lit}, "
            f"{cg_postgres.literal(f'tok-{label}-0123456789abcdef')}, '1', '{created_at_us}' "
            f"WHERE NOT EXISTS (SELECT 1 FROM tracking_tokens WHERE label = {lit} AND deleted_at IS NULL);")
    script.append("COMMIT;")
    cg_postgres.psql(url, "\n".join(script))
    found = dict(cg_postgres.query(url, "SELECT label, id FROM tracking_tokens WHERE deleted_at IS NULL"))
    return [found[label] for label in labels]


def ensure_tokens(conn, labels, created_at_us=1_700_000_000_000_000):
    """Tracking tokens with these labels (created when missing); returns their ids in label order."""
    if isinstance(conn, PostgresSeed):
        conn.close()  # events collected so far first, as on SQLite
        return _ensure_tokens_postgresql(conn.url, labels, created_at_us)
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


# The same rows as _BULK_INSERT, in PostgreSQL's dialect; {cast[column]} converts each value to the column's type.
_BULK_INSERT_POSTGRESQL = """
INSERT INTO usage_events (ts, received_at, token_id, event_id, provider, model, input_tokens, output_tokens,
  total_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens, cost_nusd, cost_source, price_ref, source,
  "user", session_id, session_type, project, feature, environment, meta)
SELECT ({start} + i * {step} + (i * 7919) % greatest({step}, 1))::{cast[ts]},
  ({start} + i * {step} + 1000)::{cast[received_at]},
  (SELECT id FROM bulk_tokens WHERE k = (i * 31) % {tokens}),
  ('ev-' || lpad(({first} + i)::text, 12, '0'))::{cast[event_id]},
  (CASE (i * 13) % 3 WHEN 0 THEN 'openai' WHEN 1 THEN 'anthropic' ELSE 'google' END)::{cast[provider]},
  (CASE (i * 17) % 6 WHEN 0 THEN 'gpt-4o-mini' WHEN 1 THEN 'gpt-4o' WHEN 2 THEN 'claude-3-5-sonnet'
                     WHEN 3 THEN 'claude-3-haiku' WHEN 4 THEN 'gemini-1.5-pro' ELSE 'o1-mini' END)::{cast[model]},
  (100 + (i * 37) % 5000)::{cast[input_tokens]}, (10 + (i * 53) % 800)::{cast[output_tokens]},
  (110 + (i * 37) % 5000 + (i * 53) % 800)::{cast[total_tokens]}, ((i * 37) % 100)::{cast[cache_read_tokens]},
  (i % 2)::{cast[cache_write_tokens]}, ((i * 11) % 10)::{cast[reasoning_tokens]},
  (1000 + (i * 7727) % 900000)::{cast[cost_nusd]}, 'server', 'openai/gpt-4o-mini@base', 'ingest',
  ('user-' || ((i * 101) % 1000))::{cast[user]}, ('sess-' || (({first} + i) / 20))::{cast[session_id]},
  (CASE i % 3 WHEN 0 THEN 'chat' WHEN 1 THEN 'agent' ELSE 'batch' END)::{cast[session_type]},
  (CASE WHEN i % 4 = 0 THEN NULL ELSE 'proj-' || (i % 5) END)::{cast[project]},
  ('feat-' || (i % 7))::{cast[feature]},
  (CASE i % 3 WHEN 0 THEN 'prod' WHEN 1 THEN 'staging' ELSE 'dev' END)::{cast[environment]},
  (CASE WHEN i % 10 = 0 THEN '{{"n":' || i || '}}' ELSE NULL END)::{cast[meta]}
FROM generate_series(0::bigint, {count} - 1) AS i
RETURNING id
"""


def _bulk_events_postgresql(url, count, start_us, step_us, labels, synchronous_off):
    ids = _ensure_tokens_postgresql(url, labels, 1_700_000_000_000_000)
    ensure_months(url, start_us, start_us + max(count, 1) * max(step_us, 1))
    cast = dict(cg_postgres.query(url, "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
                                       "WHERE attrelid = 'usage_events'::regclass AND attnum > 0 AND NOT attisdropped"))
    first = cg_postgres.query(url, "SELECT coalesce(max(id), 0) FROM usage_events")[0][0] + 1
    insert = _BULK_INSERT_POSTGRESQL.format(count=int(count), start=int(start_us), step=int(step_us),
                                            tokens=len(labels), first=first, cast=cast)
    tokens = ", ".join(f"({k}, {token_id})" for k, token_id in enumerate(ids))
    out = cg_postgres.psql(url, (
        ("SET synchronous_commit = off;\n" if synchronous_off else "")
        + f"BEGIN;\nCREATE TEMP TABLE bulk_tokens (k bigint PRIMARY KEY, id bigint) ON COMMIT DROP;\n"
        + f"INSERT INTO bulk_tokens VALUES {tokens};\n"
        + f"WITH inserted AS ({insert}) SELECT min(id), max(id) FROM inserted;\nCOMMIT;\n"))
    low, high = out.split()[0].split("|")
    return int(low), int(high)


def bulk_events(database, count, start_us, step_us, labels=("app-a", "app-b", "app-c"), synchronous_off=True):
    """Appends `count` generated events, `step_us` apart from `start_us` (each jittered inside its step), spread over
    tokens with `labels`. Returns (first id, last id)."""
    if is_postgresql(database):
        return _bulk_events_postgresql(database, count, start_us, step_us, labels, synchronous_off)
    conn = connect(database)
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
    """One event with defaults for whatever `values` leaves out; returns its id (None on PostgreSQL, where the rows
    are written when the connection closes)."""
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
    if isinstance(conn, PostgresSeed):
        conn.pending.append(row)
        return None
    cols = ", ".join(f'"{c}"' for c in row)  # "user" is a reserved word on PostgreSQL
    marks = ", ".join("?" for _ in row)
    return conn.execute(f"INSERT INTO usage_events ({cols}) VALUES ({marks})", list(row.values())).lastrowid
