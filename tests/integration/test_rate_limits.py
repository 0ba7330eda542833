"""Rate limits (API.md, Cross-cutting): token buckets per admin key (per client address without the key) and per
tracking token, RATE_LIMIT_EXEMPT, 429 with Retry-After and RateLimit-* headers, X-Forwarded-For only from
TRUSTED_PROXIES, bad settings refused at start."""
import os
import subprocess
import time

import pytest

from cg_server import API_KEY, INGEST_KEY


def event(token, n=0):
    return {"tracking_token": token, "event_id": f"e-{n}-{time.time_ns()}", "model": "gpt-4o-mini",
            "prompt_tokens": 10, "completion_tokens": 5}


def assert_rate_headers(headers, limit):
    assert int(headers["ratelimit-limit"]) == limit
    assert 0 <= int(headers["ratelimit-remaining"]) <= limit
    assert int(headers["ratelimit-reset"]) >= 0


def assert_limited(status, headers, body):
    assert status == 429, body
    assert int(headers["retry-after"]) >= 1
    assert headers["ratelimit-remaining"] == "0"
    assert body["error"] == body["message"] and "rate limit" in body["error"]
    assert body["request_id"] == headers["x-request-id"]


# ---- admin -----------------------------------------------------------------------------------------------------

def test_admin_burst_then_429_with_headers(make_server):
    srv = make_server(env={"RATE_LIMIT_RPM": "60", "RATE_LIMIT_BURST": "3"})
    conn = srv.connection()
    remaining = []
    for _ in range(3):
        status, headers, body = srv.admin("GET", "/ingest/tokens", conn=conn)
        assert status == 200, body
        assert_rate_headers(headers, 3)
        remaining.append(int(headers["ratelimit-remaining"]))
    assert remaining == [2, 1, 0]
    status, headers, body = srv.admin("GET", "/ingest/tokens", conn=conn)
    assert_limited(status, headers, body)
    assert headers["retry-after"] == "1"  # 60 per minute: one request's worth comes back in a second
    assert int(headers["ratelimit-reset"]) <= 3

    # The key's bucket is shared by every holder of the key, whichever header carries it ...
    status, _, _ = srv.request("GET", "/ingest/tokens", headers={"Authorization": f"Bearer {API_KEY}"})
    assert status == 429
    # ... and the wait it announces is the wait it means.
    time.sleep(1.05)
    status, headers, _ = srv.admin("GET", "/ingest/tokens", conn=conn)
    assert status == 200
    assert headers["ratelimit-remaining"] == "0"


def test_requests_without_the_key_have_their_own_bucket_per_address(make_server):
    srv = make_server(env={"RATE_LIMIT_RPM": "60", "RATE_LIMIT_BURST": "2"})
    for _ in range(2):
        assert srv.admin("GET", "/ingest/tokens")[0] == 200
    assert srv.admin("GET", "/ingest/tokens")[0] == 429
    # A wrong key is not the key: it is charged to the address, so guessing keys cannot mint fresh buckets.
    statuses = [srv.request("GET", "/ingest/tokens", headers={"X-API-Key": f"guess-{i}"})[0] for i in range(4)]
    assert statuses == [401, 401, 429, 429]
    # Public routes that are not exempt count against the address too.
    assert srv.request("GET", "/openapi.json")[0] == 429


def test_exempt_paths_are_never_limited(make_server):
    srv = make_server(env={"RATE_LIMIT_RPM": "60", "RATE_LIMIT_BURST": "1"})
    conn = srv.connection()
    for _ in range(15):
        for path in ("/ping", "/health"):
            status, headers, _ = srv.request("GET", path, conn=conn)
            assert status == 200, path
            assert "ratelimit-limit" not in headers
    # RATE_LIMIT_EXEMPT replaces the default list; an entry covers the paths below it.
    srv2 = make_server(env={"RATE_LIMIT_RPM": "60", "RATE_LIMIT_BURST": "1", "RATE_LIMIT_EXEMPT": "/ingest/tokens"})
    for _ in range(5):
        assert srv2.admin("GET", "/ingest/tokens")[0] == 200
    assert srv2.admin("PATCH", "/ingest/tokens/999/active", {"active": True})[0] == 404  # below it: exempt too
    # /ping and /health are no longer exempt (start-up's health poll already used this address's one request).
    status, headers, _ = srv2.request("GET", "/ping")
    assert status == 429 and headers["ratelimit-limit"] == "1"


