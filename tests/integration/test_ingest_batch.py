"""POST /ingest/batch: the three body shapes, gzip, per-event verdicts with field paths, dedupe within and across
batches, tokens per event, limits (events, bytes, gzip bombs), whole-body refusals, metrics, and the rows stored."""
import gzip
import json
import uuid

import pytest

from cg_server import Server, send_and_read

# Every test on SQLite and on PostgreSQL (conftest.py), but the full disk, which is a SQLite file on a small tmpfs.
pytestmark = pytest.mark.both_backends


@pytest.fixture(scope="module")
def shared(tmp_path_factory, backend):
    srv = Server(tmp_path_factory.mktemp("batch"), backend=backend)
    try:
        srv.start()
        srv.token = srv.create_token("batch")["token"]
        srv.token_id = next(t["id"] for t in srv.list_tokens() if t["label"] == "batch")
        yield srv
    finally:
        srv.close()


def post_batch(srv, body, content_type="application/json", headers=None, encoding=None):
    """POST /ingest/batch with a raw body (bytes or str) or a list/dict sent as JSON."""
    hdrs = {"X-Ingest-Key": srv.ingest_key}
    if content_type is not None:
        hdrs["Content-Type"] = content_type
    if encoding:
        hdrs["Content-Encoding"] = encoding
    hdrs.update(headers or {})
    if isinstance(body, (list, dict)):
        body = json.dumps(body)
    return srv.request("POST", "/ingest/batch", body, hdrs)


def event(srv, **fields):
    out = {"tracking_token": srv.token, "event_id": f"b-{uuid.uuid4().hex}", "provider": "openai",
           "model": "gpt-4o-mini", "prompt_tokens": 100, "completion_tokens": 20}
    out.update(fields)
    return {k: v for k, v in out.items() if v is not None}


def stored(srv, row_id):
    found = srv.rows("SELECT token_id, event_id, model, input_tokens, output_tokens, source FROM usage_events "
                     "WHERE id = ?", (row_id,))
    return found[0] if found else None


def assert_all_created(srv, body, events):
    assert body["accepted"] == len(events) and body["duplicates"] == 0 and body["rejected"] == 0, body
    assert [r["index"] for r in body["results"]] == list(range(len(events)))
    for result, ev in zip(body["results"], events):
        assert result["status"] == 201, result
        token_id, event_id, model, input_tokens, _, source = stored(srv, result["id"])
        assert (token_id, event_id, model, input_tokens, source) == (
            srv.token_id, ev["event_id"], ev["model"], ev["prompt_tokens"], "ingest")


# ---- the three shapes and gzip ---------------------------------------------------------------------------------

def test_json_array_all_good_is_200(shared):
    events = [event(shared, prompt_tokens=i + 1) for i in range(3)]
    before = shared.event_count()
    status, headers, body = post_batch(shared, events)
    assert status == 200, body
    assert headers["content-type"].startswith("application/json")
    assert_all_created(shared, body, events)
    assert shared.event_count() == before + 3
    assert len({r["id"] for r in body["results"]}) == 3


def test_object_with_events(shared):
    events = [event(shared), event(shared, model="claude-3-5-haiku", provider="anthropic")]
    status, _, body = post_batch(shared, {"events": events})
    assert status == 200, body
    assert_all_created(shared, body, events)


def test_ndjson_with_blank_lines(shared):
    events = [event(shared), event(shared), event(shared)]
    text = json.dumps(events[0]) + "\n\n" + json.dumps(events[1]) + "\r\n   \n" + json.dumps(events[2])
    status, _, body = post_batch(shared, text, content_type="application/x-ndjson")
    assert status == 200, body
    assert_all_created(shared, body, events)


@pytest.mark.parametrize("content_type", ["application/json", "application/x-ndjson"])
def test_gzip_body(shared, content_type):
    events = [event(shared) for _ in range(5)]
    text = json.dumps(events) if content_type == "application/json" else "\n".join(json.dumps(e) for e in events)
    status, _, body = post_batch(shared, gzip.compress(text.encode()), content_type=content_type, encoding="gzip")
    assert status == 200, body
    assert_all_created(shared, body, events)


