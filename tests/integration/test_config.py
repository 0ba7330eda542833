"""Configuration: --help, production rules, generated development keys, .env/environment/flag precedence, bad
values, the first log line and the access log."""
import json
import os
import pwd
import stat
import subprocess
import time

import pytest

from cg_server import API_KEY, INGEST_KEY, Server, token_chars

SETTINGS = ["HOST", "SERVER_PORT", "ENV", "THREADS", "DATA_DIR", "DB_FILENAME", "DB_PATH", "API_KEY", "INGEST_KEY",
            "DURABILITY", "MAX_BODY_BYTES", "HEADER_TIMEOUT_MS", "BODY_TIMEOUT_MS", "IDLE_TIMEOUT_MS",
            "MAX_CONNECTIONS", "WRITER_MAX_BATCH", "WRITER_MAX_DELAY_US", "WRITER_QUEUE", "READ_THREADS",
            "PRICING_FILE", "TRACKING_TOKEN_LENGTH", "ACCESS_LOG", "LOG_FORMAT", "PUBLIC_URL"]
# API.md, Configuration and Cross-cutting: the seed's settings that the gateway must also understand.
SEED_SETTINGS = ["ALLOWED_ORIGINS", "RATE_LIMIT_RPM", "RATE_LIMIT_BURST", "RATE_LIMIT_EXEMPT", "INGEST_RPM",
                 "INGEST_BURST", "TRUSTED_PROXIES"]


def binary():
    return os.environ["CG_BINARY"]


def run(args, env=None, cwd=None, timeout=10):
    """Runs the binary to completion (a server that starts by mistake is killed by the timeout and fails)."""
    base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    base.update(env or {})
    try:
        return subprocess.run([binary(), *args], env=base, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"{args} {env} did not exit within {timeout} s (it should have refused to start): {e.stdout}")


def wait_stderr(srv, needle, timeout=5):
    deadline = time.time() + timeout
    while needle not in srv.stderr_text():
        if time.time() > deadline:
            return False
        time.sleep(0.05)
    return True


# ---- a data folder the server cannot write -----------------------------------------------------------------------

def test_unwritable_data_folder_names_the_user_and_the_folder(tmp_path):
    """The container case: the folder belongs to root, the server runs as another user, and SQLite alone would say
    only "unable to open database file". As root, the test starts the server as nobody on a folder of root's; as
    any other user, it takes write permission away from the folder instead."""
    data = tmp_path / "data"
    data.mkdir()
    as_other_user = {}
    if os.geteuid() == 0:
        tmp_path.chmod(0o755)  # nobody must be able to look up "data" from its working directory
        data.chmod(0o755)
        as_other_user = {"user": 65534, "group": 65534, "extra_groups": []}
        user = f"{pwd.getpwuid(65534).pw_name} (uid 65534)"
    else:
        data.chmod(0o555)
        user = f"{pwd.getpwuid(os.geteuid()).pw_name} (uid {os.geteuid()})"
    # DATA_DIR relative to the working directory: nobody may not search the pytest folders above tmp_path.
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "ENV": "production", "API_KEY": API_KEY,
           "INGEST_KEY": INGEST_KEY, "DATA_DIR": "data"}
    try:
        res = subprocess.run([binary(), "--port", "0", "--host", "127.0.0.1", "--env-file", os.devnull], env=env,
                             cwd=tmp_path, capture_output=True, text=True, timeout=10, **as_other_user)
    finally:
        data.chmod(0o755)
    assert res.returncode != 0
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, res.stderr  # one line, no stack trace
    assert f"directory 'data' is not writable by user {user}" in lines[0], lines[0]
    assert "usage_log.sqlite" in lines[0], lines[0]
    assert '"listening"' not in res.stdout
    assert not (data / "usage_log.sqlite").exists()


# ---- --help and --version ---------------------------------------------------------------------------------------

