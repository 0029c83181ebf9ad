# syntax=docker/dockerfile:1
# One image for every component of the system (`faultline serve NAME`) and for the lab itself
# (`faultline run ...`). Build: docker build -t faultline .

FROM golang:1.26-bookworm AS build
WORKDIR /src
# Modules first, so a source change does not download them again.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
# Static binary: no libc needed at run time (modernc.org/sqlite is pure Go).
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=linux go build -trimpath -ldflags="-s -w" -o /out/faultline ./cmd/faultline

# Alpine rather than distroless: the compose health checks need busybox wget.
FROM alpine:3.20
RUN apk add --no-cache ca-certificates \
    && addgroup -S -g 65532 faultline \
    && adduser -S -D -H -u 65532 -G faultline faultline \
    && mkdir -p /data /work/runs \
    && chown faultline:faultline /data /work/runs
COPY --from=build /out/faultline /usr/local/bin/faultline
# The catalogue travels with the image so `faultline run scenarios/` works in the lab container.
COPY --chown=faultline:faultline scenarios/ /work/scenarios/
WORKDIR /work
USER 65532:65532
ENV LISTEN_ADDR=0.0.0.0:8080 LOG_FORMAT=json
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/faultline"]
CMD ["--help"]