def test_limits_off_send_no_headers(make_server):
    srv = make_server(env={"RATE_LIMIT_RPM": "0", "INGEST_RPM": "0"})
    token = srv.create_token("t")["token"]
    conn = srv.connection()
    for i in range(200):
        status, headers, _ = srv.admin("GET", "/ingest/tokens", conn=conn)
        assert status == 200 and "ratelimit-limit" not in headers
    status, headers, _ = srv.ingest(event(token), conn=conn)
    assert status == 201 and "ratelimit-limit" not in headers


def test_defaults_are_generous(server):
    """The defaults: admin 600/min with bursts of 120; ingest 600,000/min (10,000/s) with bursts of 20,000 per
    tracking token. A quick loop of ordinary use never sees a 429."""
    token = server.create_token("t")["token"]
    conn = server.connection()
    for i in range(100):
        status, headers, _ = server.ingest(event(token, i), conn=conn)
        assert status == 201
        assert headers["ratelimit-limit"] == "20000"
    status, headers, _ = server.admin("GET", "/ingest/tokens", conn=conn)
    assert status == 200 and headers["ratelimit-limit"] == "120"


# ---- ingest ------------------------------------------------------------------------------------------------------

def test_ingest_is_limited_per_tracking_token(make_server):
    srv = make_server(env={"INGEST_RPM": "60", "INGEST_BURST": "2"})
    a = srv.create_token("a")["token"]
    b = srv.create_token("b")["token"]
    conn = srv.connection()
    for i, left in enumerate([1, 0]):
        status, headers, body = srv.ingest(event(a, i), conn=conn)
        assert status == 201, body
        assert_rate_headers(headers, 2)
        assert headers["ratelimit-remaining"] == str(left)
    status, headers, body = srv.ingest(event(a, 9), conn=conn)
    assert_limited(status, headers, body)
    # Another token is unaffected, including one named only in the X-Tracking-Token header.
    assert srv.ingest(event(b), conn=conn)[0] == 201
    ev = event(b)
    del ev["tracking_token"]
    assert srv.ingest(ev, headers={"X-Tracking-Token": b}, conn=conn)[0] == 201
    assert srv.ingest(event(b), conn=conn)[0] == 429
    # Nothing of the refused events was stored.
    assert srv.event_count() == 4
    # Refusals before the token is known are not charged: unknown tokens get 404, never 429, and make no bucket.
    for i in range(5):
        status, headers, _ = srv.ingest(event(f"no-such-token-{i}"), conn=conn)
        assert status == 404 and "ratelimit-limit" not in headers
    status, _, metrics = srv.admin("GET", "/metrics")
    assert status == 200
    assert metrics["counters"]["rate_limit_hits"] >= 2
    assert metrics["counters"]["ingest_rate_limited"] == 2
    assert metrics["rate_limit"]["buckets"]["ingest"] == 2


def test_the_admin_limit_does_not_apply_to_ingest(make_server):
    srv = make_server(env={"RATE_LIMIT_RPM": "60", "RATE_LIMIT_BURST": "2"})
    token = srv.create_token("t")["token"]
    conn = srv.connection()
    for i in range(10):
        assert srv.ingest(event(token, i), conn=conn)[0] == 201


# ---- client address ------------------------------------------------------------------------------------------------

