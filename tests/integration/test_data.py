"""GET /data and GET /models (API.md, Admin): row fields, every filter, keyset pagination through thousands of rows,
the limit, and every 400 naming its parameter."""
import os
import subprocess
import urllib.parse

import pytest

from admin_data import bulk_events, connect, ensure_tokens, insert_event


# Every test here runs on SQLite and on PostgreSQL (conftest.py; ctest gives this file the postgres fixture).
pytestmark = pytest.mark.both_backends

# Admin rate limits off: these tests send hundreds of admin requests in a second.
ENV = {"RATE_LIMIT_RPM": "0"}
DAY_US = 86_400_000_000
MAR_1 = 1_740_787_200_000_000  # 2025-03-01T00:00:00Z


def query(path, **params):
    return path + ("?" + urllib.parse.urlencode(params) if params else "")


def data(srv, **params):
    status, headers, body = srv.admin("GET", query("/data", **params))
    assert status == 200, body
    return body


def all_pages(srv, limit, **params):
    """Every row of /data, following next_cursor; asserts each page is full but the last."""
    rows, cursor, pages = [], None, 0
    while True:
        extra = dict(params, limit=limit)
        if cursor:
            extra["cursor"] = cursor
        body = data(srv, **extra)
        pages += 1
        rows += body["data"]
        cursor = body["next_cursor"]
        if cursor is None:
            return rows, pages
        assert len(body["data"]) == limit


def seeded_server(make_server, fill, env=None):
    """A server whose database `fill(conn)` wrote directly (the server stopped meanwhile)."""
    srv = make_server(env={**ENV, **(env or {})})
    srv.stop()
    conn = connect(srv.database)
    try:
        fill(conn)
    finally:
        conn.close()
    srv.start()
    return srv


def test_every_admin_read_requires_the_admin_key(make_server):
    # 52 wrong keys from one address: the failed-authentication throttle (test_auth_throttle.py) would answer 429
    # after 30; here every one must be the handler's own 401.
    srv = make_server(env={**ENV, "AUTH_FAILURE_RPM": "0"})
    routes = [("GET", "/data"), ("GET", "/models"), ("GET", "/costs"), ("GET", "/costs/daily"),
              ("GET", "/costs/range?start=2025-01-01&end=2025-01-02"), ("GET", "/costs/summary/weekly"),
              ("GET", "/costs/summary/monthly"), ("GET", "/costs/by-model"), ("GET", "/costs/by-project"),
              ("GET", "/costs/by-session-type"), ("GET", "/export.csv"), ("DELETE", "/reset"), ("POST", "/log")]
    for method, path in routes:
        for headers in ({}, {"X-API-Key": "wrong"}, {"Authorization": "Bearer wrong"},
                        {"X-Ingest-Key": srv.ingest_key}):
            status, hdrs, body = srv.request(method, path, headers=headers)
            assert status == 401, (method, path, headers, body)
            assert hdrs["content-type"].startswith("application/json")
            assert body["request_id"] == hdrs["x-request-id"]
        if method == "GET":
            status, _, body = srv.request(method, path, headers={"Authorization": f"Bearer {srv.api_key}"})
            assert status == 200, (path, body)


