"""GET /costs and its convenience routes (API.md, Admin): group_by combinations checked against the database,
day/week/month buckets in a time zone across both 2025 DST changes in Europe/Berlin, totals, and the 400s."""
import datetime
import itertools
import urllib.parse
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from admin_data import connect, ensure_tokens, insert_event


# Every test here runs on SQLite and on PostgreSQL (conftest.py; ctest gives this file the postgres fixture).
pytestmark = pytest.mark.both_backends

ENV = {"RATE_LIMIT_RPM": "0"}
HOUR_US = 3_600_000_000
DIMENSIONS = ["day", "week", "month", "model", "provider", "token", "project", "user", "feature", "environment",
              "session_type"]
TOTAL_FIELDS = ["requests", "input_tokens", "output_tokens", "total_tokens", "cache_read_tokens",
                "cache_write_tokens", "reasoning_tokens"]


def utc_us(text):
    return int(datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()) * 1_000_000


def fill_dst_weeks(conn):
    """Hourly events (on the hour, UTC) through the days around both 2025 changes, attributes varying by hour."""
    tokens = ensure_tokens(conn, ["billing-api", "search", "batch-jobs"])
    n = 0
    for first, last in (("2025-03-27T00:00:00Z", "2025-04-02T00:00:00Z"),
                        ("2025-10-23T00:00:00Z", "2025-10-29T00:00:00Z")):
        ts = utc_us(first)
        while ts < utc_us(last):
            insert_event(
                conn, ts=ts, token_id=tokens[n % 3], event_id=f"e{n}",
                model=["gpt-4o", "gpt-4o-mini", "claude-3-haiku"][n % 3 if n % 7 else 1],
                provider=["openai", "anthropic"][n % 2], input_tokens=100 + n, output_tokens=10 + n % 17,
                cache_read_tokens=n % 50, cache_write_tokens=n % 3, reasoning_tokens=n % 5,
                cost_nusd=1_000 + (n * 7727) % 900_000,
                project=[None, "p1", "p2"][n % 3], user=[None, "alice", "bob", "carol"][n % 4],
                feature=["search", None][n % 2], environment=["prod", "dev", None][n % 3],
                session_type=["chat", "agent", None, "batch"][n % 4], session_id=f"s-{n // 10}")
            ts += HOUR_US
            n += 1


@pytest.fixture
def dst_server(make_server):
    srv = make_server(env=ENV)
    srv.stop()
    conn = connect(srv.database)
    try:
        fill_dst_weeks(conn)
    finally:
        conn.close()
    srv.start()
    return srv


def costs(srv, path="/costs", expect=200, **params):
    target = path + ("?" + urllib.parse.urlencode(params) if params else "")
    status, _, body = srv.admin("GET", target)
    assert status == expect, body
    return body


def key_names(group_by):
    names = []
    for d in group_by:
        names += ["ingest_token_id", "token_label"] if d == "token" else [d]
    return names


def expected_report(srv, group_by, tz="UTC", where="TRUE", args=()):
    """The report computed in Python from the rows in the database: {key tuple: totals}."""
    zone = ZoneInfo(tz)
    rows = srv.rows(
        "SELECT e.ts, e.model, e.provider, e.token_id, t.label, e.project, e.\"user\", e.feature, e.environment, "
        "e.session_type, e.input_tokens, e.output_tokens, e.total_tokens, e.cache_read_tokens, "
        f"e.cache_write_tokens, e.reasoning_tokens, e.cost_nusd FROM usage_events e "
        f"LEFT JOIN tracking_tokens t ON t.id = e.token_id WHERE {where}", args)
    out = {}
    for (ts, model, provider, token_id, label, project, user, feature, environment, session_type,
         *sums, cost) in rows:
        local = datetime.datetime.fromtimestamp(ts / 1e6, tz=zone).date()
        values = {"day": local.isoformat(), "week": (local - datetime.timedelta(days=local.weekday())).isoformat(),
                  "month": local.strftime("%Y-%m"), "model": model, "provider": provider,
                  "token": (token_id, label), "project": project, "user": user, "feature": feature,
                  "environment": environment, "session_type": session_type}
        key = []
        for d in group_by:
            key += list(values[d]) if d == "token" else [values[d]]
        acc = out.setdefault(tuple(key), [0] * 7 + [0])
        acc[0] += 1
        for i, v in enumerate(sums):
            acc[1 + i] += v
        acc[7] += cost
    return out


def report_as_dict(body, group_by):
    names = key_names(group_by)
    out = {}
    for row in body["rows"]:
        key = tuple(row[n] for n in names)
        assert key not in out, key
        out[key] = [row[f] for f in TOTAL_FIELDS] + [nusd(row["cost_usd_exact"])]
        assert row["cost_usd"] == pytest.approx(float(Decimal(row["cost_usd_exact"])), rel=1e-12)
    return out


