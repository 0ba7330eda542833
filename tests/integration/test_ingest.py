"""POST /ingest: storage, pricing, the three native usage shapes, every validation rule, auth, limits, dedupe."""
import csv
import datetime
import io
import json
import time
import uuid

import pytest

from cg_server import Server, raw_connect, read_response, send_and_read


# Every test here runs on SQLite and on PostgreSQL (conftest.py; ctest gives this file the postgres fixture).
pytestmark = pytest.mark.both_backends

GPT4O_MINI = {"provider": "openai", "model": "gpt-4o-mini"}
# gpt-4o-mini in reference/genai-prices/data.json: input 0.15, cache_read 0.075, output 0.6 USD per million tokens.
# USD per Mtok == nano-USD per token * 1000, so nano-USD = tokens * price * 1000.
IN_NUSD_PER_TOKEN = 150  # 0.15 USD/Mtok
CACHE_READ_NUSD_PER_TOKEN = 75  # 0.075 USD/Mtok
OUT_NUSD_PER_TOKEN = 600  # 0.6 USD/Mtok

COLUMNS = ("id, ts, token_id, event_id, provider, model, input_tokens, output_tokens, total_tokens, "
           "cache_read_tokens, cache_write_tokens, reasoning_tokens, cost_nusd, cost_source, price_ref, source, "
           "\"user\", session_id, session_type, project, feature, environment, meta")


@pytest.fixture(scope="module")
def shared(tmp_path_factory, backend):
    """One server (per backend) for the tests that only add rows and compare counts before and after."""
    srv = Server(tmp_path_factory.mktemp("ingest"), backend=backend)
    try:
        srv.start()
        srv.token = srv.create_token("shared")["token"]
        srv.token_id = next(t["id"] for t in srv.list_tokens() if t["label"] == "shared")
        yield srv
    finally:
        srv.close()


def row(srv, row_id):
    found = srv.row_dicts(f"SELECT {COLUMNS} FROM usage_events WHERE id = ?", (row_id,))
    return found[0] if found else None


def ingest_ok(srv, event, headers=None):
    """Ingests and expects 201; returns the stored row."""
    status, _, body = srv.ingest(event, headers)
    assert status == 201, body
    assert body["ok"] is True
    assert isinstance(body["id"], int) and not isinstance(body["id"], bool)
    stored = row(srv, body["id"])
    assert stored is not None, body
    return stored


def iso(dt):
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def now_utc():
    return datetime.datetime.now(datetime.timezone.utc)


def expect_400(srv, event, field, headers=None):
    before = srv.event_count()
    status, resp_headers, body = srv.ingest(event, headers)
    assert status == 400, body
    assert body.get("field") == field, body
    assert body["error"] and body["message"] == body["error"]
    assert body["request_id"] == resp_headers["x-request-id"]
    assert srv.event_count() == before, "a rejected event left a row behind"
    return body


# ---- the happy path ---------------------------------------------------------------------------------------------

def test_happy_path_stores_every_column(shared):
    event = {"tracking_token": shared.token, "event_id": "chatcmpl-happy-1", **GPT4O_MINI,
             "prompt_tokens": 1000, "completion_tokens": 500, "total_tokens": 1500,
             "timestamp": "2024-10-01T12:00:00Z", "user": "u-42", "session_id": "s-1", "session_type": "chat",
             "project": "alpha", "feature": "summarise", "environment": "staging",
             "meta": {"any": "json", "n": [1, 2, {"x": None}]}}
    stored = ingest_ok(shared, event)
    assert stored["token_id"] == shared.token_id
    assert stored["event_id"] == "chatcmpl-happy-1"
    assert stored["provider"] == "openai"
    assert stored["model"] == "gpt-4o-mini"
    assert stored["ts"] == int(datetime.datetime(2024, 10, 1, 12, tzinfo=datetime.timezone.utc).timestamp()) * 10**6
    assert (stored["input_tokens"], stored["output_tokens"], stored["total_tokens"]) == (1000, 500, 1500)
    assert (stored["cache_read_tokens"], stored["cache_write_tokens"], stored["reasoning_tokens"]) == (0, 0, 0)
    assert stored["cost_nusd"] == 1000 * IN_NUSD_PER_TOKEN + 500 * OUT_NUSD_PER_TOKEN == 450_000
    assert stored["cost_source"] == "server"
    assert stored["price_ref"] and "gpt-4o-mini" in stored["price_ref"]
    assert (stored["user"], stored["session_id"], stored["session_type"]) == ("u-42", "s-1", "chat")
    assert (stored["project"], stored["feature"], stored["environment"]) == ("alpha", "summarise", "staging")
    assert json.loads(stored["meta"]) == event["meta"]


