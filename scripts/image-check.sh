#!/usr/bin/env bash
# Opt-in image check (not run by CI): builds the Dockerfile with podman (buildah) on this
# machine and runs the image the way the chart and compose do, then checks it.
#
#   sudo scripts/image-check.sh [--no-install] [--keep] [--ref REF | --worktree] [--node PATH]
#
# It builds the committed tree (git archive HEAD, or REF) unless --worktree is given, so that
# work in progress in the checkout does not decide the result.
#
# No container registry is reachable here, so the base images are local stand-ins:
#   BUILD_IMAGE    a Debian bookworm minbase made with debootstrap + `podman import`
#   RUNTIME_IMAGE  a distroless-like image: Node 24 LTS at /nodejs/bin/node (the binary
#                  scripts/node24.mjs pins and caches, the runtime the real base ships; or
#                  --node PATH), the shared libraries it needs taken from that Debian
#                  rootfs, a nonroot (65532) user, and no shell
#   APP_ARTIFACTS  dist/ and production node_modules built on the host (npm run build,
#                  npm prune --omit=dev), imported as an image: builds inside the container
#                  would need the registry through a TLS-intercepting proxy
# The sidecar in the image therefore runs on the Node line users run; the host's own node
# (any line) only builds the artifacts and drives the checks.
#
# Then the image runs read-only, as 65532, with all capabilities dropped and a tmpfs /tmp,
# next to a dev vault (same image) on a Unix socket, and the script checks: no shell in the
# image, the image config (user, healthcheck, entrypoint, stop signal, ports, labels),
# `podman healthcheck run`, /healthz and /readyz from the host, a credential injected into a
# request through the proxy (to an echo server on the container's loopback), a denied host,
# writes outside /tmp refused, and SIGTERM (`podman stop`) draining a request in flight and
# ending with exit 0 promptly. Finally it runs examples/compose the way compose would (its
# files, commands and healthchecks, as plain podman containers: podman-compose cannot run it).
# All traffic stays on this machine: the only published port is bound to 127.0.0.1.
#
# Needs root (rootful podman), apt-get for the first run, and the Debian mirror for
# debootstrap. Cache: $SANCTUM_IMAGE_CACHE (default /var/tmp/sanctum-image-check).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${SANCTUM_IMAGE_CACHE:-/var/tmp/sanctum-image-check}"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
INSTALL=1
KEEP=0
WORKTREE=0
REF=HEAD
IMAGE_NODE=
while [ "$#" -gt 0 ]; do
  arg="$1"
  shift
  case "$arg" in
    --ref) REF="${1:?--ref needs a commit}"; shift ;;
    --no-install) INSTALL=0 ;;
    --keep) KEEP=1 ;;
    --worktree) WORKTREE=1 ;;
    --node) IMAGE_NODE="${1:?--node needs the path of a node binary}"; shift ;;
    -h|--help) sed -n "2,33p" "$0"; exit 0 ;;
    *) echo "unknown argument: $arg" >&2; exit 2 ;;
  esac
done

BASE_IMAGE=localhost/sanctum-check/debian:bookworm-minbase
RUNTIME_IMAGE=localhost/sanctum-check/distroless-nodejs:nonroot
ARTIFACTS_IMAGE=localhost/sanctum-check/artifacts:latest
IMAGE=localhost/sanctum-sidecar:check
VAULT_CTR=sanctum-check-vault
SIDECAR_CTR=sanctum-check-sidecar
C_PREFIX=sanctum-check-compose
KEYS_VOL=sanctum-check-keys
RUN_VOL=sanctum-check-run
ALL_CTRS=("$SIDECAR_CTR" "$VAULT_CTR" "$C_PREFIX-init" "$C_PREFIX-vault" "$C_PREFIX-echo" "$C_PREFIX-sidecar")

