#!/usr/bin/env python3
"""Times `cost-guardian price` on 100,000 JSON lines against a baseline that only parses the same lines
(Python's json module), in the same run, and writes a section of docs/benchmarks.md.
Usage: python3 bench/price_bench.py [--build-dir build/release] [--lines 100000] [--no-write]"""
import argparse
import datetime
import json
import os
import random
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def make_lines(n):
    rng = random.Random(42)
    models = [("openai", "gpt-4o-mini"), ("anthropic", "claude-sonnet-4-5"), (None, "gpt-4.1"), ("bedrock",
              "us.anthropic.claude-sonnet-4-5-20250929-v1:0"), ("google", "gemini-2.5-pro"), (None, "unknown-model")]
    out = []
    for i in range(n):
        provider, model = rng.choice(models)
        inp = rng.randint(0, 400_000)
        out.append(json.dumps({"id": str(i), "provider": provider, "model": model,
                               "timestamp": f"2026-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}T10:00:00Z",
                               "usage": {"input_tokens": inp, "output_tokens": rng.randint(0, 8000),
                                         "cache_read_tokens": rng.randint(0, inp)}}))
    return "\n".join(out) + "\n"


def best_of(runs, fn):
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build-dir", default=os.path.join(ROOT, "build", "release"))
    ap.add_argument("--lines", type=int, default=100_000)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    binary = os.path.join(args.build_dir, "cost-guardian")
    data = make_lines(args.lines)

    def run_price():
        out = subprocess.run([binary, "price", "--env-file", os.devnull], input=data, capture_output=True, text=True,
                             check=True).stdout
        assert out.count("\n") == args.lines

    def run_baseline():
        subprocess.run([sys.executable, "-c", "import sys, json\nfor line in sys.stdin: json.loads(line)"],
                       input=data, capture_output=True, text=True, check=True)

    price_s = best_of(5, run_price)
    base_s = best_of(5, run_baseline)
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    section = f"""## `cost-guardian price` ({when})

Command: `python3 bench/price_bench.py --lines {args.lines}` (best of 5, whole process including start-up and
loading the embedded table; {os.cpu_count()} cores).

| what | time for {args.lines:,} lines | lines/s | ratio to baseline |
|---|---:|---:|---:|
| baseline: Python's `json.loads` on each line, nothing else | {base_s:.3f} s | {args.lines / base_s:,.0f} | 1.00 |
| `cost-guardian price`: parse, resolve provider and model, price exactly, write one JSON line each | {price_s:.3f} s | {args.lines / price_s:,.0f} | {base_s / price_s:.2f}× faster |
"""
    print(section)
    if args.no_write:
        return
    path = os.path.join(ROOT, "docs", "benchmarks.md")
    text = open(path).read()
    marker = "## `cost-guardian price`"
    if marker in text:
        start = text.index(marker)
        nxt = text.find("\n## ", start + 1)
        text = text[:start] + section + ("" if nxt == -1 else text[nxt + 1:])
    else:
        text = text.rstrip("\n") + "\n\n" + section
    open(path, "w").write(text)


if __name__ == "__main__":
    main()
