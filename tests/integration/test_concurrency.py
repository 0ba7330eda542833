"""Many clients at once: dedupe under concurrency (exactly one 201 per key), keep-alive, Connection: close."""
import http.client
import json
import random
import threading

from cg_server import raw_connect, read_response, wait_closed

CLIENTS = 50


def run_clients(server, work, barrier_phases=False):
    """work: one list of (phase, token, event_id) per client. Each client sends its events over its own keep-alive
    connection; with barrier_phases, all clients start phase 1 together. Returns [(token, event_id, status, body,
    socket-reused)] and any exceptions."""
    results = []
    errors = []
    lock = threading.Lock()
    barrier = threading.Barrier(len(work))

    def client(items):
        conn = server.connection(timeout=60)
        out = []
        try:
            conn.connect()
            sock = conn.sock
            phase = 0
            for item_phase, token, event_id in items:
                if barrier_phases and item_phase != phase:
                    barrier.wait(timeout=60)
                    phase = item_phase
                status, _, body = server.ingest(
                    {"tracking_token": token, "event_id": event_id, "model": "gpt-4o-mini", "prompt_tokens": 10,
                     "completion_tokens": 2}, conn=conn)
                out.append((token, event_id, status, body, conn.sock is sock))
            if barrier_phases and phase == 0:
                barrier.wait(timeout=60)
        except Exception as e:  # noqa: BLE001 - reported by the test
            with lock:
                errors.append(repr(e))
            barrier.abort()
        finally:
            conn.close()
        with lock:
            results.extend(out)

    threads = [threading.Thread(target=client, args=(items,)) for items in work]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not any(t.is_alive() for t in threads), "a client thread hung"
    return results, errors


def test_concurrent_ingest_with_duplicates(server):
    rng = random.Random(20240115)
    tokens = [server.create_token(f"conc-{i}") for i in range(3)]
    token_ids = {t["token"]: t["id"] for t in tokens}

    # Phase 0: 1,600 events, of which 20% repeat an earlier key (sent by whichever client draws it).
    unique = [(rng.choice(tokens)["token"], f"evt-{n}") for n in range(1280)]
    phase0 = list(unique)
    for _ in range(320):
        phase0.append(rng.choice(unique))
    rng.shuffle(phase0)
    work = [[(0, tok, eid) for tok, eid in phase0[i::CLIENTS]] for i in range(CLIENTS)]
    # Phase 1: 20 hot keys, each sent by 20 different clients at the same moment (after a barrier): 400 events.
    hot = [(tokens[k % 3]["token"], f"hot-{k}") for k in range(20)]
    for i in range(CLIENTS):
        for j in range(8):
            k = (i + j * 7) % 20
            work[i].append((1, *hot[k]))
    assert sum(len(w) for w in work) == 2000

    results, errors = run_clients(server, work, barrier_phases=True)
    assert not errors, errors[:5]
    assert len(results) == 2000

    created = {}  # key -> id of the one 201
    duplicates = []
    for token, event_id, status, body, _ in results:
        key = (token, event_id)
        if status == 201:
            assert body["ok"] is True
            assert key not in created, f"two 201s for {key}: {created[key]} and {body['id']}"
            created[key] = body["id"]
        else:
            assert status == 200, (status, body)
            assert body["duplicate"] is True
            duplicates.append((key, body["id"]))

    distinct = set(unique) | set(hot)
    assert set(created) == distinct, "some key was never created"
    assert len(duplicates) == 2000 - len(distinct)
    for key, dup_id in duplicates:
        assert dup_id == created[key], f"duplicate of {key} answered id {dup_id}, the row is {created[key]}"

    stored = server.events_by_id()
    assert len(stored) == len(distinct)
    assert len(set(created.values())) == len(created)
    for (token, event_id), row_id in created.items():
        assert stored.get(row_id) == (token_ids[token], event_id), (row_id, token, event_id)

    # Every client kept its one connection for all its requests.
    assert all(reused for *_, reused in results)


def test_keep_alive_reuses_one_connection(server):
    token = server.create_token("ka")["token"]
    conn = server.connection()
    try:
        conn.connect()
        sock = conn.sock
        local = sock.getsockname()
        for n in range(150):
            if n % 3 == 0:
                status, headers, body = server.request("GET", "/ping", conn=conn)
            elif n % 3 == 1:
                status, headers, body = server.ingest({"tracking_token": token, "model": "m", "event_id": f"k{n}"},
                                                      conn=conn)
            else:
                status, headers, body = server.admin("GET", "/ingest/tokens", conn=conn)
            assert status in (200, 201), body
            assert headers.get("connection", "").lower() != "close"
            assert conn.sock is sock, f"the server closed the connection after request {n}"
        assert sock.getsockname() == local
        # Errors keep the connection too (their body was read whole).
        for path in ["/nope", "/ingest"]:
            status, _, _ = server.request("GET", path, conn=conn)
            assert status in (404, 405)
            assert conn.sock is sock
        status, _, _ = server.ingest({"model": "m"}, conn=conn)
        assert status == 400
        assert conn.sock is sock
    finally:
        conn.close()
    assert server.event_count() == 50


def test_connection_close_is_honoured(server):
    sock = raw_connect(server.port)
    try:
        sock.sendall(b"GET /ping HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        status, headers, body, _ = read_response(sock)
        assert status == 200
        assert json.loads(body) == {"message": "pong"}
        assert headers.get("connection", "").lower() == "close"
        elapsed, extra = wait_closed(sock, 5)
        assert elapsed is not None, "the server kept the connection open after Connection: close"
        assert extra == b""
    finally:
        sock.close()


def test_http_1_0_closes_unless_keep_alive(server):
    sock = raw_connect(server.port)
    try:
        sock.sendall(b"GET /ping HTTP/1.0\r\n\r\n")
        status, _, body, _ = read_response(sock)
        assert status == 200
        elapsed, _ = wait_closed(sock, 5)
        assert elapsed is not None, "HTTP/1.0 without keep-alive must be closed"
    finally:
        sock.close()
    sock = raw_connect(server.port)
    try:
        for _ in range(3):
            sock.sendall(b"GET /ping HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            status, headers, _, closed = read_response(sock)
            assert status == 200 and not closed
            assert headers.get("connection", "").lower() == "keep-alive"
    finally:
        sock.close()


def test_pipelined_requests_are_answered_in_order(server):
    sock = raw_connect(server.port)
    try:
        reqs = b"".join(b"GET /ping HTTP/1.1\r\nHost: t\r\nX-Request-Id: pipe-%d\r\n\r\n" % i for i in range(5))
        sock.sendall(reqs + b"GET /nope HTTP/1.1\r\nHost: t\r\nX-Request-Id: pipe-last\r\n\r\n")
        for i in range(5):
            status, headers, _, _ = read_response(sock)
            assert (status, headers["x-request-id"]) == (200, f"pipe-{i}")
        status, headers, _, _ = read_response(sock)
        assert (status, headers["x-request-id"]) == (404, "pipe-last")
    finally:
        sock.close()


def test_many_short_connections_in_parallel(server):
    """Connections opened and closed at a high rate from many threads: every request answered."""
    failures = []
    statuses = []

    def worker():
        for _ in range(20):
            try:
                conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
                conn.request("GET", "/ping")
                statuses.append(conn.getresponse().status)
                conn.close()
            except Exception as e:  # noqa: BLE001
                failures.append(repr(e))

    threads = [threading.Thread(target=worker) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not failures, failures[:5]
    assert statuses == [200] * 400
