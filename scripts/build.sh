#!/usr/bin/env bash
# Configures and builds one CMake preset (default: release) with both cores.
#   scripts/build.sh [dev|release|ci|asan|tsan]
set -euo pipefail
cd "$(dirname "$0")/.."
preset=${1:-release}
export CCACHE_DIR=${CCACHE_DIR:-$PWD/build/.ccache}
cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset"
