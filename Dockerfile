# featd container image (docs/operations.md, "Container").
#
#   docker build -t featd .            (or: podman build --format docker -t featd .)
#   docker run --rm -p 6566:6566 -p 6567:6567 -e FEATD_REDIS_URL=redis://HOST:6379/0 featd
#
# Stage 1 compiles featd and featd-cli and runs the unit tests; stage 2 holds
# only the two binaries, their runtime libraries and redis-server (for
# redis.url "embedded"). Runs as the non-root user featd.

# ---- build -------------------------------------------------------------------
FROM debian:bookworm-slim AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      build-essential pkg-config libevent-dev libhiredis-dev libprotobuf-c-dev protobuf-c-compiler \
      libjansson-dev libsnappy-dev zlib1g-dev libzstd-dev liblz4-dev libbrotli-dev libssl-dev \
      check libsubunit-dev redis-server \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# Unit tests only (the end-to-end suites run outside the image).
RUN make clean >/dev/null \
 && make -j"$(nproc)" WERROR=1 build/featd build/featd-cli \
 && make -j"$(nproc)" unit
# The image's registry: the example config with container paths (Parquet
# snapshots under /var/lib/featd/snapshots/<view>, data in /var/lib/featd).
RUN sed -e 's#"path": *"examples/data/#"path": "/var/lib/featd/snapshots/#' \
        -e 's#"data_dir": *"[^"]*"#"data_dir": "/var/lib/featd"#' \
        config/featd.json > build/featd.container.json \
 && grep -q '/var/lib/featd/snapshots/' build/featd.container.json \
 && build/featd --check-config build/featd.container.json \
 && mkdir -p build/snapshots \
 && for d in $(grep -o '"/var/lib/featd/snapshots/[^"*?]*' build/featd.container.json | cut -c27-); do \
      mkdir -p "build/snapshots/$d"; done

# ---- runtime -----------------------------------------------------------------
FROM debian:bookworm-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libevent-2.1-7 libevent-pthreads-2.1-7 libevent-openssl-2.1-7 libhiredis0.14 libprotobuf-c1 libjansson4 \
      libsnappy1v5 zlib1g libzstd1 liblz4-1 libbrotli1 libssl3 redis-server \
 && rm -rf /var/lib/apt/lists/* /var/log/apt /var/log/dpkg.log \
 && useradd --system --user-group --uid 10001 --home-dir /var/lib/featd --no-create-home \
      --shell /usr/sbin/nologin featd \
 && install -d -o featd -g featd -m 0750 /var/lib/featd \
 && install -d -o featd -g featd -m 0755 /var/lib/featd/snapshots \
 && install -d -m 0755 /etc/featd /usr/share/featd
COPY --from=build /src/build/featd /src/build/featd-cli /usr/local/bin/
COPY --from=build /src/build/featd.container.json /etc/featd/featd.json
COPY --from=build --chown=featd:featd /src/build/snapshots /var/lib/featd/snapshots
COPY examples/rows /usr/share/featd/examples/rows

# Listen on all interfaces inside the container; every FEATD_* variable
# overrides the config file (FEATD_REDIS_URL, FEATD_REDIS_PASSWORD,
# FEATD_LOG_LEVEL, FEATD_LOG_FORMAT, FEATD_WORKERS, ...). With no
# FEATD_REDIS_URL the image runs its own private redis-server (embedded).
ENV FEATD_LISTEN=0.0.0.0:6566 \
    FEATD_ADMIN_LISTEN=0.0.0.0:6567 \
    FEATD_DATA_DIR=/var/lib/featd
USER featd
WORKDIR /var/lib/featd
EXPOSE 6566 6567
STOPSIGNAL SIGTERM
# GET /healthz on the admin port, with bash's /dev/tcp (no curl in the image).
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["bash", "-c", "p=${FEATD_ADMIN_LISTEN##*:}; exec 3<>/dev/tcp/127.0.0.1/${p:-6567} && printf 'GET /healthz HTTP/1.0\\r\\n\\r\\n' >&3 && IFS= read -r -t 2 l <&3 && [[ $l == *' 200 '* ]]"]
CMD ["featd", "--config", "/etc/featd/featd.json"]
