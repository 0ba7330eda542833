#!/usr/bin/env python3
"""Ingest on PostgreSQL: single-event /ingest through one and two gateways (and /ingest/batch when the binary has
it), next to pgbench running the same statements the writer commits, on the same throwaway server, and the no-work
Beast baseline, all in one run. Writes the "PostgreSQL ingest" section of docs/benchmarks.md.
Usage: bench/postgres.sh [--duration 10] [--connections 64] [--batch-size 100] [--no-write]
"""
import argparse
import datetime
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "support"))
sys.path.insert(0, HERE)
import cg_postgres  # noqa: E402
from cg_server import INGEST_KEY, Server  # noqa: E402
from run_bench import replace_section, run_wrk  # noqa: E402

ENV = {"ACCESS_LOG": "off", "THREADS": "2", "INGEST_RPM": "60000000", "INGEST_BURST": "1000000",
       "RATE_LIMIT_RPM": "0"}

# The writer's INSERTs for one new event (postgres_connection.cpp): its dedupe key and the row. Not the token's counter
# UPDATE: 64 clients updating one token row would only measure that row lock, which the gateway avoids by grouping
# many events (and their counters) into one transaction.
PGBENCH_EVENT = """\\set n random(1, 1000000000000)
BEGIN;
INSERT INTO event_keys (token_id, event_id, id, ts) VALUES (1, 'pgb-' || :client_id || '-' || :n, nextval('usage_events_id_seq'), :ts) ON CONFLICT DO NOTHING;
INSERT INTO usage_events (id, ts, received_at, token_id, event_id, provider, model, input_tokens, output_tokens, total_tokens, cache_read_tokens, cost_nusd, cost_source, price_ref, source, "user", project) VALUES (currval('usage_events_id_seq'), :ts, :ts, 1, 'pgb-' || :client_id || '-' || :n, 'openai', 'gpt-4o-mini-2024-07-18', 1200, 350, 1550, 200, 390000, 'server', 'openai/gpt-4o-mini', 'ingest', 'u1', 'bench');
COMMIT;
"""

# The same, {size} events per transaction (what one /ingest/batch request of that size commits, at best).
PGBENCH_BATCH = """\\set n random(1, 1000000000000)
BEGIN;
INSERT INTO event_keys (token_id, event_id, id, ts) SELECT 1, 'pgb-' || :client_id || '-' || :n || '-' || g, nextval('usage_events_id_seq'), :ts FROM generate_series(1, {size}) AS g ON CONFLICT DO NOTHING;
INSERT INTO usage_events (ts, received_at, token_id, event_id, provider, model, input_tokens, output_tokens, total_tokens, cache_read_tokens, cost_nusd, cost_source, price_ref, source, "user", project) SELECT :ts, :ts, 1, 'pgb-' || :client_id || '-' || :n || '-' || g, 'openai', 'gpt-4o-mini-2024-07-18', 1200, 350, 1550, 200, 390000, 'server', 'openai/gpt-4o-mini', 'ingest', 'u1', 'bench' FROM generate_series(1, {size}) AS g;
COMMIT;
"""

def pgbench(bindir, url, script, duration, clients, ts):
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as f:
        f.write(script)
        path = f.name
    try:
        os.chmod(path, 0o644)
        cmd = [os.path.join(bindir, "pgbench"), "-n", "-c", str(clients), "-j", "2", "-T", str(duration),
               "-D", f"ts={ts}", "-f", path, url]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
        return float(re.search(r"tps = ([\d.]+)", out).group(1))
    finally:
        os.unlink(path)


def stored(url):
    return cg_postgres.query(url, "SELECT count(*) FROM usage_events")[0][0]


def fresh_database():
    name, url = cg_postgres.create_database()
    return name, url


