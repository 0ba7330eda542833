"""GET /openapi.json: an OpenAPI 3.1 document of every route, checked against the router's real table.

How the check works: the document is generated from the router's table and the route_doc given where each route is
registered (`routes.add(verb, pattern, handler, {.summary = ..., .responses = ...})`). A route registered without a
doc is left out of `paths` but still listed in `x-route-table` (the table verbatim, "METHOD /pattern"), so:
- no route missing: the documented operations must equal x-route-table;
- none documented that does not exist: every documented operation is requested on the running server and must not
  be answered by the router's own 404 ("no route for ...") or 405.
"""
import re

import pytest

HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    from cg_server import Server
    srv = Server(tmp_path_factory.mktemp("openapi"), env={"RATE_LIMIT_RPM": "0"})
    srv.start()
    status, headers, doc = srv.request("GET", "/openapi.json")  # public: no key
    assert status == 200, doc
    assert headers["content-type"].startswith("application/json")
    yield srv, doc
    assert srv.stop() == 0
    assert not srv.sanitizer_reports(), "".join(srv.stderr_lines[-60:])


def pattern_of(path):
    return re.sub(r"\{([^}]+)\}", r"<\1>", path)


def operations(doc):
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method in HTTP_METHODS:
                yield method.upper(), path, op


def test_document_shape(live):
    _, doc = live
    assert doc["openapi"] == "3.1.0"
    assert doc["info"]["title"] and doc["info"]["version"]
    assert set(doc["components"]["securitySchemes"]) == {"adminKey", "bearer", "ingestKey"}


def test_no_route_missing_and_none_extra(live):
    _, doc = live
    table = set(doc["x-route-table"])
    assert len(table) == len(doc["x-route-table"]), "a route is registered twice"
    documented = {f"{method} {pattern_of(path)}" for method, path, _ in operations(doc)}
    missing = sorted(table - documented)
    extra = sorted(documented - table)
    assert not missing, ("routes without a route_doc (add {.summary = ..., .responses = ...} where they are "
                         f"registered): {missing}")
    assert not extra, f"documented but not in the router's table: {extra}"
    # The routes every version has.
    for route in ("GET /ping", "GET /health", "POST /ingest", "GET /ingest/tokens", "POST /ingest/tokens",
                  "PATCH /ingest/tokens/<id>/active", "DELETE /ingest/tokens/<id>", "GET /metrics",
                  "GET /openapi.json"):
        assert route in documented, route


def test_every_documented_route_exists_on_the_server(live):
    srv, doc = live
    conn = srv.connection()
    for method, path, _ in operations(doc):
        concrete = re.sub(r"\{[^}]+\}", "1", path)
        status, headers, body = srv.request(method, concrete, conn=conn)
        router_404 = status == 404 and isinstance(body, dict) and body.get("error", "").startswith("no route for")
        assert not router_404 and status != 405, f"{method} {path} is documented but the server has no such route"


def test_every_operation_is_complete(live):
    _, doc = live
    schemas = doc["components"]["schemas"]
    ids = set()
    for method, path, op in operations(doc):
        where = f"{method} {path}"
        assert op["summary"].strip(), where
        assert op["operationId"] not in ids, where
        ids.add(op["operationId"])
        assert op["tags"] and op["tags"][0] in ("public", "admin", "ingest"), where
        assert any(code.startswith("2") for code in op["responses"]), where
        for code, res in op["responses"].items():
            assert re.fullmatch(r"[1-5]\d\d", code), where
            assert res["description"], where
        names = [p["name"] for p in op.get("parameters", []) if p["in"] == "path"]
        assert names == re.findall(r"\{([^}]+)\}", path), where
        for p in op.get("parameters", []):
            assert p["in"] in ("path", "query", "header") and "schema" in p, where
        for req in op.get("security", []):
            assert set(req) <= set(doc["components"]["securitySchemes"]), where
        if op["tags"][0] == "admin":
            assert "401" in op["responses"], where
    # Every $ref resolves.
    def walk(value):
        if isinstance(value, dict):
            for key, child in value.items():
                if key == "$ref":
                    assert child.startswith("#/components/schemas/"), child
                    assert child.rsplit("/", 1)[1] in schemas, child
                walk(child)
        elif isinstance(value, list):
            for child in value:
                walk(child)
    walk(doc)


def test_the_server_reports_no_undocumented_route(live):
    srv, _ = live
    srv.request("GET", "/ping")
    assert srv.wait_for_log(lambda r: r.get("event") == "openapi_incomplete", timeout=0.5) is None
