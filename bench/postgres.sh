#!/usr/bin/env bash
# Ingest on PostgreSQL (one and two gateways, single events and batches) next to pgbench and the no-work baseline,
# on a throwaway PostgreSQL server the script starts and stops; writes docs/benchmarks.md.
#   bench/postgres.sh [--duration 10] [--connections 64] [--batch-size 100] [--no-write]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test --bench
scripts/build.sh release
exec python3 bench/postgres_bench.py --build-dir build/release "$@"
