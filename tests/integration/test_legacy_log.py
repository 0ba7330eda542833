"""The legacy POST /log as the old app's clients call it (issue 11): the admin key, no tracking token, the old
app's camelCase body with its own estimatedCostUSD, answered 200 with a message and a deprecation warning."""
import json
import shutil
import subprocess

import pytest

pytestmark = pytest.mark.both_backends

ENV = {"RATE_LIMIT_RPM": "0"}
OLD_CLIENT_BODY = ('{"timestamp":"2025-01-02T03:04:05Z","model":"gpt-4o-mini","promptTokens":12,'
                   '"completionTokens":34,"totalTokens":46,"estimatedCostUSD":0.0000222}')


def curl_log(srv, body, *extra):
    """The old client's request, sent by curl exactly as its README shows it: (status, headers, parsed body)."""
    assert shutil.which("curl"), "curl is needed (scripts/setup.sh --test installs it)"
    out = subprocess.run(
        ["curl", "-sS", "-i", "-X", "POST", f"http://127.0.0.1:{srv.port}/log", "-H", f"X-API-Key: {srv.api_key}",
         "-H", "Content-Type: application/json", *extra, "-d", body],
        check=True, capture_output=True, timeout=30).stdout
    head, _, payload = out.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(lines[0].split(" ")[1]), headers, json.loads(payload)


def only_row(srv):
    status, _, body = srv.admin("GET", "/data")
    assert status == 200, body
    [row] = body["data"]
    return row


def test_the_old_clients_request_is_stored_as_sent(make_server):
    srv = make_server(env=ENV)
    status, headers, body = curl_log(srv, OLD_CLIENT_BODY)
    assert status == 200, body
    assert headers["deprecation"] == "true"
    assert headers["link"] == '</ingest>; rel="successor-version"'
    assert isinstance(body["message"], str) and body["message"]
    assert "deprecated" in body["warning"] and "/ingest" in body["warning"]
    assert isinstance(body["id"], int)
    row = only_row(srv)
    assert row["id"] == body["id"]
    assert row["timestamp"] == "2025-01-02T03:04:05Z"
    assert row["model"] == "gpt-4o-mini"
    assert (row["promptTokens"], row["completionTokens"], row["totalTokens"]) == (12, 34, 46)
    # The client's own cost, digit for digit: 0.0000222 USD is 22,200 nano-USD.
    assert row["cost_usd_exact"] == "0.000022200"
    assert row["estimatedCostUSD"] == 0.0000222
    assert row["cost_source"] == "client"
    assert row["source"] == "log"
    assert row["ingest_token_id"] is None and row["token_label"] is None
    assert body["cost_usd_exact"] == "0.000022200"


def test_the_cost_is_read_from_its_digits_not_a_double(make_server):
    srv = make_server(env=ENV)
    # As a double this is 0.1000000005 (the digits after the 16th are lost), which rounds half-even to
    # 0.100000000; its decimal text is just over the half, so it rounds up.
    status, _, body = curl_log(srv, '{"model":"gpt-4o-mini","estimatedCostUSD":0.10000000050000000001}')
    assert status == 200, body
    assert only_row(srv)["cost_usd_exact"] == "0.100000001"


def test_missing_fields_count_zero_and_a_missing_cost_is_priced(make_server):
    srv = make_server(env=ENV)
    status, _, body = srv.admin("POST", "/log", {"model": "gpt-4o-mini", "promptTokens": 1000})
    assert status == 200, body
    row = only_row(srv)
    assert (row["promptTokens"], row["completionTokens"], row["totalTokens"]) == (1000, 0, 1000)
    assert row["cost_source"] == "server" and row["cost_usd_exact"] != "0.000000000"
    # No timestamp: the time the server received it.
    assert row["timestamp"] == row["received_at"]


