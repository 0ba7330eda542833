#!/usr/bin/env python3
"""Benchmarks single-event POST /ingest against a no-work Beast baseline, in the same run, and writes
docs/benchmarks.md. Usage: bench/run.sh (builds the release preset first), or
    python3 bench/run_bench.py --build-dir build/release [--duration 10] [--connections 64] [--no-write]
With --batch N: POST /ingest/batch with N events a request (events/s), against the same batches sent to the
no-work baseline and against single-event /ingest, all in one run. DATABASE_URL (or --database-url) is passed to
the server, so the same script measures PostgreSQL; without it each run gets a fresh SQLite file.
With --against PATH (another cost-guardian binary, the build before a change) and --rounds N: single-event
/ingest of that binary ("old") and of --build-dir's ("new"), alternated old, new, old, new, … N times each, with
each binary's median, spread and the new/old ratio; the no-work baseline once in the same run. One line per run on
stderr when it is a terminal.
"""
import argparse
import datetime
import json
import os
import platform
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "support"))
from cg_server import INGEST_KEY, Server  # noqa: E402


def parse_duration_ms(text):
    m = re.match(r"([\d.]+)(us|ms|s|m)", text)
    value, unit = float(m.group(1)), m.group(2)
    return value * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def run_wrk(port, script, duration, connections, env):
    cmd = ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency", "-s", script, f"http://127.0.0.1:{port}"]
    out = subprocess.run(cmd, env={**os.environ, **env}, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    p50 = parse_duration_ms(re.search(r"\s50%\s+(\S+)", out).group(1))
    p99 = parse_duration_ms(re.search(r"\s99%\s+(\S+)", out).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    return {"rps": rps, "requests": total, "p50_ms": p50, "p99_ms": p99,
            "non2xx": int(non2xx.group(1)) if non2xx else 0, "socket_errors": errors.group(1) if errors else "",
            "raw": out}


def usage_rows(srv):
    """Rows in the server's database, through GET /metrics: the same for SQLite and PostgreSQL."""
    status, _, body = srv.admin("GET", "/metrics")
    assert status == 200, body
    return body["db"]["usage_rows"]


def run_ingest(binary, script, args, extra_env, wrk_env=None):
    """One wrk run against a fresh cost-guardian; returns wrk's figures plus stored rows and rows per batch."""
    tmp = tempfile.mkdtemp(prefix="cg-bench-")
    try:
        # One tracking token sends everything here, faster than the default per-token limit (10,000/s): raise the
        # limit out of reach rather than switch it off, so its bucket is still charged on every request.
        env = {"ACCESS_LOG": "on", "DURABILITY": args.durability, "THREADS": "2",
               "INGEST_RPM": "60000000", "INGEST_BURST": "1000000", **extra_env}
        if args.database_url:
            env["DATABASE_URL"] = args.database_url
        srv = Server(tmp, binary=binary, env=env)
        srv.start()
        # A shared database (PostgreSQL) keeps tokens and events between runs: a fresh label and fresh event ids.
        token = srv.create_token(f"bench-{time.time_ns()}")["token"]
        before = usage_rows(srv)
        result = run_wrk(srv.port, script, args.duration, args.connections,
                         {"CG_INGEST_KEY": INGEST_KEY, "CG_TOKEN": token, "CG_RUN": str(time.time_ns()),
                          **(wrk_env or {})})
        after = usage_rows(srv)
        srv.stop()
        if args.database_url:
            result["stored_rows"] = after - before  # counted before the stop: a few in-flight events may be missing
        else:
            with sqlite3.connect(srv.db_path) as db:  # after the stop: every acknowledged event is in the file
                result["stored_rows"] = db.execute("SELECT count(*) FROM usage_events").fetchone()[0]
        stopped = [json.loads(line) for line in srv.lines if '"stopped"' in line]
        result["rows_per_batch"] = stopped[0]["rows_committed"] / max(1, stopped[0]["batches"]) if stopped else 0
        return result
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build-dir", default=os.path.join(ROOT, "build", "release"))
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--durability", default="full")
    ap.add_argument("--no-write", action="store_true", help="print results, leave docs/benchmarks.md alone")
    ap.add_argument("--delay-sweep", default="0,300,1000,3000",
                    help="WRITER_MAX_DELAY_US values to compare (comma list; empty to skip)")
    ap.add_argument("--batch", type=int, default=0,
                    help="events per POST /ingest/batch request: run the batch benchmark instead (0: single-event)")
    ap.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""),
                    help="passed to the server as DATABASE_URL (default: $DATABASE_URL; empty: fresh SQLite files)")
    ap.add_argument("--against", metavar="PATH",
                    help="another cost-guardian binary (the build before a change): compare single-event /ingest "
                         "of the two, alternating runs, instead of the usual benchmark")
    ap.add_argument("--rounds", type=int, default=5, help="with --against: runs of each binary (default 5)")
    args = ap.parse_args()
    if args.against and (args.batch or args.database_url):
        ap.error("--against compares single-event /ingest on fresh SQLite files: no --batch, no DATABASE_URL")
    if args.rounds < 1:
        ap.error("--rounds must be at least 1")
    if args.against and not os.access(args.against, os.X_OK):
        ap.error(f"--against {args.against}: not an executable (an absolute path: bench/run.sh changes directory)")

    binary = os.path.join(args.build_dir, "cost-guardian")
    null_server = os.path.join(args.build_dir, "bench", "null_server")
    if args.batch:
        return batch_main(args, binary, null_server)
    if args.against:
        return compare_main(args, binary, null_server)
    script = os.path.join(HERE, "ingest.lua")
    results = {}

    # 1. The baseline: the same request against a Beast server that does no work.
    results["baseline"] = run_baseline(null_server, script, args, {})

    # 2. cost-guardian: authenticated, validated, priced, group-committed to SQLite before each 201.
    results["ingest"] = run_ingest(binary, script, args, {})
    sweep = []
    for delay in [d for d in args.delay_sweep.split(",") if d]:
        r = run_ingest(binary, script, args, {"WRITER_MAX_DELAY_US": delay})
        r["delay_us"] = int(delay)
        sweep.append(r)
        print(f"WRITER_MAX_DELAY_US={delay}: {r['rps']:.0f}/s p50 {r['p50_ms']} ms p99 {r['p99_ms']} ms, "
              f"{r['rows_per_batch']:.1f} rows/batch", file=sys.stderr)

    base, ing = results["baseline"], results["ingest"]
    ratio = ing["rps"] / base["rps"]
    summary = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "command": f"bench/run.sh --duration {args.duration} --connections {args.connections}"
                   + (f" --durability {args.durability}" if args.durability != "full" else ""),
        "ratio": ratio, **{f"{k}_{m}": v[m] for k, v in results.items() for m in ("rps", "p50_ms", "p99_ms")},
        "ingest_non2xx": ing["non2xx"], "ingest_requests": ing["requests"], "stored_rows": ing["stored_rows"],
    }
    print(json.dumps(summary, indent=2))
    if ing["non2xx"]:
        print(f"warning: {ing['non2xx']} non-2xx responses during the ingest run", file=sys.stderr)
    summary["sweep"] = [{k: r[k] for k in ("delay_us", "rps", "p50_ms", "p99_ms", "rows_per_batch")} for r in sweep]
    summary["rows_per_batch"] = ing["rows_per_batch"]
    print(json.dumps(summary["sweep"], indent=2))
    if not args.no_write:
        write_doc(summary, args)