def nusd(exact):
    value = Decimal(exact) * 1_000_000_000
    assert value == value.to_integral_value(), exact
    return int(value)


def check_totals(body):
    totals = body["totals"]
    for f in TOTAL_FIELDS:
        assert totals[f] == sum(r[f] for r in body["rows"]), f
    assert nusd(totals["cost_usd_exact"]) == sum(nusd(r["cost_usd_exact"]) for r in body["rows"])
    assert isinstance(totals["cost_usd"], float)


def sort_key(group_by):
    names = key_names(group_by)

    def key(row):
        return tuple((row[n] is None, row[n] if row[n] is not None else 0 if n == "ingest_token_id" else "")
                     for n in names)
    return key


def combinations():
    singles = [[d] for d in DIMENSIONS]
    pairs = [["day", "model"], ["week", "token"], ["month", "project"], ["model", "provider"], ["user", "feature"],
             ["environment", "session_type"], ["token", "day"], ["model", "day"]]
    triples = [["day", "model", "token"], ["month", "week", "day"], ["project", "user", "environment"]]
    return singles + pairs + triples + [[]]


@pytest.mark.parametrize("tz", ["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata"])
def test_group_by_combinations_match_the_database(dst_server, tz):
    srv = dst_server
    sql_cost = srv.rows("SELECT sum(cost_nusd), count(*) FROM usage_events")[0]
    for group_by in combinations():
        body = costs(srv, group_by=",".join(group_by), tz=tz)
        assert body["group_by"] == group_by and body["tz"] == tz
        assert report_as_dict(body, group_by) == expected_report(srv, group_by, tz), group_by
        check_totals(body)
        assert nusd(body["totals"]["cost_usd_exact"]) == sql_cost[0]
        assert body["totals"]["requests"] == sql_cost[1]
        assert body["rows"] == sorted(body["rows"], key=sort_key(group_by)), group_by


def test_berlin_days_are_23_and_25_hours_long_on_the_dst_changes(dst_server):
    body = costs(dst_server, group_by="day", tz="Europe/Berlin", start="2025-03-29", end="2025-03-31")
    assert [(r["day"], r["requests"]) for r in body["rows"]] == [
        ("2025-03-29", 24), ("2025-03-30", 23), ("2025-03-31", 24)]
    body = costs(dst_server, group_by="day", tz="Europe/Berlin", start="2025-10-25", end="2025-10-27")
    assert [(r["day"], r["requests"]) for r in body["rows"]] == [
        ("2025-10-25", 24), ("2025-10-26", 25), ("2025-10-27", 24)]
    # In UTC every day has 24 hourly events.
    body = costs(dst_server, group_by="day", start="2025-10-25", end="2025-10-27")
    assert {r["requests"] for r in body["rows"]} == {24}
    # The first event of the Berlin day 2025-03-30 is 23:00Z on the 29th; of 2025-10-27 it is 23:00Z on the 26th.
    rows = costs(dst_server, "/costs/daily", date="2025-03-30", tz="Europe/Berlin")["rows"]
    assert sum(r["requests"] for r in rows) == 23
    start, end = utc_us("2025-03-29T23:00:00Z"), utc_us("2025-03-30T22:00:00Z")
    assert report_as_dict({"rows": rows}, ["model"]) == expected_report(
        dst_server, ["model"], where="e.ts >= ? AND e.ts < ?", args=(start, end))


def test_filters_apply_to_the_report(dst_server):
    srv = dst_server
    tokens = {t["label"]: t["id"] for t in srv.list_tokens()}
    cases = [({"model": "gpt-4o"}, "e.model = ?", ("gpt-4o",)),
             ({"provider": "anthropic"}, "e.provider = ?", ("anthropic",)),
             ({"ingest_token_id": tokens["search"]}, "e.token_id = ?", (tokens["search"],)),
             ({"project": "p1"}, "e.project = ?", ("p1",)),
             ({"user": "alice"}, 'e."user" = ?', ("alice",)),
             ({"feature": "search"}, "e.feature = ?", ("search",)),
             ({"environment": "dev"}, "e.environment = ?", ("dev",)),
             ({"session_type": "agent"}, "e.session_type = ?", ("agent",)),
             ({"session_id": "s-3"}, "e.session_id = ?", ("s-3",)),
             ({"start": "2025-10-26T00:30:00Z", "end": "2025-10-26T05:00:00Z"}, "e.ts >= ? AND e.ts <= ?",
              (utc_us("2025-10-26T00:30:00Z"), utc_us("2025-10-26T05:00:00Z")))]
    for params, where, args in cases:
        body = costs(srv, group_by="day,model", tz="Europe/Berlin", **params)
        assert report_as_dict(body, ["day", "model"]) == expected_report(
            srv, ["day", "model"], "Europe/Berlin", where, args), params
        check_totals(body)


