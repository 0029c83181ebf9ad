#!/bin/sh
# The upstream image builds redis with protected mode off; Debian's binary has it on, which
# would refuse every client from another container.
set -eu
if [ "${1:-}" = redis-server ]; then
  shift
  exec redis-server --protected-mode no "$@"
fi
exec "$@"
