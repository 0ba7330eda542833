#!/usr/bin/env bash
# Installs what Cost Guardian needs from Debian 12's packages, only what is missing, then the dashboard's npm
# packages (the chart library, bundled into the binary at build time). Safe to run again.
#   scripts/setup.sh          build + run dependencies
#   scripts/setup.sh --test   also what the test suite needs: pytest, a PostgreSQL server (the tests start their own
#                             in a temporary directory: scripts/test-postgres.sh), Chromium + playwright-core and the
#                             OpenAPI validator (npm packages of tests/e2e)
#   scripts/setup.sh --bench  also what the benchmarks need
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(g++ cmake ninja-build ccache libboost1.81-dev libboost-json1.81-dev libfmt-dev libsqlite3-dev libpq-dev
          doctest-dev libhowardhinnant-date-dev tzdata ca-certificates gzip)
packages+=(zlib1g-dev)  # gzip request bodies (POST /ingest/batch)
# Node.js builds the dashboard (npm ci fetches the pinned chart library). Debian's nodejs 18 is enough; a node
# installed another way (nodesource, nvm) is used as it is, since Debian's npm package would conflict with it.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then packages+=(nodejs npm); fi
want_test=0
for arg in "$@"; do
  case "$arg" in
    # postgresql: server 15 (initdb, pg_ctl, postgres, pgbench in /usr/lib/postgresql/15/bin), psql, and the
    # `postgres` system user that owns the tests' throwaway cluster when they run as root.
    # chromium: the browser of the end-to-end tests (never downloaded by playwright-core); a font to render text;
    # curl: the e2e test runs the curl snippet the dashboard shows.
    # clang-14 + libclang-rt-14-dev: libFuzzer and the sanitizers' runtimes for tests/fuzz.
    --test) packages+=(python3 python3-pytest sqlite3 mount postgresql chromium fonts-dejavu-core curl clang-14
                       libclang-rt-14-dev); want_test=1 ;;
    --bench) packages+=(python3 wrk) ;;
    *) echo "setup.sh: unknown option $arg" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "setup.sh: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
    sudo=(sudo)
  fi
  echo "setup.sh: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# npm ci in a folder whose package-lock.json changed since the last install here (a stamp beside node_modules
# remembers which lock file was installed), so a second run costs nothing and a pulled lock change is picked up.
npm_ci() {
  local dir=$1
  [ -f "$dir/package-lock.json" ] || return 0
  if ! cmp -s "$dir/package-lock.json" "$dir/node_modules/.cg-installed-lock"; then
    echo "setup.sh: npm ci in $dir" >&2
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
    cp "$dir/package-lock.json" "$dir/node_modules/.cg-installed-lock"
  fi
}
npm_ci dashboard
if [ "$want_test" -eq 1 ]; then npm_ci tests/e2e; fi
