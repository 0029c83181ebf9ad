#!/usr/bin/env bash
# Builds every image the Docker paths need and writes the compose variables that select them to
# ${1:-runs/docker/images.env}.
#
#   upstream (a registry answers): the project's Dockerfile on golang/alpine; the stack pulls
#            postgres, redis, toxiproxy, prometheus, ... unchanged. Nothing is retagged.
#   offline  (no registry): a Debian base from debootstrap + docker import, and stand-ins built on
#            it from Debian packages and Go modules, tagged faultline/*-offline (never with an
#            upstream image's name).
#
# The Faultline image: with FAULTLINE_BIN (the binary `make build` made) offline, the
# Dockerfile's BINARY=prebuilt path copies it onto the Debian runtime base (no Go build inside
# Docker); without it, the Dockerfile's own Go stage on the golang stand-in, modules vendored
# from the host's module cache.
#
# FAULTLINE_IMAGES=upstream|offline forces a mode. An image that exists is not rebuilt
# (FAULTLINE_REBUILD=1 rebuilds the stand-ins without the build cache, to measure a cold build;
# faultline:local is always rebuilt). The debootstrap tree and the toxiproxy binaries are kept
# under $FAULTLINE_CACHE (default ~/.cache/faultline/docker), keyed by version, so a machine
# whose Docker storage was wiped does not fetch them again.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-runs/docker/images.env}
mkdir -p "$(dirname "$out")"
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
cache=${FAULTLINE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/faultline/docker}
mkdir -p "$cache"
log() { echo "docker-images: $*" >&2; }
have() { [ "${FAULTLINE_REBUILD:-}" != 1 ] && docker image inspect "$1" >/dev/null 2>&1; }
nocache=(); [ "${FAULTLINE_REBUILD:-}" = 1 ] && nocache=(--no-cache)
# BuildKit is needed for the Dockerfile's cache mounts. The Docker CLI uses buildx when it has
# the plugin; without it, Debian's 20.10 CLI talks to the engine's built-in BuildKit.
build() {
  if docker buildx version >/dev/null 2>&1; then docker build -q "$@"
  elif [ -x /usr/bin/docker ]; then DOCKER_BUILDKIT=1 /usr/bin/docker build -q "$@"
  else DOCKER_BUILDKIT=1 docker build -q "$@"; fi >/dev/null
}
# Every scratch directory lives under one, removed on every exit path (scratch runs in a
# command substitution's subshell, so it cannot record what it made in a variable).
work=$(mktemp -d /tmp/faultline-images.XXXXXX)
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT TERM
scratch() { mktemp -d "$work/$1.XXXXXX"; }

mode=${FAULTLINE_IMAGES:-}
if [ -z "$mode" ]; then
  if timeout 20 docker pull -q alpine:3.20 >/dev/null 2>&1; then mode=upstream; else mode=offline; fi
  log "no mode asked: $mode (a registry $( [ $mode = upstream ] && echo answers || echo does not answer ))"
fi

if [ "$mode" = upstream ]; then
  t0=$SECONDS
  build -t faultline:local .
  log "faultline:local (upstream bases): $((SECONDS - t0))s"
  # The third-party images of every service compose starts by default (.env's profiles); the
  # Compose plugin may still be building in the background (docker-test.sh holds this lock).
  if [ -n "${FAULTLINE_COMPOSE_LOCK:-}" ] && [ -e "$FAULTLINE_COMPOSE_LOCK" ]; then flock "$FAULTLINE_COMPOSE_LOCK" true; fi
  docker compose pull -q --ignore-buildable
  log "upstream images pulled: $((SECONDS - t0))s"
  : > "$out"   # every image variable keeps its upstream default
  exit 0
fi
[ "$mode" = offline ] || { log "FAULTLINE_IMAGES=$mode: want upstream or offline"; exit 2; }

base=faultline/debian-offline:bookworm
if ! have "$base"; then
  t0=$SECONDS
  # The minbase tree, kept as a tarball: docker import of it takes seconds, debootstrap minutes
  # on a busy machine. Keyed by suite, variant and architecture; delete it to fetch again.
  tarball=$cache/debian-bookworm-minbase-$(dpkg --print-architecture).tar
  if [ ! -s "$tarball" ]; then
    # A fresh machine has no debootstrap: install it as make deps installs the servers (CI on a
    # clean machine failed here, 2026-12-02).
    command -v debootstrap >/dev/null || scripts/deps.sh debootstrap ||
      { log "debootstrap missing and could not be installed (apt-get install debootstrap)"; exit 1; }
    root=$(scratch debootstrap)
    debootstrap --variant=minbase bookworm "$root" "$mirror" >/dev/null
    tar -C "$root" -cf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball"
    rm -rf "$root"
    log "debootstrap minbase bookworm into $tarball: $((SECONDS - t0))s"
  fi
  docker import -c 'CMD ["/bin/bash"]' "$tarball" "$base" >/dev/null
  log "$base (docker import): $((SECONDS - t0))s"
