"""GET /export.csv (API.md, Admin): RFC 4180 CSV checked row by row and in total against the database, formula
injection neutralised, Content-Disposition, chunked transfer encoding, group_by as the /costs report, a client that
hangs up, and memory that stays flat however many rows are exported."""
import csv
import io
import os
import socket
import time
import urllib.parse
from decimal import Decimal

import pytest

from admin_data import bulk_events, connect, ensure_tokens, insert_event
from cg_server import raw_connect


# Every test here runs on SQLite and on PostgreSQL (conftest.py; ctest gives this file the postgres fixture).
pytestmark = pytest.mark.both_backends

ENV = {"RATE_LIMIT_RPM": "0"}
MAR_1 = 1_740_787_200_000_000  # 2025-03-01T00:00:00Z
HEADER = ["id", "timestamp", "received_at", "event_id", "ingest_token_id", "token_label", "provider", "model",
          "input_tokens", "output_tokens", "total_tokens", "cache_read_tokens", "cache_write_tokens",
          "reasoning_tokens", "cost_usd", "cost_source", "price_ref", "source", "project", "user", "feature",
          "environment", "session_type", "session_id", "meta", "operation"]
TEXT_COLUMNS = {"event_id", "token_label", "provider", "model", "cost_source", "price_ref", "source", "project",
                "user", "feature", "environment", "session_type", "session_id", "meta", "operation"}
# Cells a spreadsheet would run as formulas, and cells that need RFC 4180 quoting.
NASTY = ["=HYPERLINK(\"http://evil\",\"x\")", "+1+1", "-2+3", "@SUM(A1:A9)", "\tindented", "\rcarriage",
         "comma, inside", "quote \" inside", "two\nlines", "ünïcödé ✓ 日本", "plain",
         " =1+1", "\n=1+1", "＝1+1", "＋1", "－1", "＠SUM(A1)", "Ａ full-width but harmless"]


def export(srv, **params):
    """(status, headers, raw body bytes) of one export, read with http.client (which undoes chunking)."""
    conn = srv.connection(timeout=120)
    try:
        conn.request("GET", "/export.csv" + ("?" + urllib.parse.urlencode(params) if params else ""),
                     headers={"X-API-Key": srv.api_key})
        res = conn.getresponse()
        return res.status, {k.lower(): v for k, v in res.getheaders()}, res.read()
    finally:
        conn.close()


def parse(raw):
    return list(csv.reader(io.StringIO(raw.decode("utf-8"), newline="")))


def iso(us):
    seconds, micros = divmod(us, 1_000_000)
    text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    return text + (f".{micros:06d}" if micros else "") + "Z"


def neutral(value):
    return "'" + value if value and value[0] in "=+-@\t\r\n ＝＋－＠" else value


def db_rows(srv, where="TRUE", args=()):
    return srv.rows(
        "SELECT e.id, e.ts, e.received_at, e.event_id, e.token_id, t.label, e.provider, e.model, e.input_tokens, "
        "e.output_tokens, e.total_tokens, e.cache_read_tokens, e.cache_write_tokens, e.reasoning_tokens, "
        "e.cost_nusd, e.cost_source, e.price_ref, e.source, e.project, e.\"user\", e.feature, e.environment, "
        "e.session_type, e.session_id, e.meta, e.operation "
        "FROM usage_events e LEFT JOIN tracking_tokens t ON t.id = e.token_id "
        f"WHERE {where} ORDER BY e.ts, e.id", args)


def expected_cells(row):
    cells = []
    for name, value in zip(HEADER, row):
        if value is None:
            cells.append("")
        elif name in ("timestamp", "received_at"):
            cells.append(iso(value))
        elif name == "cost_usd":
            cells.append(f"{Decimal(value) / 1_000_000_000:.9f}")
        elif name in TEXT_COLUMNS:
            cells.append(neutral(value))
        else:
            cells.append(str(value))
    return cells


@pytest.fixture
def seeded(make_server):
    """5,000 generated events plus events whose text fields hold every nasty value."""
    srv = make_server(env=ENV)
    srv.stop()
    bulk_events(srv.database, 5000, MAR_1, 60_000_000, labels=("app-a", "=label,\"quoted\"", "ünï-app"))
    conn = connect(srv.database)
    try:
        [token] = ensure_tokens(conn, ["nasty"])
        for n, value in enumerate(NASTY):
            insert_event(conn, ts=MAR_1 + n, token_id=token, event_id=value, model=value, user=value,
                         feature=value, project=value, environment=value, session_type=value, session_id=value,
                         meta='{"note":' + '"x, \\"y\\""' + '}')
    finally:
        conn.close()
    srv.start()
    return srv


