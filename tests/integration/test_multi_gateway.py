"""Several gateways, one PostgreSQL database (issue 7): two real cost-guardian processes on the same database give
the guarantees one gives. The same (token, event_id) sent to both at the same moment is stored once, with one 201
and one 200 duplicate naming the same id; a token created, deactivated, reactivated or deleted through one takes
effect on the other within a second; both start together on an empty database (migrations run once); rate limits
stay per process."""
import threading
import time
import uuid

import pytest

import cg_postgres

# PostgreSQL only (conftest.py; ctest gives this file the postgres fixture): SQLite has one process per file.
pytestmark = pytest.mark.postgres_only

ENV = {"RATE_LIMIT_RPM": "0"}  # admin rate limits off: the polls below send many admin requests
PROPAGATION_LIMIT_S = 1.0  # the promise
POLL_FOR_S = 1.5  # how long to keep asking, so a late change is measured rather than timed out


@pytest.fixture
def database(backend):
    """A fresh, empty database on the tests' PostgreSQL server, shared by the gateways of one test."""
    assert backend == "postgresql"
    name, url = cg_postgres.create_database()
    yield url
    cg_postgres.drop_database(name)


@pytest.fixture
def gateways(database, make_server):
    """Two gateways on one database (`database` first, so it is dropped after both servers stopped)."""
    a = make_server(env=ENV, database_url=database)
    b = make_server(env=ENV, database_url=database)
    return a, b


def event(token, event_id, **extra):
    return {"tracking_token": token, "event_id": event_id, "provider": "openai", "model": "gpt-4o-mini",
            "prompt_tokens": 100, "completion_tokens": 10, **extra}


def wait_until(predicate, timeout=POLL_FOR_S, interval=0.02):
    """Seconds until predicate() was first true (polled every `interval`), or None if it never was in `timeout`."""
    started = time.monotonic()
    while True:
        if predicate():
            return time.monotonic() - started
        if time.monotonic() - started > timeout:
            return None
        time.sleep(interval)


def ingest_status(srv, token):
    """The status of ingesting one new event (a new event_id each time, so a 201 stores one row)."""
    return srv.ingest(event(token, f"probe-{uuid.uuid4().hex}"))[0]


def expect_on(srv, token, status, what):
    elapsed = wait_until(lambda: ingest_status(srv, token) == status)
    assert elapsed is not None, f"{what}: the other gateway still does not answer {status} after {POLL_FOR_S} s"
    assert elapsed <= PROPAGATION_LIMIT_S, f"{what}: took {elapsed:.3f} s to reach the other gateway"
    return elapsed


