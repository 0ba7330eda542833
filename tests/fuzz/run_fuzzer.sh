#!/usr/bin/env bash
# Runs one libFuzzer target for SECONDS from a copy of its seed corpus (the repository's corpus is never written),
# prints the executions and coverage, and fails on a crash or sanitizer report (libFuzzer's own exit status) or when
# coverage did not grow past what the seeds alone reach.
#   run_fuzzer.sh TARGET CORPUS_DIR SECONDS [extra libFuzzer flags...]
set -euo pipefail
target=$1 seeds=$2 seconds=$3
shift 3
work=$(mktemp -d /tmp/cg-fuzz.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/corpus"
cp "$seeds"/* "$work/corpus/" 2>/dev/null || true
status=0
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} "$target" -max_total_time="$seconds" -print_final_stats=1 \
  -artifact_prefix="$work/" -timeout=10 -rss_limit_mb=2048 "$@" "$work/corpus" >"$work/log" 2>&1 || status=$?
name=$(basename "$target")
inited=$(grep -m1 -o 'INITED cov: [0-9]*' "$work/log" | grep -o '[0-9]*$' || echo 0)
final=$(grep -o 'cov: [0-9]*' "$work/log" | tail -1 | grep -o '[0-9]*$' || echo 0)
runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$work/log" | grep -o '[0-9]*$' || echo 0)
echo "$name: $runs executions in ${seconds}s, coverage $inited after the seeds -> $final"
if [ "$status" -ne 0 ]; then
  tail -60 "$work/log"
  for crash in "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$work"/oom-*; do
    [ -e "$crash" ] && { echo "input that failed ($crash), base64:"; base64 -w0 "$crash"; echo; }
  done
  exit "$status"
fi
if [ "$final" -le "$inited" ]; then
  echo "$name: coverage did not grow past the seed corpus"
  tail -20 "$work/log"
  exit 1
fi
