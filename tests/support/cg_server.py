"""Start and talk to a real cost-guardian process (tests and benchmarks share this)."""
import http.client
import json
import os
import re
import select
import signal
import socket
import sqlite3
import subprocess
import threading
import time
import weakref

import cg_postgres

API_KEY = "test-admin-key-0123456789"
INGEST_KEY = "test-ingest-key-0123456789"

# What API.md allows a kept X-Request-Id to look like (and what a generated one must look like too).
REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
# ISO-8601 UTC with Z, microseconds at most.
ISO_Z_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z$")


BACKENDS = ("sqlite", "postgresql")


class Server:
    """One cost-guardian process on an ephemeral port.

    env: extra environment (a value of None removes a default such as API_KEY); args: extra flags, after the
    defaults, so they win; env_file: passed as --env-file (None: no flag, the binary looks for ./.env in data_dir).
    backend: "sqlite" (the file in data_dir) or "postgresql": a database of its own on the tests' PostgreSQL server
    (cg_postgres), made at the first start, passed as DATABASE_URL, kept across restarts, dropped by close().
    database_url: a PostgreSQL database to share with other servers (the caller makes and drops it).
    Every start checks that /health reports the backend asked for, so a binary that ignored DATABASE_URL fails.
    """

    def __init__(self, data_dir, env=None, args=None, binary=None, env_file=os.devnull, preexec_fn=None,
                 backend="sqlite", database_url=None):
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, not {backend!r}")
        self.backend = "postgresql" if database_url else backend
        self.database_url = database_url
        self.database_name = None  # the database this Server made, and close() drops
        self.data_dir = str(data_dir)
        os.makedirs(self.data_dir, exist_ok=True)
        self.binary = os.path.abspath(binary or os.environ["CG_BINARY"])
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            # Sanitizer builds: the server must see the same options the test run was given.
            **{k: v for k, v in os.environ.items() if k.endswith("SAN_OPTIONS")},
            "API_KEY": API_KEY,
            "INGEST_KEY": INGEST_KEY,
            "DATA_DIR": self.data_dir,
            "THREADS": "2",
        }
        self.env.update(env or {})
        self.env = {k: v for k, v in self.env.items() if v is not None}
        self.args = list(args or [])
        self.env_file = env_file
        self.preexec_fn = preexec_fn
        # The keys the helpers send; tests of generated or .env keys set these after start().
        self.api_key = self.env.get("API_KEY", API_KEY)
        self.ingest_key = self.env.get("INGEST_KEY", INGEST_KEY)
        self.proc = None
        self._drains = []
        self.port = None
        self.first_line = None
        self.lines = []
        self.stderr_lines = []

    @property
    def db_path(self):
        return self.env.get("DB_PATH") or os.path.join(self.data_dir, self.env.get("DB_FILENAME", "usage_log.sqlite"))

    @property
    def database(self):
        """Where the events are: the SQLite file's path, or the PostgreSQL database's URL (admin_data takes both)."""
        if self.backend == "postgresql":
            self._ensure_database()
            return self.database_url
        return self.db_path

    def _ensure_database(self):
        if self.backend == "postgresql" and self.database_url is None:
            self.database_name, self.database_url = cg_postgres.create_database()
        if self.database_url:
            self.env["DATABASE_URL"] = self.database_url

    def drop_database(self):
        """Drops the PostgreSQL database this Server made (the process must have stopped)."""
        if self.database_name:
            cg_postgres.drop_database(self.database_name)
            self.database_name = self.database_url = None
            self.env.pop("DATABASE_URL", None)

    def close(self):
        """Stops the process and drops the database it made; returns the exit code."""
        try:
            return self.stop()
        finally:
            self.drop_database()

    def check_backend(self):
        """Raises unless /health says the process runs the backend this Server asked for."""
        status, _, body = self.request("GET", "/health")
        database = body.get("database") if isinstance(body, dict) else None
        running = database.get("backend") if isinstance(database, dict) else None
        # An older binary that reports no backend is fine on SQLite, its only one, never on PostgreSQL.
        if running != self.backend and not (self.backend == "sqlite" and running is None):
            raise RuntimeError(f"asked for the {self.backend} backend, but GET /health ({status}) reports "
                               f"database.backend = {running!r}: {body}")

    def command(self):
        cmd = [self.binary, "--port", "0", "--host", "127.0.0.1"]
        if self.env_file is not None:
            cmd += ["--env-file", str(self.env_file)]
        return cmd + self.args

    def start(self, wait_healthy=True, timeout=15):
        self._ensure_database()
        self.lines = []
        self.stderr_lines = []
        self.proc = subprocess.Popen(
            self.command(), cwd=self.data_dir, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, preexec_fn=self.preexec_fn)
        # readline() with a deadline: a server that hangs before listening must fail the test, not hang it.
        first = []
        reader = threading.Thread(target=lambda: first.append(self.proc.stdout.readline()), daemon=True)
        reader.start()
        reader.join(timeout)
        if reader.is_alive():
            self.proc.kill()
            self.proc.wait()
            raise RuntimeError(f"server printed nothing within {timeout} s")
        line = first[0]
        if not line:
            err = self.proc.stderr.read()
            self.proc.wait()
            raise RuntimeError(f"server exited ({self.proc.returncode}) before listening: {err}")
        self.first_line = json.loads(line)
        assert self.first_line["event"] == "listening", self.first_line
        self.port = int(self.first_line["port"])
        # Keep draining both pipes so the server never blocks on a full pipe.
        self._drains = [threading.Thread(target=self._drain, args=(self.proc.stdout, self.lines), daemon=True),
                        threading.Thread(target=self._drain, args=(self.proc.stderr, self.stderr_lines), daemon=True)]
        for t in self._drains:
            t.start()
        if wait_healthy:
            deadline = time.time() + 10
            while True:
                try:
                    status, _, _ = self.request("GET", "/health")
                    if status == 200:
                        break
                except OSError:
                    pass
                if time.time() > deadline:
                    self._kill()
                    raise RuntimeError(f"server never became healthy: {''.join(self.stderr_lines[-20:])}")
                time.sleep(0.05)
            try:
                self.check_backend()
            except Exception:
                self._kill()
                raise
        return self

    def _kill(self):
        self.proc.kill()
        self.proc.wait()
        self.wait_output()

    @staticmethod
    def _drain(stream, sink):
        for line in stream:
            sink.append(line)

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.wait_output()
        return self.proc.returncode if self.proc else None

    def sanitizer_reports(self):
        """Lines in which AddressSanitizer, LeakSanitizer, UBSan or TSan reported a problem."""
        markers = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:", "WARNING: ThreadSanitizer")
        return [line for line in self.stderr_lines if any(m in line for m in markers)]

    def wait_output(self, timeout=5):
        """After the process exited: wait until everything it printed has been read into lines/stderr_lines."""
        for t in self._drains:
            t.join(timeout)

    def connection(self, timeout=30):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def request(self, method, path, body=None, headers=None, conn=None):
        """Returns (status, headers dict with lower-case names, parsed JSON or raw text)."""
        own = conn is None
        conn = conn or self.connection()
        hdrs = dict(headers or {})
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
            hdrs.setdefault("Content-Type", "application/json")
        try:
            conn.request(method, path, body=body, headers=hdrs)
            res = conn.getresponse()
            raw = res.read()
            out_headers = {k.lower(): v for k, v in res.getheaders()}
            try:
                payload = json.loads(raw) if raw else None
            except ValueError:
                payload = raw.decode("utf-8", "replace")
            return res.status, out_headers, payload
        finally:
            if own:
                conn.close()

    def admin(self, method, path, body=None, headers=None, conn=None):
        hdrs = {"X-API-Key": self.api_key}
        hdrs.update(headers or {})
        return self.request(method, path, body, hdrs, conn)

    def ingest(self, event, headers=None, conn=None):
        hdrs = {"X-Ingest-Key": self.ingest_key}
        hdrs.update(headers or {})
        return self.request("POST", "/ingest", event, hdrs, conn)

    def create_token(self, label="app"):
        status, _, body = self.admin("POST", "/ingest/tokens", {"label": label})
        assert status == 201, body
        return body

    def list_tokens(self):
        status, _, body = self.admin("GET", "/ingest/tokens")
        assert status == 200, body
        return body["tokens"]

    def db(self):
        """A read-only connection to the server's database file (SQLite only: use rows() for both backends)."""
        if self.backend != "sqlite":
            raise RuntimeError("db() opens the SQLite file; this server runs on PostgreSQL: use rows()/row_dicts()")
        return sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True)

    def rows(self, sql, params=()):
        """Every row of a SELECT, as tuples, on either backend (`?` placeholders; portable SQL, see cg_postgres)."""
        if self.backend == "postgresql":
            return cg_postgres.query(self.database, sql, params)
        conn = self.db()
        try:
            return conn.execute(sql, params).fetchall()
        finally:
            conn.close()

    def row_dicts(self, sql, params=()):
        """Every row of a SELECT, as {column: value}, on either backend."""
        if self.backend == "postgresql":
            return cg_postgres.query_dicts(self.database, sql, params)
        conn = self.db()
        conn.row_factory = sqlite3.Row
        try:
            return [dict(r) for r in conn.execute(sql, params).fetchall()]
        finally:
            conn.close()

    def event_count(self):
        return self.rows("SELECT count(*) FROM usage_events")[0][0]

    def events_by_id(self):
        """{row id: (token_id, event_id)} for every stored usage event."""
        return {r[0]: (r[1], r[2]) for r in self.rows("SELECT id, token_id, event_id FROM usage_events")}

    def stdout_text(self):
        return "".join(([json.dumps(self.first_line) + "\n"] if self.first_line else []) + list(self.lines))

    def stderr_text(self):
        return "".join(self.stderr_lines)

    def log_records(self):
        """Every stdout line after the first that parses as JSON."""
        out = []
        for line in list(self.lines):
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
        return out

    def wait_for_log(self, predicate, timeout=5.0):
        """The first JSON log record matching predicate; the server flushes its log every 200 ms."""
        deadline = time.time() + timeout
        while True:
            for rec in self.log_records():
                if predicate(rec):
                    return rec
            if time.time() > deadline:
                return None
            time.sleep(0.05)