def test_every_row_and_the_totals_match_the_database(seeded):
    srv = seeded
    status, headers, raw = export(srv)
    assert status == 200
    assert headers["content-type"] == "text/csv; charset=utf-8; header=present"
    assert headers["content-disposition"] == 'attachment; filename="cost-guardian-all-now.csv"'
    rows = parse(raw)
    assert rows[0] == HEADER
    expected = db_rows(srv)
    assert len(rows) - 1 == len(expected) == 5000 + len(NASTY)
    for got, want in zip(rows[1:], expected):
        assert got == expected_cells(want)
    # Totals: the exact decimal costs add up to the database's integer sum, token columns likewise.
    assert sum(Decimal(r[14]) for r in rows[1:]) * 1_000_000_000 == srv.rows(
        "SELECT sum(cost_nusd) FROM usage_events")[0][0]
    for column in ("input_tokens", "output_tokens", "total_tokens", "cache_read_tokens", "cache_write_tokens",
                   "reasoning_tokens"):
        i = HEADER.index(column)
        assert sum(int(r[i]) for r in rows[1:]) == srv.rows(f"SELECT sum({column}) FROM usage_events")[0][0]
    # CRLF ends every record; the only bare LFs are the ones inside the quoted "two\nlines" and "'\n=1+1" cells.
    records = len(rows)
    assert raw.count(b"\r\n") == records
    assert raw.count(b"\n") - raw.count(b"\r\n") == raw.count(b"two\nlines") + raw.count(b"'\n=1+1")


def test_formula_cells_are_neutralised_and_numbers_are_not(seeded):
    srv = seeded
    rows = parse(export(srv, ingest_token_id=srv.rows("SELECT id FROM tracking_tokens WHERE label = 'nasty'")[0][0])[2])
    assert len(rows) == 1 + len(NASTY)
    for row, value in zip(rows[1:], NASTY):
        for column in ("event_id", "model", "user", "feature", "project", "environment", "session_type",
                       "session_id"):
            cell = row[HEADER.index(column)]
            assert cell == neutral(value), (column, value, cell)
            assert not cell or cell[0] not in "=+-@\t\r"
        assert row[HEADER.index("token_label")] == "nasty"
        assert row[HEADER.index("meta")] == '{"note":"x, \\"y\\""}'
    label_cells = {r[HEADER.index("token_label")] for r in parse(export(srv)[2])[1:]}
    assert "'=label,\"quoted\"" in label_cells  # the label cell is neutralised and quoted
    assert "ünï-app" in label_cells


def test_filters_and_the_file_name(seeded):
    srv = seeded
    status, headers, raw = export(srv, model="gpt-4o", start="2025-03-02", end="2025-03-03")
    assert status == 200
    assert headers["content-disposition"] == 'attachment; filename="cost-guardian-2025-03-02-2025-03-03.csv"'
    rows = parse(raw)
    day = 86_400_000_000
    want = db_rows(srv, "e.model = ? AND e.ts >= ? AND e.ts < ?", ("gpt-4o", MAR_1 + day, MAR_1 + 3 * day))
    assert [r[0] for r in rows[1:]] == [str(r[0]) for r in want] and want
    headers = export(srv, start="2025-03-02T10:00:00Z", tz="Europe/Berlin")[1]
    assert headers["content-disposition"] == 'attachment; filename="cost-guardian-2025-03-02-now.csv"'
    status, _, body = export(srv, start="tomorrow")
    assert status == 400 and b'"field":"start"' in body


