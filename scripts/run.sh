#!/usr/bin/env bash
# One command from a fresh Debian 12 machine to a running server on the embedded SQLite database:
# installs what is missing, builds, and starts cost-guardian (extra arguments are passed to it, e.g. --port 8080).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh release
exec build/release/cost-guardian "$@"