def test_forwarded_for_is_ignored_from_an_untrusted_peer(make_server):
    srv = make_server(env={"RATE_LIMIT_RPM": "60", "RATE_LIMIT_BURST": "2"})
    statuses = [srv.request("GET", "/openapi.json", headers={"X-Forwarded-For": f"198.51.100.{i}"})[0]
                for i in range(3)]
    assert statuses == [200, 200, 429]  # one bucket: the socket's address, whatever the header claims


def test_forwarded_for_is_used_from_a_trusted_proxy(make_server):
    srv = make_server(env={"RATE_LIMIT_RPM": "60", "RATE_LIMIT_BURST": "2", "TRUSTED_PROXIES": "127.0.0.1"})

    def get(xff):
        return srv.request("GET", "/openapi.json", headers={"X-Forwarded-For": xff, "X-Request-Id": f"xff-{xff}"})[0]

    assert [get("198.51.100.1"), get("198.51.100.1"), get("198.51.100.1")] == [200, 200, 429]
    assert get("198.51.100.2") == 200  # another client behind the same proxy has its own bucket
    # A client that prepends a forged address is still itself: the right-most untrusted entry counts.
    assert get("203.0.113.77, 198.51.100.1") == 429
    # The access log names the client, not the proxy.
    rec = srv.wait_for_log(lambda r: r.get("event") == "request" and r.get("request_id") == "xff-198.51.100.2")
    assert rec is not None and rec["client_ip"] == "198.51.100.2"


# ---- configuration -------------------------------------------------------------------------------------------------

BAD = [
    ({"RATE_LIMIT_RPM": "lots"}, "RATE_LIMIT_RPM"),
    ({"RATE_LIMIT_RPM": "-1"}, "RATE_LIMIT_RPM"),
    ({"RATE_LIMIT_BURST": "0"}, "RATE_LIMIT_BURST"),
    ({"INGEST_RPM": "1.5"}, "INGEST_RPM"),
    ({"INGEST_BURST": "0"}, "INGEST_BURST"),
    ({"INGEST_BURST": "99999999999"}, "INGEST_BURST"),
    ({"RATE_LIMIT_EXEMPT": "/ping,health"}, "RATE_LIMIT_EXEMPT"),
    ({"TRUSTED_PROXIES": "10.0.0.0/8,proxy.internal"}, "TRUSTED_PROXIES"),
    ({"TRUSTED_PROXIES": "10.0.0.0/40"}, "TRUSTED_PROXIES"),
    ({"AUTH_FAILURE_RPM": "x"}, "AUTH_FAILURE_RPM"),
    ({"AUTH_FAILURE_RPM": "10", "AUTH_FAILURE_BURST": "0"}, "AUTH_FAILURE_BURST"),
    ({"MAX_CONNECTIONS_PER_CLIENT": "-1"}, "MAX_CONNECTIONS_PER_CLIENT"),
    ({"CONNECTION_LIMIT_EXEMPT": "localhost"}, "CONNECTION_LIMIT_EXEMPT"),
]


@pytest.mark.parametrize("env,name", BAD, ids=[str(e) for e, _ in BAD])
def test_bad_settings_are_refused_naming_the_setting(tmp_path, env, name):
    res = subprocess.run([os.environ["CG_BINARY"], "--port", "0", "--env-file", os.devnull],
                         env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "DATA_DIR": str(tmp_path),
                              "API_KEY": API_KEY, "INGEST_KEY": INGEST_KEY, **env},
                         cwd=tmp_path, capture_output=True, text=True, timeout=10)
    assert res.returncode != 0
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and name in lines[0], res.stderr


def test_zero_turns_a_limit_off_even_with_a_zero_burst(make_server):
    srv = make_server(env={"RATE_LIMIT_RPM": "0", "RATE_LIMIT_BURST": "0", "INGEST_RPM": "0", "INGEST_BURST": "0"})
    assert srv.admin("GET", "/ingest/tokens")[0] == 200