def gateways(binary, url, count, tmp):
    servers = [Server(os.path.join(tmp, f"gw{i}"), binary=binary, env=ENV, database_url=url) for i in range(count)]
    for srv in servers:
        srv.start()
    token = servers[0].create_token("bench")["token"]
    # The others learn of the token within a second (they re-read the tokens every 500 ms).
    deadline = datetime.datetime.now() + datetime.timedelta(seconds=5)
    probe = {"tracking_token": token, "event_id": "warm-up", "model": "gpt-4o-mini"}
    for srv in servers[1:]:
        while srv.ingest(probe)[0] == 404 and datetime.datetime.now() < deadline:
            pass
    return servers, token


def parallel_wrk(servers, script, duration, connections, token, batch):
    """One wrk per gateway at the same time, the connections shared out; returns the summed figures."""
    results = [None] * len(servers)

    def one(i):
        results[i] = run_wrk(servers[i].port, script, duration, max(1, connections // len(servers)),
                             {"CG_INGEST_KEY": INGEST_KEY, "CG_TOKEN": token, "CG_RUN": str(i + 1),
                              "CG_BATCH": str(batch)})

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(servers))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {"rps": sum(r["rps"] for r in results), "non2xx": sum(r["non2xx"] for r in results),
            "p50_ms": max(r["p50_ms"] for r in results), "p99_ms": max(r["p99_ms"] for r in results)}


def run_gateways(binary, count, script, args, tmp, events_per_request):
    name, url = fresh_database()
    servers = []
    try:
        servers, token = gateways(binary, url, count, tmp)
        r = parallel_wrk(servers, script, args.duration, args.connections, token, events_per_request)
        for srv in servers:
            srv.stop()
        r["events_per_s"] = r["rps"] * events_per_request
        r["stored"] = stored(url)
        return r
    finally:
        for srv in servers:
            srv.stop()
        cg_postgres.drop_database(name)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build-dir", default=os.path.join(ROOT, "build", "release"))
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--batch-size", type=int, default=100)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    binary = os.path.join(args.build_dir, "cost-guardian")
    null_server = os.path.join(args.build_dir, "bench", "null_server")
    single_lua = os.path.join(HERE, "ingest.lua")
    bindir = subprocess.run(["bash", "-c", "ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1"],
                            capture_output=True, text=True, check=True).stdout.strip()

    state = tempfile.mkdtemp(prefix="cg-bench-pg-", dir="/tmp")
    tmp = tempfile.mkdtemp(prefix="cg-bench-")
    batch_lua = os.path.join(HERE, "batch.lua")
    subprocess.run([os.path.join(ROOT, "scripts", "test-postgres.sh"), "start", state], check=True,
                   stdout=subprocess.DEVNULL)
    try:
        with open(os.path.join(state, "url")) as f:
            os.environ["CG_TEST_POSTGRES_URL"] = f.read().strip()
        results = {}

        proc = subprocess.Popen([null_server, "0"], stdout=subprocess.PIPE, text=True)
        port = json.loads(proc.stdout.readline())["port"]
        try:
            results["baseline"] = run_wrk(port, single_lua, args.duration, args.connections,
                                          {"CG_INGEST_KEY": "x", "CG_TOKEN": "x", "CG_RUN": "0"})
        finally:
            proc.terminate()
            proc.wait()

        # pgbench: the writer's statements straight on the server, one event and one batch per transaction.
        name, url = fresh_database()
        try:
            servers, _ = gateways(binary, url, 1, tmp)  # migrates, makes this month's partition and token 1
            has_batch = servers[0].request("POST", "/ingest/batch", [], {"X-Ingest-Key": INGEST_KEY})[0] != 404
            servers[0].stop()
            now_us = int(datetime.datetime.now(datetime.timezone.utc).timestamp() * 1e6)
            results["pgbench_single"] = pgbench(bindir, url, PGBENCH_EVENT, args.duration, args.connections, now_us)
            results["pgbench_batch"] = pgbench(bindir, url, PGBENCH_BATCH.format(size=args.batch_size),
                                               args.duration, args.connections, now_us) * args.batch_size
        finally:
            cg_postgres.drop_database(name)

        results["single_1"] = run_gateways(binary, 1, single_lua, args, tmp, 1)
        results["single_2"] = run_gateways(binary, 2, single_lua, args, tmp, 1)
        if has_batch:
            results["batch_1"] = run_gateways(binary, 1, batch_lua, args, tmp, args.batch_size)
            results["batch_2"] = run_gateways(binary, 2, batch_lua, args, tmp, args.batch_size)
    finally:
        subprocess.run([os.path.join(ROOT, "scripts", "test-postgres.sh"), "stop", state], check=False)
        shutil.rmtree(tmp, ignore_errors=True)

    print(json.dumps({k: (v if not isinstance(v, dict) else {m: v[m] for m in v if m != "raw"})
                      for k, v in results.items()}, indent=2))
    if not args.no_write:
        write_doc(results, args)