def test_help_lists_every_setting(tmp_path):
    res = run(["--help"], cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    for name in SETTINGS + SEED_SETTINGS + ["--env-file", "--port", "--production"]:
        assert name in res.stdout, name


def test_version(tmp_path):
    res = run(["--version"], cwd=tmp_path)
    assert res.returncode == 0
    assert res.stdout.startswith("cost-guardian ")


# ---- production ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("env,args,missing,present", [
    ({"ENV": "production"}, [], ["API_KEY", "INGEST_KEY"], []),
    ({}, ["--production"], ["API_KEY", "INGEST_KEY"], []),
    ({"ENV": "production", "API_KEY": "a-key"}, [], ["INGEST_KEY"], ["API_KEY"]),
    ({"ENV": "production", "INGEST_KEY": "i-key"}, [], ["API_KEY"], ["INGEST_KEY"]),
    ({"ENV": "production", "API_KEY": "", "INGEST_KEY": "i-key"}, [], ["API_KEY"], ["INGEST_KEY"]),
], ids=["env", "flag", "no-ingest-key", "no-api-key", "empty-api-key"])
def test_production_refuses_to_start_without_keys(tmp_path, env, args, missing, present):
    res = run(["--port", "0", "--host", "127.0.0.1", "--env-file", os.devnull, *args],
              env={"DATA_DIR": str(tmp_path / "data"), **env}, cwd=tmp_path)
    assert res.returncode != 0
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, res.stderr  # one line, no stack trace
    for name in missing:
        assert name in lines[0], lines[0]
    for name in present:
        assert name not in lines[0], lines[0]
    assert '"listening"' not in res.stdout
    assert not (tmp_path / "data" / "dev-keys.env").exists()


def test_production_with_keys_starts_and_generates_nothing(make_server):
    srv = make_server(env={"ENV": "production"})
    assert srv.first_line["event"] == "listening"
    assert not os.path.exists(os.path.join(srv.data_dir, "dev-keys.env"))
    status, _, _ = srv.admin("GET", "/ingest/tokens")
    assert status == 200
    srv.stop()
    assert API_KEY not in srv.stderr_text() and INGEST_KEY not in srv.stderr_text()


# ---- development keys ------------------------------------------------------------------------------------------

def read_env_file(path):
    values = {}
    for line in open(path, encoding="utf-8"):
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def test_development_generates_stores_prints_and_reuses_keys(tmp_path):
    data = tmp_path / "data"
    srv = Server(data, env={"API_KEY": None, "INGEST_KEY": None})
    srv.start()
    try:
        keys_file = data / "dev-keys.env"
        assert keys_file.exists()
        assert stat.S_IMODE(os.stat(keys_file).st_mode) == 0o600
        keys = read_env_file(keys_file)
        api_key, ingest_key = keys["API_KEY"], keys["INGEST_KEY"]
        assert len(api_key) >= 20 and len(ingest_key) >= 20 and api_key != ingest_key
        assert wait_stderr(srv, ingest_key), srv.stderr_text()
        err = srv.stderr_text()
        assert api_key in err
        assert f"http://127.0.0.1:{srv.port}/dashboard" in err
        # The keys work, and nothing else does.
        srv.api_key, srv.ingest_key = api_key, ingest_key
        assert srv.admin("GET", "/ingest/tokens")[0] == 200
        assert srv.request("GET", "/ingest/tokens", headers={"X-API-Key": API_KEY})[0] == 401
        token = srv.create_token("dev")["token"]
        assert srv.ingest({"tracking_token": token, "model": "m"})[0] == 201
        # Never in the log on stdout.
        assert api_key not in srv.stdout_text() and ingest_key not in srv.stdout_text()
    finally:
        srv.stop()

    again = Server(data, env={"API_KEY": None, "INGEST_KEY": None})
    again.start()
    try:
        assert read_env_file(data / "dev-keys.env") == keys
        assert wait_stderr(again, ingest_key), again.stderr_text()
        again.api_key, again.ingest_key = api_key, ingest_key
        status, _, body = again.admin("GET", "/ingest/tokens")
        assert status == 200
        assert [t["label"] for t in body["tokens"]] == ["dev"]
        assert again.ingest({"tracking_token": token, "model": "m"})[0] == 201
    finally:
        again.stop()


