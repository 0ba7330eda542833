"""DELETE /reset and the legacy POST /log (API.md, Admin and Ingestion)."""
import threading
import time

ENV = {"RATE_LIMIT_RPM": "0"}


def event(token, **extra):
    return {"tracking_token": token["token"], "model": "gpt-4o-mini", "prompt_tokens": 10, "completion_tokens": 5,
            **extra}


# ---- DELETE /reset ----------------------------------------------------------------------------------------------

def test_reset_deletes_every_event_and_keeps_the_tokens(make_server):
    srv = make_server(env=ENV)
    a, b = srv.create_token("a"), srv.create_token("b")
    for n in range(7):
        assert srv.ingest(event(a if n % 2 else b, event_id=f"e{n}"))[0] == 201
    assert srv.admin("PATCH", f"/ingest/tokens/{b['id']}/active", {"active": False})[0] == 200
    status, _, body = srv.admin("DELETE", "/reset")
    assert status == 200
    assert body == {"ok": True, "deleted": 7}
    assert srv.event_count() == 0
    tokens = {t["label"]: t for t in srv.list_tokens()}
    assert set(tokens) == {"a", "b"}
    for t in tokens.values():
        assert t["usage_count"] == 0 and t["last_seen_at"] is None
    assert tokens["b"]["active"] is False  # only usage is reset
    assert srv.admin("GET", "/data")[2]["data"] == []
    assert srv.admin("GET", "/models")[2] == {"models": []}
    # The tokens still work, and an event_id seen before the reset is new again.
    status, _, body = srv.ingest(event(a, event_id="e1"))
    assert status == 201, body
    assert srv.list_tokens()[0]["usage_count"] == 1
    assert srv.admin("DELETE", "/reset")[2] == {"ok": True, "deleted": 1}
    assert srv.admin("DELETE", "/reset")[2] == {"ok": True, "deleted": 0}


def test_reset_runs_in_line_with_ingestion(make_server):
    """Every event acknowledged before the reset's answer is either deleted by it or stored after it; none is lost
    half-way and the counts add up."""
    srv = make_server(env=ENV)
    token = srv.create_token("busy")
    created = []
    stop = threading.Event()

    def ingest():
        conn = srv.connection()
        n = 0
        while not stop.is_set():
            status, _, body = srv.ingest(event(token, event_id=f"busy-{threading.get_ident()}-{n}"), conn=conn)
            assert status == 201, body
            created.append(body["id"])
            n += 1
        conn.close()

    threads = [threading.Thread(target=ingest) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        deadline = time.time() + 20
        while len(created) < 200 and time.time() < deadline:
            time.sleep(0.01)
        status, _, body = srv.admin("DELETE", "/reset")
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert status == 200
    remaining = srv.event_count()
    assert body["deleted"] + remaining == len(created)
    assert srv.list_tokens()[0]["usage_count"] == remaining


def test_reset_takes_no_parameters_and_needs_delete(make_server):
    srv = make_server(env=ENV)
    status, _, body = srv.admin("DELETE", "/reset?confirm=yes")
    assert status == 400 and body["field"] == "confirm"
    status, headers, _ = srv.admin("GET", "/reset")
    assert status == 405 and "DELETE" in headers["allow"]


# ---- POST /log --------------------------------------------------------------------------------------------------

def test_log_stores_like_ingest_with_a_deprecation_warning(make_server):
    srv = make_server(env=ENV)
    token = srv.create_token("legacy")
    status, headers, body = srv.admin("POST", "/log", event(token, event_id="old-1", user="u"))
    assert status == 200, body  # the old app's answer, not /ingest's 201
    assert body["message"]
    assert headers["deprecation"] == "true"
    assert headers["link"] == '</ingest>; rel="successor-version"'
    assert "deprecated" in body["warning"] and "/ingest" in body["warning"]
    assert body["ok"] is True and body["cost_source"] == "server" and body["cost_usd_exact"]
    [row] = srv.admin("GET", "/data")[2]["data"]
    assert row["id"] == body["id"] and row["source"] == "log" and row["user"] == "u"
    assert row["token_label"] == "legacy" and row["promptTokens"] == 10
    # The same (token, event_id) again is a duplicate, as on /ingest, still with the warning.
    status, headers, body = srv.admin("POST", "/log", event(token, event_id="old-1"))
    assert status == 200 and body["duplicate"] is True and body["id"] == row["id"] and body["warning"]
    assert headers["deprecation"] == "true"
    # ...and across the two routes: /log and /ingest share the dedupe key.
    assert srv.ingest(event(token, event_id="old-1"))[2]["duplicate"] is True
    assert srv.list_tokens()[0]["usage_count"] == 1


def test_log_names_its_token_in_the_body_or_the_header_or_none(make_server):
    srv = make_server(env=ENV)
    token = srv.create_token("legacy")
    body = {"model": "gpt-4o-mini", "prompt_tokens": 3}
    # The old app's clients send no token (test_legacy_log.py): stored on no token.
    status, headers, created = srv.admin("POST", "/log", body)
    assert status == 200 and headers["deprecation"] == "true", created
    status, _, created = srv.admin("POST", "/log", body, headers={"X-Tracking-Token": token["token"]})
    assert status == 200, created
    assert srv.list_tokens()[0]["usage_count"] == 1
    status, _, err = srv.admin("POST", "/log", {**body, "tracking_token": "no-such-token"})
    assert status == 404 and err["field"] == "tracking_token"


def test_log_errors_keep_the_deprecation_header(make_server):
    srv = make_server(env=ENV)
    token = srv.create_token("legacy")
    status, headers, _ = srv.request("POST", "/log", event(token))
    assert status == 401 and headers["deprecation"] == "true"
    status, headers, _ = srv.request("POST", "/log", event(token), headers={"X-Ingest-Key": srv.ingest_key})
    assert status == 401  # /log is an admin route, as in the seed
    status, headers, body = srv.admin("POST", "/log", "model=x", headers={"Content-Type": "text/plain"})
    assert status == 415 and headers["deprecation"] == "true"
    status, headers, body = srv.admin("POST", "/log", event(token, prompt_tokens=-1))
    assert status == 400 and body["field"] == "prompt_tokens" and headers["deprecation"] == "true"
    assert srv.admin("PATCH", f"/ingest/tokens/{token['id']}/active", {"active": False})[0] == 200
    status, headers, body = srv.admin("POST", "/log", event(token))
    assert status == 403 and headers["deprecation"] == "true"
    assert srv.event_count() == 0


def test_log_refuses_a_repeated_key_as_ingest_does(make_server):
    """Issue 12 on the legacy route: the same strict parse, and the Deprecation header on the error."""
    srv = make_server()
    token = srv.create_token("log-dup")["token"]
    status, headers, body = srv.admin("POST", "/log", f'{{"tracking_token": "{token}", "model": "m", '
                                                      f'"prompt_tokens": -1, "prompt_tokens": 10}}',
                                      headers={"Content-Type": "application/json"})
    assert status == 400, body
    assert body["field"] == "prompt_tokens"
    assert headers["deprecation"] == "true"
    status, _, body = srv.admin("POST", "/log",
                                f'{{"tracking_token": "{token}", "model": "m", "meta": {{"x": 1e999}}}}',
                                headers={"Content-Type": "application/json"})
    assert (status, body.get("field")) == (400, "meta.x"), body
    assert srv.event_count() == 0