# ---- raw HTTP over a socket: for slow clients, oversized requests and connection behaviour ----------------------

def raw_connect(port, timeout=10):
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _split_response(data):
    """(status, headers with lower-case names, body bytes, rest of data) of the first HTTP response in data, or
    None while it is incomplete."""
    end = data.find(b"\r\n\r\n")
    if end < 0:
        return None
    head = data[:end].decode("latin-1").split("\r\n")
    status = int(head[0].split(" ")[1])
    headers = {}
    for line in head[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    body = data[end + 4:]
    rest = b""
    if 100 <= status < 200 or status in (204, 304):
        body, rest = b"", body
    elif "content-length" in headers:
        length = int(headers["content-length"])
        if len(body) < length:
            return None
        body, rest = body[:length], body[length:]
    return status, headers, body, rest


def parse_response(data):
    """(status, headers with lower-case names, body bytes) of the first HTTP response in data; None if incomplete."""
    split = _split_response(data)
    return None if split is None else split[:3]


# Bytes read past the end of a response (pipelining), kept for the next read_response on the same socket.
_unread = weakref.WeakKeyDictionary()


def read_response(sock, timeout=10):
    """Reads one whole response (Content-Length framed) from sock; returns (status, headers, body, closed)."""
    data = _unread.pop(sock, b"")
    closed = False
    deadline = time.time() + timeout
    while True:
        split = _split_response(data)
        if split is not None:
            status, headers, body, rest = split
            if rest:
                _unread[sock] = rest
            return status, headers, body, closed
        if closed:
            raise ConnectionError(f"connection closed before a whole response; got {data[:200]!r}")
        remaining = deadline - time.time()
        if remaining <= 0:
            raise TimeoutError(f"no complete response within {timeout} s; got {data[:200]!r}")
        sock.settimeout(remaining)
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            closed = True
        data += chunk


def send_and_read(port, data, timeout=10, chunk=16384):
    """Sends data like a careful client (curl) does: stops sending as soon as the server answers or closes, then
    reads the response. Returns (status, headers, body). For requests the server rejects before reading them whole
    (413, 431), where a naive client would hit a broken pipe."""
    sock = raw_connect(port, timeout)
    try:
        received = b""
        offset = 0
        deadline = time.time() + timeout
        while offset < len(data):
            readable, writable, _ = select.select([sock], [sock], [], max(0.0, deadline - time.time()))
            if readable:
                break
            if writable:
                try:
                    offset += sock.send(data[offset:offset + chunk])
                except (BrokenPipeError, ConnectionResetError):
                    break
            if time.time() > deadline:
                raise TimeoutError("server neither read the request nor answered")
        while True:
            parsed = parse_response(received)
            if parsed is not None:
                return parsed
            sock.settimeout(max(0.1, deadline - time.time()))
            try:
                part = sock.recv(65536)
            except ConnectionResetError:
                part = b""
            if not part:
                parsed = parse_response(received)
                if parsed is None:
                    raise ConnectionError(f"connection closed before a whole response; got {received[:200]!r}")
                return parsed
            received += part
    finally:
        sock.close()


def wait_closed(sock, timeout):
    """Seconds until the peer closes sock (EOF or reset), reading and returning whatever it sent first.
    Returns (elapsed or None if still open at timeout, bytes received)."""
    start = time.time()
    data = b""
    while True:
        remaining = timeout - (time.time() - start)
        if remaining <= 0:
            return None, data
        sock.settimeout(remaining)
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            return None, data
        except ConnectionResetError:
            return time.time() - start, data
        if not chunk:
            return time.time() - start, data
        data += chunk


def is_open(sock):
    """True when the peer has neither closed sock nor sent anything unread."""
    readable, _, _ = select.select([sock], [], [], 0)
    if not readable:
        return True
    try:
        return sock.recv(1, socket.MSG_PEEK) != b""
    except (ConnectionResetError, BlockingIOError):
        return False


def token_chars(entropy_bytes):
    """Length of an unpadded base64url string of `entropy_bytes` bytes."""
    return entropy_bytes // 3 * 4 + {0: 0, 1: 2, 2: 3}[entropy_bytes % 3]
