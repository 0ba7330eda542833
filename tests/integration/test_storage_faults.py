"""Storage faults for real: a full disk (commit fails -> 503, nothing acknowledged is lost, recovery once space is
free) and a full writer queue (backpressure -> 503, nothing acknowledged is lost).

The disk is a 512 KiB tmpfs mounted for the test (tests run as root here and in CI). Where mounting is not allowed
(EPERM/EACCES, e.g. an unprivileged container), the test falls back to RLIMIT_FSIZE set on the running server with
prlimit(2): writes past the limit fail with EFBIG, which SQLite reports like a full disk; raising the limit again
frees the space. Set CG_TEST_DISK_FULL=fsize to force the fallback.
"""
import ctypes
import errno
import json
import os
import resource
import signal
import subprocess
import threading
import time

import pytest

from cg_server import Server

BIG_META = {"blob": "m" * 7 * 1024}  # 7 KiB of meta: a few pages per event


def _mount_tmpfs(path, size):
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.mount(b"tmpfs", os.fsencode(path), b"tmpfs", 0, f"size={size}".encode()) != 0:
        return ctypes.get_errno()
    return 0


def _umount(path):
    libc = ctypes.CDLL(None, use_errno=True)
    for _ in range(50):
        if libc.umount2(os.fsencode(path), 0) == 0:
            return
        if ctypes.get_errno() != errno.EBUSY:
            break
        time.sleep(0.1)
    subprocess.run(["umount", "-l", str(path)], check=False, capture_output=True)


def _ignore_sigxfsz():
    # Past RLIMIT_FSIZE the kernel sends SIGXFSZ (default: kill). Ignored, the write fails with EFBIG instead.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)


