#!/bin/sh
# The container image's entrypoint (Dockerfile); its arguments go to cost-guardian.
#
# Started as root (the image's default): gives the data folder DATA_DIR, and whatever in it is not yet theirs, to the
# cost-guardian user, then runs the server as that user with setpriv (util-linux). A host folder bind-mounted with
# `docker run -v $PWD/data:/app/data` is made by the daemon and belongs to root, which the server could not write.
# The server itself never runs as root. Started as any other user (`docker run --user 10001`), it runs the server
# as that user and changes nothing: the folder must then be writable by that user (the server says so if not).
set -eu
server=/usr/local/bin/cost-guardian
user=cost-guardian

if [ "$(id -u)" != 0 ]; then
  exec "$server" "$@"
fi

data=${DATA_DIR:-/app/data}
mkdir -p "$data"
# Only what is not the user's already, so a restart on a large folder changes nothing. A read-only mount cannot be
# changed: carry on, and let the server name what it cannot write.
if ! find "$data" ! -user "$user" -exec chown -h "$user:$user" {} +; then
  echo "docker-entrypoint: could not give $data to $user; the server may not be able to write it" >&2
fi
exec setpriv --reuid="$user" --regid="$user" --init-groups --no-new-privs "$server" "$@"
