"""Public routes, request ids, routing errors and the one shape of every error response (API.md, Conventions)."""
import json

import pytest

from cg_server import REQUEST_ID_RE, raw_connect, read_response, send_and_read


def assert_json_error(status, headers, body, expected_status):
    """Every error is JSON: error, message (the same text) and request_id (the X-Request-Id sent back)."""
    assert status == expected_status, body
    assert headers["content-type"].startswith("application/json"), headers
    assert isinstance(body, dict), body
    assert isinstance(body["error"], str) and body["error"], body
    assert body["message"] == body["error"], body
    assert body["request_id"] == headers["x-request-id"], (body, headers)
    assert "traceback" not in json.dumps(body).lower()


def test_ping(server):
    status, headers, body = server.request("GET", "/ping")
    assert status == 200
    assert body == {"message": "pong"}
    assert headers["content-type"].startswith("application/json")


def test_health(server):
    status, _, body = server.request("GET", "/health")
    assert status == 200
    assert body["status"] == "healthy"


def test_health_shows_where_the_database_is_to_the_admin_key_only(server):
    # Public (load balancers probe it without a key), so the database's path is not shown there (issue 12).
    for headers in ({}, {"X-API-Key": "wrong"}):
        status, _, body = server.request("GET", "/health", headers=headers)
        assert status == 200
        assert body["database"] == {"backend": server.backend}
        assert str(server.data_dir) not in str(body)
    status, _, body = server.admin("GET", "/health")
    assert status == 200
    assert body["database"]["backend"] == server.backend and body["database"]["location"]
    status, _, body = server.request("GET", "/health", headers={"Authorization": f"Bearer {server.api_key}"})
    assert body["database"]["location"]


def test_head_ping_has_no_body_and_keeps_the_connection(server):
    conn = server.connection()
    try:
        conn.request("HEAD", "/ping")
        res = conn.getresponse()
        assert res.status == 200
        assert res.read() == b""
        # HEAD announces the length GET would send.
        assert int(res.getheader("Content-Length")) == len(json.dumps({"message": "pong"}, separators=(",", ":")))
        assert REQUEST_ID_RE.match(res.getheader("X-Request-Id"))
        sock = conn.sock
        # Had the server sent a body after all, this response would be garbled.
        conn.request("GET", "/ping")
        res = conn.getresponse()
        assert res.status == 200
        assert json.loads(res.read()) == {"message": "pong"}
        assert conn.sock is sock
    finally:
        conn.close()


def test_generated_request_ids_are_valid_and_distinct(server):
    ids = set()
    for path in ["/ping", "/health", "/nope", "/ping"]:
        _, headers, _ = server.request("GET", path)
        assert REQUEST_ID_RE.match(headers["x-request-id"]), headers
        ids.add(headers["x-request-id"])
    assert len(ids) == 4


@pytest.mark.parametrize("incoming", ["abc-123_X.y:z", "r" * 128, "7", "0af7651916cd43dd8448eb211c80319c"])
def test_valid_incoming_request_id_is_kept(server, incoming):
    status, headers, _ = server.request("GET", "/ping", headers={"X-Request-Id": incoming})
    assert status == 200
    assert headers["x-request-id"] == incoming
    # Errors carry it too, in the body as well.
    status, headers, body = server.request("GET", "/nope", headers={"X-Request-Id": incoming})
    assert status == 404
    assert headers["x-request-id"] == incoming
    assert body["request_id"] == incoming


@pytest.mark.parametrize("incoming", ["has space", "r" * 129, "semi;colon", "slash/no", "quote\"d", "é-accent"])
def test_invalid_incoming_request_id_is_replaced(server, incoming):
    raw = incoming.encode("utf-8")
    sock = raw_connect(server.port)
    try:
        sock.sendall(b"GET /ping HTTP/1.1\r\nHost: t\r\nX-Request-Id: " + raw + b"\r\n\r\n")
        status, headers, _, _ = read_response(sock)
    finally:
        sock.close()
    assert status == 200
    assert headers["x-request-id"] != incoming
    assert REQUEST_ID_RE.match(headers["x-request-id"]), headers


def test_every_response_has_a_request_id(server):
    token = server.create_token("rid")["token"]
    cases = [
        ("GET", "/ping", None, {}),
        ("GET", "/health", None, {}),
        ("HEAD", "/ping", None, {}),
        ("GET", "/ingest/tokens", None, {"X-API-Key": server.api_key}),
        ("GET", "/ingest/tokens", None, {}),
        ("POST", "/ingest", {"tracking_token": token, "model": "m"}, {"X-Ingest-Key": server.ingest_key}),
        ("POST", "/ingest", {"model": "m"}, {"X-Ingest-Key": server.ingest_key}),
        ("DELETE", "/ping", None, {}),
        ("GET", "/does/not/exist", None, {}),
    ]
    for method, path, body, hdrs in cases:
        _, headers, _ = server.request(method, path, body, hdrs)
        assert REQUEST_ID_RE.match(headers.get("x-request-id", "")), (method, path, headers)