PASS=0
FAIL=0
WARN=0
pass() { PASS=$((PASS + 1)); printf '  PASS  %s\n' "$*"; }
fail() { FAIL=$((FAIL + 1)); printf '  FAIL  %s\n' "$*"; }
warn() { WARN=$((WARN + 1)); printf '  WARN  %s\n' "$*"; }
step() { printf '\n== %s\n' "$*"; }
die() { printf 'image-check: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (rootful podman; apt-get; debootstrap)"
T_START=$(date +%s)

# --- tools -------------------------------------------------------------------------------
step "tools"
missing=()
for t in podman buildah runc debootstrap; do command -v "$t" >/dev/null 2>&1 || missing+=("$t"); done
if [ "${#missing[@]}" -gt 0 ]; then
  [ "$INSTALL" = 1 ] || die "missing: ${missing[*]} (run without --no-install, or apt-get install them)"
  echo "installing: podman buildah runc debootstrap"
  apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q -o DPkg::Lock::Timeout=300 podman buildah runc debootstrap >/dev/null
fi
echo "$(podman --version), $(buildah --version | cut -d' ' -f1-3), runc $(runc --version | head -1 | awk '{print $3}')"
command -v node >/dev/null || die "node is needed on the host"
command -v curl >/dev/null || die "curl is needed on the host"

mkdir -p "$CACHE"
# crun fails on this kind of host (cgroups v1 hybrid) and the default rlimits cannot be raised:
# runc and lower ulimits, through a private containers.conf (no system file is edited).
cat > "$CACHE/containers.conf" <<'EOF'
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]
[engine]
runtime = "runc"
EOF
export CONTAINERS_CONF="$CACHE/containers.conf"

WORK="$(mktemp -d "$CACHE/run.XXXXXX")"
# podman's own stderr goes here: without systemd it logs harmless "unable to get systemd
# connection to add healthchecks" errors for every container with a HEALTHCHECK.
PODMAN_LOG="$WORK/podman.log"
# One at a time: podman 4.3 stops at the first name it does not know.
remove_containers() {
  local c
  for c in "${ALL_CTRS[@]}"; do podman rm -f -t 0 "$c" >/dev/null 2>&1 || true; done
}
cleanup() {
  if [ "$KEEP" = 0 ]; then
    remove_containers
    podman volume rm -f "$KEYS_VOL" "$RUN_VOL" >/dev/null 2>&1 || true
    rm -rf "$WORK"
  else
    echo "kept: containers ${ALL_CTRS[*]}, volumes $KEYS_VOL $RUN_VOL, files $WORK"
  fi
}
trap cleanup EXIT
remove_containers
podman volume rm -f "$KEYS_VOL" "$RUN_VOL" >/dev/null 2>&1 || true

# --- build base (debootstrap) --------------------------------------------------------------
step "base image (debootstrap)"
ROOTFS="$CACHE/rootfs"
if ! podman image exists "$BASE_IMAGE"; then
  if [ ! -x "$ROOTFS/bin/sh" ]; then
    rm -rf "$ROOTFS"
    echo "debootstrap --variant=minbase bookworm (about a minute)"
    debootstrap --variant=minbase bookworm "$ROOTFS" "$MIRROR" > "$CACHE/debootstrap.log" 2>&1 \
      || die "debootstrap failed; see $CACHE/debootstrap.log"
  fi
  tar -C "$ROOTFS" -c . | podman import -q - "$BASE_IMAGE" >/dev/null
fi
echo "$BASE_IMAGE"

# --- runtime stand-in (distroless-like, no shell) -------------------------------------------
step "runtime stand-in (no shell)"
if [ -z "$IMAGE_NODE" ]; then
  IMAGE_NODE="$(node "$ROOT/scripts/node24.mjs")" || die "could not fetch the pinned Node 24 (scripts/node24.mjs)"
