# Two stages: build on Debian 12 with the same scripts a developer uses, run on a slim Debian 12.
FROM debian:bookworm AS build
WORKDIR /src
COPY scripts/setup.sh scripts/setup.sh
# The dashboard's npm lock file first, so the npm ci layer is cached until it changes.
COPY dashboard/package.json dashboard/package-lock.json dashboard/
RUN scripts/setup.sh
COPY . .
RUN rm -rf build && scripts/build.sh release

FROM debian:bookworm-slim
RUN apt-get update -qq \
 && apt-get install -y -qq --no-install-recommends libsqlite3-0 libpq5 libfmt9 libboost-json1.81.0 libdate-tz3 tzdata curl ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --home /app --uid 10001 cost-guardian \
 && mkdir -p /app/data && chown cost-guardian /app/data
COPY --from=build /src/build/release/cost-guardian /usr/local/bin/cost-guardian
USER cost-guardian
WORKDIR /app
ENV DATA_DIR=/app/data SERVER_PORT=5001
VOLUME /app/data
EXPOSE 5001
HEALTHCHECK --interval=30s --timeout=5s CMD curl -fsS http://localhost:5001/health || exit 1
# SIGTERM (docker stop) drains and commits everything acknowledged; give it time.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/cost-guardian"]
