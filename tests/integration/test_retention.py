"""RETENTION_MONTHS: events older than that many whole months before the current one are dropped (whole monthly
partitions on PostgreSQL, rows on SQLite), at start and hourly; newer events and every token stay. Off by default."""
import datetime
import os
import subprocess

import pytest

pytestmark = pytest.mark.both_backends


def event(token, event_id, ts):
    return {"tracking_token": token, "event_id": event_id, "provider": "openai", "model": "gpt-4o-mini",
            "prompt_tokens": 10, "completion_tokens": 5, "timestamp": ts}


def iso(dt):
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_old_months_go_recent_ones_stay(make_server):
    srv = make_server()
    token = srv.create_token("app")["token"]
    now = datetime.datetime.now(datetime.timezone.utc)
    first_of_month = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    # Two months back is the oldest month RETENTION_MONTHS=2 keeps; just before it goes.
    keep_from = (first_of_month - datetime.timedelta(days=1)).replace(day=1)
    keep_from = (keep_from - datetime.timedelta(days=1)).replace(day=1)
    stamps = {
        "ancient": "2021-03-04T05:06:07Z",
        "just-before": iso(keep_from - datetime.timedelta(seconds=1)),
        "first-kept": iso(keep_from),
        "recent": iso(now - datetime.timedelta(minutes=5)),
    }
    for event_id, ts in stamps.items():
        status, _, body = srv.ingest(event(token, event_id, ts))
        assert status == 201, body
    assert srv.stop() == 0

    # Off by default: a restart without the setting keeps everything.
    srv.start()
    assert len(srv.admin("GET", "/data")[2]["data"]) == 4
    assert srv.stop() == 0

    srv.env["RETENTION_MONTHS"] = "2"
    srv.start()
    record = srv.wait_for_log(lambda r: r.get("event") == "retention_applied", timeout=10)
    assert record["events_deleted"] == 2
    kept = sorted(row["event_id"] for row in srv.admin("GET", "/data")[2]["data"])
    assert kept == ["first-kept", "recent"]
    assert [t["label"] for t in srv.list_tokens()] == ["app"]
    # Storage goes on working for every month after the drop.
    assert srv.ingest(event(token, "after", iso(now)))[0] == 201


def test_retention_months_must_be_a_count(backend, tmp_path):
    res = subprocess.run([os.environ["CG_BINARY"], "--retention-months", "soon", "--env-file", os.devnull,
                          "--data-dir", str(tmp_path)], capture_output=True, text=True, timeout=30)
    assert res.returncode != 0
    assert "RETENTION_MONTHS" in res.stdout + res.stderr
