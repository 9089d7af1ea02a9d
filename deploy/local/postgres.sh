#!/usr/bin/env bash
# Makes sure a local PostgreSQL answers on 127.0.0.1:5432 and creates a fresh database.
#   deploy/local/postgres.sh ensure            start the Debian cluster if it is down
#   deploy/local/postgres.sh create-db NAME    (re)create database NAME, print its URL
#   deploy/local/postgres.sh drop-db NAME
# Works on Debian/Ubuntu machines with the postgresql package (pg_ctlcluster), as root or postgres.
set -euo pipefail

HOST=${PGHOST:-127.0.0.1}
PORT=${PGPORT:-5432}
ADMIN_USER=${PGUSER:-postgres}

psql_admin() { psql -h "$HOST" -p "$PORT" -U "$ADMIN_USER" -d postgres -v ON_ERROR_STOP=1 -qAt "$@"; }

ensure() {
  if pg_isready -h "$HOST" -p "$PORT" -q; then return 0; fi
  if command -v pg_ctlcluster >/dev/null; then
    version=$(ls /etc/postgresql | sort -V | tail -n1)
    echo "starting PostgreSQL $version (cluster main)" >&2
    pg_ctlcluster --skip-systemctl-redirect "$version" main start
  fi
  for _ in $(seq 1 30); do
    pg_isready -h "$HOST" -p "$PORT" -q && return 0
    sleep 1
  done
  echo "PostgreSQL does not answer on $HOST:$PORT" >&2
  return 1
}

case "${1:-}" in
  ensure) ensure ;;
  create-db)
    name=${2:?database name}
    ensure
    psql_admin -c "DROP DATABASE IF EXISTS \"$name\" WITH (FORCE)" -c "CREATE DATABASE \"$name\""
    echo "postgres://$ADMIN_USER@$HOST:$PORT/$name"
    ;;
  drop-db)
    name=${2:?database name}
    psql_admin -c "DROP DATABASE IF EXISTS \"$name\" WITH (FORCE)"
    ;;
  *)
    echo "usage: $0 ensure | create-db NAME | drop-db NAME" >&2
    exit 2
    ;;
esac
