"""The upgrade from Cost Guardian v0.3 (the Flask app) is lossless and loud: a database the old app wrote, built with
the old app's own statements in its order (tests/support/v03/*.sql), keeps every count, cost, time, token and event
id through the server's start, `import-v03`, `/data`, `/costs`, `/export.csv`, `reprice --source v0.3-import` and
`migrate-db` on to PostgreSQL; a file an earlier release converted without its counts is repaired."""
import csv
import hashlib
import io
import json
import os
import sqlite3
import subprocess
from decimal import ROUND_HALF_EVEN, Decimal

import pytest

import cg_postgres
from cg_server import Server

# The ctest `postgres` fixture, for the migrate-db test; the other tests take no backend and run on SQLite.
pytestmark = pytest.mark.both_backends

SUPPORT = os.path.join(os.path.dirname(__file__), "..", "support", "v03")

TOKENS = [  # label, token, active, created_at (DATETIME('now') text)
    ("Production App", "tokProd", 1, "2024-01-10 08:00:00"),
    ("Staging", "tokStaging", 0, "2024-01-11 09:00:00"),
    ("Deleted later", "tokGone", 1, "2024-01-12 10:00:00"),
]

# The kinds of rows the old app wrote: /ingest rows with a token and the provider's id, /log rows ('legacy', no
# token, no event id), a hard-deleted token's rows, naive and DATETIME('now') times, float() costs such as 0.1 + 0.2.
ROWS = [  # timestamp, model, prompt, completion, total, cost (REAL or None), token id, source, event id
    ("2024-01-15T10:30:00Z", "gpt-4o-mini-2024-07-18", 1200, 350, 1550, 0.1 + 0.2, 1, "ingest", "chatcmpl-1"),
    ("2024-01-15T10:31:00", "gpt-4o", 100, 50, 150, 1.0000000005, 1, "ingest", "chatcmpl-2"),
    ("2024-01-15 11:30:00", "gpt-4o-mini", 12, 34, 46, 0.0000222, None, "legacy", None),
    ("2024-01-15T12:30:00+02:00", "gpt-4o", 7, 0, 7, 1.5e-9, 3, "ingest", "chatcmpl-3"),
    ("2024-01-16 00:00:00", "gpt-4o-mini", 5, 5, 10, None, None, "legacy", None),
    ("2024-02-01T08:00:00.250000Z", "gpt-4o-mini", 2_000_000, 1_000_000, 3_000_000, 0.9, 2, "ingest", "chatcmpl-5"),
]
EXPECTED_TIMES = ["2024-01-15T10:30:00Z", "2024-01-15T10:31:00Z", "2024-01-15T11:30:00Z", "2024-01-15T10:30:00Z",
                  "2024-01-16T00:00:00Z", "2024-02-01T08:00:00.250000Z"]
EXPECTED_TOKEN_IDS = [1, 1, None, 3, None, 2]


def nano(cost):
    """The old REAL as Python printed it (repr), rounded once to nano-USD, half to even: the expected stored cost."""
    if cost is None:
        return 0
    return int(Decimal(repr(cost)).quantize(Decimal("1e-9"), rounding=ROUND_HALF_EVEN) * 10**9)


def usd(nano_usd):
    return f"{Decimal(nano_usd) / Decimal(10**9):.9f}"


