"""kill -9 at random moments while acknowledgements are in flight, under concurrent writers: every event that was
acknowledged (201, or 200 duplicate) is stored exactly once with the id it was given, a retried event whose first
answer was lost comes back as a duplicate of the stored row, and the database is intact. On SQLite and PostgreSQL.

CI kills the server 5 times; `CG_CRASH_KILLS=25` (the long run of docs/security.md) kills it more."""
import http.client
import json
import os
import random
import threading
import time

import pytest

pytestmark = pytest.mark.both_backends

KILLS = int(os.environ.get("CG_CRASH_KILLS", "5"))
WRITERS = 8


class Gateway:
    """The server's current port, and whether it is up: writers wait while it restarts."""

    def __init__(self, port):
        self.port = port
        self.up = threading.Event()
        self.up.set()


def writer(n, gateway, srv, token, stop, answers, errors):
    sequence = 0
    pending = None
    while not stop.is_set() or pending is not None:
        if pending is None:
            pending = f"w{n}-{sequence}"
            sequence += 1
        if not gateway.up.wait(timeout=60):
            errors.append("the gateway stayed down")
            return
        try:
            conn = http.client.HTTPConnection("127.0.0.1", gateway.port, timeout=10)
            conn.request("POST", "/ingest",
                         body=json.dumps({"tracking_token": token, "event_id": pending, "model": "gpt-4o-mini",
                                          "prompt_tokens": 100, "completion_tokens": 10}),
                         headers={"X-Ingest-Key": srv.ingest_key, "Content-Type": "application/json"})
            res = conn.getresponse()
            body = json.loads(res.read() or b"null")
            conn.close()
        except (OSError, http.client.HTTPException, ValueError):
            time.sleep(0.02)  # killed mid-request: the answer is lost, so the same event is sent again
            continue
        if res.status in (200, 201):
            answers.append((pending, res.status, body["id"]))
            pending = None
        elif res.status == 503:
            time.sleep(0.05)  # shutting down or storage busy: nothing was stored, send it again
        else:
            errors.append(f"{pending}: {res.status} {body}")
            pending = None


def test_kill_9_under_concurrent_writers_loses_and_doubles_nothing(make_server, backend):
    seed = int(os.environ.get("CG_CRASH_SEED", random.randrange(1 << 30)))
    rng = random.Random(seed)
    srv = make_server(env={"INGEST_RPM": "0"})
    token = srv.create_token("crash")
    gateway = Gateway(srv.port)
    stop = threading.Event()
    answers, errors = [], []
    threads = [threading.Thread(target=writer, args=(n, gateway, srv, token["token"], stop, answers, errors),
                                daemon=True) for n in range(WRITERS)]
    for t in threads:
        t.start()
    for _ in range(KILLS):
        time.sleep(rng.uniform(0.2, 0.8))
        gateway.up.clear()
        srv.proc.kill()  # SIGKILL: no shutdown, no flush, acknowledgements possibly on the wire
        srv.proc.wait()
        srv.wait_output()
        srv.start()
        gateway.port = srv.port
        gateway.up.set()
    time.sleep(0.5)
    stop.set()
    for t in threads:
        t.join(timeout=120)
    assert not errors, (seed, errors[:5])

    stored = {}
    for event_id, row_id in srv.rows("SELECT event_id, id FROM usage_events WHERE token_id = ?", (token["id"],)):
        assert event_id not in stored, f"seed {seed}: {event_id} stored twice"
        stored[event_id] = row_id
    acknowledged = {}
    for event_id, status, row_id in answers:
        assert stored.get(event_id) == row_id, f"seed {seed}: {event_id} acknowledged as {row_id} ({status}), " \
                                               f"stored as {stored.get(event_id)}"
        acknowledged[event_id] = row_id
    assert len(acknowledged) > 50 * KILLS // 5, f"seed {seed}: only {len(acknowledged)} events went through"
    # Anything stored but never acknowledged was committed just before a kill; its writer sent it again and got the
    # duplicate, so it is in `acknowledged` too. Nothing else may be there.
    assert set(stored) == set(acknowledged), f"seed {seed}: stored without an answer: {set(stored) - set(acknowledged)}"
    if backend == "sqlite":
        assert srv.rows("PRAGMA integrity_check") == [("ok",)]
        assert srv.rows("PRAGMA foreign_key_check") == []
    counted = srv.rows("SELECT usage_count FROM tracking_tokens WHERE id = ?", (token["id"],))[0][0]
    assert counted == len(stored)
