"""cost-guardian reprice: recompute stored server-side costs with the table in force now; never client costs."""
import json
import os
import subprocess

from test_pricing_file import custom_table


def acme_table(tmp_path, name, input_price):
    path = custom_table(tmp_path)
    table = json.loads(path.read_text())
    table["providers"][0]["models"][0]["prices"]["input_mtok"] = input_price
    out = tmp_path / name
    out.write_text(json.dumps(table))
    return out


def reprice(srv, *args, pricing_file):
    env = {**srv.env, "PRICING_FILE": str(pricing_file)}
    proc = subprocess.run([srv.binary, "reprice", "--env-file", os.devnull, *args], env=env, cwd=srv.data_dir,
                          capture_output=True, text=True, timeout=60)
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    return proc.returncode, lines, proc.stderr


def test_reprice_rewrites_server_costs_in_range_and_leaves_client_costs(make_server, tmp_path):
    old = acme_table(tmp_path, "old.json", "2.5")
    new = acme_table(tmp_path, "new.json", "5")
    srv = make_server(env={"PRICING_FILE": str(old)})
    a = srv.create_token("a")
    b = srv.create_token("b")
    events = [
        (a, "in-range", "2025-03-10T12:00:00Z", {}),
        (a, "client-cost", "2025-03-10T12:00:00Z", {"cost_usd": 0.5}),
        (a, "before", "2025-03-09T23:59:59Z", {}),
        (a, "end-day", "2025-03-11T23:59:59Z", {}),   # a bare --end date includes that whole day
        (a, "after", "2025-03-12T00:00:00Z", {}),
        (b, "other-token", "2025-03-10T12:00:00Z", {}),
        (a, "unknown-model", "2025-03-10T12:00:00Z", {"model": "not-a-model"}),
    ]
    for token, event_id, ts, extra in events:
        body = {"tracking_token": token["token"], "event_id": event_id, "model": "acme-1", "timestamp": ts,
                "prompt_tokens": 1000, "completion_tokens": 100, **extra}
        status, _, res = srv.ingest(body)
        assert status == 201, res
    assert srv.stop() == 0
    before = dict(srv.rows("SELECT event_id, cost_nusd FROM usage_events"))
    assert before["in-range"] == 3_500_000  # 1000 x 2.5 + 100 x 10 µUSD

    # Dry run: reports, writes nothing.
    code, lines, err = reprice(srv, "--start", "2025-03-10", "--end", "2025-03-11", "--token", str(a["id"]),
                               "--dry-run", pricing_file=new)
    assert code == 0, err
    summary = lines[-1]
    assert summary["event"] == "reprice_dry_run"
    assert summary["examined"] == 3  # in-range, end-day, unknown-model (client-cost is never read)
    assert summary["changed"] == 2
    changed = {line["id"]: line for line in lines[:-1]}
    assert {c["new_cost_usd"] for c in changed.values()} == {"0.006000000"}  # 1000 x 5 + 100 x 10 µUSD
    assert dict(srv.rows("SELECT event_id, cost_nusd FROM usage_events")) == before

    code, lines, err = reprice(srv, "--start", "2025-03-10", "--end", "2025-03-11", "--token", str(a["id"]),
                               pricing_file=new)
    assert code == 0, err
    assert lines[-1]["event"] == "repriced" and lines[-1]["changed"] == 2
    after = dict(srv.rows("SELECT event_id, cost_nusd FROM usage_events"))
    assert after["in-range"] == after["end-day"] == 6_000_000
    for untouched in ("client-cost", "before", "after", "other-token", "unknown-model"):
        assert after[untouched] == before[untouched], untouched
    assert srv.rows("SELECT cost_source FROM usage_events WHERE event_id = 'client-cost'") == [("client",)]

    # Running it again changes nothing.
    code, lines, err = reprice(srv, "--start", "2025-03-10", "--end", "2025-03-11", pricing_file=new)
    assert code == 0, err
    assert lines[-1]["changed"] == 1  # only the other token's event, not repriced before


def test_reprice_refuses_bad_arguments(make_server, tmp_path):
    srv = make_server()
    table = acme_table(tmp_path, "t.json", "1")
    for args in (["--start", "2025-03-10"], ["--start", "yesterday", "--end", "2025-03-10"],
                 ["--start", "2025-03-11", "--end", "2025-03-10"], ["--start", "2025-03-10", "--end", "2025-03-11",
                                                                     "--token", "abc"]):
        code, _, err = reprice(srv, *args, pricing_file=table)
        assert code == 2, args
        assert err.startswith("cost-guardian reprice:"), err
