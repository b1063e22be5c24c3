#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the test suite.
#   scripts/test-postgres.sh start DIR   -> prints the SQLAlchemy URL of a fresh cluster in DIR
#   scripts/test-postgres.sh stop DIR    -> stops it and removes DIR
# Installs Debian's postgresql package when no server binaries are present (needs root).
set -euo pipefail

action=${1:?start|stop}
dir=${2:?directory}

pg_bin() {
  ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1
}

run_as_postgres() {
  if [ "$(id -u)" = 0 ]; then su postgres -s /bin/sh -c "$1"; else sh -c "$1"; fi
}

case "$action" in
start)
  if [ -z "$(pg_bin)" ] || [ ! -x "$(pg_bin)/initdb" ]; then
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  fi
  bin=$(pg_bin)
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  mkdir -p "$dir"
  if [ "$(id -u)" = 0 ]; then chown postgres:postgres "$dir"; fi
  if ! run_as_postgres "test -w '$dir'"; then
    echo "the postgres user cannot write $dir: is a parent directory private (mode 0700)?" >&2
    exit 1
  fi
  run_as_postgres "$bin/initdb -D $dir/data -A trust -U postgres" >/dev/null
  run_as_postgres "$bin/pg_ctl -D $dir/data -l $dir/pg.log -w start -o '-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300'" >/dev/null
  psql -h 127.0.0.1 -p "$port" -U postgres -qc 'create database dockyard_test' >/dev/null
  echo "postgresql+psycopg://postgres@127.0.0.1:$port/dockyard_test"
  ;;
stop)
  bin=$(pg_bin)
  if [ -d "$dir/data" ]; then
    run_as_postgres "$bin/pg_ctl -D $dir/data -m immediate stop" >/dev/null 2>&1 || true
  fi
  rm -rf "$dir"
  ;;
*)
  echo "usage: $0 start|stop DIR" >&2
  exit 2
  ;;
esac