def test_rows_carry_the_seed_fields_and_the_new_ones(make_server):
    srv = make_server(env=ENV)
    token = srv.create_token("billing-app")
    event = {"tracking_token": token["token"], "event_id": "evt-1", "provider": "openai", "model": "gpt-4o-mini",
             "prompt_tokens": 1000, "completion_tokens": 500, "timestamp": "2025-03-01T10:30:00.25Z",
             "user": "u-1", "session_id": "s-1", "session_type": "chat", "project": "billing", "feature": "sum",
             "environment": "prod", "meta": {"k": [1, "two"]},
             "usage": {"prompt_tokens": 1000, "completion_tokens": 500,
                       "prompt_tokens_details": {"cached_tokens": 200},
                       "completion_tokens_details": {"reasoning_tokens": 100}}}
    status, _, created = srv.ingest(event)
    assert status == 201, created
    body = data(srv)
    assert body["next_cursor"] is None
    assert body["limit"] == 500
    [row] = body["data"]
    assert row["id"] == created["id"] and isinstance(row["id"], int)
    assert row["timestamp"] == "2025-03-01T10:30:00.250000Z"
    assert row["model"] == "gpt-4o-mini"
    assert (row["promptTokens"], row["completionTokens"], row["totalTokens"]) == (1000, 500, 1500)
    assert isinstance(row["estimatedCostUSD"], float)
    assert row["estimatedCostUSD"] == pytest.approx(float(created["cost_usd_exact"]))
    assert row["cost_usd_exact"] == created["cost_usd_exact"]
    assert row["cost_source"] == "server" and row["price_ref"]
    assert row["event_id"] == "evt-1" and row["provider"] == "openai"
    assert row["ingest_token_id"] == token["id"] and row["token_label"] == "billing-app"
    assert (row["cache_read_tokens"], row["cache_write_tokens"], row["reasoning_tokens"]) == (200, 0, 100)
    assert (row["user"], row["session_id"], row["session_type"]) == ("u-1", "s-1", "chat")
    assert (row["project"], row["feature"], row["environment"]) == ("billing", "sum", "prod")
    assert row["meta"] == {"k": [1, "two"]}
    assert row["source"] == "ingest"
    assert row["received_at"].endswith("Z")


def test_every_filter_selects_exactly_the_matching_rows(make_server):
    values = {"model": ["gpt-4o", "gpt-4o-mini", "claude-3-haiku"], "provider": ["openai", "anthropic"],
              "user": ["alice", "bob", None], "feature": ["search", "chat", None],
              "environment": ["prod", "dev", None], "session_type": ["chat", "agent", None],
              "session_id": ["s-1", "s-2", "s-3", None], "project": ["p1", "p2", None]}

    def fill(conn):
        ids = ensure_tokens(conn, ["t-one", "t-two", "t-three"])
        for n in range(240):
            row = {k: v[n % len(v)] for k, v in values.items()}
            insert_event(conn, ts=MAR_1 + n * 3_600_000_000, token_id=ids[n % 3], event_id=f"e{n}", **row)

    srv = seeded_server(make_server, fill)
    tokens = {t["label"]: t["id"] for t in srv.list_tokens()}

    def ids(**params):
        return [r["id"] for r in data(srv, limit=5000, **params)["data"]]

    def sql_ids(where, args):
        return [r[0] for r in srv.rows(f"SELECT id FROM usage_events WHERE {where} ORDER BY ts DESC, id DESC", args)]

    assert ids() == sql_ids("TRUE", ())
    for column, options in values.items():
        for value in options:
            if value is None:
                continue
            expected = sql_ids(f'"{column}" = ?', (value,))
            assert expected, column
            assert ids(**{column: value}) == expected, (column, value)
    assert ids(ingest_token_id=tokens["t-two"]) == sql_ids("token_id = ?", (tokens["t-two"],))
    assert ids(ingest_token_id=999_999) == []  # a well-formed id that matches nothing: no rows, not an error
    # Filters combine with AND.
    assert ids(model="gpt-4o", user="alice") == sql_ids('model = ? AND "user" = ?', ("gpt-4o", "alice"))
    # An empty value is no filter (what an HTML form's empty select sends).
    assert ids(model="", user="") == sql_ids("TRUE", ())


def test_start_and_end_dates_and_instants(make_server):
    def fill(conn):
        [token] = ensure_tokens(conn, ["t"])
        for n, ts in enumerate([MAR_1 - 1, MAR_1, MAR_1 + DAY_US - 1, MAR_1 + DAY_US, MAR_1 + 2 * DAY_US]):
            insert_event(conn, ts=ts, token_id=token, event_id=f"e{n}")

    srv = seeded_server(make_server, fill)

    def stamps(**params):
        return sorted(r["timestamp"] for r in data(srv, **params)["data"])

    # A bare end date includes that whole day.
    assert stamps(start="2025-03-01", end="2025-03-01") == ["2025-03-01T00:00:00Z", "2025-03-01T23:59:59.999999Z"]
    assert stamps(end="2025-02-28") == ["2025-02-28T23:59:59.999999Z"]
    # An end instant is included; offsets are honoured.
    assert stamps(start="2025-03-01T00:00:00Z", end="2025-03-02T00:00:00Z") == [
        "2025-03-01T00:00:00Z", "2025-03-01T23:59:59.999999Z", "2025-03-02T00:00:00Z"]
    assert stamps(start="2025-03-02T01:00:00+01:00") == ["2025-03-02T00:00:00Z", "2025-03-03T00:00:00Z"]
    # tz moves where a bare date's day begins: 2025-03-01 in Berlin runs from 23:00Z the evening before to 23:00Z.
    assert stamps(start="2025-03-01", end="2025-03-01", tz="Europe/Berlin") == [
        "2025-02-28T23:59:59.999999Z", "2025-03-01T00:00:00Z"]


