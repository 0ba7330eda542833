#!/usr/bin/env bash
# A throwaway PostgreSQL server for the test suite: initdb into a fresh temporary directory, trust authentication,
# listening only on a Unix socket in that directory (no TCP), fsync left on. ctest starts it before the tests that
# need it and stops it after them (tests/CMakeLists.txt: the `postgres` fixture); nothing else needs to run first.
#
#   scripts/test-postgres.sh start STATE_DIR     start a cluster; its URL goes to STATE_DIR/url
#   scripts/test-postgres.sh stop STATE_DIR      stop it and delete every file it had (safe to run twice)
#   scripts/test-postgres.sh exec STATE_DIR -- COMMAND...
#                                                 run COMMAND with CG_TEST_POSTGRES_URL set from STATE_DIR/url
#
# The URL names the maintenance database `postgres` as the superuser `postgres`, e.g.
# postgresql://postgres@/postgres?host=/tmp/cg-pg.Ab12Cd/socket&port=53117. Tests create their own databases in it.
#
# PostgreSQL refuses to run as root. Run as root (as CI does), the cluster belongs to the `postgres` system user that
# Debian's postgresql package creates, and the server programs run through runuser; run as anyone else, they run as
# that user. The binaries come from the newest /usr/lib/postgresql/<major>/bin (or PG_BINDIR).
set -euo pipefail

usage() { echo "usage: $0 start|stop STATE_DIR | exec STATE_DIR -- COMMAND..." >&2; exit 2; }
[ $# -ge 2 ] || usage
action=$1
state=$(realpath -m "$2")
shift 2

find_bindir() {
  local dir=${PG_BINDIR:-}
  [ -n "$dir" ] || dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  if [ -z "$dir" ] || [ ! -x "$dir/initdb" ]; then
    echo "test-postgres.sh: no PostgreSQL server programs in ${dir:-/usr/lib/postgresql/*/bin}; run scripts/setup.sh --test" \
         "(it installs Debian's postgresql package)" >&2
    exit 1
  fi
  echo "$dir"
}

# Runs a server program as the cluster's owner.
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    (cd / && runuser -u postgres -- "$@")  # from /: postgres may not enter the caller's directory
  else
    "$@"
  fi
}

stop_cluster() {
  [ -f "$state/base" ] || { rm -f "$state/url"; return 0; }
  local base bindir
  base=$(cat "$state/base")
  rm -f "$state/url"  # first: no test may find the URL of a server that is going away
  case "$base" in
    /*/cg-pg.*) ;;
    *) echo "test-postgres.sh: refusing to delete '$base' (not a directory this script made)" >&2; exit 1 ;;
  esac
  if [ -f "$base/data/postmaster.pid" ]; then
    bindir=$(find_bindir)
    # fast: roll back open transactions and disconnect clients (a test that hung must not keep the cluster alive).
    if ! as_owner "$bindir/pg_ctl" -D "$base/data" -m fast -w -t 60 stop >/dev/null; then
      echo "test-postgres.sh: pg_ctl stop failed; killing the postmaster" >&2
      kill -KILL "$(head -n 1 "$base/data/postmaster.pid")" 2>/dev/null || true
    fi
  fi
  rm -rf "$base"
  rm -f "$state/base"
}

start_cluster() {
  local bindir base port url
  bindir=$(find_bindir)
  mkdir -p "$state"
  # A cluster left behind by an interrupted run (ctest killed before its cleanup ran) goes first.
  stop_cluster

  if [ "$(id -u)" -eq 0 ] && ! id postgres >/dev/null 2>&1; then
    echo "test-postgres.sh: running as root, but there is no 'postgres' user to own the cluster" \
         "(Debian's postgresql package creates it: scripts/setup.sh --test)" >&2
    exit 1
  fi
  # The server runs as `postgres`, which must be able to walk from / to its programs. A root directory without
  # search permission for others (mode 0700: a chroot unpacked into a mktemp -d directory looks like that) stops
  # it at the first step with "Permission denied"; a normal system has 0755 there, which is what this restores.
  if [ "$(id -u)" -eq 0 ] && ! runuser -u postgres -- test -x "$bindir/initdb"; then
    if [ $(( 0$(stat -c %a /) & 1 )) -eq 0 ]; then
      echo "test-postgres.sh: / (mode $(stat -c %a /)) is not searchable by other users; making it o+x so the" \
           "postgres user can run $bindir" >&2
      chmod o+x /
    fi
  fi
  # In /tmp, not the build directory or $TMPDIR: a Unix socket path must stay under 108 bytes, and the postgres user
  # must be able to reach it (not so under /root).
  base=$(mktemp -d /tmp/cg-pg.XXXXXX)
  echo "$base" > "$state/base"
  trap 'echo "test-postgres.sh: start failed; server log:" >&2; cat "$base/server.log" >&2 2>/dev/null || true;
        stop_cluster' ERR
  mkdir "$base/socket"
  if [ "$(id -u)" -eq 0 ]; then chown -R postgres: "$base"; fi

  as_owner "$bindir/initdb" -D "$base/data" -U postgres -A trust --no-locale -E UTF8 --no-instructions \
    >"$base/initdb.log" 2>&1 || { cat "$base/initdb.log" >&2; false; }

  # The port only names the socket file (.s.PGSQL.<port>) in our own directory, but keep it unused anyway, so the
  # same URL would also work if someone switched TCP on for debugging.
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  cat >>"$base/data/postgresql.conf" <<EOF

# scripts/test-postgres.sh: a throwaway server for the tests. fsync stays on: the tests check durability.
listen_addresses = ''
unix_socket_directories = '$base/socket'
port = $port
max_connections = 200
EOF
  as_owner "$bindir/pg_ctl" -D "$base/data" -l "$base/server.log" -w -t 60 start >/dev/null

  url="postgresql://postgres@/postgres?host=$base/socket&port=$port"
  /usr/bin/psql -X -q -v ON_ERROR_STOP=1 -d "$url" -c 'SELECT 1' >/dev/null
  trap - ERR
  echo "$url" > "$state/url.tmp"
  mv "$state/url.tmp" "$state/url"
  echo "test-postgres.sh: PostgreSQL $("$bindir/postgres" --version | awk '{print $3}') at $url" >&2
}

case "$action" in
  start) start_cluster ;;
  stop) stop_cluster ;;
  exec)
    [ "${1:-}" = "--" ] && shift
    [ $# -ge 1 ] || usage
    if [ ! -s "$state/url" ]; then
      echo "test-postgres.sh: no PostgreSQL test server: $state/url is missing (the postgres.start test did not run" \
           "or failed; ctest runs it first for every test that needs it)" >&2
      exit 1
    fi
    CG_TEST_POSTGRES_URL=$(cat "$state/url")
    export CG_TEST_POSTGRES_URL
    exec "$@"
    ;;
  *) usage ;;
esac
