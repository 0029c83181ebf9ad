# The offline stand-in for alpine:3.20 as the Faultline image's run stage, and the base of every
# other stand-in: the debootstrap'd Debian base plus what the compose health checks need (wget).
ARG BASE=faultline/debian-offline:bookworm
FROM ${BASE}
RUN apt-get update -qq \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends wget ca-certificates \
    && rm -rf /var/lib/apt/lists/*