def test_no_content_type_is_read_as_json(shared):
    status, _, body = post_batch(shared, json.dumps([event(shared)]), content_type=None)
    assert status == 200, body


# ---- per-event verdicts ----------------------------------------------------------------------------------------

def test_mixed_batch_is_207_with_per_index_results_and_field_paths(shared):
    good = [event(shared), event(shared)]
    events = [good[0], event(shared, model=None), "not an object",
              event(shared, usage={"prompt_tokens": -5}), good[1], event(shared, timestamp=12345)]
    before = shared.event_count()
    status, headers, body = post_batch(shared, events)
    assert status == 207, body
    assert (body["accepted"], body["duplicates"], body["rejected"]) == (2, 0, 4)
    results = body["results"]
    assert [r["status"] for r in results] == [201, 400, 400, 400, 201, 400]
    assert results[1]["field"] == "events[1].model"
    assert results[2]["field"] == "events[2]"
    assert results[3]["field"] == "events[3].usage.prompt_tokens"
    assert results[5]["field"] == "events[5].timestamp"
    assert all(r["error"] for r in results if r["status"] == 400)
    assert "id" not in results[1]
    assert "retry-after" not in headers
    assert shared.event_count() == before + 2
    assert stored(shared, results[0]["id"])[1] == good[0]["event_id"]
    assert stored(shared, results[4]["id"])[1] == good[1]["event_id"]


def test_ndjson_line_that_is_not_json_refuses_only_that_event(shared):
    good = event(shared)
    text = "{broken\n" + json.dumps(good) + "\n"
    status, _, body = post_batch(shared, text, content_type="application/x-ndjson")
    assert status == 207, body
    assert body["results"][0]["status"] == 400 and body["results"][0]["field"] == "events[0]"
    assert "line 1" in body["results"][0]["error"]
    assert body["results"][1]["status"] == 201


def test_duplicates_within_one_batch(shared):
    ev = event(shared)
    status, _, body = post_batch(shared, [ev, dict(ev), event(shared)])
    assert status == 200, body
    first, second, third = body["results"]
    assert first["status"] == 201
    assert second == {"index": 1, "status": 200, "id": first["id"], "duplicate": True}
    assert third["status"] == 201
    assert (body["accepted"], body["duplicates"], body["rejected"]) == (2, 1, 0)
    assert shared.rows("SELECT count(*) FROM usage_events WHERE event_id = ?", (ev["event_id"],))[0][0] == 1


def test_duplicates_across_batches_and_with_single_ingest(shared):
    ev = event(shared)
    status, _, body = shared.ingest(ev)
    assert status == 201, body
    first_id = body["id"]
    status, _, body = post_batch(shared, [ev, event(shared)])
    assert status == 200, body
    assert body["results"][0] == {"index": 0, "status": 200, "id": first_id, "duplicate": True}
    status, _, again = post_batch(shared, [ev])
    assert again["results"][0]["id"] == first_id and again["results"][0]["duplicate"] is True


def test_unknown_and_inactive_tokens_per_event(shared):
    inactive = shared.create_token(f"off-{uuid.uuid4().hex[:8]}")
    status, _, _ = shared.admin("PATCH", f"/ingest/tokens/{inactive['id']}/active", {"active": False})
    assert status == 200
    events = [event(shared), event(shared, tracking_token="no-such-token"),
              event(shared, tracking_token=inactive["token"])]
    before = shared.event_count()
    status, _, body = post_batch(shared, events)
    assert status == 207, body
    ok, unknown, off = body["results"]
    assert ok["status"] == 201
    assert unknown["status"] == 404 and unknown["field"] == "events[1].tracking_token"
    assert off["status"] == 403 and off["field"] == "events[2].tracking_token"
    assert shared.event_count() == before + 1


