"""A corpus of malformed HTTP sent over raw sockets to the real binary: bad request lines, conflicting and bad
lengths, bad chunk sizes, huge and numerous headers, NUL, obs-fold, stray CR/LF. Each gets a clear 4xx JSON answer
and a closed connection (or, for obs-fold, the RFC's other choice: the fold read as a space), nothing is stored, and
the server goes on answering. The smuggling forms (Transfer-Encoding variants, Host) are in test_http_framing.py."""
import json

import pytest

from cg_server import Server, send_and_read

HOST = b"Host: a\r\n"
POST_INGEST = b"POST /ingest HTTP/1.1\r\n" + HOST
CHUNKED = POST_INGEST + b"Transfer-Encoding: chunked\r\n\r\n"

CORPUS = {  # name: (request bytes, expected status)
    "not a request line": (b"GARBAGE\r\n\r\n", 400),
    "no version": (b"GET /ping\r\n\r\n", 400),
    "unknown version": (b"GET /ping HTTP/9.9\r\n" + HOST + b"\r\n", 400),
    "a fourth token": (b"GET /ping HTTP/1.1 extra\r\n" + HOST + b"\r\n", 400),
    "NUL in the method": (b"G\x00ET /ping HTTP/1.1\r\n" + HOST + b"\r\n", 400),
    "two spaces": (b"GET  /ping HTTP/1.1\r\n" + HOST + b"\r\n", 400),
    "LF without CR": (b"GET /ping HTTP/1.1\nHost: a\n\n", 400),
    "a bare CR": (b"GET /ping HTTP/1.1\rHost: a\r\n\r\n", 400),
    "two different Content-Lengths": (POST_INGEST + b"Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}x", 400),
    "a negative Content-Length": (POST_INGEST + b"Content-Length: -1\r\n\r\n", 400),
    "an exponent in Content-Length": (POST_INGEST + b"Content-Length: 1e3\r\n\r\n", 400),
    "Content-Length past 2^64": (POST_INGEST + b"Content-Length: 18446744073709551616\r\n\r\n", 400),
    "a chunk size that is not hex": (CHUNKED + b"zz\r\n\r\n", 400),
    "a negative chunk size": (CHUNKED + b"-1\r\n\r\n", 400),
    "a chunk size past 2^64": (CHUNKED + b"FFFFFFFFFFFFFFFFF\r\n", 400),
    "a chunk without its CRLF": (CHUNKED + b"2\r\n{}XX0\r\n\r\n", 400),
    "one header of 9,000 bytes": (b"GET /ping HTTP/1.1\r\n" + HOST + b"X-Big: " + b"a" * 9000 + b"\r\n\r\n", 431),
    "2,000 small headers": (b"GET /ping HTTP/1.1\r\n" + HOST
                            + b"".join(b"X-H%d: v\r\n" % i for i in range(2000)) + b"\r\n", 431),
    "NUL in a header value": (b"GET /ping HTTP/1.1\r\n" + HOST + b"X-A: b\x00c\r\n\r\n", 400),
    "a header without a colon": (b"GET /ping HTTP/1.1\r\n" + HOST + b"X-A b\r\n\r\n", 400),
    "space before the colon": (b"GET /ping HTTP/1.1\r\nHost : a\r\n\r\n", 400),
}


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    server = Server(tmp_path_factory.mktemp("malformed"))
    server.start()
    yield server
    assert server.stop() == 0
    assert not server.sanitizer_reports()


@pytest.mark.parametrize("name", list(CORPUS))
def test_malformed_request_is_a_clear_4xx_and_closes(srv, name):
    data, expected = CORPUS[name]
    status, headers, body = send_and_read(srv.port, data, timeout=10)
    assert status == expected, (name, status, body[:200])
    assert headers.get("connection", "").lower() == "close", (name, headers)
    error = json.loads(body.decode("utf-8"))  # valid UTF-8 and JSON
    assert error["error"] and error["message"] and error["request_id"]
    assert send_and_read(srv.port, b"GET /ping HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")[0] == 200
    assert srv.event_count() == 0


def test_obs_fold_is_read_as_one_space_or_refused(srv):
    # RFC 9112 §5.2: a server either rejects obsolete line folding with 400 or replaces it with spaces.
    status, _, _ = send_and_read(srv.port, b"GET /ping HTTP/1.1\r\n" + HOST + b"X-A: b\r\n c\r\nConnection: close"
                                 b"\r\n\r\n")
    assert status in (200, 400)
