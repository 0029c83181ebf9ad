#!/bin/sh
# First start: initdb, create $POSTGRES_DB, allow every host (trust, as the compose file asks
# with POSTGRES_HOST_AUTH_METHOD); then run the server in the foreground as postgres.
set -eu
if [ "${1:-postgres}" != postgres ]; then exec "$@"; fi
shift || true
if [ "$(id -u)" = 0 ]; then
  mkdir -p "$PGDATA" /var/run/postgresql
  chown -R postgres:postgres "$PGDATA" /var/run/postgresql
  chmod 700 "$PGDATA"
  exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" postgres "$@"
fi
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  initdb -D "$PGDATA" -U postgres -A "${POSTGRES_HOST_AUTH_METHOD:-trust}" -E UTF8 --no-locale --no-sync >/dev/null
  printf 'host all all 0.0.0.0/0 %s\nhost all all ::/0 %s\n' "${POSTGRES_HOST_AUTH_METHOD:-trust}" "${POSTGRES_HOST_AUTH_METHOD:-trust}" >> "$PGDATA/pg_hba.conf"
  if [ -n "${POSTGRES_DB:-}" ] && [ "$POSTGRES_DB" != postgres ]; then
    pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start
    createdb -U postgres "$POSTGRES_DB"
    pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
  fi
fi
exec postgres -D "$PGDATA" -c listen_addresses='*' "$@"
