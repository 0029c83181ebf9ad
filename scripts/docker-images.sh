#!/usr/bin/env bash
# Builds every image the Docker paths need and writes the compose variables that select them to
# ${1:-runs/docker/images.env}.
#
#   upstream (a registry answers): the project's Dockerfile on golang/alpine; the stack pulls
#            postgres, redis, toxiproxy, prometheus, ... unchanged. Nothing is retagged.
#   offline  (no registry): a Debian base from debootstrap + docker import, and stand-ins built on
#            it from Debian packages and Go modules, tagged faultline/*-offline (never with an
#            upstream image's name). Go modules are vendored from the host's module cache.
#
# FAULTLINE_IMAGES=upstream|offline forces a mode. An image that exists is not rebuilt
# (FAULTLINE_REBUILD=1 rebuilds the stand-ins; faultline:local is always rebuilt, from cache).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-runs/docker/images.env}
mkdir -p "$(dirname "$out")"
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
log() { echo "docker-images: $*" >&2; }
have() { [ "${FAULTLINE_REBUILD:-}" != 1 ] && docker image inspect "$1" >/dev/null 2>&1; }
# BuildKit is needed for the Dockerfile's cache mounts. The Docker CLI uses buildx when it has
# the plugin; without it, Debian's 20.10 CLI talks to the engine's built-in BuildKit.
build() {
  if docker buildx version >/dev/null 2>&1; then docker build -q "$@"
  elif [ -x /usr/bin/docker ]; then DOCKER_BUILDKIT=1 /usr/bin/docker build -q "$@"
  else DOCKER_BUILDKIT=1 docker build -q "$@"; fi >/dev/null
}
timed() { local t0=$SECONDS; "$@"; log "$1 ${*: -1}: $((SECONDS - t0))s"; }

mode=${FAULTLINE_IMAGES:-}
if [ -z "$mode" ]; then
  if timeout 20 docker pull -q alpine:3.20 >/dev/null 2>&1; then mode=upstream; else mode=offline; fi
  log "no mode asked: $mode (a registry $( [ $mode = upstream ] && echo answers || echo does not answer ))"
fi

if [ "$mode" = upstream ]; then
  t0=$SECONDS
  build -t faultline:local .
  log "faultline:local (upstream bases): $((SECONDS - t0))s"
  # The third-party images of every service compose starts by default (.env's profiles).
  docker compose pull -q --ignore-buildable
  log "upstream images pulled: $((SECONDS - t0))s"
  : > "$out"   # every image variable keeps its upstream default
  exit 0
fi
[ "$mode" = offline ] || { log "FAULTLINE_IMAGES=$mode: want upstream or offline"; exit 2; }

base=faultline/debian-offline:bookworm
if ! have "$base"; then
  command -v debootstrap >/dev/null || { log "debootstrap missing (apt-get install debootstrap)"; exit 1; }
  t0=$SECONDS
  root=$(mktemp -d /tmp/faultline-debootstrap.XXXXXX)
  trap 'rm -rf "$root"' EXIT
  debootstrap --variant=minbase bookworm "$root" "$mirror" >/dev/null
  tar -C "$root" -c . | docker import -c 'CMD ["/bin/bash"]' - "$base" >/dev/null
  rm -rf "$root"; trap - EXIT
  log "$base (debootstrap + import): $((SECONDS - t0))s"
fi

standin() { # TAG DOCKERFILE CONTEXT
  if have "$1"; then return; fi
  local t0=$SECONDS
  build -t "$1" -f "$2" "$3"
  log "$1: $((SECONDS - t0))s"
}
standin faultline/runtime-offline:bookworm deploy/offline/runtime.Dockerfile deploy/offline
standin faultline/golang-offline:1.26 deploy/offline/golang.Dockerfile "$(go env GOROOT)"
standin faultline/postgres-offline:15 deploy/offline/postgres.Dockerfile deploy/offline
standin faultline/redis-offline:7 deploy/offline/redis.Dockerfile deploy/offline
standin faultline/prometheus-offline:2 deploy/offline/prometheus.Dockerfile deploy/offline

if ! have faultline/toxiproxy-offline:2.12.0; then
  # The server and CLI from the Go module at the version the lab links (go.mod).
  t0=$SECONDS
  ctx=$(mktemp -d /tmp/faultline-toxiproxy.XXXXXX)
  trap 'rm -rf "$ctx"' EXIT
  cp deploy/offline/toxiproxy.Dockerfile "$ctx/Dockerfile"
  (cd "$ctx" && go mod init standin >/dev/null 2>&1 \
    && GOFLAGS=-mod=mod go get github.com/Shopify/toxiproxy/v2/cmd/server@v2.12.0 github.com/Shopify/toxiproxy/v2/cmd/cli@v2.12.0 >/dev/null 2>&1 \
    && CGO_ENABLED=0 go build -trimpath -o toxiproxy github.com/Shopify/toxiproxy/v2/cmd/server \
    && CGO_ENABLED=0 go build -trimpath -o toxiproxy-cli github.com/Shopify/toxiproxy/v2/cmd/cli)
  build -t faultline/toxiproxy-offline:2.12.0 "$ctx"
  rm -rf "$ctx"; trap - EXIT
  log "faultline/toxiproxy-offline:2.12.0: $((SECONDS - t0))s"
fi

# The Faultline image from the project's Dockerfile, the offline bases as build arguments and
# the modules vendored into a copy of the sources (no module download inside the build).
t0=$SECONDS
ctx=$(mktemp -d /tmp/faultline-image.XXXXXX)
trap 'rm -rf "$ctx"' EXIT
tar -c --exclude=./.git --exclude=./bin --exclude=./runs --exclude=./vendor . | tar -C "$ctx" -x
(cd "$ctx" && GOFLAGS=-mod=mod go mod vendor)
build -t faultline:local --build-arg GO_IMAGE=faultline/golang-offline:1.26 \
  --build-arg RUN_IMAGE=faultline/runtime-offline:bookworm --build-arg GOFLAGS=-mod=vendor "$ctx"
rm -rf "$ctx"; trap - EXIT
log "faultline:local (offline bases): $((SECONDS - t0))s"

cat > "$out" <<ENV
POSTGRES_IMAGE=faultline/postgres-offline:15
REDIS_IMAGE=faultline/redis-offline:7
TOXIPROXY_IMAGE=faultline/toxiproxy-offline:2.12.0
PROMETHEUS_IMAGE=faultline/prometheus-offline:2
# No offline OTel Collector, Jaeger or Grafana: their profiles stay off, the services send
# spans straight to the lab (FAULTLINE_OTLP_ENDPOINT).
COMPOSE_PROFILES=
ENV