def test_unknown_path_is_a_json_404(server):
    status, headers, body = server.request("GET", "/no/such/route")
    assert_json_error(status, headers, body, 404)
    status, headers, body = server.request("POST", "/ingestx", {"a": 1})
    assert_json_error(status, headers, body, 404)


@pytest.mark.parametrize("method,path,allowed", [
    ("GET", "/ingest", {"POST"}),
    ("PUT", "/ingest", {"POST"}),
    ("DELETE", "/ping", {"GET"}),
    ("POST", "/ping", {"GET"}),
    ("POST", "/health", {"GET"}),
    ("PUT", "/ingest/tokens", {"GET", "POST"}),
    ("GET", "/ingest/tokens/1/active", {"PATCH"}),
])
def test_wrong_method_is_a_json_405_with_allow(server, method, path, allowed):
    status, headers, body = server.request(method, path, headers={"X-API-Key": server.api_key})
    assert_json_error(status, headers, body, 405)
    allow = {m.strip() for m in headers["allow"].split(",")}
    # HEAD may be listed wherever GET is; nothing else.
    assert allow - {"HEAD"} == allowed, headers["allow"]


def test_malformed_request_is_a_json_400(server):
    status, headers, body = send_and_read(server.port, b"THIS IS NOT HTTP\r\n\r\n")
    assert status == 400
    parsed = json.loads(body)
    assert parsed["error"] and parsed["message"] == parsed["error"]
    assert parsed["request_id"] == headers["x-request-id"]


def test_every_error_has_the_same_shape(server):
    """A tour of the error statuses a client can provoke; each is JSON error/message/request_id."""
    token = server.create_token("shape")["token"]
    ik = {"X-Ingest-Key": server.ingest_key}
    cases = [
        (404, "GET", "/nope", None, {}),
        (405, "GET", "/ingest", None, {}),
        (401, "GET", "/ingest/tokens", None, {}),
        (401, "POST", "/ingest", {"tracking_token": token, "model": "m"}, {}),
        (400, "POST", "/ingest", {"tracking_token": token}, ik),
        (400, "POST", "/ingest", "{not json", {**ik, "Content-Type": "application/json"}),
        (415, "POST", "/ingest", "model=m", {**ik, "Content-Type": "text/plain"}),
        (404, "POST", "/ingest", {"tracking_token": "nobody-has-this-token", "model": "m"}, ik),
        (409, "POST", "/ingest/tokens", {"label": "shape"}, {"X-API-Key": server.api_key}),
    ]
    for expected, method, path, body, hdrs in cases:
        status, headers, payload = server.request(method, path, body, hdrs)
        assert_json_error(status, headers, payload, expected)

    # 431 and 413 are answered before the request is read whole.
    big_header = b"GET /ping HTTP/1.1\r\nHost: t\r\nX-Filler: " + b"a" * 9000 + b"\r\n\r\n"
    status, headers, body = send_and_read(server.port, big_header)
    assert_json_error(status, headers, json.loads(body), 431)
    huge = b"x" * (1024 * 1024 + 1)
    req = (b"POST /ingest HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nX-Ingest-Key: "
           + server.ingest_key.encode() + b"\r\nContent-Length: " + str(len(huge)).encode() + b"\r\n\r\n" + huge)
    status, headers, body = send_and_read(server.port, req)
    assert_json_error(status, headers, json.loads(body), 413)


def test_long_request_line_counts_towards_the_header_limit(server):
    status, headers, body = send_and_read(server.port, b"GET /ping?q=" + b"a" * 9000 + b" HTTP/1.1\r\nHost: t\r\n\r\n")
    assert_json_error(status, headers, json.loads(body), 431)
    # Just under the limit is fine.
    status, _, _ = send_and_read(server.port, b"GET /ping?q=" + b"a" * 7000 + b" HTTP/1.1\r\nHost: t\r\n\r\n")
    assert status == 200


def test_head_on_an_error_has_no_body(server):
    conn = server.connection()
    try:
        conn.request("HEAD", "/nope")
        res = conn.getresponse()
        assert res.status == 404
        assert res.read() == b""
        assert REQUEST_ID_RE.match(res.getheader("X-Request-Id"))
        conn.request("GET", "/ping")
        res = conn.getresponse()
        assert (res.status, json.loads(res.read())) == (200, {"message": "pong"})
    finally:
        conn.close()
