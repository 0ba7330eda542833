#!/usr/bin/env bash
# Installs what Cost Guardian needs from Debian 12's packages, only what is missing. Safe to run again.
#   scripts/setup.sh          build + run dependencies
#   scripts/setup.sh --test   also what the test suite needs (including a PostgreSQL server, which the tests start
#                             themselves in a temporary directory: scripts/test-postgres.sh)
#   scripts/setup.sh --bench  also what the benchmarks need
set -euo pipefail

packages=(g++ cmake ninja-build ccache libboost1.81-dev libboost-json1.81-dev libfmt-dev libsqlite3-dev libpq-dev
          doctest-dev libhowardhinnant-date-dev tzdata ca-certificates)
packages+=(zlib1g-dev)  # gzip request bodies (POST /ingest/batch)
for arg in "$@"; do
  case "$arg" in
    # postgresql: server 15 (initdb, pg_ctl, postgres, pgbench in /usr/lib/postgresql/15/bin), psql, and the
    # `postgres` system user that owns the tests' throwaway cluster when they run as root.
    --test) packages+=(python3 python3-pytest sqlite3 mount postgresql) ;;
    --bench) packages+=(python3 wrk) ;;
    *) echo "setup.sh: unknown option $arg" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "setup.sh: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
  sudo=(sudo)
fi
echo "setup.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