fi
NODE_BIN="$(readlink -f "$IMAGE_NODE")"
[ -x "$NODE_BIN" ] || die "no node binary at $IMAGE_NODE"
RT="$WORK/runtime-rootfs"
mkdir -p "$RT/nodejs/bin" "$RT/etc" "$RT/tmp" "$RT/home/nonroot"
cp "$NODE_BIN" "$RT/nodejs/bin/node"
# The shared libraries node needs, from the Debian rootfs (what distroless debian12 ships).
[ -d "$ROOTFS/usr/lib" ] || die "no Debian rootfs at $ROOTFS (delete $BASE_IMAGE to rebuild it)"
while read -r lib; do
  src="$ROOTFS$(readlink -f "$lib" | sed 's#^/lib/#/usr/lib/#')"
  [ -e "$src" ] || src="$ROOTFS$lib"
  [ -e "$src" ] || die "library $lib not found in the Debian rootfs"
  dest="$RT$lib"
  mkdir -p "$(dirname "$dest")"
  cp -L "$src" "$dest"
done < <(ldd "$NODE_BIN" | awk '/=>/ {print $3} /^[ \t]*\/lib/ {print $1}' | sort -u)
printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' > "$RT/etc/passwd"
printf 'root:x:0:\nnonroot:x:65532:\n' > "$RT/etc/group"
chmod 1777 "$RT/tmp"
chown 65532:65532 "$RT/home/nonroot"
tar -C "$RT" -c . | podman import -q \
  --change 'ENTRYPOINT ["/nodejs/bin/node"]' --change 'USER 65532:65532' --change 'WORKDIR /home/nonroot' \
  - "$RUNTIME_IMAGE" >/dev/null
NODE_VERSION="$(podman run --rm "$RUNTIME_IMAGE" -e 'process.stdout.write(process.version)')" \
  || die "node does not run in the runtime stand-in"
if podman run --rm --entrypoint /bin/sh "$RUNTIME_IMAGE" -c true >/dev/null 2>&1; then
  die "the runtime stand-in has a shell; it should not"
fi
echo "$RUNTIME_IMAGE: node $NODE_VERSION, no /bin/sh"
case "$NODE_VERSION" in v24.*) ;; *) warn "the runtime stand-in runs node $NODE_VERSION, not the Node 24 the image ships" ;; esac

# --- artifacts from the host ------------------------------------------------------------------
step "artifacts (npm run build, npm prune --omit=dev, on the host)"
[ -d "$ROOT/node_modules" ] || die "run npm ci first"
if [ "$WORKTREE" = 1 ]; then
  SRC="$ROOT"
  REV=worktree
  echo "source: the working tree"
else
  SRC="$WORK/src"
  mkdir -p "$SRC"
  # Resolved once: others may commit while this runs.
  REV="$(git -C "$ROOT" rev-parse --verify "$REF^{commit}")" || die "unknown commit $REF"
  git -C "$ROOT" archive "$REV" | tar -x -C "$SRC"
  ln -s "$ROOT/node_modules" "$SRC/node_modules"
  echo "source: git archive $REF ($REV)"
fi
(cd "$SRC" && npm run build --silent) || die "npm run build failed"
APP="$WORK/artifacts/app"
mkdir -p "$APP"
cp "$SRC/package.json" "$SRC/package-lock.json" "$APP/"
cp -a "$SRC/dist" "$APP/dist"
cp -a "$ROOT/node_modules" "$APP/node_modules"
(cd "$APP" && npm prune --omit=dev --ignore-scripts --offline --no-audit --no-fund --silent) || die "npm prune failed"
rm -f "$APP/package-lock.json"
echo "dist: $(find "$APP/dist" -name '*.js' | wc -l) files; production node_modules: $(du -sh "$APP/node_modules" | cut -f1)"
tar -C "$WORK/artifacts" --owner=0 --group=0 -c app | podman import -q - "$ARTIFACTS_IMAGE" >/dev/null