def test_header_token_for_all_and_a_differing_body_token(shared):
    other = shared.create_token(f"other-{uuid.uuid4().hex[:8]}")
    events = [event(shared, tracking_token=None), event(shared, tracking_token=None),
              event(shared, tracking_token=other["token"])]
    status, _, body = post_batch(shared, events, headers={"X-Tracking-Token": shared.token})
    assert status == 207, body
    assert [r["status"] for r in body["results"]] == [201, 201, 400]
    assert body["results"][2]["field"] == "events[2].tracking_token"
    assert stored(shared, body["results"][0]["id"])[0] == shared.token_id
    # Without the header, an event without a token names the missing field.
    status, _, body = post_batch(shared, [event(shared, tracking_token=None)])
    assert status == 207 and body["results"][0]["field"] == "events[0].tracking_token", body


def test_repeated_keys_and_infinite_numbers_refuse_their_event_alone(shared):
    """Issues 11 and 12, in all three shapes: the event's own path, prefixed events[i]."""
    dup = f'{{"tracking_token": "{shared.token}", "model": "m", "event_id": "A", "event_id": "B"}}'
    nested = (f'{{"tracking_token": "{shared.token}", "model": "m", '
              '"usage": {"prompt_tokens": 1, "prompt_tokens": 2}}')
    huge = f'{{"tracking_token": "{shared.token}", "model": "m", "meta": {{"x": [1e999]}}}}'
    for shape in ("array", "object", "ndjson"):
        good = [event(shared), event(shared)]
        parts = [json.dumps(good[0]), dup, nested, huge, json.dumps(good[1])]
        if shape == "array":
            status, _, body = post_batch(shared, "[" + ",".join(parts) + "]")
        elif shape == "object":
            status, _, body = post_batch(shared, '{"events": [' + ",".join(parts) + "]}")
        else:
            status, _, body = post_batch(shared, "\n".join(parts), content_type="application/x-ndjson")
        assert status == 207, (shape, body)
        assert (body["accepted"], body["rejected"]) == (2, 3), (shape, body)
        results = body["results"]
        assert [r["status"] for r in results] == [201, 400, 400, 400, 201], (shape, body)
        assert results[1]["field"] == "events[1].event_id"
        assert "more than once" in results[1]["error"]
        assert results[2]["field"] == "events[2].usage.prompt_tokens"
        assert results[3]["field"] == "events[3].meta.x[0]"
        for result, ev in zip((results[0], results[4]), good):
            assert stored(shared, result["id"])[1] == ev["event_id"]


# ---- refused as a whole -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("raw,field", [
    ("{not json", None), ("", None), ("42", None), ('"text"', None), ("[]", "events"), ('{"events": []}', "events"),
    ('{"model": "gpt-4o"}', "events"), ('{"events": {"model": "x"}}', "events"),
    ('{"events": [{"model": "a"}], "events": [{"model": "b"}]}', "events"),
    ('{"events": [{"model": "a"}], "note": 1e999}', "note"),
])
def test_unreadable_body_is_400_and_stores_nothing(shared, raw, field):
    before = shared.event_count()
    status, _, body = post_batch(shared, raw)
    assert status == 400, (raw, body)
    assert body.get("field") == field and body["error"], body
    assert "results" not in body
    assert shared.event_count() == before


def test_1001_events_is_413_naming_events(shared):
    before = shared.event_count()
    status, _, body = post_batch(shared, [event(shared) for _ in range(1001)])
    assert status == 413, body
    assert body["field"] == "events" and "1001" in body["error"]
    assert shared.event_count() == before
    status, _, body = post_batch(shared, "\n".join(json.dumps(event(shared)) for _ in range(1001)),
                                 content_type="application/x-ndjson")
    assert status == 413 and body["field"] == "events", body
    assert shared.event_count() == before


