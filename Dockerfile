# sanctum-sidecar container image.
#
#   docker build -t ghcr.io/sanctumai/sanctum-sidecar:dev .
#   docker run --rm --read-only --tmpfs /tmp -v "$PWD/routes:/etc/sanctum-sidecar:ro" \
#     ghcr.io/sanctumai/sanctum-sidecar:dev
#
# Stages:
#   build      npm ci, tsc (src -> dist), then npm prune --omit=dev
#   artifacts  = build, or a prebuilt image (APP_ARTIFACTS, below)
#   runtime    (default, last) distroless Node: dist/, production node_modules, package.json
#
# Base images are build arguments, so releases can pin digests and air-gapped
# builders can point at local mirrors. The runtime image needs `node` on PATH
# (/nodejs/bin on distroless, /usr/local/bin on the official node images) and
# nothing else: no shell, no package manager, no curl.
#
# APP_ARTIFACTS=build (default) compiles here. Set it to an image holding
# /app/dist, /app/node_modules (production) and /app/package.json to package
# artifacts built elsewhere (scripts/image-check.sh does, where builds have no
# registry access); the build stage is then skipped.
#
# Kept to syntax that Debian's buildah 1.28 accepts as well as BuildKit:
# no COPY --link, no heredocs, no ADD --checksum.

ARG BUILD_IMAGE=node:24-bookworm-slim
ARG RUNTIME_IMAGE=gcr.io/distroless/nodejs24-debian12:nonroot
ARG APP_ARTIFACTS=build

# ---------------------------------------------------------------------------
FROM ${BUILD_IMAGE} AS build
WORKDIR /app
ENV npm_config_update_notifier=false \
    npm_config_fund=false \
    npm_config_audit=false
COPY package.json package-lock.json ./
# --ignore-scripts: no dependency needs an install script, and none gets to run one.
RUN --mount=type=cache,target=/root/.npm \
    npm ci --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev --ignore-scripts

# ---------------------------------------------------------------------------
FROM ${APP_ARTIFACTS} AS artifacts

# ---------------------------------------------------------------------------
FROM ${RUNTIME_IMAGE} AS runtime

ARG VERSION=0.1.0
ARG REVISION=unknown
ARG CREATED=
LABEL org.opencontainers.image.title="sanctum-sidecar" \
      org.opencontainers.image.description="Credential-injecting egress sidecar for AI agents: the agent never holds the API key." \
      org.opencontainers.image.source="https://github.com/sanctumai/sanctum-sidecar" \
      org.opencontainers.image.url="https://github.com/sanctumai/sanctum-sidecar" \
      org.opencontainers.image.documentation="https://github.com/sanctumai/sanctum-sidecar#readme" \
      org.opencontainers.image.vendor="SanctumAI" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}"

# `node` resolves on distroless (/nodejs/bin) and on the node:*-slim images (/usr/local/bin).
# glibc malloc: at most two arenas (not one per allocating thread: V8's compiler and GC
# helpers, libuv's pool), and free memory above 128 KiB at the top of the heap goes back
# to the system. About 10 MiB less RSS under load, same CPU per request
# (scripts/shipped-runtime.mjs holds these and the node flags, and says why).
ENV PATH=/nodejs/bin:/usr/local/bin:/usr/bin:/bin \
    NODE_ENV=production \
    MALLOC_ARENA_MAX=2 \
    MALLOC_TRIM_THRESHOLD_=131072 \
    SANCTUM_SIDECAR_CONFIG=/etc/sanctum-sidecar/routes.yaml

WORKDIR /app
# Owned by root and not writable by the runtime user: the process writes only to /tmp.
COPY --from=artifacts /app/node_modules ./node_modules
COPY --from=artifacts /app/dist ./dist
COPY --from=artifacts /app/package.json ./

# Numeric, so Kubernetes' runAsNonRoot can verify it (65532 = distroless "nonroot").
USER 65532:65532

# 8080: proxy listener (loopback by default; set SANCTUM_SIDECAR_LISTEN to widen it in gateway mode)
# 9090: admin listener: /healthz /readyz /metrics
EXPOSE 8080 9090

# The sidecar drains in-flight requests on SIGTERM (SANCTUM_SIDECAR_SHUTDOWN_TIMEOUT) and exits 0.
STOPSIGNAL SIGTERM

# Liveness only (/healthz on SANCTUM_SIDECAR_ADMIN, default 127.0.0.1:9090). Node, not curl:
# the runtime image has neither curl nor a shell. Note: OCI-format images drop HEALTHCHECK;
# build with `--format docker` under buildah/podman to keep it.
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
  CMD ["node", "dist/healthcheck.js"]

# A 1 MiB young generation and an old one that grows to 2x its live data: see src/main.ts.
# The heap limit depends on the container's memory limit; set it with
# NODE_OPTIONS=--max-old-space-size=<half the limit, MiB> (the Helm chart does).
ENTRYPOINT ["node", "--max-semi-space-size=1", "--heap-growing-percent=100", "dist/main.js"]
CMD ["run"]