# --- the real Dockerfile ------------------------------------------------------------------------
step "podman build (the repository's Dockerfile, no network)"
T0=$(date +%s)
if ! podman build --format docker --network none --pull=never \
  --build-arg BUILD_IMAGE="$BASE_IMAGE" \
  --build-arg RUNTIME_IMAGE="$RUNTIME_IMAGE" \
  --build-arg APP_ARTIFACTS="$ARTIFACTS_IMAGE" \
  --build-arg REVISION="$REV" \
  --build-arg CREATED="$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
  -t "$IMAGE" -f "$SRC/Dockerfile" "$SRC" > "$WORK/build.log" 2>&1; then
  tail -30 "$WORK/build.log"
  die "podman build failed"
fi
grep -E '^(\[[0-9]+/[0-9]+\] )?STEP' "$WORK/build.log" | sed 's/^/  /'
pass "built $IMAGE in $(( $(date +%s) - T0 )) s ($(podman image inspect -f '{{.Size}}' "$IMAGE" | awk '{printf "%.0f MB", $1/1e6}'))"

# --- image configuration --------------------------------------------------------------------------
step "image configuration"
podman image inspect "$IMAGE" > "$WORK/inspect.json"
CONFIG_CHECKS="$(node - "$WORK/inspect.json" <<'EOF'
const [img] = JSON.parse(require('fs').readFileSync(process.argv[2], 'utf8'));
const c = img.Config ?? {};
const eq = (a, b) => JSON.stringify(a) === JSON.stringify(b);
const check = (ok, msg) => console.log(`${ok ? 'ok' : 'no'}|${msg}`);
check(c.User === '65532:65532', `USER ${c.User}`);
check(eq(c.Entrypoint, ['node', '--max-semi-space-size=2', 'dist/main.js']), `ENTRYPOINT ${JSON.stringify(c.Entrypoint)}`);
check(eq(c.Cmd, ['run']), `CMD ${JSON.stringify(c.Cmd)}`);
check(c.StopSignal === 'SIGTERM', `STOPSIGNAL ${c.StopSignal}`);
check(eq(Object.keys(c.ExposedPorts ?? {}).sort(), ['8080/tcp', '9090/tcp']), `EXPOSE ${Object.keys(c.ExposedPorts ?? {}).join(' ')}`);
const hc = img.Healthcheck ?? img.HealthCheck ?? c.Healthcheck;
check(hc && eq(hc.Test, ['CMD', 'node', 'dist/healthcheck.js']), `HEALTHCHECK ${JSON.stringify(hc?.Test)}`);
const labels = c.Labels ?? img.Labels ?? {};
check(labels['org.opencontainers.image.licenses'] === 'Apache-2.0' && /^([0-9a-f]{40}|worktree|unknown)$/.test(labels['org.opencontainers.image.revision'] ?? ''),
  `OCI labels (revision ${labels['org.opencontainers.image.revision']}, version ${labels['org.opencontainers.image.version']})`);
check(c.WorkingDir === '/app', `WORKDIR ${c.WorkingDir}`);
EOF
)"
while IFS='|' read -r status msg; do
  if [ "$status" = ok ]; then pass "$msg"; else fail "$msg"; fi
done <<< "$CONFIG_CHECKS"
SH_ERR="$(podman run --rm --entrypoint /bin/sh "$IMAGE" -c true 2>&1 | grep -v 'systemd connection' || true)"
if podman run --rm --entrypoint node "$IMAGE" -e 'process.exit(0)' >/dev/null 2>>"$PODMAN_LOG" && [[ "$SH_ERR" == *"/bin/sh"*"no such file"* ]]; then
  pass "no shell in the image (node runs; /bin/sh: no such file)"
else
  fail "shell check: $SH_ERR"
fi
LISTING="$(podman run --rm --entrypoint node "$IMAGE" -e "const fs=require('fs');console.log(fs.readdirSync('/app').sort().join(' '));console.log(fs.existsSync('/app/node_modules/typescript')?'dev':'prod')" 2>>"$PODMAN_LOG" || true)"
if [ "$(echo "$LISTING" | head -1)" = "dist node_modules package.json" ] && [ "$(echo "$LISTING" | tail -1)" = prod ]; then
  pass "/app holds only dist, node_modules (production) and package.json"
else
  fail "/app: $(echo "$LISTING" | tr '\n' ' ')"
