"""The database goes away under a running gateway and comes back (issue 7): while PostgreSQL cannot be reached,
ingest answers 503 + Retry-After and stores nothing it acknowledged, /health says the database is down, admin reads
answer 503; once it is back, the gateway reconnects by itself (backoff, no restart) and everything works again.

The gateway reaches the tests' PostgreSQL (a Unix socket) through a small TCP forwarder this test can switch off and
on, which is what a database restart or a network cut looks like from the gateway: connections refused, open ones
reset."""
import os
import socket
import threading
import time
import urllib.parse
import uuid

import pytest

import cg_postgres

pytestmark = pytest.mark.postgres_only


class Forwarder:
    """127.0.0.1:<port> → the PostgreSQL Unix socket; cut() closes the listener and every open connection."""

    def __init__(self, socket_path):
        self.socket_path = socket_path
        self.listener = None
        self.port = None
        self.conns = []
        self.lock = threading.Lock()

    def start(self, port=0):
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", port))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, args=(self.listener,), daemon=True).start()

    def _accept(self, listener):
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                upstream.connect(self.socket_path)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.conns += [client, upstream]
            threading.Thread(target=self._pipe, args=(client, upstream), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client), daemon=True).start()

    @staticmethod
    def _pipe(src, dst):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def cut(self):
        # shutdown() first: close() alone leaves a thread blocked in accept() accepting on the same socket.
        try:
            self.listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.listener.close()
        with self.lock:
            conns, self.conns = self.conns, []
        for s in conns:
            try:
                s.shutdown(socket.SHUT_RDWR)
                s.close()
            except OSError:
                pass


@pytest.fixture
def forwarded_database(backend):
    """A fresh database, and a URL that reaches it through a Forwarder (TCP, trust auth like the socket)."""
    name, url = cg_postgres.create_database()
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
    socket_path = os.path.join(query["host"][0], f".s.PGSQL.{query['port'][0]}")
    fwd = Forwarder(socket_path)
    fwd.start()
    yield fwd, f"postgresql://postgres@127.0.0.1:{fwd.port}/{name}?connect_timeout=2"
    fwd.cut()
    cg_postgres.drop_database(name)


def event(token):
    return {"tracking_token": token, "event_id": f"o-{uuid.uuid4().hex}", "model": "gpt-4o-mini",
            "prompt_tokens": 10, "completion_tokens": 2}


def test_database_down_is_503_with_retry_after_and_the_gateway_recovers_by_itself(forwarded_database, make_server):
    fwd, url = forwarded_database
    srv = make_server(env={"RATE_LIMIT_RPM": "0"}, database_url=url)
    token = srv.create_token("app")["token"]
    status, _, body = srv.ingest(event(token))
    assert status == 201, body
    acknowledged = {body["id"]}

    fwd.cut()
    statuses = []
    for _ in range(5):
        status, headers, body = srv.ingest(event(token))
        statuses.append(status)
        if status == 201:
            acknowledged.add(body["id"])
        else:
            assert status == 503, body
            assert int(headers["retry-after"]) >= 1
            assert body["error"] and "request_id" in body
    assert 503 in statuses
    status, headers, body = srv.request("GET", "/health")
    assert status == 503, body
    assert body["status"] == "unhealthy" and "database" in body["reason"]
    assert headers.get("retry-after")
    status, _, body = srv.admin("GET", "/data")
    assert status == 503, body

    fwd.start(fwd.port)  # the database is back, at the same address
    deadline = time.time() + 15
    while time.time() < deadline:
        status, _, body = srv.ingest(event(token))
        if status == 201:
            acknowledged.add(body["id"])
            break
        time.sleep(0.2)
    assert status == 201, body
    assert srv.request("GET", "/health")[0] == 200
    # Every 201 the gateway ever gave is in the database; nothing else is.
    stored = {row[0] for row in srv.rows("SELECT id FROM usage_events")}
    assert stored == acknowledged