def test_the_same_event_sent_to_both_at_once_is_stored_once(gateways):
    a, b = gateways
    token = a.create_token("race")["token"]
    expect_on(b, token, 201, "a new token")
    keys = [f"race-{n:03d}" for n in range(200)]
    # Four pairs of threads; within a pair, one thread per gateway, meeting at a barrier before each key, so both
    # requests for one key are in flight together (and, across pairs, in the same write batches).
    pairs = 4
    results = {}  # (key, gateway name) -> (status, body)
    errors = []

    def send(srv, name, my_keys, barrier):
        conn = srv.connection()
        try:
            for key in my_keys:
                barrier.wait(timeout=30)
                status, _, body = srv.ingest(event(token, key), conn=conn)
                results[(key, name)] = (status, body)
        except Exception as e:  # reported below: an exception in a thread would otherwise vanish
            errors.append(f"{name}: {e!r}")
            barrier.abort()
        finally:
            conn.close()

    threads = []
    for p in range(pairs):
        barrier = threading.Barrier(2)
        my_keys = keys[p::pairs]
        threads += [threading.Thread(target=send, args=(a, "a", my_keys, barrier)),
                    threading.Thread(target=send, args=(b, "b", my_keys, barrier))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    assert len(results) == 2 * len(keys)

    created_by = {"a": 0, "b": 0}
    for key in keys:
        answers = {name: results[(key, name)] for name in ("a", "b")}
        statuses = sorted(status for status, _ in answers.values())
        assert statuses == [200, 201], (key, answers)
        [(winner, (_, created))] = [(n, r) for n, r in answers.items() if r[0] == 201]
        [(_, duplicate)] = [r for r in answers.values() if r[0] == 200]
        assert duplicate.get("duplicate") is True and duplicate.get("id") == created["id"], (key, answers)
        created_by[winner] += 1
    stored = a.rows("SELECT event_id, count(*), min(id) FROM usage_events WHERE event_id LIKE 'race-%' "
                    "GROUP BY event_id")
    assert len(stored) == len(keys) and all(count == 1 for _, count, _ in stored)
    ids = {key: results[(key, "a")][1]["id"] for key in keys}
    assert all(ids[key] == first for key, _, first in stored)
    # Not asserted (it depends on timing), but worth seeing when it is lopsided: who won how many races.
    print(f"\n201s: gateway a {created_by['a']}, gateway b {created_by['b']}")


def test_token_changes_reach_the_other_gateway_within_a_second(gateways):
    a, b = gateways
    created = a.create_token("moving")
    token = created["token"]
    timings = {"create": expect_on(b, token, 201, "a token created through gateway a")}
    assert any(t["label"] == "moving" for t in b.list_tokens())

    status, _, body = a.admin("PATCH", f"/ingest/tokens/{created['id']}/active", {"active": False})
    assert status == 200, body
    timings["deactivate"] = expect_on(b, token, 403, "a token deactivated through gateway a")

    status, _, body = a.admin("PATCH", f"/ingest/tokens/{created['id']}/active", {"active": True})
    assert status == 200, body
    timings["reactivate"] = expect_on(b, token, 201, "a token reactivated through gateway a")

    status, _, body = a.admin("DELETE", f"/ingest/tokens/{created['id']}")
    assert status == 200, body
    timings["delete"] = expect_on(b, token, 404, "a token deleted through gateway a")
    # And the other way round: a change made through b reaches a.
    other = b.create_token("other-way")
    timings["create b->a"] = expect_on(a, other["token"], 201, "a token created through gateway b")
    print("\npropagation: " + ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in timings.items()))


def schema_version_rows(url):
    """(table, [(version, count)]) of a table that records applied migrations, if one with a `version` column is
    found; None otherwise (the backend may record its version elsewhere)."""
    found = cg_postgres.query(
        url, "SELECT c.table_name FROM information_schema.columns c JOIN information_schema.tables t "
             "USING (table_schema, table_name) WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE' "
             "AND c.column_name = 'version' AND c.table_name ~ '(schema|migration)' ORDER BY 1")
    if not found:
        return None
    table = found[0][0]
    return table, cg_postgres.query(url, f'SELECT version, count(*) FROM "{table}" GROUP BY version ORDER BY version')


@pytest.mark.parametrize("round_", range(3))
def test_two_gateways_starting_together_on_an_empty_database(database, make_server, round_):
    a = make_server(env=ENV, database_url=database, start=False)
    b = make_server(env=ENV, database_url=database, start=False)
    errors = []
    go = threading.Barrier(2)

    def start(srv):
        try:
            go.wait(timeout=30)
            srv.start()  # waits until /health is 200 and says postgresql
        except Exception as e:
            errors.append(repr(e) + "".join(srv.stderr_lines[-20:]))

    threads = [threading.Thread(target=start, args=(srv,)) for srv in (a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    # One schema: what one gateway writes, the other reads.
    token = a.create_token("together")["token"]
    expect_on(b, token, 201, "a token created through gateway a after a joint start")
    assert [t["label"] for t in a.list_tokens()] == [t["label"] for t in b.list_tokens()] == ["together"]
    versions = schema_version_rows(database)
    if versions is not None:
        table, rows = versions
        assert rows and all(count == 1 for _, count in rows), f"{table} records a migration twice: {rows}"


def test_rate_limits_are_per_process(database, make_server):
    """Documented: each gateway keeps its own buckets (README, "SQLite or PostgreSQL?"), so N gateways allow N times
    the configured rate to one admin key. This pins that down, so a change to shared limits is a deliberate one."""
    env = {"RATE_LIMIT_RPM": "60", "RATE_LIMIT_BURST": "2"}
    a = make_server(env=env, database_url=database)
    b = make_server(env=env, database_url=database)
    statuses = [a.admin("GET", "/models")[0] for _ in range(3)]
    assert statuses == [200, 200, 429]
    assert b.admin("GET", "/models")[0] == 200  # a's empty bucket is a's alone
