#!/usr/bin/env bash
# Installs the Debian packages Faultline needs when they are missing. On other systems it says
# exactly what to install instead of guessing.
set -euo pipefail
need=()
for pkg in "$@"; do
  case "$pkg" in
    postgresql) ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || need+=(postgresql) ;;
    redis-server) command -v redis-server >/dev/null 2>&1 || need+=(redis-server) ;;
    chromium) command -v chromium >/dev/null 2>&1 || need+=(chromium) ;;
    *) dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg") ;;
  esac
done
[ ${#need[@]} -eq 0 ] && exit 0
if ! command -v apt-get >/dev/null 2>&1; then
  echo "faultline: please install: ${need[*]} (PostgreSQL server binaries, redis-server, chromium)" >&2
  exit 1
fi
sudo=""
[ "$(id -u)" = 0 ] || sudo=sudo
echo "faultline: installing ${need[*]} with apt-get" >&2
export DEBIAN_FRONTEND=noninteractive
for i in 1 2 3; do
  if $sudo apt-get update -qq && $sudo apt-get install -y -qq --no-install-recommends "${need[@]}"; then exit 0; fi
  echo "faultline: apt-get failed (try $i), retrying" >&2; sleep 5
done
exit 1
