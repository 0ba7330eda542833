"""The connection layer (issues 11 and 12): RFC 9112 message framing (Transfer-Encoding, Content-Length, Host),
valid UTF-8 in every JSON body and log line whatever bytes a client sends, and requests refused before the pipeline
(400, 413, 431) counted in /metrics and answered with CORS headers. Raw bytes over a socket to the real binary."""
import json
import time

import pytest

from cg_server import raw_connect, read_response, send_and_read, wait_closed

ORIGIN = "https://app.example.com"
ENV = {"RATE_LIMIT_RPM": "0", "ALLOWED_ORIGINS": ORIGIN}


@pytest.fixture
def srv(make_server):
    s = make_server(env=ENV)
    s.token = s.create_token("framing")["token"]
    return s


def ingest_request(srv, event_id="smuggled"):
    body = json.dumps({"tracking_token": srv.token, "model": "gpt-4o-mini", "prompt_tokens": 1,
                       "event_id": event_id}).encode()
    return (b"POST /ingest HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nX-Ingest-Key: "
            + srv.ingest_key.encode() + b"\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)


def send_raw(srv, data):
    """Sends data on a fresh connection; returns (status, headers, body, closed after it, everything else read)."""
    sock = raw_connect(srv.port)
    try:
        sock.sendall(data)
        status, headers, body, _ = read_response(sock)
        elapsed, rest = wait_closed(sock, 5)
        return status, headers, body, elapsed is not None, rest
    finally:
        sock.close()


def assert_refused(srv, data, expected=400):
    status, headers, body, closed, rest = send_raw(srv, data)
    assert status == expected, body
    assert closed, "the connection must be closed after a request whose framing cannot be trusted"
    assert rest == b"", f"a second response came back: the body was read as a request: {rest[:200]!r}"
    assert json.loads(body)["error"]
    assert headers.get("connection", "close").lower() == "close"  # HTTP/1.0: close is the default
    return json.loads(body)


# ---- Transfer-Encoding and Content-Length (RFC 9112 §6.1, §6.3) ------------------------------------------------

@pytest.mark.parametrize("coding", [b"identity", b"gzip", b"xchunked", b"chunked, chunked", b"gzip, chunked",
                                    b"chunked, gzip", b"chunked;x=1", b"", b"chunked\r\nTransfer-Encoding: chunked",
                                    b"gzip\r\nTransfer-Encoding: chunked"])
def test_a_transfer_encoding_other_than_one_chunked_is_400_and_its_body_is_never_a_request(srv, coding):
    # Before the fix the body below was parsed as the next request: 405 for /ping, then 201 and a stored row.
    smuggled = ingest_request(srv)
    data = (b"POST /ping HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: " + coding + b"\r\n\r\n" + smuggled)
    assert_refused(srv, data)
    assert srv.event_count() == 0


@pytest.mark.parametrize("headers", [
    b"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n",
    b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",
    b"Transfer-Encoding: identity\r\nContent-Length: 5\r\n",
    b"Content-Length: 5\r\nTransfer-Encoding: identity\r\n",
])
def test_transfer_encoding_with_content_length_is_400(srv, headers):
    data = b"POST /ingest HTTP/1.1\r\nHost: t\r\n" + headers + b"\r\n0\r\n\r\n" + ingest_request(srv)
    assert_refused(srv, data)
    assert srv.event_count() == 0


def test_transfer_encoding_in_http_1_0_is_400(srv):
    assert_refused(srv, b"POST /ping HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")


def test_a_lone_chunked_still_works(srv):
    body = json.dumps({"tracking_token": srv.token, "model": "gpt-4o-mini", "prompt_tokens": 2}).encode()
    chunked = b"%x\r\n" % len(body) + body + b"\r\n0\r\n\r\n"
    for coding in (b"chunked", b"Chunked", b" chunked "):
        data = (b"POST /ingest HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nX-Ingest-Key: "
                + srv.ingest_key.encode() + b"\r\nTransfer-Encoding:" + coding + b"\r\n\r\n" + chunked)
        status, _, payload = send_and_read(srv.port, data)
        assert status == 201, payload
    assert srv.event_count() == 3


# ---- Host (RFC 9112 §3.2) --------------------------------------------------------------------------------------

def test_http_1_1_needs_exactly_one_host(srv):
    body = assert_refused(srv, b"GET /ping HTTP/1.1\r\n\r\n")
    assert "Host" in body["error"]
    body = assert_refused(srv, b"GET /ping HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n")
    assert "Host" in body["error"]
    # The body of a refused request is not read as a request either.
    assert_refused(srv, b"POST /ping HTTP/1.1\r\nContent-Length: " + str(len(ingest_request(srv))).encode()
                   + b"\r\n\r\n" + ingest_request(srv))
    assert srv.event_count() == 0
    # HTTP/1.0 has no Host requirement; one Host is fine.
    assert send_and_read(srv.port, b"GET /ping HTTP/1.0\r\n\r\n")[0] == 200
    assert send_and_read(srv.port, b"GET /ping HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")[0] == 200


# ---- valid UTF-8 in bodies and logs ----------------------------------------------------------------------------

@pytest.mark.parametrize("log_format", ["json"])  # the harness reads a JSON first line
def test_bytes_that_are_not_utf8_never_reach_a_body_or_a_log_line(make_server, log_format):
    srv = make_server(env={**ENV, "LOG_FORMAT": log_format})
    key = b"X-API-Key: " + srv.api_key.encode() + b"\r\n"
    cases = [
        (404, b"GET /nosuch\xff HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"),
        (404, b"GET /nosuch%FF HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"),
        (400, b"GET /data?ingest_token_id=%FF HTTP/1.1\r\nHost: t\r\n" + key + b"Connection: close\r\n\r\n"),
        (400, b"GET /data?%C0%AF=1 HTTP/1.1\r\nHost: t\r\n" + key + b"Connection: close\r\n\r\n"),
        (404, b"GET /dashboard/%FF%FE HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"),
        (404, b"GET /dashboard/\xed\xa0\x80\xf4\x90\x80\x80 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"),
    ]
    for expected, data in cases:
        status, _, body = send_and_read(srv.port, data)
        assert status == expected, body
        text = body.decode("utf-8")  # strict: raises on any invalid sequence
        assert json.loads(text)["error"]
    assert srv.stop() == 0
    # The test harness reads the server's stdout as strict UTF-8 text: one invalid byte there would have stopped
    # the reading (and these lines would be missing).
    out = srv.stdout_text()
    assert out.count("/nosuch") >= 2 and "/dashboard/" in out, out[-2000:]
    assert "\ufffd" in out
    if log_format == "json":
        paths = [r["path"] for r in srv.log_records() if r.get("event") == "request"]
        assert "/nosuch\ufffd" in paths, paths


# ---- refused before the pipeline: counted, and CORS for an allowed origin --------------------------------------

def test_refused_requests_are_counted_and_carry_cors_headers(srv):
    origin = b"Origin: " + ORIGIN.encode() + b"\r\n"
    # 431: the headers never finish parsing; the Origin is read from the raw bytes.
    big = b"GET /data HTTP/1.1\r\nHost: t\r\n" + origin + b"X-Filler: " + b"a" * 9000 + b"\r\n\r\n"
    status, headers, _ = send_and_read(srv.port, big)
    assert status == 431
    assert headers["access-control-allow-origin"] == ORIGIN and "Origin" in headers["vary"]
    assert "X-Request-Id" in headers["access-control-expose-headers"]
    # 413: over the body limit on an admin path.
    huge = b"POST /ingest/tokens HTTP/1.1\r\nHost: t\r\n" + origin + b"Content-Length: 2000000\r\n\r\n" + b"x" * 2000000
    status, headers, _ = send_and_read(srv.port, huge)
    assert status == 413 and headers.get("access-control-allow-origin") is None  # /ingest*: never CORS
    huge = b"POST /reset HTTP/1.1\r\nHost: t\r\n" + origin + b"Content-Length: 2000000\r\n\r\n" + b"x" * 2000000
    status, headers, _ = send_and_read(srv.port, huge)
    assert status == 413 and headers["access-control-allow-origin"] == ORIGIN
    # 400: malformed HTTP, and bad framing.
    status, headers, _ = send_and_read(srv.port, b"GET /ping HTTP/1.1\r\nHost: t\r\n" + origin + b"Bad header\r\n\r\n")
    assert status == 400 and headers["access-control-allow-origin"] == ORIGIN
    status, headers, _ = send_and_read(srv.port, b"GET /ping HTTP/1.1\r\n" + origin + b"\r\n")
    assert status == 400 and headers["access-control-allow-origin"] == ORIGIN
    # An origin that is not allowed gets none.
    status, headers, _ = send_and_read(srv.port, big.replace(ORIGIN.encode(), b"https://evil.example"))
    assert status == 431 and "access-control-allow-origin" not in headers

    status, _, metrics = srv.admin("GET", "/metrics")
    assert status == 200
    assert metrics["counters"]["http_refused"] == {"400": 2, "413": 2, "431": 2}, metrics["counters"]
    status, _, text = srv.admin("GET", "/metrics?format=prometheus")
    assert 'cost_guardian_http_requests_total{method="(any)",route="(refused)",status="431"} 2' in text, text
    assert 'cost_guardian_http_requests_total{method="(any)",route="(refused)",status="413"} 2' in text
    assert 'cost_guardian_http_requests_total{method="(any)",route="(refused)",status="400"} 2' in text
