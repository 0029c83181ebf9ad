# One image for every component of the system (`faultline serve NAME`) and for the lab itself
# (`faultline run ...`). Build: docker build -t faultline:local .
#
# No `# syntax=` line: it makes BuildKit pull a frontend image from a registry before anything
# else, which fails offline; the engine's built-in frontend has the cache mounts used below.
# The base images are build arguments, so offline stand-ins can replace them
# (scripts/docker-images.sh: GO_IMAGE=faultline/golang-offline:1.26,
# RUN_IMAGE=faultline/runtime-offline:bookworm, GOFLAGS=-mod=vendor with a vendored context).
#
# BINARY=build (the default) compiles the binary in the Go stage. BINARY=prebuilt takes it from
# the context's bin/faultline instead (a context holding this file, bin/faultline and scenarios/,
# since .dockerignore leaves bin out): make docker-test builds its image from the binary
# `make build` already made, on the offline Debian runtime base, whose glibc the host's binary
# links against. The Go stage is then skipped (BuildKit builds only the stages the target uses).
ARG GO_IMAGE=golang:1.26-bookworm
ARG RUN_IMAGE=alpine:3.20
ARG BINARY=build

FROM ${GO_IMAGE} AS build
ARG GOFLAGS=
ENV GOFLAGS=${GOFLAGS}
WORKDIR /src
# Modules first, so a source change does not download them again (vendored: nothing to download).
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod \
    case " $GOFLAGS " in *" -mod=vendor "*) ;; *) go mod download ;; esac
COPY . .
# Static binary: no libc needed at run time (modernc.org/sqlite is pure Go).
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=linux go build -trimpath -ldflags="-s -w" -o /out/faultline ./cmd/faultline

FROM scratch AS prebuilt
COPY bin/faultline /out/faultline

FROM ${BINARY} AS binary

# Alpine rather than distroless: the compose health checks need wget (busybox's here; Debian's
# in the offline runtime base, which has it installed).
FROM ${RUN_IMAGE}
RUN if command -v apk >/dev/null; then \
        apk add --no-cache ca-certificates \
        && addgroup -S -g 65532 faultline \
        && adduser -S -D -H -u 65532 -G faultline faultline; \
    fi \
    && command -v wget >/dev/null \
    && mkdir -p /data /work/runs \
    && chown 65532:65532 /data /work/runs
COPY --from=binary /out/faultline /usr/local/bin/faultline
# The binary runs on this base (a prebuilt one linked against another libc would not).
RUN ["/usr/local/bin/faultline", "--help"]
# The catalogue travels with the image so `faultline run scenarios/` works in the lab container.
COPY --chown=65532:65532 scenarios/ /work/scenarios/
WORKDIR /work
USER 65532:65532
ENV LISTEN_ADDR=0.0.0.0:8080 LOG_FORMAT=json
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/faultline"]
CMD ["--help"]