def test_server_cost_counts_cache_reads_at_their_own_price(shared):
    stored = ingest_ok(shared, {"tracking_token": shared.token, **GPT4O_MINI, "timestamp": "2024-10-01T12:00:00Z",
                                "prompt_tokens": 1000, "completion_tokens": 10, "cache_read_tokens": 400})
    expected = 600 * IN_NUSD_PER_TOKEN + 400 * CACHE_READ_NUSD_PER_TOKEN + 10 * OUT_NUSD_PER_TOKEN
    assert stored["cost_nusd"] == expected == 126_000
    assert stored["cost_source"] == "server"


def test_server_prices_a_known_model_without_provider(shared):
    stored = ingest_ok(shared, {"tracking_token": shared.token, "model": "gpt-4o-mini-2024-07-18",
                                "prompt_tokens": 10, "completion_tokens": 5})
    assert stored["cost_source"] == "server"
    assert stored["cost_nusd"] == 10 * IN_NUSD_PER_TOKEN + 5 * OUT_NUSD_PER_TOKEN
    assert stored["price_ref"]


def test_total_defaults_to_prompt_plus_completion(shared):
    stored = ingest_ok(shared, {"tracking_token": shared.token, "model": "gpt-4o-mini",
                                "prompt_tokens": 7, "completion_tokens": 3})
    assert stored["total_tokens"] == 10


def test_no_timestamp_means_now(shared):
    before = time.time()
    stored = ingest_ok(shared, {"tracking_token": shared.token, "model": "gpt-4o-mini"})
    after = time.time()
    assert before - 1 <= stored["ts"] / 1e6 <= after + 1


def test_timestamp_with_offset_and_fraction(shared):
    stored = ingest_ok(shared, {"tracking_token": shared.token, "model": "m",
                                "timestamp": "2024-01-15T11:30:00.5+01:00"})
    assert stored["ts"] == 1705318200 * 10**6 - 3600 * 10**6 + 500_000


def test_client_cost_is_kept_exactly(shared):
    stored = ingest_ok(shared, {"tracking_token": shared.token, **GPT4O_MINI, "prompt_tokens": 10,
                                "completion_tokens": 5, "cost_usd": 0.0000045})
    assert stored["cost_nusd"] == 4500
    assert stored["cost_source"] == "client"


def test_created_answer_reports_the_cost(shared):
    event = {"tracking_token": shared.token, **GPT4O_MINI, "prompt_tokens": 1000, "completion_tokens": 500}
    status, _, body = shared.ingest(event)
    assert status == 201, body
    assert (body["cost_source"], body["cost_usd_exact"]) == ("server", "0.000450000")
    assert body["cost_usd"] == pytest.approx(0.00045)
    status, _, body = shared.ingest({**event, "cost_usd": 0.0000045})
    assert status == 201, body
    assert (body["cost_source"], body["cost_usd_exact"]) == ("client", "0.000004500")
    status, _, body = shared.ingest({**event, "model": "acme-private-model-xyz-2031", "provider": "acme"})
    assert status == 201, body
    assert (body["cost_source"], body["cost_usd_exact"], body["cost_usd"]) == ("unpriced", "0.000000000", 0)


def test_client_cost_of_zero_is_priced_by_the_server(shared):
    stored = ingest_ok(shared, {"tracking_token": shared.token, **GPT4O_MINI, "prompt_tokens": 10,
                                "completion_tokens": 5, "cost_usd": 0})
    assert stored["cost_source"] == "server"
    assert stored["cost_nusd"] == 10 * IN_NUSD_PER_TOKEN + 5 * OUT_NUSD_PER_TOKEN


def test_unknown_model_is_stored_unpriced(shared):
    stored = ingest_ok(shared, {"tracking_token": shared.token, "provider": "acme",
                                "model": "acme-private-model-xyz-2031", "prompt_tokens": 100,
                                "completion_tokens": 50})
    assert stored["cost_source"] == "unpriced"
    assert stored["cost_nusd"] == 0
    assert (stored["input_tokens"], stored["output_tokens"]) == (100, 50)


def test_camel_case_aliases(shared):
    stored = ingest_ok(shared, {"trackingToken": shared.token, "model": "gpt-4o-mini", "promptTokens": 11,
                                "completionTokens": 4, "totalTokens": 20, "costUsd": 0.000002})
    assert (stored["input_tokens"], stored["output_tokens"], stored["total_tokens"]) == (11, 4, 20)
    assert stored["cost_nusd"] == 2000
    assert stored["cost_source"] == "client"


def test_snake_and_camel_disagreeing_is_an_error(shared):
    expect_400(shared, {"tracking_token": shared.token, "model": "m", "prompt_tokens": 1, "promptTokens": 2},
               "prompt_tokens")


def test_tracking_token_from_header(shared):
    stored = ingest_ok(shared, {"model": "gpt-4o-mini", "prompt_tokens": 1},
                       headers={"X-Tracking-Token": shared.token})
    assert stored["token_id"] == shared.token_id
    # The same token in both places is fine.
    stored = ingest_ok(shared, {"tracking_token": shared.token, "model": "m"},
                       headers={"X-Tracking-Token": shared.token})
    assert stored["token_id"] == shared.token_id


