"""GET /dashboard and its files over HTTP: public, embedded, cached by ETag, gzip, a strict Content-Security-Policy,
and small. (What the page does in a browser is tests/e2e.)"""
import gzip
import re

import pytest

from cg_server import Server

BUDGET_GZIP_BYTES = 300 * 1024  # the limit for the whole dashboard, gzipped


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    srv = Server(tmp_path_factory.mktemp("dashboard"), env={"ENV": "production"})
    srv.start()
    yield srv
    assert srv.stop() == 0
    assert not srv.sanitizer_reports(), "".join(srv.stderr_lines[-60:])


def raw_get(srv, path, headers=None):
    """GET without decoding: (status, headers with lower-case names, body bytes exactly as sent)."""
    conn = srv.connection()
    try:
        conn.request("GET", path, headers=headers or {})
        res = conn.getresponse()
        return res.status, {k.lower(): v for k, v in res.getheaders()}, res.read()
    finally:
        conn.close()


def asset_paths(html):
    """The /dashboard/... files the page loads (relative URLs "dashboard/<name>")."""
    return sorted(set(re.findall(r'(?:src|href)="(dashboard/[^"]+)"', html)))


def test_page_is_public_html_with_security_headers(live):
    status, headers, body = raw_get(live, "/dashboard")  # no key: the page carries no data
    assert status == 200
    assert headers["content-type"] == "text/html; charset=utf-8"
    csp = headers["content-security-policy"]
    directives = dict((d.strip().split(" ", 1) + [""])[:2] for d in csp.split(";"))
    assert directives["default-src"] == "'none'"
    for name in ("script-src", "style-src", "img-src", "connect-src"):
        assert directives[name] == "'self'", (name, csp)
    assert directives["frame-ancestors"] == "'none'"
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["x-frame-options"] == "DENY"
    assert headers["cache-control"] == "no-cache"
    assert re.fullmatch(r'"[0-9a-f]{32}"', headers["etag"])
    html = body.decode()
    assert "<title>Cost Guardian</title>" in html
    # Nothing inline for the CSP to block, and nothing from another origin.
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), "inline <script>"
    assert " style=" not in html and "<style" not in html
    assert not re.search(r"\son[a-z]+=", html), "inline event handler"
    assert not re.search(r'(?:src|href)="(?:https?:)?//', html), "an asset from another origin"


def test_every_asset_is_served_immutable_with_its_type(live):
    _, _, body = raw_get(live, "/dashboard")
    paths = asset_paths(body.decode())
    names = [p.split("/", 1)[1] for p in paths]
    assert any(re.fullmatch(r"app\.[0-9a-f]{12}\.js", n) for n in names), names
    assert any(re.fullmatch(r"style\.[0-9a-f]{12}\.css", n) for n in names), names
    assert any(re.fullmatch(r"chart\.umd\.min\.[0-9a-f]{12}\.js", n) for n in names), names
    types = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml"}
    for path in paths:
        status, headers, data = raw_get(live, "/" + path)
        assert status == 200, path
        assert headers["content-type"] == types[path[path.rfind("."):]], path
        assert headers["cache-control"] == "public, max-age=31536000, immutable", path
        assert headers["x-content-type-options"] == "nosniff"
        assert "content-encoding" not in headers  # not asked for
        assert int(headers["content-length"]) == len(data) > 0


def test_etag_and_if_none_match_give_304(live):
    for path in ["/dashboard"] + ["/" + p for p in asset_paths(raw_get(live, "/dashboard")[2].decode())]:
        status, headers, _ = raw_get(live, path)
        etag = headers["etag"]
        status, headers304, body = raw_get(live, path, {"If-None-Match": etag})
        assert status == 304, path
        assert body == b""
        assert headers304["etag"] == etag
        assert headers304["cache-control"] == headers["cache-control"]
        assert raw_get(live, path, {"If-None-Match": f'"other", W/{etag}'})[0] == 304  # weak comparison, lists
        assert raw_get(live, path, {"If-None-Match": '"something-else"'})[0] == 200


def test_gzip_when_accepted_and_the_whole_dashboard_fits_the_budget(live):
    _, _, page = raw_get(live, "/dashboard")
    total_gzip = 0
    for path in ["/dashboard"] + ["/" + p for p in asset_paths(page.decode())]:
        _, plain_headers, plain = raw_get(live, path)
        status, headers, data = raw_get(live, path, {"Accept-Encoding": "gzip, deflate, br"})
        assert status == 200
        assert headers["vary"].startswith("Accept-Encoding")
        if headers.get("content-encoding") == "gzip":
            assert gzip.decompress(data) == plain, path
            assert headers["etag"] != plain_headers["etag"]  # another representation, another strong tag
            # The gzip variant's tag revalidates too.
            assert raw_get(live, path, {"Accept-Encoding": "gzip", "If-None-Match": headers["etag"]})[0] == 304
        else:
            assert data == plain  # gzip would not have been smaller (the icon may be such a file)
        total_gzip += len(data)
        assert raw_get(live, path, {"Accept-Encoding": "gzip;q=0"})[1].get("content-encoding") is None
    assert total_gzip < BUDGET_GZIP_BYTES, f"the dashboard is {total_gzip} bytes gzipped"
    # The chart library is the biggest part and is compressed.
    chart = next(p for p in asset_paths(page.decode()) if "chart" in p)
    assert raw_get(live, "/" + chart, {"Accept-Encoding": "gzip"})[1]["content-encoding"] == "gzip"


def test_head_unknown_assets_and_the_trailing_slash(live):
    status, headers, body = live.request("HEAD", "/dashboard")
    assert status == 200 and body is None
    assert int(headers["content-length"]) > 1000
    status, headers, body = live.request("GET", "/dashboard/app.js")  # only hashed names exist
    assert status == 404
    assert headers["content-type"].startswith("application/json")
    assert "reload" in body["error"]
    assert live.request("GET", "/dashboard/index.html")[0] == 404  # its relative links would break there
    status, headers, _ = live.request("GET", "/dashboard/")
    assert status == 308
    assert headers["location"] == "../dashboard"  # relative: right behind a proxy's path prefix too
    assert live.request("POST", "/dashboard")[0] == 405


def test_the_data_the_page_shows_needs_the_admin_key(live):
    # Production: the page is public, every data call it makes is not.
    for path in ("/costs?group_by=day", "/data", "/models", "/ingest/tokens", "/export.csv"):
        assert live.request("GET", path)[0] == 401, path
        assert live.admin("GET", path)[0] == 200, path


def test_dashboard_is_not_rate_limited_by_default(tmp_path):
    srv = Server(tmp_path, env={"RATE_LIMIT_RPM": "60", "RATE_LIMIT_BURST": "2"})
    srv.start()
    try:
        conn = srv.connection()
        for _ in range(6):
            status, headers, _ = srv.request("GET", "/dashboard", conn=conn)
            assert status == 200
            assert "ratelimit-limit" not in headers
    finally:
        assert srv.stop() == 0