def test_pagination_through_thousands_of_rows_has_no_duplicates_or_gaps(make_server):
    srv = make_server(env=ENV)
    srv.stop()
    # 1,500 events in one microsecond (every page boundary falls inside a tie) and 2,000 spread over hours.
    bulk_events(srv.database, 1500, MAR_1, 0)
    bulk_events(srv.database, 2000, MAR_1 - DAY_US, 5_000_000)
    srv.start()
    expected = [r[0] for r in srv.rows("SELECT id FROM usage_events ORDER BY ts DESC, id DESC")]
    assert len(expected) == 3500
    for limit in (137, 500, 5000):
        rows, pages = all_pages(srv, limit)
        assert [r["id"] for r in rows] == expected, limit
        assert pages == -(-3500 // limit)  # the last page says so itself: never an empty page after it
    # Filtered pages follow the same order.
    rows, _ = all_pages(srv, 250, model="gpt-4o")
    assert [r["id"] for r in rows] == [r[0] for r in srv.rows(
        "SELECT id FROM usage_events WHERE model = 'gpt-4o' ORDER BY ts DESC, id DESC")]


def test_events_arriving_while_paging_do_not_shift_the_pages(make_server):
    srv = make_server(env=ENV)
    token = srv.create_token("app")
    for n in range(30):
        assert srv.ingest({"tracking_token": token["token"], "model": "m", "prompt_tokens": 1,
                           "completion_tokens": 1, "event_id": f"e{n}",
                           "timestamp": f"2025-03-01T00:00:{n:02d}Z"})[0] == 201
    first = data(srv, limit=10)
    # Newer events arrive between the pages: the next pages continue where the first stopped.
    for n in range(5):
        assert srv.ingest({"tracking_token": token["token"], "model": "m", "prompt_tokens": 1,
                           "completion_tokens": 1, "event_id": f"late{n}"})[0] == 201
    rest, _ = all_pages(srv, 10, cursor=first["next_cursor"])
    seen = [r["id"] for r in first["data"] + rest]
    assert len(seen) == len(set(seen)) == 30


def test_limit_defaults_to_500_and_is_lowered_to_5000(make_server):
    srv = make_server(env=ENV)
    srv.stop()
    bulk_events(srv.database, 6000, MAR_1, 1_000_000)
    srv.start()
    body = data(srv)
    assert len(body["data"]) == 500 and body["limit"] == 500 and body["next_cursor"]
    body = data(srv, limit=100000)
    assert len(body["data"]) == 5000 and body["limit"] == 5000 and body["next_cursor"]
    body = data(srv, limit=1)
    assert len(body["data"]) == 1


@pytest.mark.parametrize("params, field", [
    ({"start": "yesterday"}, "start"),
    ({"start": "2025-02-30"}, "start"),
    ({"end": "2025-03-01T10:00:00"}, "end"),  # no zone
    ({"end": "03/01/2025"}, "end"),
    ({"start": "2025-03-02", "end": "2025-03-01"}, "start"),
    ({"ingest_token_id": "abc"}, "ingest_token_id"),
    ({"ingest_token_id": "0"}, "ingest_token_id"),
    ({"ingest_token_id": "1.5"}, "ingest_token_id"),
    ({"limit": "0"}, "limit"),
    ({"limit": "many"}, "limit"),
    ({"cursor": "not-a-cursor!"}, "cursor"),
    ({"cursor": "MTIz"}, "cursor"),
    ({"tz": "Mars/Olympus"}, "tz"),
    ({"modle": "gpt-4o"}, "modle"),  # a misspelt filter would silently widen the result
    ({"model": "m" * 257}, "model"),
])
def test_bad_parameters_are_400_naming_the_field(make_server, params, field):
    srv = make_server(env=ENV)
    status, headers, body = srv.admin("GET", query("/data", **params))
    assert status == 400, body
    assert body["field"] == field
    assert body["message"] == body["error"]
    assert body["request_id"] == headers["x-request-id"]


def test_a_parameter_given_twice_or_badly_escaped_is_400(make_server):
    srv = make_server(env=ENV)
    status, _, body = srv.admin("GET", "/data?model=a&model=b")
    assert status == 400 and body["field"] == "model"
    status, _, body = srv.admin("GET", "/data?model=%zz")
    assert status == 400 and body["field"] == "model"


def test_a_deleted_tokens_events_keep_its_label(make_server):
    srv = make_server(env=ENV)
    token = srv.create_token("retired-app")
    assert srv.ingest({"tracking_token": token["token"], "model": "m", "prompt_tokens": 1})[0] == 201
    assert srv.admin("DELETE", f"/ingest/tokens/{token['id']}")[0] == 200
    [row] = data(srv, ingest_token_id=token["id"])["data"]
    assert row["token_label"] == "retired-app"


def test_project_patterns_assign_projects_to_events_that_name_none(make_server):
    def fill(conn):
        billing, other = ensure_tokens(conn, ["billing-api", "search"])
        insert_event(conn, ts=MAR_1, token_id=billing, event_id="a")
        insert_event(conn, ts=MAR_1 + 1, token_id=billing, event_id="b", project="explicit")
        insert_event(conn, ts=MAR_1 + 2, token_id=other, event_id="c", session_id="nightly-42")
        insert_event(conn, ts=MAR_1 + 3, token_id=other, event_id="d")

    srv = seeded_server(make_server, fill, env={"PROJECT_PATTERNS": "billing-*=billing,nightly-*=batch"})
    rows = {r["event_id"]: r["project"] for r in data(srv)["data"]}
    assert rows == {"a": "billing", "b": "explicit", "c": "batch", "d": None}
    assert [r["event_id"] for r in data(srv, project="billing")["data"]] == ["a"]
    # Nothing was written back: the patterns apply when reading, so changing them re-attributes old events.
    assert srv.rows("SELECT count(*) FROM usage_events WHERE project IS NOT NULL")[0][0] == 1


def test_a_bad_project_patterns_setting_stops_the_start(tmp_path):
    res = subprocess.run([os.environ["CG_BINARY"], "--port", "0", "--env-file", os.devnull,
                          "--project-patterns", "billing-*"],
                         env={"PATH": "/usr/bin:/bin", "DATA_DIR": str(tmp_path)}, capture_output=True, text=True,
                         timeout=10)
    assert res.returncode != 0
    assert res.stderr.strip().splitlines() == ["cost-guardian: PROJECT_PATTERNS entry 'billing-*' is not glob=project"]
    help_text = subprocess.run([os.environ["CG_BINARY"], "--help"], capture_output=True, text=True).stdout
    assert "PROJECT_PATTERNS" in help_text and "--project-patterns" in help_text


def test_models_lists_each_model_once_sorted(make_server):
    srv = make_server(env=ENV)
    status, _, body = srv.admin("GET", "/models")
    assert status == 200 and body == {"models": []}
    token = srv.create_token("app")
    for model in ["gpt-4o", "claude-3-haiku", "gpt-4o", "gpt-4o-mini"]:
        assert srv.ingest({"tracking_token": token["token"], "model": model, "prompt_tokens": 1})[0] == 201
    status, _, body = srv.admin("GET", "/models")
    assert body == {"models": ["claude-3-haiku", "gpt-4o", "gpt-4o-mini"]}
    status, _, body = srv.admin("GET", "/models?model=x")
    assert status == 400 and body["field"] == "model"