def test_group_by_gives_the_costs_report_as_csv(seeded):
    srv = seeded
    for group_by in ("day,model", "token", "month,project,user", "provider"):
        params = {"group_by": group_by, "tz": "Europe/Berlin"}
        status, _, raw = export(srv, **params)
        assert status == 200
        rows = parse(raw)
        _, _, report = srv.admin("GET", "/costs?" + urllib.parse.urlencode(params))
        names = []
        for d in report["group_by"]:
            names += ["ingest_token_id", "token_label"] if d == "token" else [d]
        totals = ["requests", "input_tokens", "output_tokens", "total_tokens", "cache_read_tokens",
                  "cache_write_tokens", "reasoning_tokens"]
        assert rows[0] == names + totals + ["cost_usd"]
        body = rows[1:-1]
        assert len(body) == len(report["rows"])
        for got, want in zip(body, report["rows"]):
            assert got == [neutral("" if want[n] is None else str(want[n])) for n in names] + \
                [str(want[t]) for t in totals] + [want["cost_usd_exact"]]
        assert rows[-1][0] == "TOTAL" and rows[-1][1:len(names)] == [""] * (len(names) - 1)
        assert rows[-1][len(names):] == [str(report["totals"][t]) for t in totals] + [
            report["totals"]["cost_usd_exact"]]
    status, _, body = export(srv, group_by="hour")
    assert status == 400 and b'"field":"group_by"' in body


def read_chunked(sock, deadline=60):
    """Reads one chunked response off the socket: (status line, headers, [chunk sizes], body)."""
    data = b""
    sock.settimeout(deadline)
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    buf, sizes, body = rest, [], b""

    def need(n):
        nonlocal buf
        while len(buf) < n:
            more = sock.recv(1 << 20)
            assert more, "connection closed inside the chunked body"
            buf += more

    while True:
        need(1)
        while b"\r\n" not in buf:
            need(len(buf) + 1)
        size_line, _, buf = buf.partition(b"\r\n")
        size = int(size_line, 16)
        sizes.append(size)
        need(size + 2)
        body += buf[:size]
        assert buf[size:size + 2] == b"\r\n"
        buf = buf[size + 2:]
        if size == 0:
            return lines[0], headers, sizes, body


def test_the_body_is_chunked_and_the_connection_is_reused(seeded):
    srv = seeded
    sock = raw_connect(srv.port, timeout=60)
    try:
        request = (f"GET /export.csv HTTP/1.1\r\nHost: t\r\nX-API-Key: {srv.api_key}\r\n\r\n").encode()
        sock.sendall(request)
        status, headers, sizes, body = read_chunked(sock)
        assert status.startswith("HTTP/1.1 200")
        assert headers["transfer-encoding"] == "chunked"
        assert "content-length" not in headers
        assert len(sizes) > 2 and sizes[-1] == 0  # several pages, then the last chunk
        assert body == export(srv)[2]
        # Keep-alive: the same connection serves the next request.
        sock.sendall(b"GET /ping HTTP/1.1\r\nHost: t\r\n\r\n")
        sock.settimeout(10)
        reply = b""
        while b"pong" not in reply:
            reply += sock.recv(4096)
    finally:
        sock.close()


def test_head_sends_the_headers_only(seeded):
    conn = seeded.connection()
    try:
        conn.request("HEAD", "/export.csv", headers={"X-API-Key": seeded.api_key})
        res = conn.getresponse()
        assert res.status == 200 and res.read() == b""
        assert res.getheader("Content-Disposition").startswith("attachment")
        conn.request("GET", "/ping")
        assert conn.getresponse().read() == b'{"message":"pong"}'
    finally:
        conn.close()


def test_http_1_0_gets_the_body_until_close(seeded):
    sock = raw_connect(seeded.port, timeout=60)
    try:
        sock.sendall(f"GET /export.csv?model=gpt-4o HTTP/1.0\r\nX-API-Key: {seeded.api_key}\r\n\r\n".encode())
        data = b""
        while True:
            more = sock.recv(1 << 20)
            if not more:
                break
            data += more
        head, _, body = data.partition(b"\r\n\r\n")
        assert b"chunked" not in head.lower() and b"200" in head.split(b"\r\n")[0]
        assert body == export(seeded, model="gpt-4o")[2]
    finally:
        sock.close()