def test_development_keeps_a_key_that_is_set(tmp_path):
    data = tmp_path / "data"
    srv = Server(data, env={"API_KEY": "my-own-admin-key-123", "INGEST_KEY": None})
    srv.start()
    try:
        keys = read_env_file(data / "dev-keys.env")
        srv.ingest_key = keys["INGEST_KEY"]
        assert srv.admin("GET", "/ingest/tokens")[0] == 200
        token = srv.create_token("mixed")["token"]
        assert srv.ingest({"tracking_token": token, "model": "m"})[0] == 201
    finally:
        srv.stop()


# ---- .env, environment, flags -------------------------------------------------------------------------------------

def test_env_file_is_read(make_server, tmp_path):
    env_file = tmp_path / "custom.env"
    env_file.write_text("# settings\nexport API_KEY=dotenv-admin-key-1\nINGEST_KEY='dotenv-ingest-key-1'\n"
                        "TRACKING_TOKEN_LENGTH=16  # short tokens\n")
    srv = make_server(env={"API_KEY": None, "INGEST_KEY": None}, args=["--env-file", str(env_file)])
    srv.api_key, srv.ingest_key = "dotenv-admin-key-1", "dotenv-ingest-key-1"
    token = srv.create_token("dotenv")["token"]
    assert len(token) == token_chars(16)
    assert srv.ingest({"tracking_token": token, "model": "m"})[0] == 201
    assert not os.path.exists(os.path.join(srv.data_dir, "dev-keys.env"))


def test_dot_env_in_the_working_directory_is_read(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / ".env").write_text("API_KEY=cwd-admin-key-1\nINGEST_KEY=cwd-ingest-key-1\nTRACKING_TOKEN_LENGTH=17\n")
    srv = Server(data, env={"API_KEY": None, "INGEST_KEY": None}, env_file=None)
    srv.start()
    try:
        srv.api_key = "cwd-admin-key-1"
        assert len(srv.create_token("cwd")["token"]) == token_chars(17)
    finally:
        srv.stop()


def test_environment_beats_env_file_and_flags_beat_environment(make_server, tmp_path):
    env_file = tmp_path / "layers.env"
    env_file.write_text("TRACKING_TOKEN_LENGTH=16\nAPI_KEY=from-dotenv-key\n")
    args = ["--env-file", str(env_file)]

    srv = make_server(env={"TRACKING_TOKEN_LENGTH": "20"}, args=args)
    assert len(srv.create_token("env")["token"]) == token_chars(20)
    # API_KEY comes from the environment (Server sets it), not from the file.
    assert srv.request("GET", "/ingest/tokens", headers={"X-API-Key": "from-dotenv-key"})[0] == 401
    srv.stop()

    srv = make_server(env={"TRACKING_TOKEN_LENGTH": "20"}, args=args + ["--tracking-token-length", "30"])
    assert len(srv.create_token("flag")["token"]) == token_chars(30)
    srv.stop()

    srv = make_server(env={"TRACKING_TOKEN_LENGTH": "20", "API_KEY": "env-admin-key"},
                      args=args + ["--api-key=flag-admin-key", "--tracking-token-length=24"])
    srv.api_key = "flag-admin-key"
    assert len(srv.create_token("flag2")["token"]) == token_chars(24)
    assert srv.request("GET", "/ingest/tokens", headers={"X-API-Key": "env-admin-key"})[0] == 401


# ---- bad values ---------------------------------------------------------------------------------------------------