def test_convenience_routes_map_onto_costs(dst_server):
    srv = dst_server
    mappings = [("/costs/summary/weekly", {}, {"group_by": "week"}),
                ("/costs/summary/monthly", {"tz": "Europe/Berlin"}, {"group_by": "month", "tz": "Europe/Berlin"}),
                ("/costs/by-model", {"model": "gpt-4o"}, {"group_by": "model", "model": "gpt-4o"}),
                ("/costs/by-project", {}, {"group_by": "project"}),
                ("/costs/by-session-type", {"start": "2025-10-01"}, {"group_by": "session_type", "start": "2025-10-01"}),
                ("/costs/range", {"start": "2025-03-29", "end": "2025-03-31", "tz": "Europe/Berlin"},
                 {"group_by": "day", "start": "2025-03-29", "end": "2025-03-31", "tz": "Europe/Berlin"}),
                ("/costs/daily", {"date": "2025-10-26", "tz": "Europe/Berlin"},
                 {"group_by": "model", "start": "2025-10-26", "end": "2025-10-26", "tz": "Europe/Berlin"})]
    for path, params, general in mappings:
        assert costs(srv, path, **params) == costs(srv, **general), path


def test_daily_defaults_to_today(make_server):
    srv = make_server(env=ENV)
    token = srv.create_token("app")
    for model in ["gpt-4o", "gpt-4o-mini", "gpt-4o"]:
        assert srv.ingest({"tracking_token": token["token"], "model": model, "prompt_tokens": 100})[0] == 201
    body = costs(srv, "/costs/daily")
    assert [(r["model"], r["requests"]) for r in body["rows"]] == [("gpt-4o", 2), ("gpt-4o-mini", 1)]
    check_totals(body)


def test_project_patterns_group_events_that_name_no_project(make_server):
    srv = make_server(env={**ENV, "PROJECT_PATTERNS": "billing-*=billing,*-prod=prod"})
    billing, search, other = srv.create_token("billing-api"), srv.create_token("search-prod"), srv.create_token("x")
    for token, project in [(billing, None), (billing, "own"), (search, None), (other, None), (other, None)]:
        event = {"tracking_token": token["token"], "model": "m", "prompt_tokens": 10}
        if project:
            event["project"] = project
        assert srv.ingest(event)[0] == 201
    body = costs(srv, "/costs/by-project")
    assert [(r["project"], r["requests"]) for r in body["rows"]] == [
        ("billing", 1), ("own", 1), ("prod", 1), (None, 2)]


def test_an_empty_report_has_zero_totals(make_server):
    srv = make_server(env=ENV)
    body = costs(srv, group_by="day,model")
    assert body["rows"] == []
    assert body["totals"]["requests"] == 0 and body["totals"]["cost_usd_exact"] == "0.000000000"


@pytest.mark.parametrize("path, params, field", [
    ("/costs", {"group_by": "hour"}, "group_by"),
    ("/costs", {"group_by": "day,day"}, "group_by"),
    ("/costs", {"group_by": "day,,model"}, "group_by"),
    ("/costs", {"tz": "Europe/Atlantis"}, "tz"),
    ("/costs", {"tz": "../../../etc/passwd"}, "tz"),
    ("/costs", {"start": "2025-03-02", "end": "2025-03-01"}, "start"),
    ("/costs", {"start": "03/02/2025"}, "start"),
    ("/costs", {"ingest_token_id": "x"}, "ingest_token_id"),
    ("/costs", {"limit": "10"}, "limit"),
    ("/costs/daily", {"date": "2025-02-29"}, "date"),
    ("/costs/daily", {"start": "2025-02-01"}, "start"),
    ("/costs/range", {"end": "2025-02-01"}, "start"),
    ("/costs/range", {"start": "2025-02-01"}, "end"),
    ("/costs/by-model", {"group_by": "day"}, "group_by"),
    ("/costs/summary/weekly", {"tz": "nope"}, "tz"),
])
def test_bad_parameters_are_400_naming_the_field(make_server, path, params, field):
    srv = make_server(env=ENV)
    body = costs(srv, path, expect=400, **params)
    assert body["field"] == field
    assert body["message"] == body["error"]


def test_every_dimension_name_is_accepted_in_any_order(make_server):
    srv = make_server(env=ENV)
    for group_by in itertools.permutations(["token", "day", "session_type"]):
        body = costs(srv, group_by=",".join(group_by))
        assert body["group_by"] == list(group_by)
