"""Tracking-token administration: /ingest/tokens (list, create, activate, delete) and the admin key."""
import datetime
import re
import time
import uuid

import pytest

from cg_server import ISO_Z_RE, Server, token_chars


# Every test here runs on SQLite and on PostgreSQL (conftest.py; ctest gives this file the postgres fixture).
pytestmark = pytest.mark.both_backends

URLSAFE_RE = re.compile(r"^[A-Za-z0-9_-]+$")


def parse_iso(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.fixture(scope="module")
def shared(tmp_path_factory, backend):
    srv = Server(tmp_path_factory.mktemp("tokens"), backend=backend)
    try:
        srv.start()
        yield srv
    finally:
        srv.close()


def token_by_id(srv, token_id):
    return next((t for t in srv.list_tokens() if t["id"] == token_id), None)


def test_create_and_list(server):
    before = time.time()
    status, _, created = server.admin("POST", "/ingest/tokens", {"label": "my app"})
    assert status == 201, created
    assert set(created) >= {"id", "token", "label"}
    assert isinstance(created["id"], int) and not isinstance(created["id"], bool)
    assert created["label"] == "my app"
    assert URLSAFE_RE.match(created["token"]), created
    assert len(created["token"]) == token_chars(22)  # TRACKING_TOKEN_LENGTH defaults to 22 bytes

    status, _, listing = server.admin("GET", "/ingest/tokens")
    assert status == 200
    assert len(listing["tokens"]) == 1
    t = listing["tokens"][0]
    assert set(t) >= {"id", "label", "token", "token_masked", "active", "created_at", "last_seen_at", "usage_count"}
    assert t["id"] == created["id"]
    assert t["label"] == "my app"
    assert t["token"] == created["token"]  # the full token: the old dashboard copies it from here
    assert t["active"] is True
    assert t["last_seen_at"] is None
    assert t["usage_count"] == 0
    assert ISO_Z_RE.match(t["created_at"]), t
    assert before - 2 <= parse_iso(t["created_at"]).timestamp() <= time.time() + 2
    masked = t["token_masked"]
    assert isinstance(masked, str) and masked and masked != t["token"]
    assert t["token"] not in masked
    assert t["token"][4:-4] not in masked  # most of it is hidden


def test_tokens_are_random(shared):
    tokens = {shared.create_token(f"rand-{i}")["token"] for i in range(20)}
    assert len(tokens) == 20


def test_last_seen_and_usage_count_follow_ingests(server):
    created = server.create_token("counted")
    for n in range(3):
        status, _, body = server.ingest({"tracking_token": created["token"], "model": "m", "event_id": f"e{n}"})
        assert status == 201, body
    t = token_by_id(server, created["id"])
    assert t["usage_count"] == 3
    assert t["last_seen_at"] is not None
    assert ISO_Z_RE.match(t["last_seen_at"]), t
    assert abs(parse_iso(t["last_seen_at"]).timestamp() - time.time()) < 60
    assert parse_iso(t["last_seen_at"]) >= parse_iso(t["created_at"])
    first_seen = parse_iso(t["last_seen_at"])
    time.sleep(0.01)
    status, _, _ = server.ingest({"tracking_token": created["token"], "model": "m", "event_id": "e-last"})
    assert status == 201
    t = token_by_id(server, created["id"])
    assert t["usage_count"] == 4
    assert parse_iso(t["last_seen_at"]) > first_seen
    # A duplicate stores nothing, so it is not counted (docs/api.md).
    status, _, body = server.ingest({"tracking_token": created["token"], "model": "m", "event_id": "e0"})
    assert (status, body.get("duplicate")) == (200, True)
    assert token_by_id(server, created["id"])["usage_count"] == 4
    # Another token is untouched.
    other = server.create_token("idle")
    assert token_by_id(server, other["id"])["usage_count"] == 0
    assert token_by_id(server, other["id"])["last_seen_at"] is None


def test_duplicate_label_is_409(shared):
    shared.create_token("dup-label")
    count = len(shared.list_tokens())
    status, headers, body = shared.admin("POST", "/ingest/tokens", {"label": "dup-label"})
    assert status == 409, body
    assert body["error"] and body["message"] == body["error"]
    assert body["request_id"] == headers["x-request-id"]
    assert len(shared.list_tokens()) == count


@pytest.mark.parametrize("label", ["", "   ", "x" * 65, "é" * 65, "€" * 65, "nul\x00label"])
def test_bad_label_is_400(shared, label):
    count = len(shared.list_tokens())
    status, _, body = shared.admin("POST", "/ingest/tokens", {"label": label})
    assert status == 400, body
    assert body["field"] == "label"
    assert body["error"] and body["message"] == body["error"]
    assert len(shared.list_tokens()) == count


@pytest.mark.parametrize("body", [{}, {"label": None}, {"label": 5}, {"label": ["a"]}, {"name": "x"}])
def test_missing_or_non_string_label_is_400(shared, body):
    status, _, resp = shared.admin("POST", "/ingest/tokens", body)
    assert status == 400, resp
    assert resp["field"] == "label"


@pytest.mark.parametrize("label", ["x" * 64, "é" * 64, "€" * 64, "日本語のラベル", "a"])
def test_label_limit_counts_characters(shared, label):
    status, _, body = shared.admin("POST", "/ingest/tokens", {"label": label})
    assert status == 201, body
    assert body["label"] == label
    assert any(t["label"] == label for t in shared.list_tokens())


def test_create_with_non_json_body(shared):
    status, _, body = shared.admin("POST", "/ingest/tokens", "{nope", {"Content-Type": "application/json"})
    assert status == 400, body
    status, _, body = shared.admin("POST", "/ingest/tokens", "label=x", {"Content-Type": "text/plain"})
    assert status == 415, body


@pytest.mark.parametrize("entropy", [16, 40])
def test_token_length_follows_setting(make_server, entropy):
    srv = make_server(env={"TRACKING_TOKEN_LENGTH": str(entropy)})
    token = srv.create_token("len")["token"]
    assert len(token) == token_chars(entropy)
    assert URLSAFE_RE.match(token)
    # And it works for ingestion.
    status, _, body = srv.ingest({"tracking_token": token, "model": "m"})
    assert status == 201, body


def test_patch_active(shared):
    created = shared.create_token("toggle")
    status, _, body = shared.admin("PATCH", f"/ingest/tokens/{created['id']}/active", {"active": False})
    assert status == 200, body
    assert token_by_id(shared, created["id"])["active"] is False
    status, _, body = shared.ingest({"tracking_token": created["token"], "model": "m"})
    assert status == 403, body
    status, _, body = shared.admin("PATCH", f"/ingest/tokens/{created['id']}/active", {"active": True})
    assert status == 200, body
    assert token_by_id(shared, created["id"])["active"] is True
    status, _, body = shared.ingest({"tracking_token": created["token"], "model": "m"})
    assert status == 201, body


@pytest.mark.parametrize("body", [{"active": "false"}, {"active": 0}, {"active": None}, {}, {"active": "true"}])
def test_patch_active_needs_a_boolean(shared, body):
    created = shared.create_token(f"nonbool-{uuid.uuid4().hex[:12]}")
    status, _, resp = shared.admin("PATCH", f"/ingest/tokens/{created['id']}/active", body)
    assert status == 400, resp
    assert resp["field"] == "active"
    assert token_by_id(shared, created["id"])["active"] is True


def test_patch_unknown_id_is_404(shared):
    status, _, body = shared.admin("PATCH", "/ingest/tokens/987654/active", {"active": False})
    assert status == 404, body
    assert body["error"] and body["message"] == body["error"]


@pytest.mark.parametrize("bad_id", ["abc", "1.5", "-1", "0", "1e3", "99999999999999999999999"])
def test_non_integer_id_is_400(shared, bad_id):
    status, _, body = shared.admin("PATCH", f"/ingest/tokens/{bad_id}/active", {"active": False})
    assert status == 400, body
    status, _, body = shared.admin("DELETE", f"/ingest/tokens/{bad_id}")
    assert status == 400, body


def test_delete(server):
    created = server.create_token("doomed")
    status, _, body = server.ingest({"tracking_token": created["token"], "model": "m", "event_id": "kept-1"})
    assert status == 201, body
    event_row_id = body["id"]

    status, _, body = server.admin("DELETE", f"/ingest/tokens/{created['id']}")
    assert status == 200, body
    assert token_by_id(server, created["id"]) is None

    # The token no longer ingests ...
    status, _, body = server.ingest({"tracking_token": created["token"], "model": "m", "event_id": "kept-2"})
    assert status == 404, body
    # ... its events stay, still attributed to it ...
    assert server.rows("SELECT id, token_id, event_id FROM usage_events") == [(event_row_id, created["id"], "kept-1")]
    # ... deleting again is 404 ...
    status, _, body = server.admin("DELETE", f"/ingest/tokens/{created['id']}")
    assert status == 404, body
    # ... and its label can be used again, for a new token with a new id.
    again = server.create_token("doomed")
    assert again["id"] != created["id"]
    assert again["token"] != created["token"]
    status, _, body = server.ingest({"tracking_token": again["token"], "model": "m", "event_id": "kept-1"})
    assert status == 201, body  # a new token: not a duplicate of the deleted token's event
    assert body["id"] != event_row_id


def test_delete_unknown_id_is_404(shared):
    status, _, body = shared.admin("DELETE", "/ingest/tokens/987655")
    assert status == 404, body


ADMIN_ROUTES = [
    ("GET", "/ingest/tokens", None),
    ("POST", "/ingest/tokens", {"label": "should-not-exist"}),
    ("PATCH", "/ingest/tokens/{id}/active", {"active": False}),
    ("DELETE", "/ingest/tokens/{id}", None),
]
BAD_AUTH = [
    {},
    {"X-API-Key": "wrong"},
    {"X-API-Key": "test-admin-key-012345678"},  # a prefix of the right key
    {"X-API-Key": "test-ingest-key-0123456789"},  # the ingest key is not an admin key
    {"Authorization": "Bearer wrong"},
    {"Authorization": "Basic dGVzdC1hZG1pbi1rZXktMDEyMzQ1Njc4OQ=="},
    {"Authorization": "test-admin-key-0123456789"},
]


@pytest.mark.parametrize("method,path,body", ADMIN_ROUTES, ids=[f"{m} {p}" for m, p, _ in ADMIN_ROUTES])
def test_admin_routes_need_the_admin_key(shared, method, path, body):
    target = shared.create_token(f"target-{method}")
    path = path.format(id=target["id"])
    for headers in BAD_AUTH:
        status, resp_headers, resp = shared.request(method, path, body, headers)
        assert status == 401, (headers, resp)
        assert resp["error"] and resp["message"] == resp["error"]
        assert resp["request_id"] == resp_headers["x-request-id"]
    # Nothing changed.
    listing = shared.list_tokens()
    assert not any(t["label"] == "should-not-exist" for t in listing)
    t = next(t for t in listing if t["id"] == target["id"])
    assert t["active"] is True


def test_bearer_key_is_accepted(shared):
    bearer = {"Authorization": f"Bearer {shared.api_key}"}
    status, _, body = shared.request("POST", "/ingest/tokens", {"label": "via-bearer"}, bearer)
    assert status == 201, body
    status, _, listing = shared.request("GET", "/ingest/tokens", None, bearer)
    assert status == 200
    assert any(t["label"] == "via-bearer" for t in listing["tokens"])
    status, _, resp = shared.request("PATCH", f"/ingest/tokens/{body['id']}/active", {"active": False}, bearer)
    assert status == 200, resp
    status, _, resp = shared.request("DELETE", f"/ingest/tokens/{body['id']}", None, bearer)
    assert status == 200, resp
    # The scheme name is case-insensitive (RFC 9110).
    status, _, _ = shared.request("GET", "/ingest/tokens", None, {"Authorization": f"bearer {shared.api_key}"})
    assert status == 200


def test_token_bodies_are_parsed_strictly_and_errors_name_no_empty_field(server):
    """A repeated key in an admin body is as ambiguous as in an event (issue 12); not JSON has no field (issue 11)."""
    hdrs = {"Content-Type": "application/json"}
    status, _, body = server.admin("POST", "/ingest/tokens", '{"label": "a", "label": "b"}', headers=hdrs)
    assert (status, body.get("field")) == (400, "label"), body
    status, _, body = server.admin("POST", "/ingest/tokens", '{"label": "a", "n": 1e999}', headers=hdrs)
    assert (status, body.get("field")) == (400, "n"), body
    for text in ("{not json", "[]"):
        status, _, body = server.admin("POST", "/ingest/tokens", text, headers=hdrs)
        assert status == 400 and "field" not in body, body