def run_baseline(null_server, script, args, wrk_env):
    proc = subprocess.Popen([null_server, "0"], stdout=subprocess.PIPE, text=True)
    port = json.loads(proc.stdout.readline())["port"]
    try:
        return run_wrk(port, script, args.duration, args.connections,
                       {"CG_INGEST_KEY": "x", "CG_TOKEN": "x", "CG_RUN": "0", **wrk_env})
    finally:
        proc.terminate()
        proc.wait()


def machine():
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{os.cpu_count()} cores, {cpu}, {platform.system()} {platform.release()}"


def batch_main(args, binary, null_server):
    """Events/s of POST /ingest/batch (N events a request) against the same requests answered by the no-work
    server, and against single-event POST /ingest, in one run on one machine."""
    n = args.batch
    load_before = os.getloadavg()[0]
    batch_env = {"CG_BATCH": str(n)}
    batch_script = os.path.join(HERE, "batch.lua")
    base = run_baseline(null_server, batch_script, args, batch_env)
    single = run_ingest(binary, os.path.join(HERE, "ingest.lua"), args, {})
    batch = run_ingest(binary, batch_script, args, {}, batch_env)
    backend = "postgresql" if args.database_url.startswith(("postgres://", "postgresql://")) else "sqlite"
    s = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(), "backend": backend, "batch": n,
        "command": f"bench/run.sh --batch {n} --duration {args.duration} --connections {args.connections}"
                   + (f" --durability {args.durability}" if args.durability != "full" else "")
                   + (" (DATABASE_URL=postgresql://…)" if backend == "postgresql" else ""),
        "baseline_events": base["rps"] * n, "baseline_rps": base["rps"],
        "single_events": single["rps"], "batch_events": batch["rps"] * n, "batch_rps": batch["rps"],
        "baseline_p50_ms": base["p50_ms"], "baseline_p99_ms": base["p99_ms"],
        "single_p50_ms": single["p50_ms"], "single_p99_ms": single["p99_ms"],
        "batch_p50_ms": batch["p50_ms"], "batch_p99_ms": batch["p99_ms"],
        "batch_requests": batch["requests"], "batch_non2xx": batch["non2xx"], "batch_stored": batch["stored_rows"],
        "batch_rows_per_commit": batch["rows_per_batch"], "single_rows_per_commit": single["rows_per_batch"],
        "single_stored": single["stored_rows"], "single_requests": single["requests"],
    }
    s["load"] = f"{load_before:.1f} before, {os.getloadavg()[0]:.1f} after"
    s["ratio_baseline"] = s["batch_events"] / s["baseline_events"]
    s["ratio_single"] = s["batch_events"] / s["single_events"]
    print(json.dumps(s, indent=2))
    if not args.no_write:
        write_batch_doc(s, args)