fi

# --- run: dev vault + sidecar, read-only, non-root --------------------------------------------
step "run read-only as 65532 with a dev vault on a Unix socket"
RUN="$WORK/run"
mkdir -p "$RUN/routes" "$RUN/dev-vault" "$RUN/keys" "$RUN/sock"
PUBKEY="$(node "$SRC/dist/main.js" keygen check-agent --out "$RUN/keys/check-agent.key" | head -1)"
[[ "$PUBKEY" =~ ^[0-9a-f]{64}$ ]] || die "keygen printed no public key"
chown -R 65532:65532 "$RUN/keys" "$RUN/sock"
chmod 0400 "$RUN/keys/check-agent.key"
chmod 0700 "$RUN/sock"
cat > "$RUN/dev-vault/dev-vault.yaml" <<EOF
socket: /run/sanctum/vault.sock
agents:
  check-agent: { public_key: $PUBKEY }
credentials:
  check/api-key: { value: sk-image-check-injected }
policies:
  - { name: check, principal: "agent:check-agent", resources: ["check/*"], actions: [use] }
EOF
cat > "$RUN/routes/routes.yaml" <<'EOF'
version: 1
vault:
  agent: check-agent
  socket: /run/sanctum/vault.sock
  key_file: /keys/check-agent.key
egress:
  unmatched: deny
routes:
  # An echo server that the check starts on the container's own loopback.
  - name: echo
    match: { host: echo.check }
    upstream: http://127.0.0.1:18081
    credential: check/api-key
    inject: { header_type: bearer }
    allow_plaintext: true
EOF
HARDEN=(--read-only --user 65532:65532 --cap-drop ALL --security-opt no-new-privileges --tmpfs /tmp:rw,size=16m,mode=1777)
podman run -d --name "$VAULT_CTR" "${HARDEN[@]}" --network none \
  -v "$RUN/dev-vault:/etc/sanctum-dev:ro" -v "$RUN/sock:/run/sanctum" \
  "$IMAGE" dev-vault --file /etc/sanctum-dev/dev-vault.yaml --socket /run/sanctum/vault.sock >/dev/null 2>>"$PODMAN_LOG"
ADMIN_PORT="$(node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")"
podman run -d --name "$SIDECAR_CTR" "${HARDEN[@]}" \
  -e SANCTUM_SIDECAR_ADMIN=0.0.0.0:9090 -e SANCTUM_SIDECAR_SHUTDOWN_TIMEOUT=5s \
  -v "$RUN/routes:/etc/sanctum-sidecar:ro" -v "$RUN/keys:/keys:ro" -v "$RUN/sock:/run/sanctum:ro" \
  -p "127.0.0.1:$ADMIN_PORT:9090" \
  "$IMAGE" >/dev/null 2>>"$PODMAN_LOG"
echo "sidecar admin port published on 127.0.0.1:$ADMIN_PORT"

healthy=0
for _ in $(seq 1 40); do
  if podman healthcheck run "$SIDECAR_CTR" >/dev/null 2>&1; then healthy=1; break; fi
  [ "$(podman inspect -f '{{.State.Running}}' "$SIDECAR_CTR")" = true ] || break
  sleep 0.5
done
if [ "$healthy" = 1 ]; then pass "podman healthcheck run (image HEALTHCHECK: node dist/healthcheck.js -> /healthz)"; else
  fail "the image HEALTHCHECK never passed"; podman logs --tail 20 "$SIDECAR_CTR" 2>&1 | sed 's/^/    /'; fi

code="$(curl -s -o "$WORK/healthz" -w '%{http_code}' --max-time 3 "http://127.0.0.1:$ADMIN_PORT/healthz" || true)"
if [ "$code" = 200 ]; then pass "GET /healthz from the host: 200 $(cat "$WORK/healthz")"; else fail "GET /healthz from the host: $code"; fi
ready=""
for _ in $(seq 1 20); do
  ready="$(curl -s -o "$WORK/readyz" -w '%{http_code}' --max-time 3 "http://127.0.0.1:$ADMIN_PORT/readyz" || true)"
  [ "$ready" = 200 ] && break
  sleep 0.5