def test_body_and_header_token_differ(shared):
    other = shared.create_token(f"other-{uuid.uuid4().hex[:8]}")["token"]
    expect_400(shared, {"tracking_token": shared.token, "model": "m"}, "tracking_token",
               headers={"X-Tracking-Token": other})


# ---- native usage objects ----------------------------------------------------------------------------------------

def test_openai_chat_completions_usage(shared):
    usage = {"prompt_tokens": 1200, "completion_tokens": 300, "total_tokens": 1500,
             "prompt_tokens_details": {"cached_tokens": 1024, "audio_tokens": 0},
             "completion_tokens_details": {"reasoning_tokens": 100, "audio_tokens": 0}}
    stored = ingest_ok(shared, {"tracking_token": shared.token, **GPT4O_MINI, "usage": usage,
                                "timestamp": "2024-10-01T00:00:00Z"})
    assert (stored["input_tokens"], stored["output_tokens"], stored["total_tokens"]) == (1200, 300, 1500)
    assert (stored["cache_read_tokens"], stored["cache_write_tokens"], stored["reasoning_tokens"]) == (1024, 0, 100)
    assert stored["cost_nusd"] == (176 * IN_NUSD_PER_TOKEN + 1024 * CACHE_READ_NUSD_PER_TOKEN
                                   + 300 * OUT_NUSD_PER_TOKEN) == 283_200


def test_openai_responses_usage(shared):
    usage = {"input_tokens": 500, "input_tokens_details": {"cached_tokens": 100},
             "output_tokens": 200, "output_tokens_details": {"reasoning_tokens": 50}, "total_tokens": 700}
    stored = ingest_ok(shared, {"tracking_token": shared.token, **GPT4O_MINI, "usage": usage})
    assert (stored["input_tokens"], stored["output_tokens"], stored["total_tokens"]) == (500, 200, 700)
    assert (stored["cache_read_tokens"], stored["cache_write_tokens"], stored["reasoning_tokens"]) == (100, 0, 50)


def test_anthropic_messages_usage_is_normalised(shared):
    # Anthropic's input_tokens excludes the cache: the whole input is input + cache creation + cache read.
    usage = {"input_tokens": 100, "cache_creation_input_tokens": 2000, "cache_read_input_tokens": 3000,
             "output_tokens": 250}
    stored = ingest_ok(shared, {"tracking_token": shared.token, "provider": "anthropic",
                                "model": "claude-3-5-sonnet-20241022", "usage": usage})
    assert stored["input_tokens"] == 5100
    assert stored["cache_write_tokens"] == 2000
    assert stored["cache_read_tokens"] == 3000
    assert stored["output_tokens"] == 250
    assert stored["total_tokens"] == 5350
    assert stored["reasoning_tokens"] == 0


def test_anthropic_usage_without_cache_keys_needs_the_provider(shared):
    usage = {"input_tokens": 40, "output_tokens": 2}
    stored = ingest_ok(shared, {"tracking_token": shared.token, "provider": "anthropic",
                                "model": "claude-3-5-haiku-20241022", "usage": usage})
    assert (stored["input_tokens"], stored["output_tokens"], stored["total_tokens"]) == (40, 2, 42)


def test_flat_count_agreeing_with_usage_is_fine(shared):
    stored = ingest_ok(shared, {"tracking_token": shared.token, "model": "gpt-4o-mini", "prompt_tokens": 10,
                                "usage": {"prompt_tokens": 10, "completion_tokens": 2}})
    assert (stored["input_tokens"], stored["output_tokens"]) == (10, 2)


@pytest.mark.parametrize("flat,usage,field", [
    ({"prompt_tokens": 10}, {"prompt_tokens": 11, "completion_tokens": 1}, "prompt_tokens"),
    ({"completion_tokens": 5}, {"prompt_tokens": 1, "completion_tokens": 6}, "completion_tokens"),
    ({"cache_read_tokens": 3}, {"prompt_tokens": 10, "prompt_tokens_details": {"cached_tokens": 4}},
     "cache_read_tokens"),
    ({"reasoning_tokens": 1}, {"input_tokens": 10, "output_tokens": 5, "output_tokens_details":
                               {"reasoning_tokens": 2}}, "reasoning_tokens"),
])
def test_flat_count_conflicting_with_usage(shared, flat, usage, field):
    expect_400(shared, {"tracking_token": shared.token, "model": "gpt-4o-mini", **flat, "usage": usage}, field)