def write_doc(r, args):
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    base = r["baseline"]["rps"]
    cmd = f"bench/postgres.sh --duration {args.duration} --connections {args.connections} --batch-size {args.batch_size}"
    rows = [("baseline: Beast, no work (`bench/null_server`), requests/s", base, None, None)]
    rows.append(("pgbench, the writer's INSERTs, one event per transaction", r["pgbench_single"], None, None))
    for key, label in (("single_1", "`/ingest`, one gateway"), ("single_2", "`/ingest`, two gateways")):
        g = r[key]
        rows.append((label, g["events_per_s"], g, r["pgbench_single"]))
    rows.append((f"pgbench, the same INSERTs, {args.batch_size} events per transaction", r["pgbench_batch"], None, None))
    for key, label in (("batch_1", f"`/ingest/batch` of {args.batch_size}, one gateway"),
                       ("batch_2", f"`/ingest/batch` of {args.batch_size}, two gateways")):
        if key in r:
            rows.append((label, r[key]["events_per_s"], r[key], r["pgbench_batch"]))
    table = ("| what | events/s | p50 | p99 | ratio to baseline | ratio to pgbench |\n"
             "|---|---:|---:|---:|---:|---:|\n")
    for label, value, g, ceiling in rows:
        p50 = f"{g['p50_ms']:.2f} ms" if g else ""
        p99 = f"{g['p99_ms']:.2f} ms" if g else ""
        vs_pg = f"{value / ceiling:.2f}" if ceiling else ""
        table += f"| {label} | {value:,.0f} | {p50} | {p99} | {value / base:.2f} | {vs_pg} |\n"
    notes = []
    for key in ("single_1", "single_2", "batch_1", "batch_2"):
        if key in r:
            notes.append(f"{key}: {r[key]['non2xx']} non-2xx answers, {r[key]['stored']:,} rows stored")
    section = f"""## PostgreSQL ingest ({date})

Command: `{cmd}` (wrk, {args.connections} keep-alive connections shared out over the gateways, {args.duration} s
each; PostgreSQL 15 from Debian started by the script on a Unix socket with fsync on, the gateways, wrk and
pgbench all on the same {os.cpu_count()}-core machine). pgbench runs, on the same server in the same run, the
INSERTs the writer makes for each new event (its dedupe key into `event_keys`, the row into `usage_events`), one
event per transaction and {args.batch_size} per transaction, from as many clients as wrk has connections: what the
database alone gives for those statements, without HTTP, validation, pricing or the token counters.

{table}
{'; '.join(notes)}.

The gateways group-commit: under load one transaction holds the events of many requests, which is how single-event
`/ingest` can pass pgbench's one-event-per-transaction figure. A second gateway on
the same two cores competes with the first and with PostgreSQL for CPU, so it shows that two gateways on one
database work together (no lost or doubled events), not how they scale on separate machines.
"""
    replace_section("## PostgreSQL ingest (", section)


if __name__ == "__main__":
    main()
