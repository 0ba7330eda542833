"""Failed authentication is throttled per client address (issue 12: 600 wrong X-Ingest-Key values in 0.1 s all got
401 with no slowdown). AUTH_FAILURE_BURST failures pass as 401, then AUTH_FAILURE_RPM per minute; beyond, 429 +
Retry-After. A request with the correct key is never refused by this throttle."""
import http.client
import time

import pytest


def event(token, i=0):
    return {"tracking_token": token, "event_id": f"e-{i}", "model": "gpt-4o-mini", "prompt_tokens": 1,
            "completion_tokens": 1}


def guess(srv, conn, i, route="ingest"):
    if route == "ingest":
        return srv.request("POST", "/ingest", event("t", i), {"X-Ingest-Key": f"guess-{i}"}, conn)
    return srv.request("GET", "/ingest/tokens", None, {"X-API-Key": f"guess-{i}"}, conn)


def from_address(srv, source):
    return http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10, source_address=(source, 0))


def test_key_guessing_is_slowed_by_default(server):
    """The issue's probe: 600 wrong ingest keys as fast as one connection sends them."""
    token = server.create_token("app")["token"]
    conn = server.connection()
    start = time.time()
    statuses = [guess(server, conn, i)[0] for i in range(600)]
    elapsed = time.time() - start
    assert set(statuses) <= {401, 429}
    # Bursts of 30, then 120 a minute (2 a second).
    assert statuses[:30] == [401] * 30
    assert statuses.count(401) <= 30 + 2 * elapsed + 1, (statuses.count(401), elapsed)
    assert statuses.count(429) >= 600 - 30 - 2 * elapsed - 1

    # The key's holders are not locked out, from the same address and the same connection.
    status, _, body = server.ingest(event(token, 1), conn=conn)
    assert status == 201, body
    assert server.admin("GET", "/ingest/tokens", conn=conn)[0] == 200


def test_throttled_answer_and_metrics(make_server):
    srv = make_server(env={"AUTH_FAILURE_RPM": "30", "AUTH_FAILURE_BURST": "3"})
    token = srv.create_token("app")["token"]
    conn = srv.connection()
    assert [guess(srv, conn, i)[0] for i in range(3)] == [401, 401, 401]
    status, headers, body = guess(srv, conn, 3)
    assert status == 429, body
    assert 1 <= int(headers["retry-after"]) <= 2  # one failure's worth refills in 2 s
    assert headers["ratelimit-limit"] == "3" and headers["ratelimit-remaining"] == "0"
    assert "failed authentication" in body["error"] and body["request_id"] == headers["x-request-id"]
    # Admin and ingest failures share the address's bucket: a wrong admin key is refused too ...
    assert guess(srv, conn, 4, route="admin")[0] == 429
    # ... and so is a missing key.
    assert srv.request("GET", "/data", conn=conn)[0] == 429
    # Correct keys pass, however many failures came from this address.
    for i in range(5):
        assert srv.ingest(event(token, i), conn=conn)[0] == 201
        assert srv.admin("GET", "/models", conn=conn)[0] == 200
    # Public routes are not keyed, so never throttled.
    assert srv.request("GET", "/openapi.json", conn=conn)[0] == 200

    status, _, figures = srv.admin("GET", "/metrics", conn=conn)
    assert status == 200
    assert figures["counters"]["rate_limit_hits_auth_failure"] == 3
    assert figures["rate_limit"]["auth_failure"] == {"rpm": 30, "burst": 3}
    status, _, text = srv.admin("GET", "/metrics?format=prometheus", conn=conn)
    assert 'cost_guardian_rate_limit_hits_total{limiter="auth_failure"} 3' in text

    # After the refill (one every 2 s here), a failure is a 401 again.
    time.sleep(2.1)
    assert guess(srv, conn, 9)[0] == 401


def test_throttle_is_per_client_address(make_server):
    srv = make_server(env={"AUTH_FAILURE_RPM": "30", "AUTH_FAILURE_BURST": "2"})
    a = from_address(srv, "127.0.0.1")
    b = from_address(srv, "127.0.0.2")
    assert [guess(srv, a, i)[0] for i in range(3)] == [401, 401, 429]
    assert [guess(srv, b, i)[0] for i in range(3)] == [401, 401, 429]


def test_behind_a_trusted_proxy_the_forwarded_client_is_throttled(make_server):
    srv = make_server(env={"AUTH_FAILURE_RPM": "30", "AUTH_FAILURE_BURST": "2", "TRUSTED_PROXIES": "127.0.0.1"})
    conn = srv.connection()

    def guess_as(client, i):
        return srv.request("GET", "/ingest/tokens", None, {"X-API-Key": f"g{i}", "X-Forwarded-For": client}, conn)[0]

    assert [guess_as("203.0.113.7", i) for i in range(3)] == [401, 401, 429]
    assert guess_as("203.0.113.8", 0) == 401  # another client behind the same proxy
    # IPv6 clients are throttled by /64: another address in the same /64 is the same client.
    assert [guess_as("2001:db8:1:2::1", i) for i in range(2)] == [401, 401]
    assert guess_as("2001:db8:1:2::ffff", 0) == 429
    assert guess_as("2001:db8:1:3::1", 0) == 401


def test_throttle_can_be_switched_off(make_server):
    srv = make_server(env={"AUTH_FAILURE_RPM": "0", "RATE_LIMIT_RPM": "0"})
    conn = srv.connection()
    assert {guess(srv, conn, i)[0] for i in range(100)} == {401}

