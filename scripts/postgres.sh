#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for payhub's tests and benchmarks.
#
#   scripts/postgres.sh start    start (initdb on first use); prints the URL. Idempotent.
#   scripts/postgres.sh stop     stop it (fast shutdown); no-op when not running
#   scripts/postgres.sh crash    stop it the way a power cut would (immediate: no checkpoint,
#                                crash recovery on the next start); for the crash proofs
#   scripts/postgres.sh status   prints the URL and exits 0 when running, exits 3 when not
#   scripts/postgres.sh url      prints postgresql+psycopg://USER@127.0.0.1:PORT/payhub_test
#
# Layout (var/ is git-ignored):
#   var/pg/data            data directory (fsync on: benchmarks measure durable commits)
#   var/pg/run             unix socket directory
#   var/pg/postgres.log    server log
# Listens on 127.0.0.1 only, trust auth, superuser role $PAYHUB_TEST_PG_USER (payhub),
# database payhub_test.
#
# Environment:
#   PAYHUB_TEST_PG_PORT    TCP port (default 54329)
#   PAYHUB_TEST_PG_DIR     cluster directory instead of var/pg (a private cluster, say the
#                          crash proof's, which must never stop the one other tests use)
#   PAYHUB_TEST_PG_USER    role name (default payhub)
#   PAYHUB_PG_BINDIR       directory holding initdb/pg_ctl/postgres (default: found)
#
# PostgreSQL refuses to run as root. When run as root, the cluster belongs to the
# `postgres` system user (created by Debian's postgresql package) and initdb/pg_ctl
# run through `runuser -u postgres --`. If that user cannot reach var/pg (the clone
# lives under a private directory such as /root), the cluster goes to
# /var/tmp/payhub-pg-<hash> and var/pg becomes a symlink to it.
#
# Exit codes: 0 ok, 1 failure, 3 not running (status), 69 server binaries missing
# (install with: scripts/bootstrap.sh --postgres).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PORT="${PAYHUB_TEST_PG_PORT:-54329}"
PGUSER_NAME="${PAYHUB_TEST_PG_USER:-payhub}"
DBNAME="payhub_test"
RUN_AS="postgres"   # system user owning the cluster when we are root

say() { printf '[postgres] %s\n' "$*" >&2; }
die() { say "ERROR: $1"; exit "${2:-1}"; }

usage() { sed -n '2,30p' "$0" | sed 's/^# \{0,1\}//'; }

