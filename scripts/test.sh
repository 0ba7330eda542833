#!/usr/bin/env bash
# One command from a fresh Debian 12 machine to the whole test suite: installs what is missing, builds with warnings
# as errors, and runs every unit and integration test through ctest; then the same suite again on the
# AddressSanitizer + UndefinedBehaviorSanitizer build, so the sanitizer build stays green too. The tests of the
# PostgreSQL backend run against a throwaway server that ctest starts and stops itself (scripts/test-postgres.sh).
# Last, the libFuzzer targets of tests/fuzz (clang-14), each for 30 s from its seed corpus.
#   scripts/test.sh           all three: the ci build (RelWithDebInfo, -Werror), the asan build, the fuzz targets
#   scripts/test.sh --fast    the ci build only
#   scripts/test.sh --asan    the asan build only
#   scripts/test.sh --fuzz    the fuzz targets only
#   scripts/test.sh --tsan    the ThreadSanitizer build only
set -euo pipefail
cd "$(dirname "$0")/.."
presets=(ci asan fuzz)
case "${1:-}" in
  "") ;;
  --fast) presets=(ci) ;;
  --asan) presets=(asan) ;;
  --fuzz) presets=(fuzz) ;;
  --tsan) presets=(tsan) ;;
  *) echo "test.sh: unknown option $1" >&2; exit 2 ;;
esac
scripts/setup.sh --test
# ctest starts a throwaway PostgreSQL per preset (postgres.start) and stops it when its tests are done
# (postgres.stop); if this script is interrupted before that, stop it here.
stop_test_postgres() {
  local p
  for p in "${presets[@]}"; do scripts/test-postgres.sh stop "build/$p/postgres-test" || true; done
}
trap stop_test_postgres EXIT
trap 'exit 130' INT TERM
for preset in "${presets[@]}"; do
  echo "== $preset build ==" >&2
  scripts/build.sh "$preset"
  ctest --preset "$preset" --output-on-failure -j2
done