def test_snake_case_fields_and_bearer_keep_working(make_server):
    srv = make_server(env=ENV)
    status, headers, body = srv.request(
        "POST", "/log", {"model": "gpt-4o", "prompt_tokens": 5, "completion_tokens": 6, "cost_usd": 0.25},
        headers={"Authorization": f"Bearer {srv.api_key}"})
    assert status == 200, body
    assert headers["deprecation"] == "true"
    row = only_row(srv)
    assert (row["promptTokens"], row["completionTokens"], row["totalTokens"]) == (5, 6, 11)
    assert row["cost_usd_exact"] == "0.250000000" and row["source"] == "log"


def test_the_cost_spellings_must_agree(make_server):
    srv = make_server(env=ENV)
    status, headers, body = srv.admin("POST", "/log", {"model": "m", "cost_usd": 0.5, "estimatedCostUSD": 0.6})
    assert status == 400 and body["field"] == "cost_usd", body
    assert headers["deprecation"] == "true"
    status, _, body = srv.admin("POST", "/log", {"model": "m", "estimatedCostUSD": -0.1})
    assert status == 400 and body["field"] == "estimatedCostUSD", body
    status, _, body = srv.admin("POST", "/log", {"model": "m", "estimatedCostUSD": "0.1"})
    assert status == 400 and body["field"] == "estimatedCostUSD", body
    assert srv.event_count() == 0


def test_events_without_a_token_are_never_deduplicated_and_count_on_no_token(make_server):
    srv = make_server(env=ENV)
    token = srv.create_token("kept")
    for _ in range(2):
        status, _, body = srv.admin("POST", "/log", {"model": "gpt-4o-mini", "event_id": "same"})
        assert status == 200 and "duplicate" not in body, body
    assert srv.event_count() == 2
    assert srv.list_tokens()[0]["usage_count"] == 0
    # A body that names its token is held to it as on /ingest: dedupe, token checks, the token's counts.
    event = {"model": "gpt-4o-mini", "tracking_token": token["token"], "event_id": "e1"}
    first = srv.admin("POST", "/log", event)
    assert first[0] == 200 and first[2]["id"], first
    again = srv.admin("POST", "/log", event)
    assert again[0] == 200 and again[2]["duplicate"] is True and again[2]["id"] == first[2]["id"], again
    assert "deprecated" in again[2]["warning"]
    assert srv.list_tokens()[0]["usage_count"] == 1
    status, _, err = srv.admin("POST", "/log", {**event, "tracking_token": "no-such-token"})
    assert status == 404 and err["field"] == "tracking_token"
    # The ingest key is not the admin key.
    status, headers, _ = srv.request("POST", "/log", {"model": "m"}, headers={"X-Ingest-Key": srv.ingest_key})
    assert status == 401 and headers["deprecation"] == "true"
    assert srv.event_count() == 3


# ---- a model that is only whitespace (issue 11), on every route that takes events ------------------------------

@pytest.mark.parametrize("blank", ["", "   ", "\t\n", " \r\n "])
def test_a_blank_model_is_400_naming_model_on_every_route(make_server, blank):
    srv = make_server(env=ENV)
    token = srv.create_token("t")["token"]
    good = {"tracking_token": token, "model": "gpt-4o-mini", "prompt_tokens": 1}
    bad = {**good, "model": blank}
    status, _, body = srv.ingest(bad)
    assert status == 400 and body["field"] == "model", body
    status, headers, body = srv.admin("POST", "/log", {"model": blank, "promptTokens": 1})
    assert status == 400 and body["field"] == "model" and headers["deprecation"] == "true", body
    status, _, body = srv.request("POST", "/ingest/batch", [good, bad],
                                  headers={"X-Ingest-Key": srv.ingest_key})
    assert status == 207, body
    assert body["results"][0]["status"] == 201
    assert body["results"][1]["status"] == 400 and body["results"][1]["field"] == "events[1].model", body
    status, _, body = srv.request("POST", "/ingest/batch", {"events": [bad]}, headers={"X-Ingest-Key": srv.ingest_key})
    assert body["results"][0]["field"] == "events[0].model", body
    assert srv.event_count() == 1
    # Whitespace around a real name is a name (kept as sent).
    assert srv.ingest({**good, "model": " gpt-4o-mini "})[0] == 201