done
if [ "$ready" = 200 ]; then pass "GET /readyz: 200 (routes loaded, vault login over the socket worked) $(cat "$WORK/readyz")"; else
  fail "GET /readyz: $ready $(cat "$WORK/readyz" 2>/dev/null)"; fi
if podman exec "$SIDECAR_CTR" node dist/healthcheck.js --ready; then pass "node dist/healthcheck.js --ready (the compose healthcheck)"; else fail "healthcheck --ready"; fi
curl -s --max-time 3 -o "$WORK/metrics" "http://127.0.0.1:$ADMIN_PORT/metrics" || true
if grep -q '^sanctum_sidecar_' "$WORK/metrics"; then pass "/metrics has sanctum_sidecar_* series"; else fail "/metrics has no sanctum_sidecar_* series"; fi

# A request through the proxy, inside the container's network namespace.
podman exec -d "$SIDECAR_CTR" node -e "require('http').createServer((q,s)=>{s.setHeader('content-type','application/json');setTimeout(()=>s.end(JSON.stringify(q.headers)),q.url==='/slow'?2000:0)}).listen(18081,'127.0.0.1')" >/dev/null
sleep 0.5
PROXY_GET='const http=require("http");const r=http.request({host:"127.0.0.1",port:8080,method:"GET",path:process.argv[1],headers:{host:new URL(process.argv[1]).host}},res=>{let b="";res.on("data",d=>b+=d);res.on("end",()=>{console.log(res.statusCode+" "+b)})});r.on("error",e=>{console.log("ERR "+e.message)});r.end()'
# The same, announcing on stderr once the request is on the wire (for the drain check).
PROXY_GET_NOTIFY="${PROXY_GET/r.end()/r.on(\"socket\",s=>s.on(\"connect\",()=>console.error(\"connected\")));r.end()}"
out="$(podman exec "$SIDECAR_CTR" node -e "$PROXY_GET" http://echo.check/v1/hello || true)"
if [[ "$out" == 200* && "$out" == *'"authorization":"Bearer sk-image-check-injected"'* ]]; then
  pass "proxy: GET http://echo.check/v1/hello -> 200, upstream saw the injected Authorization header"
else fail "proxy request: $out"; fi
out="$(podman exec "$SIDECAR_CTR" node -e "$PROXY_GET" http://not-routed.invalid/ || true)"
if [[ "$out" == 403* ]]; then pass "proxy: a host without a route -> 403"; else fail "proxy deny: $out"; fi

# Read-only root, writable /tmp, identity.
if podman exec "$SIDECAR_CTR" node -e "require('fs').writeFileSync('/app/x','x')" >/dev/null 2>&1; then fail "/app is writable"; else pass "writing /app fails (read-only root filesystem)"; fi
if podman exec "$SIDECAR_CTR" node -e "require('fs').writeFileSync('/tmp/x','x')"; then pass "writing /tmp works (tmpfs)"; else fail "/tmp is not writable"; fi
ids="$(podman exec "$SIDECAR_CTR" node -e "console.log(process.getuid()+':'+process.getgid())")"
if [ "$ids" = "65532:65532" ]; then pass "runs as uid:gid $ids"; else fail "runs as $ids"; fi

