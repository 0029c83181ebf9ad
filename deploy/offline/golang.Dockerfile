# The offline stand-in for golang:1.26-bookworm: the host's Go toolchain (the build context is
# $(go env GOROOT)) on the debootstrap'd Debian base. Modules come vendored in the build context.
ARG BASE=faultline/debian-offline:bookworm
FROM ${BASE}
COPY . /usr/local/go
ENV PATH=/usr/local/go/bin:/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    GOPATH=/go GOTOOLCHAIN=local GOPROXY=off
RUN go version
