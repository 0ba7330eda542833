"""SIGHUP reloads PRICING_FILE without dropping requests; a bad file keeps the table in force and says why."""
import signal
import threading
import time

from test_reprice import acme_table


def wait_for_log(srv, event, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        for line in list(srv.lines):
            if f'"event":"{event}"' in line:
                return line
        time.sleep(0.02)
    raise AssertionError(f"no {event} log line")


def test_sighup_reloads_prices_under_load_and_keeps_the_old_table_when_the_new_one_is_bad(make_server, tmp_path):
    live = tmp_path / "live.json"
    live.write_text(acme_table(tmp_path, "v1.json", "2.5").read_text())
    srv = make_server(env={"PRICING_FILE": str(live)})
    token = srv.create_token("t")["token"]
    status, _, body = srv.request("GET", "/health")
    assert body["pricing"]["source"].endswith("live.json") and body["pricing"]["models"] == 1

    stop = threading.Event()
    answers, failures = [], []

    def client(n):
        conn = srv.connection()
        i = 0
        while not stop.is_set():
            i += 1
            try:
                status, _, res = srv.ingest({"tracking_token": token, "event_id": f"c{n}-{i}", "model": "acme-1",
                                             "prompt_tokens": 1000, "completion_tokens": 0}, conn=conn)
                answers.append(status)
            except OSError as e:  # a dropped request is exactly what must not happen
                failures.append(repr(e))

    threads = [threading.Thread(target=client, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    time.sleep(0.3)
    live.write_text(acme_table(tmp_path, "v2.json", "5").read_text())
    srv.proc.send_signal(signal.SIGHUP)
    wait_for_log(srv, "pricing_reloaded")
    time.sleep(0.3)
    stop.set()
    for t in threads:
        t.join()
    assert not failures, failures[:3]
    assert answers and set(answers) == {201}

    costs = {cost for (cost,) in srv.rows("SELECT DISTINCT cost_nusd FROM usage_events")}
    assert costs == {2_500_000, 5_000_000}  # 1000 input tokens at 2.5 before the reload, at 5 after
    status, _, res = srv.ingest({"tracking_token": token, "event_id": "after", "model": "acme-1",
                                 "prompt_tokens": 1000})
    assert res["cost_usd_exact"] == "0.005000000"

    # A broken file: the reload fails loudly, the table in force stays.
    live.write_text('{"header": ')
    srv.proc.send_signal(signal.SIGHUP)
    line = wait_for_log(srv, "pricing_reload_failed")
    assert "live.json" in line
    status, _, res = srv.ingest({"tracking_token": token, "event_id": "after-bad", "model": "acme-1",
                                 "prompt_tokens": 1000})
    assert status == 201 and res["cost_usd_exact"] == "0.005000000"
    status, _, body = srv.request("GET", "/health")
    assert status == 200 and body["pricing"]["models"] == 1