BAD_VALUES = [
    ({"SERVER_PORT": "abc"}, [], "SERVER_PORT"),
    ({"SERVER_PORT": "70000"}, [], "SERVER_PORT"),
    ({"SERVER_PORT": "-1"}, [], "SERVER_PORT"),
    ({}, ["--port", "abc"], "SERVER_PORT"),
    ({"TRACKING_TOKEN_LENGTH": "10"}, ["--port", "0"], "TRACKING_TOKEN_LENGTH"),
    ({"TRACKING_TOKEN_LENGTH": "41"}, ["--port", "0"], "TRACKING_TOKEN_LENGTH"),
    ({"TRACKING_TOKEN_LENGTH": "22.5"}, ["--port", "0"], "TRACKING_TOKEN_LENGTH"),
    ({}, ["--port", "0", "--tracking-token-length", "15"], "TRACKING_TOKEN_LENGTH"),
    ({"ENV": "staging"}, ["--port", "0"], "ENV"),
    ({"MAX_BODY_BYTES": "lots"}, ["--port", "0"], "MAX_BODY_BYTES"),
    ({"MAX_BODY_BYTES": "-5"}, ["--port", "0"], "MAX_BODY_BYTES"),
    ({"HEADER_TIMEOUT_MS": "0"}, ["--port", "0"], "HEADER_TIMEOUT_MS"),
    ({"MAX_CONNECTIONS": "0"}, ["--port", "0"], "MAX_CONNECTIONS"),
    ({"WRITER_QUEUE": "x"}, ["--port", "0"], "WRITER_QUEUE"),
    ({"DURABILITY": "sometimes"}, ["--port", "0"], "DURABILITY"),
    ({"ACCESS_LOG": "maybe"}, ["--port", "0"], "ACCESS_LOG"),
    ({"LOG_FORMAT": "xml"}, ["--port", "0"], "LOG_FORMAT"),
    ({"HOST": "not-an-address"}, ["--port", "0"], "HOST"),
    ({}, ["--port", "0", "--no-such-flag", "1"], "--no-such-flag"),
    ({}, ["--port"], "--port"),
]


@pytest.mark.parametrize("env,args,name", BAD_VALUES, ids=[f"{e}{a}" for e, a, _ in BAD_VALUES])
def test_bad_value_exits_naming_the_setting(tmp_path, env, args, name):
    res = run([*args, "--env-file", os.devnull] if args != ["--port"] else args,
              env={"DATA_DIR": str(tmp_path), "API_KEY": API_KEY, "INGEST_KEY": INGEST_KEY, **env}, cwd=tmp_path)
    assert res.returncode != 0
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, res.stderr
    assert name in lines[0], lines[0]
    assert '"listening"' not in res.stdout


def test_malformed_env_file_is_named(tmp_path):
    env_file = tmp_path / "broken.env"
    env_file.write_text("API_KEY=x\nthis line has no equals sign\n")
    res = run(["--port", "0", "--env-file", str(env_file)], env={"DATA_DIR": str(tmp_path)}, cwd=tmp_path)
    assert res.returncode != 0
    assert "broken.env" in res.stderr and ":2" in res.stderr, res.stderr


def test_missing_env_file_given_explicitly_is_an_error(tmp_path):
    res = run(["--port", "0", "--env-file", str(tmp_path / "nope.env")], env={"DATA_DIR": str(tmp_path)},
              cwd=tmp_path)
    assert res.returncode != 0
    assert "nope.env" in res.stderr


# ---- the log -----------------------------------------------------------------------------------------------------

def test_first_stdout_line_is_the_listening_event(server):
    first = server.first_line
    assert first["event"] == "listening"
    assert isinstance(first["port"], int) and 0 < first["port"] < 65536
    assert first["port"] == server.port
    assert server.request("GET", "/ping")[0] == 200


