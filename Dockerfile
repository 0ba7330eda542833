# Two stages: build on Debian 12 with the same set-up script a developer uses, run on a slim Debian 12.
#   docker build -t cost-guardian .
#   docker run -p 5001:5001 -v $PWD/data:/app/data -e API_KEY=… -e INGEST_KEY=… cost-guardian
FROM debian:bookworm AS build
WORKDIR /src
COPY scripts/setup.sh scripts/setup.sh
# The dashboard's npm lock file first, so the npm ci layer is cached until it changes.
COPY dashboard/package.json dashboard/package-lock.json dashboard/
RUN scripts/setup.sh
COPY . .
# Only the server: the tests need what `setup.sh --test` installs (python3, pytest, Chromium), and an image has no
# use for them or for the benchmarks. Stripped, since a release build's symbols are of no use to a user.
RUN rm -rf build \
 && cmake --preset release -DCG_BUILD_TESTS=OFF >/dev/null \
 && cmake --build --preset release --target cost_guardian \
 && strip build/release/cost-guardian

FROM debian:bookworm-slim
# The binary's shared libraries (ldd), tzdata for report time zones, curl for the health check. setpriv (the
# entrypoint's privilege drop) is in util-linux, part of every Debian base. apt's downloaded packages and caches
# go in the same step: left behind, they were 80 MB of the layer (the official slim image's docker-clean does
# this too, a plain Debian base does not).
RUN apt-get update -qq \
 && apt-get install -y -qq --no-install-recommends libsqlite3-0 libpq5 libfmt9 libboost-json1.81.0 libdate-tz3 tzdata curl ca-certificates \
 && apt-get clean \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin \
 && groupadd --system --gid 10001 cost-guardian \
 && useradd --system --uid 10001 --gid cost-guardian --home-dir /app --no-create-home --shell /usr/sbin/nologin cost-guardian \
 && mkdir -p /app/data && chown cost-guardian:cost-guardian /app/data
COPY --from=build /src/build/release/cost-guardian /usr/local/bin/cost-guardian
COPY scripts/docker-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
# The binary embeds MIT-licensed parts (NOTICE), whose notices must travel with it.
COPY LICENSE NOTICE /usr/share/doc/cost-guardian/
WORKDIR /app
# A container never starts in development mode (generated keys, CORS from any origin): production refuses to start
# without API_KEY and INGEST_KEY. `-e ENV=development` still overrides it, on purpose only.
ENV ENV=production DATA_DIR=/app/data SERVER_PORT=5001
VOLUME /app/data
EXPOSE 5001
# Shell form, so a SERVER_PORT given at run time is the port checked.
HEALTHCHECK --interval=30s --timeout=5s CMD curl -fsS "http://localhost:${SERVER_PORT:-5001}/health" >/dev/null || exit 1
# SIGTERM (docker stop) drains and commits everything acknowledged; give it time (docker stop -t, compose's
# stop_grace_period). The entrypoint execs the server, so the server is PID 1 and receives the signal itself.
STOPSIGNAL SIGTERM
# No USER: the entrypoint starts as root only to make the data folder (a fresh host bind mount belongs to root) the
# cost-guardian user's, then runs the server as that user (uid 10001). `docker run --user …` skips that step.
ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]