# --- SIGTERM ---------------------------------------------------------------------------------------
step "SIGTERM"
# A request that takes 2 s is in flight when the container is stopped: it must complete
# (drain), then the process must exit 0, well within the stop timeout.
podman exec "$SIDECAR_CTR" node -e "$PROXY_GET_NOTIFY" http://echo.check/slow > "$WORK/slow.out" 2> "$WORK/slow.err" &
SLOW_PID=$!
for _ in $(seq 1 50); do grep -q connected "$WORK/slow.err" 2>/dev/null && break; sleep 0.1; done
sleep 0.3  # the proxy has the request and is waiting on the 2 s upstream
T0=$(date +%s.%N)
podman stop -t 20 "$SIDECAR_CTR" >/dev/null 2>>"$PODMAN_LOG"
ELAPSED=$(node -e "console.log(($(date +%s.%N) - $T0).toFixed(2))")
wait "$SLOW_PID" 2>/dev/null || true
EXIT="$(podman inspect -f '{{.State.ExitCode}}' "$SIDECAR_CTR")"
if [ "$EXIT" = 0 ] && node -e "process.exit($ELAPSED < 10 ? 0 : 1)"; then
  pass "podman stop (SIGTERM): exit code 0 after ${ELAPSED} s"
else
  fail "podman stop (SIGTERM): exit code $EXIT after ${ELAPSED} s"
fi
if [[ "$(cat "$WORK/slow.out")" == 200* ]]; then
  pass "the request in flight at SIGTERM completed (200) before the exit: drained"
else
  fail "the request in flight at SIGTERM: $(cat "$WORK/slow.out")"
fi
podman logs "$SIDECAR_CTR" 2>&1 | grep -E 'shutting down|stopped' | sed 's/^/    /' | cut -c1-160 || true
T0=$(date +%s.%N)
podman stop -t 20 "$VAULT_CTR" >/dev/null 2>>"$PODMAN_LOG"
ELAPSED=$(node -e "console.log(($(date +%s.%N) - $T0).toFixed(2))")
EXIT="$(podman inspect -f '{{.State.ExitCode}}' "$VAULT_CTR")"
if [ "$EXIT" = 0 ]; then pass "dev vault: exit code 0 after ${ELAPSED} s"; else warn "dev vault: exit code $EXIT after ${ELAPSED} s"; fi