@pytest.mark.parametrize("event,field", [
    ({"prompt_tokens": 10, "cache_read_tokens": 11}, "cache_read_tokens"),
    ({"prompt_tokens": 10, "cache_write_tokens": 11}, "cache_write_tokens"),
    ({"completion_tokens": 5, "reasoning_tokens": 6}, "reasoning_tokens"),
    ({"usage": {"prompt_tokens": 10, "completion_tokens": 1, "prompt_tokens_details": {"cached_tokens": 11}}},
     "usage.prompt_tokens_details.cached_tokens"),
    ({"usage": {"prompt_tokens": 10, "completion_tokens": 1,
                "completion_tokens_details": {"reasoning_tokens": 2}}},
     "usage.completion_tokens_details.reasoning_tokens"),
    ({"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 14}, "total_tokens"),
])
def test_part_exceeding_its_whole(shared, event, field):
    expect_400(shared, {"tracking_token": shared.token, "model": "gpt-4o-mini", **event}, field)


# ---- validation: each failure is a 400 naming its field, and stores nothing ---------------------------------------

LONG = "x" * 257

VALIDATION_CASES = [
    ("missing model", {"model": None}, "model"),
    ("empty model", {"model": ""}, "model"),
    ("model not a string", {"model": 5}, "model"),
    ("model over 256", {"model": "m" * 257}, "model"),
    ("missing token", {"tracking_token": None}, "tracking_token"),
    ("token over 64", {"tracking_token": "t" * 65}, "tracking_token"),
    ("negative prompt", {"prompt_tokens": -1}, "prompt_tokens"),
    ("negative completion", {"completion_tokens": -5}, "completion_tokens"),
    ("negative total", {"total_tokens": -1}, "total_tokens"),
    ("negative cache read", {"prompt_tokens": 5, "cache_read_tokens": -1}, "cache_read_tokens"),
    ("fractional prompt", {"prompt_tokens": 1.5}, "prompt_tokens"),
    ("fractional camel", {"completionTokens": 2.25}, "completionTokens"),
    ("string count", {"prompt_tokens": "10"}, "prompt_tokens"),
    ("boolean count", {"prompt_tokens": True}, "prompt_tokens"),
    ("prompt over 1e12", {"prompt_tokens": 10**12 + 1}, "prompt_tokens"),
    ("reasoning over 1e12", {"reasoning_tokens": 10**13}, "reasoning_tokens"),
    ("count beyond int64", {"completion_tokens": 2**64}, "completion_tokens"),
    ("negative usage count", {"usage": {"prompt_tokens": -1, "completion_tokens": 1}}, "usage.prompt_tokens"),
    ("fractional usage count", {"usage": {"input_tokens": 1, "output_tokens": 0.5}}, "usage.output_tokens"),
    ("usage not an object", {"usage": 5}, "usage"),
    ("usage of no known shape", {"usage": {"tokens": 5}}, "usage"),
    ("usage details not an object", {"usage": {"prompt_tokens": 5, "prompt_tokens_details": 3}},
     "usage.prompt_tokens_details"),
    ("negative cost", {"cost_usd": -1}, "cost_usd"),
    ("cost as a string", {"cost_usd": "0.01"}, "cost_usd"),
    ("cost as a boolean", {"cost_usd": True}, "cost_usd"),
    ("negative camel cost", {"costUsd": -0.5}, "costUsd"),
    ("unparsable timestamp", {"timestamp": "yesterday"}, "timestamp"),
    ("timestamp without zone", {"timestamp": "2024-01-15T10:30:00"}, "timestamp"),
    ("impossible date", {"timestamp": "2024-02-30T10:30:00Z"}, "timestamp"),
    ("epoch number timestamp", {"timestamp": 1705314600}, "timestamp"),
    ("empty timestamp", {"timestamp": ""}, "timestamp"),
    ("event_id over 200", {"event_id": "e" * 201}, "event_id"),
    ("empty event_id", {"event_id": ""}, "event_id"),
    ("event_id not a string", {"event_id": 12}, "event_id"),
    ("user over 256", {"user": LONG}, "user"),
    ("session_id over 256", {"session_id": LONG}, "session_id"),
    ("sessionId over 256", {"sessionId": LONG}, "sessionId"),
    ("session_type over 256", {"session_type": LONG}, "session_type"),
    ("project over 256", {"project": LONG}, "project"),
    ("feature over 256", {"feature": LONG}, "feature"),
    ("environment over 256", {"environment": LONG}, "environment"),
    ("attribution not a string", {"project": ["a"]}, "project"),
    # {"k":"..."} is 8 bytes of JSON around the value: 8185 + 8 = 8193 bytes as compact JSON.
    ("meta over 8 KiB", {"meta": {"k": "v" * 8185}}, "meta"),
    ("meta deeper than 8", {"meta": {"a": {"b": {"c": {"d": {"e": {"f": {"g": {"h": {}}}}}}}}}}, "meta"),
    ("meta deeper than 8 via arrays", {"meta": [[[[[[[[[1]]]]]]]]]}, "meta"),
]


@pytest.mark.parametrize("change,field", [(c[1], c[2]) for c in VALIDATION_CASES],
                         ids=[c[0] for c in VALIDATION_CASES])
def test_validation_error_names_the_field(shared, change, field):
    event = {"tracking_token": shared.token, "model": "gpt-4o-mini"}
    for key, value in change.items():
        if value is None:
            event.pop(key)
        else:
            event[key] = value
    expect_400(shared, event, field)


def test_header_token_over_64(shared):
    expect_400(shared, {"model": "m"}, "tracking_token", headers={"X-Tracking-Token": "t" * 65})


def test_timestamp_more_than_24h_in_the_future(shared):
    expect_400(shared, {"tracking_token": shared.token, "model": "m",
                        "timestamp": iso(now_utc() + datetime.timedelta(hours=25))}, "timestamp")
    # Less than 24 h ahead (clock skew) is accepted.
    ingest_ok(shared, {"tracking_token": shared.token, "model": "m",
                       "timestamp": iso(now_utc() + datetime.timedelta(hours=23))})


def test_non_finite_cost(shared):
    before = shared.event_count()
    # 1e999 is valid JSON text for a number too large for a double.
    status, _, body = shared.ingest(f'{{"tracking_token": "{shared.token}", "model": "m", "cost_usd": 1e999}}',
                                    headers={"Content-Type": "application/json"})
    assert status == 400, body
    assert body.get("field") == "cost_usd", body
    status, _, body = shared.ingest(f'{{"tracking_token": "{shared.token}", "model": "m", "cost_usd": NaN}}',
                                    headers={"Content-Type": "application/json"})
    assert status == 400, body
    assert shared.event_count() == before


def ingest_text(srv, text, path="/ingest", headers=None):
    hdrs = {"X-Ingest-Key": srv.ingest_key, "Content-Type": "application/json"}
    hdrs.update(headers or {})
    return srv.request("POST", path, text, hdrs)


@pytest.mark.parametrize("fields,field", [
    ('"event_id": "A", "event_id": "B"', "event_id"),
    ('"prompt_tokens": -1, "prompt_tokens": 10', "prompt_tokens"),
    ('"prompt_tokens": 10, "prompt_tokens": 10', "prompt_tokens"),  # equal values too
    ('"usage": {"prompt_tokens": 5, "prompt_tokens": 7}', "usage.prompt_tokens"),
    ('"usage": {"prompt_tokens_details": {"cached_tokens": 1, "cached_tokens": 2}}',
     "usage.prompt_tokens_details.cached_tokens"),
    ('"meta": {"a": [{"b": 1}, {"c": 1, "c": 2}]}', "meta.a[1].c"),
])
def test_a_repeated_key_anywhere_is_400_naming_it(shared, fields, field):
    """Issue 12: Boost.JSON would keep the last value silently."""
    before = shared.event_count()
    status, _, body = ingest_text(shared, f'{{"tracking_token": "{shared.token}", "model": "m", {fields}}}')
    assert status == 400, body
    assert body["field"] == field, body
    assert "more than once" in body["error"]
    assert shared.event_count() == before


@pytest.mark.parametrize("fields,field", [
    ('"meta": {"x": 1e999}', "meta.x"),
    ('"meta": {"x": [1, -1e999]}', "meta.x[1]"),
    ('"usage": {"prompt_tokens": 1e999}', "usage.prompt_tokens"),
    ('"completion_tokens": -1e400', "completion_tokens"),
])
def test_a_number_beyond_double_range_anywhere_is_400_naming_it(shared, fields, field):
    """Issue 11: 1e999 parses as infinity; it is refused wherever it is, with the field's path."""
    before = shared.event_count()
    status, _, body = ingest_text(shared, f'{{"tracking_token": "{shared.token}", "model": "m", {fields}}}')
    assert (status, body.get("field")) == (400, field), body
    assert shared.event_count() == before


@pytest.mark.parametrize("text", ["{not json", "", "[1, 2]", "NaN", '{"model": Infinity}', '{"x": -Infinity}',
                                  "1e999"])
def test_an_error_about_no_field_has_no_field_key(shared, text):
    """Issue 11: never "field": "" (a client that shows the field would show nothing)."""
    status, _, body = ingest_text(shared, text)
    assert status == 400, body
    assert "field" not in body, body
    assert body["error"]


def test_limits_are_inclusive(shared):
    """The documented maxima themselves are accepted."""
    stored = ingest_ok(shared, {
        "tracking_token": shared.token, "model": "m" * 256, "event_id": uuid.uuid4().hex + "e" * 168,
        "prompt_tokens": 10**12, "completion_tokens": 10**12, "user": "u" * 256, "project": "p" * 256,
        "meta": {"k": "v" * 8184},  # exactly 8192 bytes as compact JSON
    })
    assert stored["input_tokens"] == 10**12
    assert len(stored["model"]) == 256
    assert len(stored["meta"]) == 8192
    stored = ingest_ok(shared, {"tracking_token": shared.token, "model": "m",
                                "meta": {"a": {"b": {"c": {"d": {"e": {"f": {"g": {"h": 1}}}}}}}}})  # depth 8
    assert json.loads(stored["meta"])["a"]["b"]["c"]["d"]["e"]["f"]["g"] == {"h": 1}
    stored = ingest_ok(shared, {"tracking_token": shared.token, "model": "m", "prompt_tokens": 12.0})
    assert stored["input_tokens"] == 12


def test_a_nul_character_costs_its_event_only(shared):
    """PostgreSQL text cannot hold U+0000: such a field is a 400 naming it, on both backends, so it never fails the
    batch other clients' events share; inside meta it stays escaped JSON text and is stored."""
    before = shared.event_count()
    for field in ("model", "user", "event_id", "project"):
        event = {"tracking_token": shared.token, "model": "m", field: "bad\u0000value"}
        status, _, body = shared.ingest(event)
        assert (status, body.get("field")) == (400, field), body
    assert shared.event_count() == before
    stored = ingest_ok(shared, {"tracking_token": shared.token, "model": "m", "meta": {"k": "a\u0000b"}})
    assert json.loads(stored["meta"]) == {"k": "a\u0000b"}


def test_body_not_json(shared):
    before = shared.event_count()
    for raw in ["{not json", "", "[1, 2", "\"just a string\"", "[]", "42", "null"]:
        status, _, body = shared.ingest(raw, headers={"Content-Type": "application/json"})
        assert status == 400, (raw, body)
        assert body["error"] and body["message"] == body["error"]
    assert shared.event_count() == before


def test_not_json_content_type_is_415(shared):
    before = shared.event_count()
    body = json.dumps({"tracking_token": shared.token, "model": "m"})
    for ctype in ["text/plain", "application/x-www-form-urlencoded", "text/plain; charset=utf-8"]:
        status, _, resp = shared.ingest(body, headers={"Content-Type": ctype})
        assert status == 415, (ctype, resp)
        assert resp["error"] and resp["message"] == resp["error"]
    # JSON with a charset parameter is JSON.
    status, _, resp = shared.ingest(body, headers={"Content-Type": "application/json; charset=utf-8"})
    assert status == 201, resp
    assert shared.event_count() == before + 1


# ---- auth, unknown and inactive tokens ---------------------------------------------------------------------------

@pytest.mark.parametrize("headers", [{}, {"X-Ingest-Key": "wrong"}, {"X-Ingest-Key": ""},
                                     {"X-API-Key": "test-admin-key-0123456789"}])
def test_bad_ingest_key_is_401_and_stores_nothing(shared, headers):
    before = shared.event_count()
    event = {"tracking_token": shared.token, "model": "m"}
    status, _, body = shared.request("POST", "/ingest", event, headers)
    assert status == 401, body
    assert body["error"] and body["message"] == body["error"]
    assert shared.event_count() == before


def test_ingest_key_prefix_or_extension_is_rejected(shared):
    for key in [shared.ingest_key[:-1], shared.ingest_key + "x", shared.ingest_key.upper()]:
        status, _, _ = shared.request("POST", "/ingest", {"tracking_token": shared.token, "model": "m"},
                                      {"X-Ingest-Key": key})
        assert status == 401, key


def test_unknown_token_is_404(shared):
    before = shared.event_count()
    status, _, body = shared.ingest({"tracking_token": "no-such-token-anywhere", "model": "m"})
    assert status == 404, body
    assert body["error"] and body["message"] == body["error"]
    assert shared.event_count() == before


def test_inactive_token_is_403(shared):
    created = shared.create_token(f"inactive-{uuid.uuid4().hex[:8]}")
    status, _, body = shared.admin("PATCH", f"/ingest/tokens/{created['id']}/active", {"active": False})
    assert status == 200, body
    before = shared.event_count()
    status, _, body = shared.ingest({"tracking_token": created["token"], "model": "m"})
    assert status == 403, body
    assert body["error"] and body["message"] == body["error"]
    assert shared.event_count() == before
    status, _, body = shared.admin("PATCH", f"/ingest/tokens/{created['id']}/active", {"active": True})
    assert status == 200, body
    stored = ingest_ok(shared, {"tracking_token": created["token"], "model": "m"})
    assert stored["token_id"] == created["id"]


# ---- size limits ------------------------------------------------------------------------------------------------

def raw_ingest(srv, body_bytes, extra_headers=b""):
    return (b"POST /ingest HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nX-Ingest-Key: "
            + srv.ingest_key.encode() + b"\r\n" + extra_headers
            + b"Content-Length: " + str(len(body_bytes)).encode() + b"\r\n\r\n" + body_bytes)


def padded_event(token, size):
    """A valid event padded with JSON whitespace to exactly `size` bytes."""
    core = json.dumps({"tracking_token": token, "model": "gpt-4o-mini", "prompt_tokens": 1}).encode()
    assert size >= len(core)
    return core[:-1] + b" " * (size - len(core)) + b"}"


def test_body_over_a_configured_limit_is_413(make_server):
    srv = make_server(env={"MAX_BODY_BYTES": "2048"})
    token = srv.create_token("small")["token"]
    status, headers, body = send_and_read(srv.port, raw_ingest(srv, padded_event(token, 4096)))
    assert status == 413, body
    assert json.loads(body)["error"]
    assert srv.event_count() == 0
    # At the limit it is accepted.
    status, _, body = send_and_read(srv.port, raw_ingest(srv, padded_event(token, 2048)))
    assert status == 201, body
    assert srv.event_count() == 1


def test_body_over_a_configured_limit_without_content_length_is_413(make_server):
    srv = make_server(env={"MAX_BODY_BYTES": "2048"})
    token = srv.create_token("chunked")["token"]
    body = padded_event(token, 4096)
    chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
    req = (b"POST /ingest HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nX-Ingest-Key: "
           + srv.ingest_key.encode() + b"\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked)
    status, _, resp = send_and_read(srv.port, req)
    assert status == 413, resp
    assert srv.event_count() == 0


def test_default_body_limit_is_1_mib(server):
    token = server.create_token("big")["token"]
    status, _, body = send_and_read(server.port, raw_ingest(server, padded_event(token, int(1.1 * 1024 * 1024))))
    assert status == 413, body
    assert server.event_count() == 0
    status, _, body = send_and_read(server.port, raw_ingest(server, padded_event(token, 1024 * 1024)))
    assert status == 201, body
    assert server.event_count() == 1


def test_headers_over_8_kib_are_431(shared):
    before = shared.event_count()
    body = json.dumps({"tracking_token": shared.token, "model": "m"}).encode()
    status, _, resp = send_and_read(shared.port, raw_ingest(shared, body, b"X-Filler: " + b"f" * 8300 + b"\r\n"))
    assert status == 431, resp
    assert json.loads(resp)["error"]
    assert shared.event_count() == before
    # Headers of 7 KiB are fine.
    status, _, resp = send_and_read(shared.port, raw_ingest(shared, body, b"X-Filler: " + b"f" * 7000 + b"\r\n"))
    assert status == 201, resp
    assert shared.event_count() == before + 1


# ---- dedupe -----------------------------------------------------------------------------------------------------

def test_duplicate_event_id_is_200_with_the_first_id(shared):
    event_id = f"dup-{uuid.uuid4()}"
    event = {"tracking_token": shared.token, "event_id": event_id, "model": "gpt-4o-mini", "prompt_tokens": 3}
    status, _, first = shared.ingest(event)
    assert status == 201, first
    before = shared.event_count()
    # A repeat, even with different counts, is the same event: nothing new is stored.
    status, _, again = shared.ingest({**event, "prompt_tokens": 99})
    assert status == 200, again
    assert again["duplicate"] is True
    assert again["id"] == first["id"]
    status, _, third = shared.ingest(event)
    assert (status, third["duplicate"], third["id"]) == (200, True, first["id"])
    assert shared.event_count() == before
    assert shared.rows("SELECT count(*), max(input_tokens) FROM usage_events WHERE event_id = ?",
                       (event_id,)) == [(1, 3)]


def test_same_event_id_under_two_tokens_is_two_rows(shared):
    other = shared.create_token(f"second-{uuid.uuid4().hex[:8]}")
    event_id = f"shared-{uuid.uuid4()}"
    status, _, a = shared.ingest({"tracking_token": shared.token, "event_id": event_id, "model": "m"})
    assert status == 201, a
    status, _, b = shared.ingest({"tracking_token": other["token"], "event_id": event_id, "model": "m"})
    assert status == 201, b
    assert a["id"] != b["id"]
    rows = shared.rows("SELECT id, token_id FROM usage_events WHERE event_id = ? ORDER BY id", (event_id,))
    assert rows == [(a["id"], shared.token_id), (b["id"], other["id"])]


def test_events_without_event_id_are_never_deduped(shared):
    event = {"tracking_token": shared.token, "model": "nodedupe-model", "prompt_tokens": 1}
    before = shared.event_count()
    ids = []
    for _ in range(3):
        status, _, body = shared.ingest(event)
        assert status == 201, body
        ids.append(body["id"])
    assert len(set(ids)) == 3
    assert shared.event_count() == before + 3


def test_dedupe_survives_a_restart(make_server):
    srv = make_server()
    token = srv.create_token("restart")["token"]
    status, _, first = srv.ingest({"tracking_token": token, "event_id": "e-1", "model": "m"})
    assert status == 201
    srv.stop()
    srv.start()
    status, _, again = srv.ingest({"tracking_token": token, "event_id": "e-1", "model": "m"})
    assert (status, again.get("duplicate"), again.get("id")) == (200, True, first["id"])
    assert srv.event_count() == 1


def test_nothing_half_written_after_rejections(shared):
    """A burst of every kind of 4xx in a row, on one keep-alive connection, leaves the row count unchanged."""
    before = shared.event_count()
    conn = shared.connection()
    try:
        bad = [
            ({"tracking_token": shared.token}, {}),
            ({"tracking_token": shared.token, "model": "m", "prompt_tokens": -1}, {}),
            ({"tracking_token": "nope-nope", "model": "m"}, {}),
            ({"tracking_token": shared.token, "model": "m", "meta": {"k": "v" * 9000}}, {}),
            ({"tracking_token": shared.token, "model": "m"}, {"X-Ingest-Key": "bad"}),
            ({"tracking_token": shared.token, "model": "m", "event_id": "x" * 300}, {}),
        ]
        for event, hdrs in bad:
            status, _, _ = shared.ingest(event, hdrs, conn=conn)
            assert 400 <= status < 500
    finally:
        conn.close()
    assert shared.event_count() == before


def test_expect_100_continue(shared):
    """curl sends `Expect: 100-continue` for larger bodies and waits for the interim answer before the body."""
    before = shared.event_count()
    body = json.dumps({"tracking_token": shared.token, "model": "m", "event_id": f"expect-{uuid.uuid4()}"}).encode()
    sock = raw_connect(shared.port)
    try:
        sock.sendall(raw_ingest(shared, body, b"Expect: 100-continue\r\n")[:-len(body)])
        status, _, _, _ = read_response(sock)
        assert status == 100
        sock.sendall(body)
        status, _, resp, _ = read_response(sock)
        assert status == 201, resp
    finally:
        sock.close()
    assert shared.event_count() == before + 1


def test_expect_100_continue_over_the_limit_is_413_without_continue(make_server):
    srv = make_server(env={"MAX_BODY_BYTES": "2048"})
    token = srv.create_token("expect")["token"]
    body = padded_event(token, 4096)
    sock = raw_connect(srv.port)
    try:
        sock.sendall(raw_ingest(srv, body, b"Expect: 100-continue\r\n")[:-len(body)])
        status, _, resp, _ = read_response(sock)
        assert status == 413, resp  # answered from the headers: the client never sends the body
    finally:
        sock.close()
    assert srv.event_count() == 0


def test_header_names_are_case_insensitive(shared):
    stored = ingest_ok(shared, {"model": "m"}, headers={"x-ingest-key": shared.ingest_key,
                                                        "x-tracking-token": shared.token})
    assert stored["token_id"] == shared.token_id


def test_chunked_body_under_the_limit_is_accepted(shared):
    before = shared.event_count()
    body = json.dumps({"tracking_token": shared.token, "model": "m", "prompt_tokens": 4}).encode()
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + 10]), body[i:i + 10]) for i in range(0, len(body), 10))
    req = (b"POST /ingest HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nX-Ingest-Key: "
           + shared.ingest_key.encode() + b"\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked + b"0\r\n\r\n")
    status, _, resp = send_and_read(shared.port, req)
    assert status == 201, resp
    assert shared.event_count() == before + 1


# ---- operation: what kind of model call (OpenTelemetry's gen_ai.operation.name, or a provider's own) -------------

def test_operation_on_every_way_in_is_stored_shown_and_exported_last(shared):
    marker = f"op-{uuid.uuid4().hex[:8]}"
    sent = {}
    status, _, body = shared.ingest({"tracking_token": shared.token, **GPT4O_MINI, "event_id": f"{marker}-1",
                                     "operation": "embeddings"})
    assert status == 201, body
    sent[body["id"]] = "embeddings"
    status, _, body = shared.request(
        "POST", "/ingest/batch",
        [{"tracking_token": shared.token, **GPT4O_MINI, "event_id": f"{marker}-2", "operation": "responses"},
         {"tracking_token": shared.token, **GPT4O_MINI, "event_id": f"{marker}-3"}],
        {"X-Ingest-Key": shared.ingest_key})
    assert status == 200, body
    sent[body["results"][0]["id"]] = "responses"
    sent[body["results"][1]["id"]] = None  # absent: null
    status, _, body = shared.admin("POST", "/log", {**GPT4O_MINI, "event_id": f"{marker}-4",
                                                    "operation": "text_completion"})
    assert status == 200, body
    sent[body["id"]] = "text_completion"

    stored = dict(shared.rows(f"SELECT id, operation FROM usage_events WHERE event_id LIKE '{marker}-%'"))
    assert stored == sent
    status, _, body = shared.admin("GET", "/data?limit=5000")
    assert status == 200, body
    shown = {r["id"]: r["operation"] for r in body["data"] if r["id"] in sent}
    assert shown == sent
    status, _, text = shared.admin("GET", "/export.csv")
    assert status == 200
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][-1] == "operation"  # appended: every column before it keeps its position
    exported = {int(r[0]): r[-1] for r in rows[1:] if int(r[0]) in sent}
    assert exported == {i: op or "" for i, op in sent.items()}


@pytest.mark.parametrize("value", ["", "chat completion", "chat/1", "x" * 65, 7, True, ["chat"], {"name": "chat"}])
def test_operation_that_is_not_an_identifier_is_400_naming_it(shared, value):
    expect_400(shared, {"tracking_token": shared.token, **GPT4O_MINI, "operation": value}, "operation")
    status, _, body = shared.request("POST", "/ingest/batch",
                                     [{"tracking_token": shared.token, **GPT4O_MINI, "operation": value}],
                                     {"X-Ingest-Key": shared.ingest_key})
    assert status == 207, body
    assert body["results"][0]["status"] == 400 and body["results"][0]["field"] == "events[0].operation", body