fi

standin() { # TAG DOCKERFILE CONTEXT
  if have "$1"; then return; fi
  local t0=$SECONDS
  build "${nocache[@]}" -t "$1" -f "$2" "$3"
  log "$1: $((SECONDS - t0))s"
}
standin faultline/runtime-offline:bookworm deploy/offline/runtime.Dockerfile deploy/offline
# The three Debian-package stand-ins build side by side (apt-get mostly waits on the network).
t0=$SECONDS
pids=()
standin faultline/postgres-offline:15 deploy/offline/postgres.Dockerfile deploy/offline & pids+=($!)
standin faultline/redis-offline:7 deploy/offline/redis.Dockerfile deploy/offline & pids+=($!)
standin faultline/prometheus-offline:2 deploy/offline/prometheus.Dockerfile deploy/offline & pids+=($!)
for p in "${pids[@]}"; do wait "$p"; done
log "postgres, redis, prometheus stand-ins: $((SECONDS - t0))s"

if ! have faultline/toxiproxy-offline:2.12.0; then
  # The server and CLI from the Go module at the version the lab links (go.mod), built once
  # into the cache.
  t0=$SECONDS
  bins=$cache/toxiproxy-v2.12.0
  if [ ! -x "$bins/toxiproxy" ] || [ ! -x "$bins/toxiproxy-cli" ]; then
    mod=$(scratch toxiproxy)
    mkdir -p "$bins"
    (cd "$mod" && go mod init standin >/dev/null 2>&1 \
      && GOFLAGS=-mod=mod go get github.com/Shopify/toxiproxy/v2/cmd/server@v2.12.0 github.com/Shopify/toxiproxy/v2/cmd/cli@v2.12.0 >/dev/null 2>&1 \
      && CGO_ENABLED=0 go build -trimpath -o "$bins/toxiproxy" github.com/Shopify/toxiproxy/v2/cmd/server \
      && CGO_ENABLED=0 go build -trimpath -o "$bins/toxiproxy-cli" github.com/Shopify/toxiproxy/v2/cmd/cli)
  fi
  ctx=$(scratch toxiproxy-ctx)
  cp deploy/offline/toxiproxy.Dockerfile "$ctx/Dockerfile"
  cp "$bins/toxiproxy" "$bins/toxiproxy-cli" "$ctx/"
  build "${nocache[@]}" -t faultline/toxiproxy-offline:2.12.0 "$ctx"
  log "faultline/toxiproxy-offline:2.12.0: $((SECONDS - t0))s"
fi

t0=$SECONDS
ctx=$(scratch image)
if [ -n "${FAULTLINE_BIN:-}" ]; then
  # The binary `make build` made, on the Debian runtime base (the Dockerfile checks it runs).
  mkdir -p "$ctx/bin"
  cp Dockerfile "$ctx/"
  cp "$FAULTLINE_BIN" "$ctx/bin/faultline"
  cp -r scenarios "$ctx/"
  build -t faultline:local --build-arg BINARY=prebuilt \
    --build-arg RUN_IMAGE=faultline/runtime-offline:bookworm "$ctx"
  log "faultline:local (prebuilt $FAULTLINE_BIN, offline runtime base): $((SECONDS - t0))s"
else
  # The Dockerfile's Go stage, the offline bases as build arguments and the modules vendored
  # into a copy of the sources (no module download inside the build).
  standin faultline/golang-offline:1.26 deploy/offline/golang.Dockerfile "$(go env GOROOT)"
  tar -c --exclude=./.git --exclude=./bin --exclude=./runs --exclude=./vendor . | tar -C "$ctx" -x
  (cd "$ctx" && GOFLAGS=-mod=mod go mod vendor)
  build -t faultline:local --build-arg GO_IMAGE=faultline/golang-offline:1.26 \
    --build-arg RUN_IMAGE=faultline/runtime-offline:bookworm --build-arg GOFLAGS=-mod=vendor "$ctx"
  log "faultline:local (built in the Dockerfile, offline bases): $((SECONDS - t0))s"
fi
cat > "$out" <<ENV
POSTGRES_IMAGE=faultline/postgres-offline:15
REDIS_IMAGE=faultline/redis-offline:7
TOXIPROXY_IMAGE=faultline/toxiproxy-offline:2.12.0
PROMETHEUS_IMAGE=faultline/prometheus-offline:2
# No offline OTel Collector, Jaeger or Grafana: their profiles stay off, the services send
# spans straight to the lab (FAULTLINE_OTLP_ENDPOINT).
COMPOSE_PROFILES=
ENV