# --- the compose example, emulated with plain podman ------------------------------------------------
# podman-compose cannot run it (network_mode: service:), so the same files, commands and
# healthchecks run here as individual containers: init -> vault -> sidecar -> agent sharing the
# sidecar's network namespace; the echo upstream on podman's bridge, named through --add-host.
step "compose example (examples/compose, emulated with podman)"
COMPOSE_DIR="$SRC/examples/compose"
compose_field() { # service, field (test|entrypoint): one array element per line
  (cd "$ROOT" && node -e "
    const y = require('yaml');
    const d = y.parse(require('fs').readFileSync(process.argv[3], 'utf8'), { merge: true });
    const s = d.services[process.argv[1]];
    const v = process.argv[2] === 'test' ? s.healthcheck.test.slice(1) : s.entrypoint;
    for (const x of v) console.log(x);
  " "$1" "$2" "$COMPOSE_DIR/docker-compose.yml")
}
podman volume create "$KEYS_VOL" >/dev/null 2>>"$PODMAN_LOG"
podman volume create "$RUN_VOL" >/dev/null 2>>"$PODMAN_LOG"
if podman run --rm --name "$C_PREFIX-init" --user 0:0 --network none --read-only --cap-drop ALL --cap-add CHOWN \
  --security-opt no-new-privileges -v "$COMPOSE_DIR/init:/etc/sanctum-compose:ro" -v "$KEYS_VOL:/keys" -v "$RUN_VOL:/run/sanctum" \
  --entrypoint node "$IMAGE" /etc/sanctum-compose/init.mjs > "$WORK/init.out" 2>>"$PODMAN_LOG"; then
  pass "init (root, CAP_CHOWN only, no network): $(cat "$WORK/init.out")"
else
  fail "init failed: $(cat "$WORK/init.out")"
fi
podman run -d --name "$C_PREFIX-vault" "${HARDEN[@]}" -e OPENAI_API_KEY=sk-placeholder-not-a-real-key \
  -v "$COMPOSE_DIR/dev-vault:/etc/sanctum-dev:ro" -v "$RUN_VOL:/run/sanctum" \
  "$IMAGE" dev-vault --file /etc/sanctum-dev/dev-vault.yaml --socket /run/sanctum/vault.sock >/dev/null 2>>"$PODMAN_LOG"
mapfile -t ECHO_CMD < <(compose_field echo entrypoint)
podman run -d --name "$C_PREFIX-echo" --read-only --user 65532:65532 --cap-drop ALL --security-opt no-new-privileges \
  --entrypoint "${ECHO_CMD[0]}" "$IMAGE" "${ECHO_CMD[@]:1}" >/dev/null 2>>"$PODMAN_LOG"
ECHO_IP="$(podman inspect -f '{{.NetworkSettings.IPAddress}}' "$C_PREFIX-echo")"
wait_healthy() { # container, service name in the compose file
  local cmd
  mapfile -t cmd < <(compose_field "$2" test)
  for _ in $(seq 1 40); do
    podman exec "$1" "${cmd[@]}" >/dev/null 2>&1 && return 0
    sleep 0.5
  done
  return 1
}
if wait_healthy "$C_PREFIX-vault" vault; then pass "vault: the compose healthcheck passes (socket accepts connections)"; else fail "vault never healthy: $(podman logs --tail 5 "$C_PREFIX-vault" 2>&1 | tr '\n' ' ')"; fi
if wait_healthy "$C_PREFIX-echo" echo; then pass "echo: the compose healthcheck passes"; else fail "echo never healthy"; fi
podman run -d --name "$C_PREFIX-sidecar" "${HARDEN[@]}" --add-host "echo:$ECHO_IP" \
  -e SANCTUM_SIDECAR_LISTEN=127.0.0.1:8080 -e SANCTUM_SIDECAR_ADMIN=0.0.0.0:9090 -e SANCTUM_SIDECAR_SHUTDOWN_TIMEOUT=8s \
  -v "$COMPOSE_DIR/routes:/etc/sanctum-sidecar:ro" -v "$KEYS_VOL:/keys:ro" -v "$RUN_VOL:/run/sanctum:ro" \
  "$IMAGE" run --config /etc/sanctum-sidecar/routes.yaml >/dev/null 2>>"$PODMAN_LOG"
if wait_healthy "$C_PREFIX-sidecar" sidecar; then
  pass "sidecar: the compose healthcheck (--ready) passes with the example's routes.yaml, key and dev vault"
else
  fail "sidecar never ready: $(podman logs --tail 5 "$C_PREFIX-sidecar" 2>&1 | tr '\n' ' ')"
fi
AGENT=(podman run --rm --network "container:$C_PREFIX-sidecar" --read-only --user 65532:65532 --cap-drop ALL
  --security-opt no-new-privileges --entrypoint node "$IMAGE" -e "$PROXY_GET")
out="$("${AGENT[@]}" http://echo:8080/v1/hello 2>>"$PODMAN_LOG" || true)"
if [[ "$out" == 200* && "$out" =~ \"authorization\":\ *\"Bearer\ sk-demo-injected-by-sanctum\" ]]; then
  pass "agent (network_mode service:sidecar): http://echo:8080/v1/hello -> 200 with the injected credential"
else
  fail "agent request: $out"
fi
out="$("${AGENT[@]}" http://example.com/ 2>>"$PODMAN_LOG" || true)"
if [[ "$out" == 403* ]]; then pass "agent: a host without a route -> 403"; else fail "agent deny: $out"; fi
podman stop -t 10 "$C_PREFIX-sidecar" "$C_PREFIX-vault" "$C_PREFIX-echo" >/dev/null 2>>"$PODMAN_LOG" || true
EXIT="$(podman inspect -f '{{.State.ExitCode}}' "$C_PREFIX-sidecar")"
if [ "$EXIT" = 0 ]; then pass "compose sidecar stopped with exit code 0"; else fail "compose sidecar exit code $EXIT"; fi

printf '\nimage-check: %d passed, %d failed, %d warnings (%d s)\n' "$PASS" "$FAIL" "$WARN" "$(( $(date +%s) - T_START ))"
[ "$FAIL" = 0 ]
