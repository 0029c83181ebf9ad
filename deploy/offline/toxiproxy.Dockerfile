# The offline stand-in for ghcr.io/shopify/toxiproxy:2.12.0: the same server and CLI, built on
# the host from the Go module (the build context holds the two binaries), at the same paths as
# upstream (/toxiproxy, /toxiproxy-cli). It sits on the Faultline runtime base, so the compose
# service can switch to `faultline serve toxiproxy` by changing its image and command only.
ARG BASE=faultline/runtime-offline:bookworm
FROM ${BASE}
COPY toxiproxy toxiproxy-cli /
USER 65532:65532
EXPOSE 8474
ENTRYPOINT ["/toxiproxy"]
CMD ["-host=0.0.0.0"]
