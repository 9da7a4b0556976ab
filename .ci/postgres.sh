# Throw-away PostgreSQL cluster on 127.0.0.1 (sourced by .ci/run; usable by hand: `source .ci/postgres.sh; start_postgres`).
PG_PORT="${PG_PORT:-55432}"
PG_DIR="${PG_DIR:-/tmp/tvphone-pg}"

start_postgres() {
  local bin; bin="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)"
  rm -rf "$PG_DIR"; mkdir -p "$PG_DIR"; chown postgres "$PG_DIR"
  su postgres -c "$bin/initdb -D $PG_DIR/data -A trust -U postgres >/dev/null"
  su postgres -c "$bin/pg_ctl -D $PG_DIR/data -l $PG_DIR/log -o '-c listen_addresses=127.0.0.1 -p $PG_PORT -k $PG_DIR -c fsync=on' -w start >/dev/null"
  export TVPHONE_TEST_PG_URL="postgres://postgres@127.0.0.1:$PG_PORT/postgres"
  export TVPHONE_TEST_PG_CTL="su postgres -c '$bin/pg_ctl -D $PG_DIR/data -l $PG_DIR/log -o \"-c listen_addresses=127.0.0.1 -p $PG_PORT -k $PG_DIR\" -w %s'"
  echo "postgres on 127.0.0.1:$PG_PORT" >&2
}

stop_postgres() {
  local bin; bin="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)"
  su postgres -c "$bin/pg_ctl -D $PG_DIR/data -m fast stop" >/dev/null 2>&1 || true
}