def make_v03_database(path, rows=ROWS, v02_only=False):
    db = sqlite3.connect(path)
    with open(os.path.join(SUPPORT, "v02_schema.sql")) as f:
        db.executescript(f.read())
    if v02_only:
        for r in rows:
            db.execute("INSERT INTO usage_log (timestamp, model, promptTokens, completionTokens, totalTokens, "
                       "estimatedCostUSD) VALUES (?, ?, ?, ?, ?, ?)", r[:6])
        db.execute("INSERT INTO api_keys (label, enc_key) VALUES ('old key', x'00')")
    else:
        with open(os.path.join(SUPPORT, "v03_migration.sql")) as f:
            db.executescript(f.read())
        db.executemany("INSERT INTO ingest_tokens (label, token, active, created_at) VALUES (?, ?, ?, ?)", TOKENS)
        db.executemany("INSERT INTO usage_log (timestamp, model, promptTokens, completionTokens, totalTokens, "
                       "estimatedCostUSD, ingest_token_id, source, event_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        db.execute("DELETE FROM ingest_tokens WHERE id = 3")  # hard delete; Python leaves foreign keys off
    db.commit()
    db.close()


def run(*args, timeout=120):
    return subprocess.run([os.environ["CG_BINARY"], *args], capture_output=True, text=True, timeout=timeout)


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def old_tables(path):
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return (db.execute("SELECT * FROM usage_log ORDER BY id").fetchall(),
                db.execute("SELECT * FROM ingest_tokens ORDER BY id").fetchall())
    finally:
        db.close()


def check_rows(srv, rows=ROWS):
    status, _, body = srv.admin("GET", "/data?limit=5000")
    assert status == 200, body
    by_id = {r["id"]: r for r in body["data"]}
    assert sorted(by_id) == list(range(1, len(rows) + 1))
    for i, r in enumerate(rows, start=1):
        got = by_id[i]
        assert got["timestamp"] == EXPECTED_TIMES[i - 1], got
        assert got["model"] == r[1]
        assert (got["promptTokens"], got["completionTokens"], got["totalTokens"]) == (r[2], r[3], r[4])
        assert got["cost_usd_exact"] == usd(nano(r[5])), (i, r[5], got)
        assert got["cost_source"] == ("v0.3-import" if r[5] is not None else "unpriced")
        assert got["source"] == ("log" if r[7] == "legacy" else "ingest")
        assert got["ingest_token_id"] == EXPECTED_TOKEN_IDS[i - 1]
        assert got["event_id"] == r[8]
    return by_id


def expected_totals(rows=ROWS):
    return {"requests": len(rows), "input_tokens": sum(r[2] for r in rows),
            "output_tokens": sum(r[3] for r in rows), "total_tokens": sum(r[4] for r in rows),
            "cost_usd_exact": usd(sum(nano(r[5]) for r in rows))}


def check_reports(srv, rows=ROWS):
    status, _, body = srv.admin("GET", "/costs?group_by=model&start=2020-01-01&end=2030-01-01")
    assert status == 200, body
    totals = body["totals"]
    assert {k: totals[k] for k in expected_totals(rows)} == expected_totals(rows)
    # The sum of the REALs differs from the per-row rounding by at most half a nano-USD a row.
    real_sum = sum(Decimal(repr(r[5])) for r in rows if r[5] is not None)
    assert abs(real_sum - Decimal(totals["cost_usd_exact"])) <= Decimal("0.5e-9") * len(rows)

    status, _, text = srv.admin("GET", "/export.csv?start=2020-01-01&end=2030-01-01")
    assert status == 200
    exported = list(csv.DictReader(io.StringIO(text if isinstance(text, str) else text.decode())))
    assert len(exported) == len(rows)
    assert sum(Decimal(r["cost_usd"]) for r in exported) == Decimal(totals["cost_usd_exact"])


def test_starting_on_a_v03_file_imports_every_row_loudly(tmp_path):
    make_v03_database(tmp_path / "usage_log.sqlite")
    original = sha256(tmp_path / "usage_log.sqlite")
    srv = Server(tmp_path)
    srv.start()
    try:
        check_rows(srv)
        check_reports(srv)
        # A retried old event is still a duplicate, with the old row's id.
        status, _, body = srv.ingest({"tracking_token": "tokProd", "event_id": "chatcmpl-2", "model": "gpt-4o",
                                      "prompt_tokens": 100, "completion_tokens": 50})
        assert (status, body.get("duplicate"), body.get("id")) == (200, True, 2), body
        # The deleted token keeps its rows, not its place among live tokens.
        assert [t["token"] for t in srv.list_tokens()] == ["tokProd", "tokStaging"]
    finally:
        assert srv.stop() == 0
    records = [r for r in srv.log_records() if r.get("event") == "v03_upgrade"]
    assert len(records) == 1, srv.stdout_text()
    summary = records[0]
    assert summary["action"] == "imported" and summary["consistent"] is True
    assert summary["before"] == summary["after"]
    assert summary["before"]["rows"] == 6 and summary["before"]["tokens"] == 3 - 1
    assert summary["before"]["rows_by_source"] == {"ingest": 4, "log": 2}
    assert summary["before"]["cost_usd"] == expected_totals()["cost_usd_exact"]
    assert "old app" in srv.stderr_text() and "Every row matches" in srv.stderr_text()
    # The file as the old app left it, beside the upgraded one.
    assert sha256(summary["backup"]) == original
    # Starting again imports nothing twice and says nothing.
    srv.start()
    try:
        status, _, body = srv.admin("GET", "/data?limit=5000")
        assert len(body["data"]) == 6
    finally:
        assert srv.stop() == 0
    assert not [r for r in srv.log_records() if r.get("event") == "v03_upgrade"]


def test_import_command_dry_run_then_real_then_again(tmp_path):
    path = tmp_path / "usage_log.sqlite"
    make_v03_database(path)
    original = sha256(path)

    res = run("import-v03", "--from", str(path), "--dry-run", "--json")
    assert res.returncode == 0, res.stderr
    dry = json.loads(res.stdout.strip().splitlines()[-1])
    assert dry["dry_run"] is True and dry["consistent"] is True and dry["action"] == "imported"
    assert dry["before"]["total_tokens"] == sum(r[4] for r in ROWS)
    assert sha256(path) == original, "a dry run changed the file"
    assert not list(tmp_path.glob("*.v0.3-backup*"))

    res = run("import-v03", "--from", str(path))
    assert res.returncode == 0, res.stderr
    for line in ("tokens", "rows", "source ingest", "source log", "prompt tokens", "completion tokens",
                 "total tokens", "cost USD"):
        assert line in res.stdout, res.stdout
    assert expected_totals()["cost_usd_exact"] in res.stdout
    assert "Every row matches (6 of 6)" in res.stdout
    assert (tmp_path / "usage_log.sqlite.v0.3-backup").exists()

    res = run("import-v03", "--from", str(path), "--json")  # safe to run again: compares, writes nothing
    assert res.returncode == 0, res.stderr
    again = json.loads(res.stdout)
    assert again["action"] == "verified" and again["consistent"] is True
    assert again["after"] == dry["after"]

    srv = Server(tmp_path)
    srv.start()
    try:
        check_rows(srv)
    finally:
        assert srv.stop() == 0


def test_an_unreadable_value_stops_the_import_naming_table_column_and_row(tmp_path):
    path = tmp_path / "usage_log.sqlite"
    make_v03_database(path, rows=ROWS + [("2024-03-01T00:00:00Z", "gpt-4o", "12k", 1, 1, 0.1, 1, "ingest", "x")])
    before = old_tables(path)
    res = run("import-v03", "--from", str(path))
    assert res.returncode == 1
    message = res.stderr.strip()
    assert len(message.splitlines()) == 1, message
    assert "usage_log, column promptTokens, row 7: '12k' is not a whole number" in message
    assert old_tables(path) == before
    db = sqlite3.connect(path)
    try:
        assert db.execute("PRAGMA user_version").fetchone()[0] == 0
        assert db.execute("SELECT count(*) FROM sqlite_master WHERE name = 'usage_events'").fetchone()[0] == 0
    finally:
        db.close()
    # The server refuses to start on it with the same line, rather than guessing.
    srv = Server(tmp_path)
    with pytest.raises((RuntimeError, AssertionError), match="column promptTokens, row 7"):
        srv.start(timeout=30)
    assert srv.proc.wait(timeout=30) == 1


def test_a_file_an_earlier_release_converted_is_repaired_at_start(tmp_path):
    path = tmp_path / "usage_log.sqlite"
    make_v03_database(path)
    assert run("import-v03", "--from", str(path), "--json").returncode == 0
    # What the release before this one left: it read none of the camelCase columns, so every row came out with zero
    # counts, no cost ('unpriced') and source 'v0.3-import', at schema version 3 (its last).
    db = sqlite3.connect(path)
    db.execute("UPDATE usage_events SET input_tokens = 0, output_tokens = 0, total_tokens = 0, cost_nusd = 0, "
               "cost_source = 'unpriced', source = 'v0.3-import'")
    db.execute("PRAGMA user_version = 3")
    db.commit()
    db.close()
    for backup in tmp_path.glob("*.v0.3-backup*"):
        backup.unlink()

    srv = Server(tmp_path)
    srv.start()
    try:
        check_rows(srv)
        check_reports(srv)
    finally:
        assert srv.stop() == 0
    summary = [r for r in srv.log_records() if r.get("event") == "v03_upgrade"][0]
    assert summary["action"] == "repaired" and summary["rows_changed"] == 6 and summary["consistent"] is True


def test_a_v02_file_imports_too(tmp_path):
    rows = [r[:6] + (None, "ingest", None) for r in ROWS[:3]]
    make_v03_database(tmp_path / "usage_log.sqlite", rows=rows, v02_only=True)
    res = run("import-v03", "--from", str(tmp_path / "usage_log.sqlite"), "--json")
    assert res.returncode == 0, res.stderr
    summary = json.loads(res.stdout)
    assert summary["generation"] == "v0.2" and summary["consistent"] is True
    assert summary["before"]["rows_by_source"] == {"ingest": 3}
    assert any("api_keys" in note for note in summary["notes"])


def test_reprice_of_imported_costs_is_explicit(tmp_path):
    make_v03_database(tmp_path / "usage_log.sqlite")
    assert run("import-v03", "--from", str(tmp_path / "usage_log.sqlite"), "--json").returncode == 0
    db_flag = ["--db", str(tmp_path / "usage_log.sqlite")]

    # An ordinary reprice never touches what the old app computed.
    res = run("reprice", "--start", "2024-01-01", "--end", "2024-12-31", *db_flag)
    assert res.returncode == 0, res.stderr
    changed = [json.loads(line) for line in res.stdout.splitlines()]
    assert all(c.get("old_cost_source") != "v0.3-import" for c in changed[:-1])

    res = run("reprice", "--source", "v0.3-import", "--dry-run", *db_flag)
    assert res.returncode == 0, res.stderr
    lines = [json.loads(line) for line in res.stdout.splitlines()]
    summary = lines[-1]
    assert summary["event"] == "reprice_dry_run" and summary["source"] == "v0.3-import"
    assert summary["examined"] == 5  # the six rows less the one without a cost
    assert all(c["old_cost_source"] == "v0.3-import" and c["new_cost_source"] == "server" for c in lines[:-1])

    res = run("reprice", "--source", "v0.3-import", *db_flag)
    assert res.returncode == 0, res.stderr
    res = run("import-v03", "--from", str(tmp_path / "usage_log.sqlite"), "--json")
    verified = json.loads(res.stdout)
    # The five old costs, and the row without one that the ordinary reprice priced.
    assert verified["rows_repriced"] == 6 and verified["rows_mismatched"] == 0
    assert verified["consistent"] is True

    assert run("reprice", "--source", "gpt-4o", *db_flag).returncode == 2


def test_an_upgraded_v03_file_moves_on_to_postgresql(tmp_path):
    make_v03_database(tmp_path / "usage_log.sqlite")
    name, url = cg_postgres.create_database()
    try:
        res = run("migrate-db", "--from", f"sqlite:{tmp_path / 'usage_log.sqlite'}", "--to", url, timeout=300)
        assert res.returncode == 0, res.stderr
        srv = Server(tmp_path / "pg", database_url=url)
        srv.start()
        try:
            check_rows(srv)
            check_reports(srv)
        finally:
            assert srv.stop() == 0
    finally:
        cg_postgres.drop_database(name)
