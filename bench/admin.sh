#!/usr/bin/env bash
# Builds the release preset and runs the admin read benchmark (/costs, /data, /export.csv on a 10-million-event
# database, built once into build/bench/); writes its section of docs/benchmarks.md.
#   bench/admin.sh [--events 10000000] [--export-rows 2000000] [--runs 5] [--no-write]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test
scripts/build.sh release
exec python3 bench/admin_bench.py --build-dir build/release "$@"