def build_commit(binary):
    """The commit checked out where `binary` was built (its build folder lies in the checkout), marked when the
    checkout had uncommitted changes to tracked files, and the binary's own --version."""
    version = subprocess.run([binary, "--version"], capture_output=True, text=True).stdout.strip()
    git = ["git", "-C", os.path.dirname(os.path.realpath(binary))]
    head = subprocess.run(git + ["rev-parse", "--short=10", "HEAD"], capture_output=True, text=True)
    if head.returncode != 0:
        return f"unknown commit ({version})"
    dirty = subprocess.run(git + ["status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True)
    mark = " + uncommitted changes" if dirty.stdout.strip() else ""
    return f"{head.stdout.strip()}{mark} ({version})"


def acknowledged_stored(r):
    """Whether the database holds at least every event answered 2xx (wrk counts completed requests only, so rows
    may exceed them by the requests cut off at the end of the run)."""
    return r["stored_rows"] >= r["requests"] - r["non2xx"]


def compare_main(args, binary, null_server):
    """Single-event POST /ingest of two builds, old and new alternated round by round (a fresh server and SQLite file
    each run) so that load from other work on the machine falls on both alike; the no-work baseline once for scale."""
    script = os.path.join(HERE, "ingest.lua")
    progress = sys.stderr.isatty()
    builds = {"old": args.against, "new": binary}
    load_before = os.getloadavg()[0]
    base = run_baseline(null_server, script, args, {})
    if progress:
        print(f"baseline: {base['rps']:,.0f}/s", file=sys.stderr)
    runs = {"old": [], "new": []}
    loads = [load_before]
    for i in range(args.rounds):
        for name in ("old", "new"):
            r = run_ingest(builds[name], script, args, {})
            runs[name].append(r)
            loads.append(os.getloadavg()[0])
            if progress:
                print(f"round {i + 1}/{args.rounds} {name}: {r['rps']:,.0f}/s, p50 {r['p50_ms']:.2f} ms, "
                      f"p99 {r['p99_ms']:.2f} ms, {r['stored_rows']:,} rows stored", file=sys.stderr)

    def figures(name):
        rs = runs[name]
        rps = [r["rps"] for r in rs]
        return {"commit": build_commit(builds[name]), "runs_rps": rps, "rps": statistics.median(rps),
                "rps_min": min(rps), "rps_max": max(rps),
                "p50_ms": statistics.median(r["p50_ms"] for r in rs),
                "p99_ms": statistics.median(r["p99_ms"] for r in rs),
                "rows_per_batch": statistics.median(r["rows_per_batch"] for r in rs),
                "non2xx": sum(r["non2xx"] for r in rs), "all_stored": all(acknowledged_stored(r) for r in rs)}

    s = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
         "machine": machine(), "load": f"{min(loads):.1f}–{max(loads):.1f}",
         "command": f"bench/run.sh --against {args.against} --rounds {args.rounds} --duration {args.duration} "
                    f"--connections {args.connections}"
                    + (f" --durability {args.durability}" if args.durability != "full" else ""),
         "baseline_rps": base["rps"], "baseline_p50_ms": base["p50_ms"], "baseline_p99_ms": base["p99_ms"],
         "old": figures("old"), "new": figures("new")}
    s["ratio"] = s["new"]["rps"] / s["old"]["rps"]
    print(json.dumps(s, indent=2))
    if not args.no_write:
        write_compare_doc(s, args)


HEADER = ("# Benchmarks\n\nEvery figure here comes from a script in `bench/`, with the command that produced it, "
          "measured against a baseline in the same run on the same machine. Absolute numbers move with the "
          "machine; the ratio is the figure to watch.\n\n")


def replace_section(marker, section):
    """Puts `section` in docs/benchmarks.md in place of the one starting with `marker` (or at the end)."""
    path = os.path.join(ROOT, "docs", "benchmarks.md")
    existing = open(path).read() if os.path.exists(path) else HEADER
    if marker in existing:
        start = existing.index(marker)
        nxt = existing.find("\n## ", start + 1)
        existing = existing[:start] + section + ("" if nxt == -1 else existing[nxt:])
    else:
        existing = existing.rstrip("\n") + "\n\n" + section
    with open(path, "w") as f:
        f.write(existing)
    print(f"wrote {path}")


def write_batch_doc(s, args):
    n = s["batch"]
    section = f"""## Batch `POST /ingest/batch` ({s['date']})

Command: `{s['command']}` (wrk, 2 threads, {args.connections} keep-alive connections, {args.duration} s each,
`bench/batch.lua`: a JSON array of {n} events a request, every `event_id` new; load generator on the same
{s['machine']}; 1-minute load average {s['load']}: other builds shared the cores, so compare rows of this run,
not runs). Backend {s['backend']}, durability `{args.durability}`. All three rows ran in this one run.

| server | requests/s | events/s | p50 | p99 | events/s ratio to baseline |
|---|---:|---:|---:|---:|---:|
| baseline: Beast, no work (`bench/null_server`), the same {n}-event requests | {s['baseline_rps']:,.0f} | {s['baseline_events']:,.0f} | {s['baseline_p50_ms']:.2f} ms | {s['baseline_p99_ms']:.2f} ms | 1.00 |
| cost-guardian `/ingest`, one event a request | {s['single_events']:,.0f} | {s['single_events']:,.0f} | {s['single_p50_ms']:.2f} ms | {s['single_p99_ms']:.2f} ms | {s['single_events'] / s['baseline_events']:.2f} |
| cost-guardian `/ingest/batch`, {n} events a request (each validated, priced, group-committed; answered after COMMIT) | {s['batch_rps']:,.0f} | {s['batch_events']:,.0f} | {s['batch_p50_ms']:.2f} ms | {s['batch_p99_ms']:.2f} ms | {s['ratio_baseline']:.2f} |

Batch ingestion stored **{s['ratio_single']:.1f}×** the events per second of single-event ingestion.
{s['batch_requests']:,} batch requests were sent, {s['batch_non2xx']} answered non-2xx; the database gained
{s['batch_stored']:,} rows in the batch run (wrk's request count includes requests cut off at the end of the run), and
the writer committed {s['batch_rows_per_commit']:.0f} rows per transaction on average (single-event run:
{s['single_rows_per_commit']:.1f}). The baseline reads the same bodies but does no work at all (it does not even
parse them), so its events/s is what HTTP and the load generator (building {n}-event bodies in Lua) allow here.

Where the time goes: single-event ingestion is bound by HTTP round trips (one request, one answer after COMMIT,
per event); a batch removes those, and the group-commit writer becomes the limit. A `perf record -g` of the server
during a batch run (2026-11-25, release build) put the writer thread at 77% of the server's samples: SQLite's
inserts and index updates, row copies and allocation. Batches already fill every transaction (`WRITER_MAX_BATCH`,
1,000 rows), so faster batch ingestion means a cheaper insert per row (fewer indexes, or the PostgreSQL backend
with `COPY`), not a different commit policy.
"""
    replace_section("## Batch `POST /ingest/batch`", section)


def write_doc(s, args):
    section = f"""## Single-event `POST /ingest` ({s['date']})

Command: `{s['command']}` (wrk, 2 threads, {args.connections} keep-alive connections, {args.duration} s each,
load generator on the same {s['machine']}). Durability `{args.durability}` (`synchronous={'FULL' if args.durability == 'full' else 'NORMAL'}`).

| server | requests/s | p50 | p99 | ratio to baseline |
|---|---:|---:|---:|---:|
| baseline: Beast, no work (`bench/null_server`) | {s['baseline_rps']:,.0f} | {s['baseline_p50_ms']:.2f} ms | {s['baseline_p99_ms']:.2f} ms | 1.00 |
| cost-guardian `/ingest` (auth, validate, price, group commit, 201 after COMMIT) | {s['ingest_rps']:,.0f} | {s['ingest_p50_ms']:.2f} ms | {s['ingest_p99_ms']:.2f} ms | {s['ratio']:.2f} |

Every request carried a new `event_id`; {s['ingest_requests']:,} requests were sent, {s['ingest_non2xx']} answered non-2xx,
and the database held {s['stored_rows']:,} rows afterwards (wrk's count includes requests cut off at the end of the run).
The writer committed {s['rows_per_batch']:.1f} rows per transaction on average.
"""
    if s["sweep"]:
        section += """
Group-commit tuning, same command, one fresh server per row (`WRITER_MAX_DELAY_US`: how long a batch may wait for
more events before it commits):

| `WRITER_MAX_DELAY_US` | requests/s | p50 | p99 | rows per commit |
|---:|---:|---:|---:|---:|
"""
        for r in s["sweep"]:
            section += (f"| {r['delay_us']} | {r['rps']:,.0f} | {r['p50_ms']:.2f} ms | {r['p99_ms']:.2f} ms | "
                        f"{r['rows_per_batch']:.1f} |\n")
        best = max(s["sweep"], key=lambda r: r["rps"])
        section += f"""
Highest throughput in this run: `WRITER_MAX_DELAY_US={best['delay_us']}` (the default is 0). Clients that wait for
each answer, as SDK callers do, gain nothing from a batch that waits: batches fill by themselves while the
previous commit runs, and waiting only adds latency.
"""
    replace_section("## Single-event `POST /ingest`", section)


def write_compare_doc(s, args):
    def row(name, what):
        f = s[name]
        return (f"| {what} | {args.rounds} | {f['rps']:,.0f} | {f['rps_min']:,.0f}–{f['rps_max']:,.0f} | "
                f"{f['p50_ms']:.2f} ms | {f['p99_ms']:.2f} ms | {f['rps'] / s['baseline_rps']:.2f} | "
                f"{f['rows_per_batch']:.1f} | {'yes' if f['all_stored'] else '**no**'} ({f['non2xx']} non-2xx) |")

    old, new = s["old"], s["new"]
    overlap = "overlap" if old["rps_min"] <= new["rps_max"] and new["rps_min"] <= old["rps_max"] else "do not overlap"
    in_order = ", ".join(f"{o:,.0f} / {n:,.0f}" for o, n in zip(old["runs_rps"], new["runs_rps"]))
    setup = f"""wrk, 2 threads, {args.connections} keep-alive connections, {args.duration} s a run,
`bench/ingest.lua` (every `event_id` new); each run a fresh server and a fresh SQLite file, durability `{args.durability}`; the two binaries
alternated old, new, old, new, … for {args.rounds} rounds in this one run, the no-work baseline once before them; load
generator on the same {s['machine']}. The machine is shared with other engineers who compile on it: the 1-minute
load average, read before the run and after each run, was {s['load']}. Single runs therefore vary a lot: read the
medians together with the spread, and compare only rows of one run."""
    closing = f"""New against old, median requests/s: **{s['ratio']:.2f}**; the two ranges {overlap}.
Requests/s of each round, old / new: {in_order}. "Every 2xx stored": after each run's server stopped, its SQLite
file held at least as many rows as wrk counted answers other than non-2xx."""
    section = f"""## Before and after a change: single-event `POST /ingest` ({s['date']})

Command: `{s['command']}`

{textwrap.fill(setup, 118)}

- old: `{old['commit']}`
- new: `{new['commit']}`

The old binary is the release preset of the commit before the change, built in a worktree of its own:
`git worktree add ../bench-old COMMIT && (cd ../bench-old && scripts/build.sh release)`, then
`--against` its `build/release/cost-guardian` (an absolute path). The new one is this tree's release preset, which
`bench/run.sh` builds first.

| server | runs | requests/s, median | min–max | p50, median | p99, median | median to baseline | rows per commit | every 2xx stored |
|---|---:|---:|---:|---:|---:|---:|---:|---|
| baseline: Beast, no work (`bench/null_server`) | 1 | {s['baseline_rps']:,.0f} | | {s['baseline_p50_ms']:.2f} ms | {s['baseline_p99_ms']:.2f} ms | 1.00 | | |
{row('old', 'cost-guardian `/ingest`, old')}
{row('new', 'cost-guardian `/ingest`, new')}

{textwrap.fill(closing, 118)}
"""
    replace_section("## Before and after a change: single-event `POST /ingest`", section)


if __name__ == "__main__":
    main()
