"""cost-guardian migrate-db: an existing SQLite database moves to PostgreSQL with its tokens (deleted ones too) and
events, ids kept, verified by counts and the exact cost sum, safe to run again; a gateway on the copy answers the
same reports and keeps deduplicating the copied events."""
import json
import os
import subprocess

import pytest

import cg_postgres

pytestmark = pytest.mark.postgres_only


def migrate(*args):
    res = subprocess.run([os.environ["CG_BINARY"], "migrate-db", *args], capture_output=True, text=True,
                         timeout=300)
    summary = None
    for line in res.stdout.splitlines():
        try:
            summary = json.loads(line)
        except ValueError:
            pass
    return res.returncode, summary, res.stderr


def event(token, event_id, ts, **extra):
    return {"tracking_token": token, "event_id": event_id, "provider": "openai", "model": "gpt-4o-mini-2024-07-18",
            "prompt_tokens": 1000, "completion_tokens": 200, "timestamp": ts, **extra}


@pytest.fixture
def database(backend):
    name, url = cg_postgres.create_database()
    yield url
    cg_postgres.drop_database(name)


def test_sqlite_database_moves_to_postgresql_and_keeps_answering_the_same(database, make_server):
    source = make_server(backend="sqlite")
    kept = source.create_token("kept")
    gone = source.create_token("gone")
    ids = {}
    for i in range(120):
        token = kept if i % 3 else gone
        ts = f"2025-{(i % 12) + 1:02d}-{(i % 27) + 1:02d}T10:{i % 60:02d}:00Z"
        extra = {"cost_usd": 0.0123 + i / 1e6} if i % 5 == 0 else {"project": "alpha" if i % 2 else "beta"}
        status, _, body = source.ingest(event(token["token"], f"e{i}", ts, **extra))
        assert status == 201, body
        ids[f"e{i}"] = body["id"]
    assert source.admin("DELETE", f"/ingest/tokens/{gone['id']}")[0] == 200
    _, _, costs_before = source.admin("GET", "/costs?group_by=month,token,project")
    _, _, data_before = source.admin("GET", "/data?limit=5000")
    tokens_before = source.list_tokens()
    assert source.stop() == 0

    code, summary, err = migrate("--from", f"sqlite:{source.db_path}", "--to", database)
    assert code == 0, err
    assert summary["verified"] is True
    assert summary["events_added"] == 120 and summary["tokens_added"] == 2
    assert summary["source"] == summary["destination"]

    # Run again: nothing new, still verified.
    code, summary, err = migrate("--from", f"sqlite:{source.db_path}", "--to", database)
    assert code == 0, err
    assert (summary["events_added"], summary["tokens_added"], summary["verified"]) == (0, 0, True)

    copy = make_server(database_url=database)
    assert copy.admin("GET", "/costs?group_by=month,token,project")[2] == costs_before
    assert copy.admin("GET", "/data?limit=5000")[2] == data_before
    assert copy.list_tokens() == tokens_before
    # The dedupe keys came along: an event sent again is a duplicate of its copied row; a new one gets a new id.
    status, _, body = copy.ingest(event(kept["token"], "e1", "2025-02-02T10:01:00Z"))
    assert status == 200 and body["duplicate"] is True and body["id"] == ids["e1"]
    status, _, body = copy.ingest(event(kept["token"], "new", "2025-06-01T00:00:00Z"))
    assert status == 201 and body["id"] > max(ids.values())
    # The deleted token stays deleted on the copy.
    assert copy.ingest(event(gone["token"], "late", "2025-06-01T00:00:00Z"))[0] == 404


def test_refuses_what_it_cannot_copy(database, tmp_path):
    code, _, err = migrate("--to", database)
    assert code == 2 and "--from" in err
    code, _, err = migrate("--from", f"sqlite:{tmp_path / 'missing.sqlite'}", "--to", database)
    assert code == 2 and "no database" in err
    code, _, err = migrate("--from", database, "--to", database)
    assert code == 2 and "same database" in err
