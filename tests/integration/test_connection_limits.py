"""MAX_CONNECTIONS_PER_CLIENT (issue 12): one address holding idle connections cannot shut every other client out.
Its connections past the limit get 503 + Retry-After and are closed; TRUSTED_PROXIES and CONNECTION_LIMIT_EXEMPT
(loopback by default) are not limited. The tests run on loopback, so they set CONNECTION_LIMIT_EXEMPT themselves and
tell clients apart by source address: 127.0.0.1 and 127.0.0.2 are both this machine."""
import http.client
import json
import socket
import time

import pytest

from cg_server import read_response

PING = b"GET /ping HTTP/1.1\r\nHost: t\r\n\r\n"


def connect_from(source, port):
    s = socket.create_connection(("127.0.0.1", port), timeout=5, source_address=(source, 0))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def served(source, port):
    """A keep-alive connection from `source` that was answered 200 (so the server has accepted and counted it)."""
    s = connect_from(source, port)
    s.sendall(PING)
    status, _, _, closed = read_response(s, timeout=5)
    assert status == 200 and not closed, status
    return s


def refused(source, port):
    """A connection from `source` that was answered 503 and closed; returns (headers, JSON body)."""
    s = connect_from(source, port)
    try:
        try:
            s.sendall(PING)
        except OSError:
            pass
        status, headers, body, _ = read_response(s, timeout=5)
        assert status == 503, (status, body)
        s.settimeout(5)
        assert s.recv(100) == b"", "a refused connection must be closed after its 503"
        return headers, json.loads(body)
    finally:
        s.close()


@pytest.fixture
def held():
    socks = []
    yield socks
    for s in socks:
        s.close()


def test_one_address_cannot_take_every_connection(make_server, held):
    srv = make_server(env={"MAX_CONNECTIONS_PER_CLIENT": "4", "CONNECTION_LIMIT_EXEMPT": ""})
    held += [served("127.0.0.1", srv.port) for _ in range(4)]

    headers, body = refused("127.0.0.1", srv.port)
    assert headers["retry-after"] == "1"
    assert headers["connection"].lower() == "close"
    assert headers["x-request-id"] and body["request_id"] == headers["x-request-id"]
    assert "MAX_CONNECTIONS_PER_CLIENT" in body["error"] and body["message"] == body["error"]

    # Another client is served meanwhile, and so are the four held connections.
    other = served("127.0.0.2", srv.port)
    held.append(other)
    for s in held[:4]:
        s.sendall(PING)
        assert read_response(s)[0] == 200

    # A closed connection gives its slot back (the server notices the close within a moment).
    held.pop(0).close()
    deadline = time.time() + 5
    while True:
        try:
            held.append(served("127.0.0.1", srv.port))
            break
        except AssertionError:
            assert time.time() < deadline, "the address never got its slot back"
            time.sleep(0.05)

    # 127.0.0.1 holds its four again: ask from the other address.
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10, source_address=("127.0.0.2", 0))
    status, _, figures = srv.admin("GET", "/metrics", conn=conn)
    conn.close()
    assert status == 200
    assert figures["connections"]["max_per_client"] == 4
    assert figures["connections"]["refused_per_client"] >= 1
    assert srv.wait_for_log(lambda r: r.get("event") == "client_connection_limit") is not None


def test_loopback_is_exempt_by_default(make_server, held):
    srv = make_server(env={"MAX_CONNECTIONS_PER_CLIENT": "2"})
    held += [served("127.0.0.1", srv.port) for _ in range(6)]


def test_exempt_addresses_and_trusted_proxies_are_not_limited(make_server, held):
    srv = make_server(env={"MAX_CONNECTIONS_PER_CLIENT": "2", "CONNECTION_LIMIT_EXEMPT": "127.0.0.2",
                           "TRUSTED_PROXIES": "127.0.0.3/32"})
    held += [served("127.0.0.2", srv.port) for _ in range(5)]
    held += [served("127.0.0.3", srv.port) for _ in range(5)]
    held += [served("127.0.0.1", srv.port) for _ in range(2)]
    refused("127.0.0.1", srv.port)


def test_the_limit_can_be_switched_off(make_server, held):
    srv = make_server(env={"MAX_CONNECTIONS_PER_CLIENT": "0", "CONNECTION_LIMIT_EXEMPT": ""})
    held += [served("127.0.0.1", srv.port) for _ in range(10)]