class SmallDisk:
    """A small disk for the server's database, which can be filled to the last byte and then freed."""

    def __init__(self, tmp_path):
        self.dir = tmp_path / "disk"
        self.dir.mkdir()
        self.mode = os.environ.get("CG_TEST_DISK_FULL", "tmpfs")
        self.mounted = False
        self.server = None
        if self.mode == "tmpfs":
            err = _mount_tmpfs(self.dir, "512k")
            if err in (errno.EPERM, errno.EACCES):
                self.mode = "fsize"
                print(f"mount tmpfs failed ({os.strerror(err)}): using the RLIMIT_FSIZE fallback")
            elif err:
                pytest.fail(f"mount tmpfs: {os.strerror(err)}")
            else:
                self.mounted = True
                # Room to free later: the database cannot be unmounted while open, so space is made by deleting this.
                with open(self.dir / "filler", "wb") as f:
                    f.write(b"\0" * 128 * 1024)

    @property
    def db_path(self):
        return str(self.dir / "usage.sqlite")

    @property
    def preexec_fn(self):
        return _ignore_sigxfsz if self.mode == "fsize" else None

    def attach(self, server):
        self.server = server
        if self.mode == "fsize":
            # The WAL may grow by ~300 KB more from here (a few big events), then every write past it fails.
            wal = self.db_path + "-wal"
            limit = max(os.path.getsize(wal) if os.path.exists(wal) else 0, os.path.getsize(self.db_path)) + 300_000
            resource.prlimit(server.proc.pid, resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY))

    def fill_up(self, leave=0):
        """Takes the space that is left but `leave` bytes, so that a write needing more fails."""
        if self.mode == "fsize":
            wal = self.db_path + "-wal"
            resource.prlimit(self.server.proc.pid, resource.RLIMIT_FSIZE,
                             (os.path.getsize(wal) + leave, resource.RLIM_INFINITY))
            return
        path = self.dir / "filler2"
        try:
            with open(path, "ab") as f:
                while True:
                    f.write(b"\0" * 4096)
                    f.flush()
        except OSError as e:
            assert e.errno == errno.ENOSPC, e  # possibly at once, at open()
        assert os.statvfs(self.dir).f_bavail == 0
        if leave:
            os.truncate(path, os.path.getsize(path) - leave)
            assert os.statvfs(self.dir).f_bavail * os.statvfs(self.dir).f_frsize == leave

    def free(self):
        if self.mode == "fsize":
            resource.prlimit(self.server.proc.pid, resource.RLIMIT_FSIZE,
                             (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
            return
        for name in ("filler", "filler2"):
            try:
                os.unlink(self.dir / name)
            except FileNotFoundError:
                pass

    def grow(self):
        """Room for anything, e.g. the checkpoint when the server closes its database (it copies the WAL)."""
        if self.mode == "tmpfs":
            subprocess.run(["mount", "-o", "remount,size=16m", str(self.dir)], check=True)

    def cleanup(self):
        if self.server:
            self.server.stop()
        if self.mounted:
            _umount(self.dir)


@pytest.fixture
def small_disk(tmp_path):
    disk = SmallDisk(tmp_path)
    try:
        yield disk
    finally:
        disk.cleanup()


def start_on(disk, tmp_path, env=None):
    srv = Server(tmp_path / "data", env={"DB_PATH": disk.db_path, "DURABILITY": "full", **(env or {})},
                 preexec_fn=disk.preexec_fn)
    srv.start()
    disk.attach(srv)
    return srv


def fill_until_503(srv, token):
    """Ingests big events until one is refused; returns ({event_id: id} of the 201s, the 503's event_id and answer)."""
    acked = {}
    for n in range(1000):
        event_id = f"big-{n}"
        status, headers, body = srv.ingest({"tracking_token": token, "event_id": event_id, "model": "gpt-4o-mini",
                                            "prompt_tokens": 10, "meta": BIG_META})
        if status == 201:
            acked[event_id] = body["id"]
            continue
        return acked, event_id, (status, headers, body)
    pytest.fail("the disk never filled up")


def wait_health(srv, expected, timeout=10):
    deadline = time.time() + timeout
    while True:
        status, headers, body = srv.request("GET", "/health")
        if status == expected or time.time() > deadline:
            return status, headers, body
        time.sleep(0.1)


def test_disk_full_is_a_503_and_loses_nothing(small_disk, tmp_path):
    srv = start_on(small_disk, tmp_path)
    token = srv.create_token("disk")["token"]
    token_id = srv.list_tokens()[0]["id"]

    acked, refused_id, (status, headers, body) = fill_until_503(srv, token)
    assert len(acked) >= 3, "the disk was full before the test began"
    assert status == 503, body
    assert int(headers["retry-after"]) >= 1
    assert headers["content-type"].startswith("application/json")
    assert body["error"] and body["message"] == body["error"]
    assert body["request_id"] == headers["x-request-id"]

    small_disk.fill_up()
    # Still up, and still saying no rather than pretending.
    status, _, pong = srv.request("GET", "/ping")
    assert (status, pong) == (200, {"message": "pong"})
    status, headers, body = srv.ingest({"tracking_token": token, "event_id": "while-full", "model": "m",
                                        "meta": BIG_META})
    assert status == 503, body
    assert "retry-after" in headers
    status, _, body = srv.admin("GET", "/ingest/tokens")
    assert status == 200, body  # reads still work

    # Every acknowledged event is there; the refused ones are not.
    stored = {event_id: (row_id, tid) for row_id, tid, event_id in
              srv.rows("SELECT id, token_id, event_id FROM usage_events")}
    assert {e: stored[e][0] for e in acked if e in stored} == acked
    assert all(stored[e][1] == token_id for e in acked)
    assert refused_id not in stored and "while-full" not in stored

    # Space again: healthy, and new and retried events are stored (a refused event was not recorded: no duplicate).
    small_disk.free()
    status, _, body = wait_health(srv, 200)
    assert status == 200, body
    assert body["status"] == "healthy"
    status, _, body = srv.ingest({"tracking_token": token, "event_id": refused_id, "model": "gpt-4o-mini",
                                  "prompt_tokens": 10, "meta": BIG_META})
    assert status == 201, body
    assert body.get("duplicate") is not True
    acked[refused_id] = body["id"]
    status, _, body = srv.ingest({"tracking_token": token, "event_id": "after", "model": "m"})
    assert status == 201, body
    acked["after"] = body["id"]

    # And it all survives a restart.
    small_disk.grow()
    assert srv.stop() == 0
    srv.start()  # without a file-size limit in the fallback mode: the space is free now
    rows = {event_id: row_id for row_id, event_id in srv.rows("SELECT id, event_id FROM usage_events")}
    assert rows == acked


def test_health_is_503_while_events_cannot_be_stored(small_disk, tmp_path):
    srv = start_on(small_disk, tmp_path)
    token = srv.create_token("health")["token"]
    status, _, body = srv.ingest({"tracking_token": token, "event_id": "first", "model": "m"})
    assert status == 201, body
    # 12 KiB left: room for two or three WAL frames, fewer than any event's transaction needs.
    small_disk.fill_up(leave=12 * 1024)
    for event in [{"event_id": "big", "meta": BIG_META}, {"event_id": "small"}]:
        status, _, body = srv.ingest({"tracking_token": token, "model": "m", **event})
        assert status == 503, body
    # Events cannot be stored, so the server is not healthy.
    status, headers, body = srv.request("GET", "/health")
    assert status == 503, body
    assert body["status"] == "unhealthy" and body["reason"]
    assert "retry-after" in headers
    # Without the admin key: why, but not where (issue 12): no path in the reason, no database location.
    assert "/" not in body["reason"] and str(srv.data_dir) not in json.dumps(body), body
    assert "location" not in body["database"]
    assert "full" in body["reason"], body
    # With it, the detail an operator needs.
    status, _, body = srv.admin("GET", "/health")
    assert status == 503, body
    assert body["database"]["location"] and body["reason"].startswith("database write failed: "), body
    small_disk.free()
    status, _, body = wait_health(srv, 200)
    assert status == 200, body
    status, _, body = srv.ingest({"tracking_token": token, "event_id": "small", "model": "m"})
    assert status == 201, body


def test_full_writer_queue_is_a_503_and_loses_nothing(make_server):
    srv = make_server(env={"WRITER_QUEUE": "1"})
    tokens = [srv.create_token(f"q{i}") for i in range(2)]
    token_ids = {t["token"]: t["id"] for t in tokens}
    lock = threading.Lock()
    answers = []
    errors = []

    def client(i):
        conn = srv.connection()
        token = tokens[i % 2]["token"]
        try:
            for n in range(40):
                event_id = f"c{i}-{n}"
                status, headers, body = srv.ingest({"tracking_token": token, "event_id": event_id, "model": "m"},
                                                   conn=conn)
                with lock:
                    answers.append((token, event_id, status, headers, body))
        except Exception as e:  # noqa: BLE001
            errors.append(repr(e))
        finally:
            conn.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors[:5]
    assert len(answers) == 1600

    refused = [a for a in answers if a[2] == 503]
    created = [a for a in answers if a[2] == 201]
    assert refused, "a queue of 1 under 40 concurrent clients never overflowed"
    assert created, "nothing got through at all"
    assert len(refused) + len(created) == len(answers), {a[2] for a in answers}
    for _, _, _, headers, body in refused:
        assert int(headers["retry-after"]) >= 1
        assert body["error"] and body["message"] == body["error"]

    stored = srv.events_by_id()
    for token, event_id, _, _, body in created:
        assert stored.get(body["id"]) == (token_ids[token], event_id)
    stored_keys = set(stored.values())
    for token, event_id, _, _, _ in refused:
        assert (token_ids[token], event_id) not in stored_keys, "a refused event was stored"
    assert len(stored) == len(created)

    # Backpressure is momentary: alone, a client gets through.
    status, _, body = srv.ingest({"tracking_token": tokens[0]["token"], "event_id": "calm", "model": "m"})
    assert status == 201, body
    status, _, body = srv.request("GET", "/health")
    assert status == 200, body
