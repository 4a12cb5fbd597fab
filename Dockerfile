# Multi-stage build of the Real Dispatch server image (release profile, non-root).
FROM rust:1-bookworm AS build
WORKDIR /src
RUN rustup target add wasm32-unknown-unknown
COPY . .
RUN scripts/bootstrap.sh run && make PROFILE=release build

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home /srv/real-dispatch dispatch \
    && mkdir -p /srv/real-dispatch/data && chown dispatch /srv/real-dispatch/data
WORKDIR /srv/real-dispatch
COPY --from=build /src/target/release/real-dispatch /usr/local/bin/real-dispatch
COPY --from=build /src/target/site /srv/real-dispatch/site
ENV RD_SITE_ROOT=/srv/real-dispatch/site RD_DATA_DIR=/srv/real-dispatch/data RD_BIND=0.0.0.0:3000
USER dispatch
EXPOSE 3000
CMD ["real-dispatch", "serve"]