def test_access_log_has_one_json_line_per_request(server):
    token = server.create_token("logged")["token"]
    sent = [
        ("GET", "/ping", None, {}, 200),
        ("GET", "/ping?x=1", None, {}, 200),
        ("POST", "/ingest", {"tracking_token": token, "model": "m"}, {"X-Ingest-Key": server.ingest_key}, 201),
        ("POST", "/ingest", {"model": "m"}, {"X-Ingest-Key": server.ingest_key}, 400),
        ("GET", "/ingest/tokens", None, {"X-API-Key": server.api_key}, 200),
        ("GET", "/ingest/tokens", None, {}, 401),
        ("DELETE", "/ping", None, {}, 405),
        ("GET", "/nope", None, {}, 404),
    ]
    for n, (method, path, body, headers, expected) in enumerate(sent):
        status, _, _ = server.request(method, path, body, {**headers, "X-Request-Id": f"logtest-{n}"})
        assert status == expected
    for n, (method, path, _, _, expected) in enumerate(sent):
        rid = f"logtest-{n}"
        rec = server.wait_for_log(lambda r, rid=rid: r.get("request_id") == rid)
        assert rec is not None, f"no access log line for request {rid}"
        assert rec["method"] == method
        assert rec["path"] == path.split("?")[0]
        assert rec["status"] == expected
        assert isinstance(rec["duration_us"], int) and rec["duration_us"] >= 0
        matching = [r for r in server.log_records() if r.get("request_id") == rid]
        assert len(matching) == 1, matching
    # Every line of stdout is JSON.
    for line in server.lines:
        json.loads(line)


def test_access_log_can_be_switched_off(make_server):
    srv = make_server(env={"ACCESS_LOG": "off"})
    for _ in range(5):
        assert srv.request("GET", "/ping", headers={"X-Request-Id": "quiet"})[0] == 200
    time.sleep(0.5)  # longer than the 200 ms flush period
    assert not [r for r in srv.log_records() if r.get("request_id") == "quiet"]


def test_no_secret_is_ever_logged(server):
    created = server.create_token("secret-holder")
    token = created["token"]
    server.ingest({"tracking_token": token, "model": "m"})
    server.ingest({"model": "m"}, {"X-Tracking-Token": token})
    server.ingest({"tracking_token": token, "model": "m", "prompt_tokens": -1})  # a 400 that names the field
    server.request("POST", "/ingest", {"tracking_token": token, "model": "m"}, {"X-Ingest-Key": "wrong-ingest-9"})
    server.request("GET", "/ingest/tokens", headers={"Authorization": f"Bearer {server.api_key}"})
    server.request("GET", "/ingest/tokens", headers={"X-API-Key": "wrong-admin-key-9"})
    server.request("GET", f"/ping?tracking_token={token}&key={server.api_key}")
    server.admin("PATCH", f"/ingest/tokens/{created['id']}/active", {"active": False})
    server.ingest({"tracking_token": token, "model": "m"})  # 403 for an inactive token
    server.admin("DELETE", f"/ingest/tokens/{created['id']}")
    server.ingest({"tracking_token": token, "model": "m"})  # 404 for a deleted token
    assert server.wait_for_log(lambda r: r.get("status") == 404 and r.get("method") == "POST")
    server.stop()
    output = server.stdout_text() + server.stderr_text()
    for secret in [server.api_key, server.ingest_key, token, "wrong-ingest-9", "wrong-admin-key-9"]:
        assert secret not in output, f"{secret!r} appears in the log"


# ---- safe defaults (issue 12) -----------------------------------------------------------------------------------

def test_development_on_a_reachable_address_warns_in_the_log_and_on_stderr(make_server):
    srv = make_server(args=["--host", "0.0.0.0"])
    srv.stop()
    [warning] = [e for e in srv.log_records() if e.get("event") == "development_mode_exposed"]
    assert warning["level"] == "warn"
    assert warning["address"] == "0.0.0.0"
    assert "HOST=127.0.0.1" in warning["reason"] and "ENV=production" in warning["reason"]
    assert "WARNING" in srv.stderr_text() and "DEVELOPMENT mode" in srv.stderr_text()


@pytest.mark.parametrize("env,args", [({}, ["--host", "127.0.0.1"]), ({}, ["--host", "::1"]),
                                      ({"ENV": "production"}, ["--host", "0.0.0.0"])])
def test_loopback_or_production_does_not_warn(make_server, env, args):
    srv = make_server(env=env, args=args, start=False)
    srv.start(wait_healthy=args[1] != "::1")  # the test client speaks IPv4 to 127.0.0.1
    time.sleep(0.3)  # the warning would follow the first line at once
    srv.stop()
    assert not [e for e in srv.log_records() if e.get("event") == "development_mode_exposed"]
    assert "DEVELOPMENT mode" not in srv.stderr_text()
