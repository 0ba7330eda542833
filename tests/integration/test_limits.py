"""Slow and idle clients are cut off by the header, body and idle timeouts; MAX_CONNECTIONS caps open connections."""
import json
import time

import pytest

from cg_server import is_open, raw_connect, read_response, wait_closed

SHORT = {"HEADER_TIMEOUT_MS": "500", "BODY_TIMEOUT_MS": "500", "IDLE_TIMEOUT_MS": "700"}
# How late a timeout may fire on two busy shared cores before we call it broken.
SLACK = 2.5


@pytest.fixture
def short(make_server):
    return make_server(env=SHORT)


def ingest_head(srv, length, extra=b""):
    return (b"POST /ingest HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nX-Ingest-Key: "
            + srv.ingest_key.encode() + b"\r\nContent-Length: " + str(length).encode() + b"\r\n" + extra + b"\r\n")


def assert_no_response_or_408(data):
    """A timed-out client gets at most a 408 before the close, never a normal answer."""
    assert data == b"" or data.startswith(b"HTTP/1.1 408"), data[:200]


def test_half_headers_are_cut_off_after_the_header_timeout(short):
    sock = raw_connect(short.port)
    try:
        sock.sendall(b"GET /ping HTTP/1.1\r\nHost: t\r\n")  # and no blank line, ever
        elapsed, data = wait_closed(sock, 10)
    finally:
        sock.close()
    assert elapsed is not None, "a client that never finished its headers was never disconnected"
    assert 0.4 <= elapsed <= 0.5 + SLACK, elapsed
    assert_no_response_or_408(data)


def test_trickled_headers_are_cut_off_too(short):
    """Slowloris: a byte every 100 ms keeps no connection alive past the header timeout."""
    sock = raw_connect(short.port)
    request = b"GET /ping HTTP/1.1\r\nHost: t\r\nX-Slow: " + b"a" * 200
    start = time.time()
    cut_off = None
    try:
        for i in range(len(request)):
            try:
                sock.sendall(request[i:i + 1])
            except (BrokenPipeError, ConnectionResetError):
                cut_off = time.time() - start
                break
            if not is_open(sock):
                cut_off = time.time() - start
                break
            time.sleep(0.1)
    finally:
        sock.close()
    assert cut_off is not None, "a trickling client was served for 20 s"
    assert cut_off <= 0.5 + SLACK, cut_off


def test_connection_that_sends_nothing_is_closed(short):
    sock = raw_connect(short.port)
    try:
        elapsed, data = wait_closed(sock, 10)
    finally:
        sock.close()
    assert elapsed is not None
    assert elapsed <= 0.7 + SLACK, elapsed
    assert_no_response_or_408(data)


def test_partial_body_is_cut_off_after_the_body_timeout(short):
    token = short.create_token("slow-body")["token"]
    body = json.dumps({"tracking_token": token, "model": "m"}).encode().ljust(100)
    assert len(body) == 100
    sock = raw_connect(short.port)
    try:
        sock.sendall(ingest_head(short, 100) + body[:10])
        elapsed, data = wait_closed(sock, 10)
    finally:
        sock.close()
    assert elapsed is not None, "a client that sent 10 of 100 body bytes was never disconnected"
    assert 0.4 <= elapsed <= 0.5 + SLACK, elapsed
    assert_no_response_or_408(data)
    assert short.event_count() == 0
    # The whole body in time is served.
    sock = raw_connect(short.port)
    try:
        sock.sendall(ingest_head(short, 100) + body[:10])
        time.sleep(0.2)
        sock.sendall(body[10:])
        status, _, resp, _ = read_response(sock)
        assert status == 201, resp
    finally:
        sock.close()
    assert short.event_count() == 1


def test_idle_keep_alive_connection_is_closed(short):
    sock = raw_connect(short.port)
    try:
        sock.sendall(b"GET /ping HTTP/1.1\r\nHost: t\r\n\r\n")
        status, _, _, closed = read_response(sock)
        assert status == 200 and not closed
        # Within the idle timeout the connection still serves.
        time.sleep(0.3)
        sock.sendall(b"GET /ping HTTP/1.1\r\nHost: t\r\n\r\n")
        status, _, _, closed = read_response(sock)
        assert status == 200 and not closed
        elapsed, data = wait_closed(sock, 10)
    finally:
        sock.close()
    assert elapsed is not None, "an idle keep-alive connection was never closed"
    assert 0.55 <= elapsed <= 0.7 + SLACK, elapsed
    assert data == b""


def test_stalled_clients_do_not_stop_others(make_server):
    # Long timeouts here: the stalled clients must still be stalled while the others are served.
    srv = make_server(env={"HEADER_TIMEOUT_MS": "8000", "BODY_TIMEOUT_MS": "8000"})
    token = srv.create_token("busy")["token"]
    stalled = []
    try:
        for _ in range(10):
            s = raw_connect(srv.port)
            s.sendall(b"GET /ping HTTP/1.1\r\nHost: t\r\n")
            stalled.append(s)
        for _ in range(10):
            s = raw_connect(srv.port)
            s.sendall(ingest_head(srv, 100) + b"{")
            stalled.append(s)
        time.sleep(0.1)
        start = time.time()
        conn = srv.connection(timeout=5)
        try:
            for n in range(30):
                status, _, body = srv.ingest({"tracking_token": token, "model": "m", "event_id": f"n{n}"}, conn=conn)
                assert status == 201, body
                status, _, _ = srv.request("GET", "/ping", conn=conn)
                assert status == 200
        finally:
            conn.close()
        assert time.time() - start < 5
        # They really were stalled all along (not quietly dropped).
        assert all(is_open(s) for s in stalled)
    finally:
        for s in stalled:
            s.close()
    assert srv.event_count() == 30


def open_served(port, count, timeout=5):
    """`count` connections that each had a request answered. Connections the client closed earlier (the start-up
    health check, say) count until the server notices, so a refusal is retried for a moment."""
    deadline = time.time() + timeout
    served = []
    while len(served) < count:
        s = raw_connect(port)
        try:
            s.sendall(b"GET /ping HTTP/1.1\r\nHost: t\r\n\r\n")
            status, _, _, closed = read_response(s, timeout=2)
            assert status == 200 and not closed
            served.append(s)
        except (ConnectionError, OSError):
            s.close()
            if time.time() > deadline:
                for t in served:
                    t.close()
                raise AssertionError(f"only {len(served)} of {count} connections were served")
            time.sleep(0.05)
    return served


def test_max_connections(make_server):
    srv = make_server(env={"MAX_CONNECTIONS": "5"})
    held = []
    try:
        held = open_served(srv.port, 5)

        # The sixth is closed at once, unanswered.
        extra = raw_connect(srv.port)
        try:
            extra.sendall(b"GET /ping HTTP/1.1\r\nHost: t\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        elapsed, data = wait_closed(extra, 5)
        extra.close()
        assert elapsed is not None and elapsed < 1.0, elapsed
        assert data == b""

        # The five still work.
        for s in held:
            s.sendall(b"GET /ping HTTP/1.1\r\nHost: t\r\n\r\n")
            status, _, _, closed = read_response(s)
            assert status == 200 and not closed

        # Close two; two new connections work (the server may take a moment to notice the closes).
        for s in held[:2]:
            s.close()
        held = held[2:]
        held += open_served(srv.port, 2)

        # Five open again: the next is refused again.
        extra = raw_connect(srv.port)
        elapsed, _ = wait_closed(extra, 5)
        extra.close()
        assert elapsed is not None and elapsed < 1.0, elapsed
    finally:
        for s in held:
            s.close()