# ---------------------------------------------------------------- binaries
find_bindir() {
  local d
  if [ -n "${PAYHUB_PG_BINDIR:-}" ]; then
    d="$PAYHUB_PG_BINDIR"
    [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && [ -x "$d/postgres" ] || return 1
    printf '%s\n' "$d"; return 0
  fi
  if command -v pg_config >/dev/null 2>&1; then
    d="$(pg_config --bindir 2>/dev/null || true)"
    if [ -n "$d" ] && [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && [ -x "$d/postgres" ]; then
      printf '%s\n' "$d"; return 0
    fi
  fi
  # Highest installed major version wins.
  for d in $(printf '%s\n' /usr/lib/postgresql/*/bin | sort -t/ -k5,5V -r); do
    if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && [ -x "$d/postgres" ]; then
      printf '%s\n' "$d"; return 0
    fi
  done
  return 1
}

# ---------------------------------------------------------------- location
is_root() { [ "$(id -u)" -eq 0 ]; }

# Run a command as the cluster owner (ourselves, or `postgres` when we are root).
as_owner() {
  if is_root; then
    (cd / && runuser -u "$RUN_AS" -- "$@")
  else
    "$@"
  fi
}

resolve_base() {  # resolve_base <may-relocate: 0|1>
  local link="${PAYHUB_TEST_PG_DIR:-$ROOT/var/pg}"
  if [ -L "$link" ]; then
    BASE="$(readlink -f "$link")"
    return
  fi
  BASE="$link"
  if [ "$1" -eq 1 ] && is_root; then
    id -u "$RUN_AS" >/dev/null 2>&1 \
      || die "user '$RUN_AS' does not exist (it comes with Debian's postgresql package)"
    mkdir -p "$ROOT/var"
    local sock="$BASE/run/.s.PGSQL.$PORT"
    if ! runuser -u "$RUN_AS" -- test -x "$ROOT/var" || [ "${#sock}" -gt 100 ]; then
      if [ -d "$link" ] && [ -n "$(ls -A "$link" 2>/dev/null)" ]; then
        die "$link exists but user '$RUN_AS' cannot reach it; remove it and retry"
      fi
      local hash
      hash="$(printf '%s' "${PAYHUB_TEST_PG_DIR:-$ROOT}" | sha1sum | cut -c1-12)"
      BASE="/var/tmp/payhub-pg-$hash"
      say "user '$RUN_AS' cannot reach $ROOT/var; using $BASE (var/pg links to it)"
      mkdir -p "$BASE"
      rmdir "$link" 2>/dev/null || true
      ln -sfn "$BASE" "$link"
    fi
  fi
}

setup_paths() {
  resolve_base "$1"
  DATA="$BASE/data"
  SOCKDIR="$BASE/run"
  LOG="$BASE/postgres.log"
}

url() { printf 'postgresql+psycopg://%s@127.0.0.1:%s/%s\n' "$PGUSER_NAME" "$(running_port)" "$DBNAME"; }

# Port of the running server (from postmaster.pid), else the configured one.
running_port() {
  local p=""
  if [ -r "$DATA/postmaster.pid" ]; then
    p="$(sed -n '4p' "$DATA/postmaster.pid" 2>/dev/null || true)"
  fi
  printf '%s\n' "${p:-$PORT}"
}

# A server killed with its session leaves postmaster.pid and a socket lock behind; on a
# later machine that PID may belong to another process, and PostgreSQL would refuse to
# start. Drop them when the PID is not a live postgres.
clear_stale_pid() {
  local pid
  [ -f "$DATA/postmaster.pid" ] || return 0
  pid="$(head -n 1 "$DATA/postmaster.pid" 2>/dev/null || true)"
  if [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null || true)" = postgres ]; then
    return 0
  fi
  say "removing stale postmaster.pid (PID ${pid:-?} is not a running postgres)"
  rm -f "$DATA/postmaster.pid" "$SOCKDIR"/.s.PGSQL.*
}

is_running() {
  [ -f "$DATA/PG_VERSION" ] && as_owner "$BINDIR/pg_ctl" status -D "$DATA" >/dev/null 2>&1
}

# ---------------------------------------------------------------- commands
init_cluster() {
  say "initdb in $DATA (superuser '$PGUSER_NAME', trust auth)"
  mkdir -p "$BASE"
  if is_root; then chown "$RUN_AS": "$BASE"; fi
  chmod 0700 "$BASE"
  as_owner mkdir -p "$SOCKDIR"
  as_owner "$BINDIR/initdb" -D "$DATA" -U "$PGUSER_NAME" --auth=trust \
    --encoding=UTF8 --locale=C >"$BASE/initdb.log" 2>&1 \
    || { cat "$BASE/initdb.log" >&2; die "initdb failed (log: $BASE/initdb.log)"; }
  as_owner tee -a "$DATA/postgresql.conf" >/dev/null <<EOF

# --- payhub test cluster (scripts/postgres.sh) ---
listen_addresses = '127.0.0.1'
fsync = on
synchronous_commit = on
max_connections = 200
log_line_prefix = '%m [%p] %q%u@%d '
EOF
}

port_taken() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

start() {
  if is_running; then
    say "already running (data $DATA)"
    url
    return 0
  fi
  if [ ! -f "$DATA/PG_VERSION" ]; then
    init_cluster
  fi
  if is_root; then
    # A previous run (or a copy) may have left files owned by someone else.
    if [ "$(stat -c %U "$DATA")" != "$RUN_AS" ]; then chown -R "$RUN_AS": "$BASE"; fi
  fi
  as_owner mkdir -p "$SOCKDIR"
  if port_taken "$PORT"; then
    if [ -n "${PAYHUB_TEST_PG_PORT:-}" ]; then
      die "port $PORT on 127.0.0.1 is taken by another process; set PAYHUB_TEST_PG_PORT"
    fi
    # The default port is busy (another checkout's cluster, say): take the next free one.
    # `url` reads the port back from postmaster.pid, so callers need not know.
    local candidate
    for candidate in $(seq $((PORT + 1)) $((PORT + 50))); do
      if ! port_taken "$candidate"; then PORT="$candidate"; break; fi
    done
    if port_taken "$PORT"; then die "no free port in $PORT..$((PORT + 50)); set PAYHUB_TEST_PG_PORT"; fi
  fi
  say "starting on 127.0.0.1:$PORT (log: $LOG)"
  if ! as_owner "$BINDIR/pg_ctl" start -D "$DATA" -l "$LOG" -w -t 60 \
      -o "-p $PORT -k $SOCKDIR" >/dev/null 9>&-; then   # the server must not inherit the lock
    tail -n 30 "$LOG" >&2 || true
    die "pg_ctl start failed (log: $LOG)"
  fi
  local psql=("$BINDIR/psql" -X -q -h "$SOCKDIR" -p "$PORT" -U "$PGUSER_NAME" -d postgres -v ON_ERROR_STOP=1)
  if [ "$(as_owner "${psql[@]}" -tAc "select 1 from pg_database where datname = '$DBNAME'")" != "1" ]; then
    say "creating database $DBNAME"
    as_owner "${psql[@]}" -c "create database $DBNAME"
  fi
  url
}

stop() {
  if is_running; then
    say "stopping (data $DATA)"
    as_owner "$BINDIR/pg_ctl" stop -D "$DATA" -m fast -w -t 60 >/dev/null
  else
    say "not running"
  fi
}

crash() {
  if is_running; then
    say "immediate stop (data $DATA)"
    as_owner "$BINDIR/pg_ctl" stop -D "$DATA" -m immediate -w -t 60 >/dev/null
  else
    say "not running"
  fi
}

status() {
  if is_running; then
    say "running on 127.0.0.1:$(running_port) (data $DATA, log $LOG)"
    url
  else
    say "not running (data $DATA)"
    return 3
  fi
}

cmd="${1:-}"
case "$cmd" in
  start|stop|crash|status|url) ;;
  -h|--help|help) usage; exit 0 ;;
  *) usage >&2; exit 1 ;;
esac

if [ "$cmd" = url ]; then   # needs no binaries: the port of the running server, or the configured one
  setup_paths 0
  url
  exit 0
fi
BINDIR="$(find_bindir)" \
  || die "PostgreSQL server binaries not found (initdb, pg_ctl, postgres); run: scripts/bootstrap.sh --postgres" 69
if [ "$cmd" = start ]; then setup_paths 1; else setup_paths 0; fi
clear_stale_pid

# Serialize concurrent start/stop (e.g. parallel test workers) on a lock file.
if [ "$cmd" = start ] || [ "$cmd" = stop ] || [ "$cmd" = crash ]; then
  mkdir -p "$ROOT/var"
  exec 9>"$ROOT/var/.pg.lock"
  flock 9
fi

case "$cmd" in
  start) start ;;
  stop) stop ;;
  crash) crash ;;
  status) status ;;
esac
