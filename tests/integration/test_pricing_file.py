"""PRICING_FILE replaces the embedded price table at start; a bad file stops the start with a clear reason."""
import json
import os
import subprocess

from cg_server import Server

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")


def custom_table(tmp_path):
    """The shipped table's header and units with one made-up provider: acme-1 at 2.5 in / 10 out USD per Mtok."""
    with open(os.path.join(ROOT, "pricing", "data", "prices.json")) as f:
        table = json.load(f)
    table["providers"] = [{
        "id": "acme", "api_pattern": "https://api\\.acme\\.example", "model_match": {"starts_with": "acme-"},
        "models": [{"id": "acme-1", "match": {"starts_with": "acme-1"},
                    "prices": {"input_mtok": "2.5", "output_mtok": "10"}}],
    }]
    table["header"]["model_count"] = 1
    table["header"]["provider_count"] = 1
    path = tmp_path / "prices.json"
    path.write_text(json.dumps(table))
    return path


def test_pricing_file_replaces_the_embedded_table(make_server, tmp_path):
    srv = make_server(env={"PRICING_FILE": str(custom_table(tmp_path))})
    assert srv.first_line["pricing"].endswith("prices.json")
    token = srv.create_token("p")["token"]
    status, _, body = srv.ingest({"tracking_token": token, "event_id": "a", "model": "acme-1-large",
                                  "prompt_tokens": 1000, "completion_tokens": 100})
    assert status == 201, body
    # 1000 x 2.5 + 100 x 10 = 3500 µUSD
    assert body["cost_usd_exact"] == "0.003500000"
    status, _, body = srv.ingest({"tracking_token": token, "event_id": "b", "model": "gpt-4o-mini",
                                  "prompt_tokens": 1000, "completion_tokens": 100})
    assert status == 201, body
    rows = srv.rows("SELECT event_id, cost_nusd, cost_source, price_ref FROM usage_events ORDER BY id")
    assert rows == [("a", 3_500_000, "server", "acme/acme-1@base"), ("b", 0, "unpriced", "")]


def test_a_bad_pricing_file_stops_the_start_and_says_why(tmp_path):
    bad = tmp_path / "broken.json"
    bad.write_text('{"header": {}, "providers": [')
    srv = Server(tmp_path / "srv", env={"PRICING_FILE": str(bad)})
    proc = subprocess.run([srv.binary, "--port", "0", "--env-file", os.devnull], env=srv.env, cwd=srv.data_dir,
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 1
    assert "broken.json" in proc.stderr
    missing = tmp_path / "missing.json"
    proc = subprocess.run([srv.binary, "--port", "0", "--env-file", os.devnull], cwd=srv.data_dir,
                          env={**srv.env, "PRICING_FILE": str(missing)}, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 1
    assert "missing.json" in proc.stderr
