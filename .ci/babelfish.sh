# Throw-away Babelfish for PostgreSQL (TDS + T-SQL) on 127.0.0.1, the SQL Server the tests run against (sourced by
# .ci/run; usable by hand as root: `source .ci/babelfish.sh; start_babelfish`). Babelfish comes from ../shared/babelfish
# (read-only); it is unpacked and its data kept under /tmp. It is not Microsoft SQL Server: README, "SQL Server".
BBF_SHARED="${BBF_SHARED:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/../shared/babelfish}"
BBF_PORT="${BBF_PORT:-14330}" # the first free port from here on
BBF_DIR="${BBF_DIR:-}"          # default: a fresh /tmp/tvphone-bbf.XXXXXX, so that runs side by side never share one
BBF_DB="${BBF_DB:-tvphone}"

install_babelfish_packages() {
  apt-get install -y -qq --no-install-recommends $(cat "$BBF_SHARED/runtime-packages.txt") >/dev/null
}

BBF_SELF="$(readlink -f "${BASH_SOURCE[0]}")"
bbf_tree() { echo "$BBF_DIR/babelfish-4.3.0-debian12-amd64"; }

# SQL on the PostgreSQL side of the cluster (Unix socket, as the OS user that owns it), one statement an argument
bbf_psql() (
  # shellcheck disable=SC1091
  . "$BBF_DIR/data/babelfish.env"
  local owner; owner="$(stat -c %U "$BBF_DIR/data")"
  local run=(); [ "$(id -u)" -eq 0 ] && run=(runuser -u "$owner" --)
  local cmds=(); for c in "$@"; do cmds+=(-c "$c"); done
  "${run[@]}" "$(bbf_tree)/bin/psql" -X -q -v ON_ERROR_STOP=1 -h "$SOCKDIR" -p "$PGPORT" -U postgres -d babelfish_db "${cmds[@]}" >/dev/null
)

start_babelfish() {
  [ -n "$BBF_DIR" ] || BBF_DIR="$(mktemp -d /tmp/tvphone-bbf.XXXXXX)"
  [ -z "$(ls -A "$BBF_DIR" 2>/dev/null)" ] || { echo "start_babelfish: $BBF_DIR is not empty" >&2; return 1; }
  mkdir -p "$BBF_DIR"
  chmod 755 "$BBF_DIR" # as root the server runs as user `babelfish`: it must reach the tree and the data dir's parent
  while (exec 3<>"/dev/tcp/127.0.0.1/$BBF_PORT") 2>/dev/null; do BBF_PORT=$((BBF_PORT + 1)); done
  local tree; tree="$(bbf_tree)"
  tar -xJf "$BBF_SHARED/babelfish-4.3.0-debian12-amd64.tar.xz" -C "$BBF_DIR"
  # no user database at initialisation: the script's cluster is in single-db mode, which allows only one, and the
  # tests create one per server; switch to multi-db before any exists (it cannot change once one does)
  BABELFISH_DB=master "$tree/babelfish.sh" start "$BBF_DIR/data" "$BBF_PORT" >/dev/null
  bbf_psql "ALTER DATABASE babelfish_db SET babelfishpg_tsql.migration_mode = 'multi-db'"
  # MSSQL_URL names a database of its own (`tvphone`); the tests log in with its credentials to create and drop a fresh
  # database per store and per server (test/helpers/mssql-database.ts)
  bbf_psql "SET client_min_messages = warning" "SET babelfishpg_tsql.sql_dialect = 'tsql'" "CREATE DATABASE [$BBF_DB]"
  local admin; admin="$("$tree/babelfish.sh" url "$BBF_DIR/data")"
  # a pool of 4: each new Babelfish session spends about 0.5 s of CPU on its first statements (README, SQL Server)
  export MSSQL_URL="${admin%/master}/$BBF_DB?poolSize=${BBF_POOL:-4}"
  # how the outage tests stop and start it again (a printf template, as TVPHONE_TEST_PG_CTL)
  export TVPHONE_TEST_MSSQL_CTL="BBF_DIR=$BBF_DIR BBF_PORT=$BBF_PORT bash $BBF_SELF %s"
  echo "babelfish (SQL Server over TDS) on 127.0.0.1:$BBF_PORT" >&2
}

stop_babelfish() {
  [ -n "$BBF_DIR" ] || return 0
  "$(bbf_tree)/babelfish.sh" stop "$BBF_DIR/data" >/dev/null 2>&1 || true
  rm -rf "$BBF_DIR"
}

# Run as a script (the outage tests, through TVPHONE_TEST_MSSQL_CTL): `stop`, or `start` the existing cluster again.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  case "${1:-}" in
    stop) "$(bbf_tree)/babelfish.sh" stop "$BBF_DIR/data" >/dev/null ;;
    start) "$(bbf_tree)/babelfish.sh" start "$BBF_DIR/data" "$BBF_PORT" >/dev/null ;;
    *) echo "usage: $0 start|stop (a cluster started by start_babelfish)" >&2; exit 2 ;;
  esac
fi
