#!/usr/bin/env bash
# One command from a fresh Debian 12 machine to the whole test suite: installs what is missing, builds with warnings
# as errors, and runs every unit and integration test through ctest.
#   scripts/test.sh           the ci build (RelWithDebInfo, -Werror)
#   scripts/test.sh --asan    the same suite under AddressSanitizer + UndefinedBehaviorSanitizer
set -euo pipefail
cd "$(dirname "$0")/.."
preset=ci
case "${1:-}" in
  "") ;;
  --asan) preset=asan ;;
  --tsan) preset=tsan ;;
  *) echo "test.sh: unknown option $1" >&2; exit 2 ;;
esac
scripts/setup.sh --test
scripts/build.sh "$preset"
ctest --preset "$preset" --output-on-failure -j2
