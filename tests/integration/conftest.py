"""Fixtures that start the real cost-guardian binary on an ephemeral port with a temporary database."""
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "support"))
from cg_server import Server  # noqa: E402


def check_clean_exit(srv, code):
    """Every server a test started must shut down cleanly: exit 0 and no sanitizer report (asan/tsan builds)."""
    reports = srv.sanitizer_reports()
    assert not reports, "".join(srv.stderr_lines[-60:])
    assert code == 0, f"server exited with {code}: {''.join(srv.stderr_lines[-20:])}"


@pytest.fixture
def server(tmp_path):
    """A fresh server with its own data directory, stopped (SIGTERM) after the test."""
    srv = Server(tmp_path)
    srv.start()
    yield srv
    check_clean_exit(srv, srv.stop())


@pytest.fixture
def make_server(tmp_path):
    """A factory for servers with extra settings: make_server(env={...}, args=[...])."""
    started = []

    def factory(env=None, args=None, data_dir=None, start=True):
        srv = Server(data_dir or tmp_path / f"srv{len(started)}", env=env, args=args)
        if start:
            srv.start()
        started.append(srv)
        return srv

    yield factory
    for srv in started:
        was_running = srv.proc is not None and srv.proc.poll() is None
        code = srv.stop()
        if was_running:
            check_clean_exit(srv, code)
