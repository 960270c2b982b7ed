#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the test suite, on 127.0.0.1 only.
#
#   scripts/pg.sh start    initialise (first time) and start; print the database URL
#   scripts/pg.sh url      print the database URL of the running cluster
#   scripts/pg.sh status   exit 0 when the cluster runs
#   scripts/pg.sh stop     stop the cluster and delete its data
#
# Uses Debian's server binaries (/usr/lib/postgresql/<version>/bin). Run as root, the cluster
# belongs to the `postgres` OS user (the server refuses to run as root); run as anyone else,
# it belongs to that user. Settings: BUSANCHAIN_PG_PORT (default 25432: below Linux's ephemeral
# range, 32768-60999, from which the tests' free ports come), BUSANCHAIN_PG_DIR
# (default /tmp/busanchain-pg-<uid>-<port>).
set -euo pipefail

PORT=${BUSANCHAIN_PG_PORT:-25432}
BASE=${BUSANCHAIN_PG_DIR:-/tmp/busanchain-pg-$(id -u)-$PORT}
DATA=$BASE/data
PASSWORD_FILE=$BASE/password
ROLE=busanchain
DATABASE=busanchain_test

die() { echo "pg.sh: $*" >&2; exit 1; }

pg_bin() {
  local dir
  dir=$(compgen -G '/usr/lib/postgresql/*/bin' | sort -V | tail -n 1 || true)
  [ -n "$dir" ] && [ -x "$dir/pg_ctl" ] \
    || die "PostgreSQL server binaries not found; install the Debian package: apt-get install -y postgresql"
  echo "$dir"
}

# Run a command as the cluster's owner.
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    id postgres >/dev/null 2>&1 || die "the postgres OS user is missing (apt-get install -y postgresql)"
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

is_running() {
  [ -f "$DATA/PG_VERSION" ] && as_owner "$BIN/pg_ctl" status -D "$DATA" >/dev/null 2>&1
}

url() {
  [ -r "$PASSWORD_FILE" ] || die "no cluster at $BASE; run: scripts/pg.sh start"
  echo "postgresql://$ROLE:$(cat "$PASSWORD_FILE")@127.0.0.1:$PORT/$DATABASE"
}

sql() {  # superuser SQL over the cluster's private Unix socket
  as_owner "$BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$DATA" -p "$PORT" -U postgres -d postgres -tA -c "$1"
}

init_cluster() {
  rm -rf "$BASE"
  mkdir -p "$BASE"
  chmod 0711 "$BASE"  # the owner may traverse to its data dir; nobody else may list it
  mkdir "$DATA"
  [ "$(id -u)" -eq 0 ] && chown postgres: "$DATA"
  chmod 0700 "$DATA"
  (umask 077 && od -An -N16 -tx1 /dev/urandom | tr -d ' \n' >"$PASSWORD_FILE")
  as_owner "$BIN/initdb" -D "$DATA" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
    -E UTF8 --locale=C.UTF-8 >"$BASE/initdb.log" 2>&1 \
    || { cat "$BASE/initdb.log" >&2; die "initdb failed"; }
}

start() {
  if is_running; then url; return; fi
  [ -f "$DATA/PG_VERSION" ] && [ -r "$PASSWORD_FILE" ] || init_cluster
  # listen on loopback TCP only; the Unix socket lives in the data dir (owner only)
  as_owner "$BIN/pg_ctl" start -w -t 60 -D "$DATA" -l "$DATA/server.log" \
    -o "-c listen_addresses=127.0.0.1 -p $PORT -c unix_socket_directories=$DATA -c fsync=on -c max_connections=200" \
    >/dev/null || { tail -n 20 "$DATA/server.log" >&2 || true; die "the server did not start (port $PORT in use?)"; }
  local password
  password=$(cat "$PASSWORD_FILE")
  if [ -z "$(sql "SELECT 1 FROM pg_roles WHERE rolname = '$ROLE'")" ]; then
    sql "CREATE ROLE $ROLE LOGIN PASSWORD '$password'"
  fi
  if [ -z "$(sql "SELECT 1 FROM pg_database WHERE datname = '$DATABASE'")" ]; then
    sql "CREATE DATABASE $DATABASE OWNER $ROLE"
  fi
  url
}

stop() {
  if is_running; then
    as_owner "$BIN/pg_ctl" stop -w -m fast -D "$DATA" >/dev/null
  fi
  rm -rf "$BASE"
}

cd /  # the postgres user may not be able to enter the caller's directory
BIN=$(pg_bin)
case "${1:-}" in
  start) start ;;
  stop) stop ;;
  url) is_running || die "not running; run: scripts/pg.sh start"; url ;;
  status) is_running ;;
  *) die "usage: scripts/pg.sh start|stop|url|status" ;;
esac