def test_1000_events_are_accepted(shared):
    events = [event(shared) for _ in range(1000)]
    before = shared.event_count()
    status, _, body = post_batch(shared, events)
    assert status == 200, {k: v for k, v in body.items() if k != "results"}
    assert body["accepted"] == 1000
    assert shared.event_count() == before + 1000
    ids = [r["id"] for r in body["results"]]
    rows = dict(shared.rows(f"SELECT id, event_id FROM usage_events WHERE id IN ({','.join('?' * 1000)})", ids))
    assert [rows[i] for i in ids] == [e["event_id"] for e in events]


def raw_batch(srv, body, extra=b""):
    return (b"POST /ingest/batch HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"X-Ingest-Key: {srv.ingest_key}\r\nContent-Length: {len(body)}\r\n".encode() + extra + b"\r\n" + body)


def padded_batch(srv, size):
    """A one-event batch of exactly `size` bytes (JSON whitespace pads it)."""
    text = json.dumps([event(srv)])
    return (text[:-1] + " " * (size - len(text)) + "]").encode()


def test_body_over_10_mib_is_413_and_the_batch_limit_is_the_batch_routes_only(shared):
    before = shared.event_count()
    status, _, body = send_and_read(shared.port, raw_batch(shared, padded_batch(shared, 10 * 1024 * 1024 + 1)),
                                    timeout=30)
    assert status == 413, body
    assert b"10485760" in body
    assert shared.event_count() == before
    # Exactly 10 MiB passes, and 2 MiB (over MAX_BODY_BYTES) is fine here while /ingest still refuses it.
    status, _, body = send_and_read(shared.port, raw_batch(shared, padded_batch(shared, 10 * 1024 * 1024)),
                                    timeout=30)
    assert status == 200, body
    big_single = json.dumps(event(shared)).encode()
    big_single = big_single[:-1] + b" " * (2 * 1024 * 1024) + b"}"
    status, _, body = send_and_read(shared.port, b"POST /ingest HTTP/1.1\r\nHost: x\r\n"
                                    + f"X-Ingest-Key: {shared.ingest_key}\r\nContent-Length: {len(big_single)}\r\n\r\n"
                                    .encode() + big_single)
    assert status == 413, body


def test_chunked_body_over_the_limit_is_413(make_server):
    srv = make_server(env={"BATCH_MAX_BYTES": "4096"})
    srv.token = "unused"  # refused before any event is read
    body = padded_batch(srv, 8192)
    req = (b"POST /ingest/batch HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
           + f"X-Ingest-Key: {srv.ingest_key}\r\nTransfer-Encoding: chunked\r\n\r\n".encode()
           + f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n")
    status, _, resp = send_and_read(srv.port, req)
    assert status == 413, resp
    assert b"4096" in resp


def test_configured_event_limit(make_server):
    srv = make_server(env={"BATCH_MAX_EVENTS": "2"})
    srv.token = srv.create_token("t")["token"]
    status, _, body = post_batch(srv, [event(srv), event(srv)])
    assert status == 200, body
    status, _, body = post_batch(srv, [event(srv), event(srv), event(srv)])
    assert status == 413 and body["field"] == "events", body


def test_gzip_bomb_is_413(shared):
    before = shared.event_count()
    bomb = gzip.compress(b"[" + b" " * (64 * 1024 * 1024) + b"]", compresslevel=9)
    assert len(bomb) < 200_000
    status, _, body = post_batch(shared, bomb, encoding="gzip")
    assert status == 413, body
    assert "10485760" in body["error"]
    assert shared.event_count() == before


def test_broken_gzip_is_400(shared):
    status, _, body = post_batch(shared, b"this is not gzip", encoding="gzip")
    assert status == 400 and "field" not in body, body
    good = gzip.compress(json.dumps([event(shared)]).encode())
    status, _, body = post_batch(shared, good[:-6], encoding="gzip")
    assert status == 400, body


@pytest.mark.parametrize("encoding", ["br", "deflate", "gzip, br"])
def test_other_encodings_are_415(shared, encoding):
    status, _, body = post_batch(shared, json.dumps([event(shared)]), encoding=encoding)
    assert status == 415, body


def test_other_content_types_are_415(shared):
    status, _, body = post_batch(shared, json.dumps([event(shared)]), content_type="text/plain")
    assert status == 415, body


@pytest.mark.parametrize("headers", [{}, {"X-Ingest-Key": "wrong"}])
def test_bad_ingest_key_is_401(shared, headers):
    hdrs = {"Content-Type": "application/json", **headers}
    before = shared.event_count()
    status, _, body = shared.request("POST", "/ingest/batch", json.dumps([event(shared)]), hdrs)
    assert status == 401, body
    assert shared.event_count() == before


# ---- cross-cutting ----------------------------------------------------------------------------------------------

def test_rate_limit_applies_per_event(make_server):
    srv = make_server(env={"INGEST_RPM": "1", "INGEST_BURST": "3"})
    srv.token = srv.create_token("limited")["token"]
    status, headers, body = post_batch(srv, [event(srv) for _ in range(5)])
    assert status == 207, body
    assert [r["status"] for r in body["results"]] == [201, 201, 201, 429, 429]
    assert int(headers["retry-after"]) >= 1
    assert srv.event_count() == 3


def test_outcomes_are_counted_per_event_in_the_ingest_counters(make_server):
    srv = make_server()
    srv.token = srv.create_token("m")["token"]
    dup = event(srv)
    status, _, body = post_batch(srv, [dup, dup, event(srv), event(srv, model=None)])
    assert status == 207, body
    post_batch(srv, "{not json")
    _, _, metrics = srv.admin("GET", "/metrics")
    counters = metrics["counters"]
    assert counters["ingest_success"] == 2
    assert counters["ingest_duplicate"] == 1
    assert counters["ingest_rejected"]["400"] == 2  # one event, and one unreadable request


def test_no_cors_on_the_batch_route(shared):
    status, headers, _ = post_batch(shared, [event(shared)], headers={"Origin": "http://localhost:5173"})
    assert status == 200
    assert "access-control-allow-origin" not in headers


def test_openapi_documents_the_route(shared):
    status, _, doc = shared.request("GET", "/openapi.json")
    assert status == 200
    op = doc["paths"]["/ingest/batch"]["post"]
    assert {"200", "207", "400", "413", "415"} <= set(op["responses"])
    assert "application/x-ndjson" in op["requestBody"]["content"]


def test_rows_survive_a_restart(make_server, tmp_path):
    srv = make_server(data_dir=tmp_path / "restart")
    srv.token = srv.create_token("r")["token"]
    events = [event(srv) for _ in range(10)]
    status, _, body = post_batch(srv, events)
    assert status == 200, body
    srv.stop()
    srv.start()
    assert srv.event_count() == 10
    status, _, body = post_batch(srv, events)
    assert status == 200 and body["duplicates"] == 10, body


@pytest.mark.sqlite_only("the full disk is a SQLite file on a small tmpfs")
def test_storage_failure_is_503_per_event_with_retry_after(tmp_path):
    # The small-disk helpers of test_storage_faults.py: a tmpfs (or RLIMIT_FSIZE) disk filled to the last byte.
    from test_storage_faults import BIG_META, SmallDisk, start_on, wait_health

    disk = SmallDisk(tmp_path)
    try:
        srv = start_on(disk, tmp_path)
        srv.token = srv.create_token("disk")["token"]
        disk.fill_up()
        events = [event(srv, meta=BIG_META) for _ in range(3)] + [event(srv, model=None)]
        status, headers, body = post_batch(srv, events)
        assert status == 207, body
        assert [r["status"] for r in body["results"]] == [503, 503, 503, 400]
        assert all("id" not in r and r["error"] for r in body["results"])
        assert int(headers["retry-after"]) >= 1
        assert srv.event_count() == 0
        # Space again: the same batch is stored, nothing was half-recorded before.
        disk.free()
        wait_health(srv, 200)
        status, _, body = post_batch(srv, events[:3])
        assert status == 200 and body["accepted"] == 3, body
        disk.grow()
    finally:
        disk.cleanup()