def test_rows_stored_during_the_download_are_not_in_it(make_server):
    # 100,000 rows (about 22 MB): more than the socket buffers hold, so the last pages are read after the late
    # events were committed.
    srv = make_server(env=ENV)
    srv.stop()
    bulk_events(srv.database, 100_000, MAR_1, 1_000_000)
    srv.start()
    token = srv.create_token("late")
    conn = srv.connection(timeout=60)
    try:
        conn.request("GET", "/export.csv", headers={"X-API-Key": srv.api_key})
        res = conn.getresponse()
        first = res.read(1000)  # the first page is out; later pages are read after these events arrive
        late = [srv.ingest({"tracking_token": token["token"], "model": "late-model", "prompt_tokens": 1})[2]["id"]
                for _ in range(5)]
        rows = parse(first + res.read())
    finally:
        conn.close()
    ids = {int(r[0]) for r in rows[1:]}
    assert not ids & set(late)
    assert len(ids) == len(rows) - 1 == 100_000
    assert srv.rows("SELECT count(*) FROM usage_events")[0][0] == 100_005


def test_a_client_that_hangs_up_stops_the_export(make_server):
    srv = make_server(env=ENV)
    srv.stop()
    bulk_events(srv.database, 200_000, MAR_1, 1_000_000)
    srv.start()
    for _ in range(3):
        sock = raw_connect(srv.port, timeout=30)
        sock.sendall(f"GET /export.csv HTTP/1.1\r\nHost: t\r\nX-API-Key: {srv.api_key}\r\n\r\n".encode())
        assert b"200" in sock.recv(65536)
        # Hang up without reading: the kernel resets the connection, the next write fails, no more pages are read.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        sock.close()
    # The read pool is free again at once (three abandoned 45 MB exports are not still running).
    time.sleep(0.5)
    started = time.time()
    status, _, _ = srv.admin("GET", "/data?limit=1")
    assert status == 200
    assert time.time() - started < 1.0
    record = srv.wait_for_log(lambda r: r.get("event") == "request" and r.get("path") == "/export.csv")
    assert record is not None and record["bytes"] < 45_000_000


def vm(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])  # kB
    raise KeyError(key)


def test_memory_stays_flat_for_a_large_export(make_server):
    """Peak RSS (VmHWM) after exporting a million rows (225 MB of CSV, 22 times the allowance) stays within a few MB
    of the idle server's. Most of its time is writing the rows into the database; CG_EXPORT_ROWS=2000000 doubles
    it, CG_EXPORT_ROWS=300000 makes it a few seconds. bench/admin.sh measures the same on 2 million rows of the
    benchmark database."""
    srv = make_server(env={**ENV, "ACCESS_LOG": "off"})
    # On PostgreSQL half of them (still 110 MB of CSV against a 10 MB allowance): writing a million rows
    # there takes a minute of the suite's time and proves nothing more about the gateway's memory.
    rows = int(os.environ.get("CG_EXPORT_ROWS", "1000000" if srv.backend == "sqlite" else "500000"))
    # Asked before the rows are written, so a sanitizer build does not spend a minute seeding for nothing.
    with open(f"/proc/{srv.proc.pid}/maps") as f:
        maps = f.read()
    if "libasan" in maps or "libtsan" in maps:
        pytest.skip("a sanitizer build keeps freed memory in quarantine: its RSS says nothing about ours")
    srv.stop()
    bulk_events(srv.database, rows, MAR_1, 1_000_000)
    srv.start()
    assert srv.admin("GET", "/data?limit=5")[0] == 200  # every thread has run once: this is idle
    idle = vm(srv.proc.pid, "VmHWM")
    conn = srv.connection(timeout=300)
    try:
        started = time.time()
        # With a time range, as finance asks for one: each page must seek to its position, not rescan the range.
        conn.request("GET", "/export.csv?start=2025-03-01", headers={"X-API-Key": srv.api_key})
        res = conn.getresponse()
        size = lines = 0
        while True:
            chunk = res.read(1 << 20)
            if not chunk:
                break
            size += len(chunk)
            lines += chunk.count(b"\n")  # one byte: a read never splits it
        elapsed = time.time() - started
    finally:
        conn.close()
    peak = vm(srv.proc.pid, "VmHWM")
    print(f"\nexport of {rows} rows: {size / 1e6:.1f} MB in {elapsed:.2f} s ({rows / elapsed:,.0f} rows/s); "
          f"VmHWM idle {idle} kB, after {peak} kB (+{(peak - idle) / 1024:.1f} MB)")
    assert lines == rows + 1
    assert size > 60 * rows  # the body is far larger than the memory allowance below
    assert peak - idle < 10 * 1024, (idle, peak)
