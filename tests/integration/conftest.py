"""Fixtures that start the real cost-guardian binary on an ephemeral port with a temporary database.

Backends: a test file that runs against both SQLite and PostgreSQL says so in a line of its own,
`pytestmark = pytest.mark.both_backends` (tests/integration/CMakeLists.txt reads that line to give the file the
ctest `postgres` fixture). Each of its tests then runs once per backend; the `server` and `make_server` fixtures (and
anything taking `backend`) start their servers on it. `@pytest.mark.sqlite_only("why")` keeps one test on SQLite;
`pytestmark = pytest.mark.postgres_only` runs a file on PostgreSQL alone. Every other file stays on SQLite.
"""
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "support"))
import cg_postgres  # noqa: E402
from cg_server import BACKENDS, Server  # noqa: E402


def pytest_configure(config):
    config.addinivalue_line("markers", "both_backends: run every test of the file on SQLite and on PostgreSQL")
    config.addinivalue_line("markers", "postgres_only: run the tests on PostgreSQL alone")
    config.addinivalue_line("markers", "sqlite_only(reason): keep this test on SQLite in a both_backends file")


def pytest_generate_tests(metafunc):
    if "backend" not in metafunc.fixturenames:
        return
    if metafunc.definition.get_closest_marker("sqlite_only"):
        backends = ["sqlite"]
    elif metafunc.definition.get_closest_marker("postgres_only"):
        backends = ["postgresql"]
    elif metafunc.definition.get_closest_marker("both_backends"):
        backends = list(BACKENDS)
    else:
        return
    # Module scope: a module's shared server is started once per backend, and the tests are grouped by backend.
    metafunc.parametrize("backend", backends, indirect=True, scope="module")


@pytest.fixture(scope="module")
def backend(request):
    """The backend this test runs on: "sqlite" unless the file opted into PostgreSQL (see the module docstring)."""
    name = getattr(request, "param", "sqlite")
    if name == "postgresql":
        problem = None
        try:
            cg_postgres.maintenance_url()
        except cg_postgres.PostgresUnavailable as e:
            problem = str(e)
        if problem:
            pytest.fail(problem, pytrace=False)  # fail, never skip: a skipped backend would pass the run vacuously
    return name


def check_clean_exit(srv, code):
    """Every server a test started must shut down cleanly: exit 0 and no sanitizer report (asan/tsan builds)."""
    reports = srv.sanitizer_reports()
    assert not reports, "".join(srv.stderr_lines[-60:])
    assert code == 0, f"server exited with {code}: {''.join(srv.stderr_lines[-20:])}"


@pytest.fixture
def server(tmp_path, backend):
    """A fresh server with its own data directory (and, on PostgreSQL, its own database), stopped (SIGTERM) after
    the test."""
    srv = Server(tmp_path, backend=backend)
    try:
        srv.start()
        yield srv
        code = srv.stop()
    finally:
        srv.close()
    check_clean_exit(srv, code)


@pytest.fixture
def make_server(tmp_path, backend):
    """A factory for servers with extra settings: make_server(env={...}, args=[...]), on the test's backend (or
    backend=... for one server)."""
    started = []

    def factory(env=None, args=None, data_dir=None, start=True, **kwargs):
        kwargs.setdefault("backend", backend)
        srv = Server(data_dir or tmp_path / f"srv{len(started)}", env=env, args=args, **kwargs)
        started.append(srv)
        if start:
            srv.start()
        return srv

    yield factory
    try:
        for srv in started:
            was_running = srv.proc is not None and srv.proc.poll() is None
            code = srv.stop()
            if was_running:
                check_clean_exit(srv, code)
    finally:
        for srv in started:
            srv.close()
