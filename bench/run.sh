#!/usr/bin/env bash
# Builds the release preset and runs the ingest benchmark against the no-work baseline; writes docs/benchmarks.md.
#   bench/run.sh [--duration 10] [--connections 64] [--durability full|normal] [--no-write]
#   bench/run.sh --batch 100 [...]   POST /ingest/batch, 100 events a request: events/s against the baseline and
#                                    single-event /ingest, in the same run
#   bench/run.sh --against /abs/path/cost-guardian [--rounds 5] [...]   single-event /ingest of that binary (the
#                                    build before a change) and of this tree's release build, alternated run by run:
#                                    median, min-max and new/old ratio (the baseline build: see docs/benchmarks.md)
# DATABASE_URL (or --database-url) is passed to the server: point it at PostgreSQL to measure that backend.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --bench
scripts/build.sh release
exec python3 bench/run_bench.py --build-dir build/release "$@"
