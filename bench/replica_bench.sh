#!/usr/bin/env bash
# Notifications/s into a domain's recipient node: on SQLite (one process), on
# PostgreSQL with one replica, and on PostgreSQL with two replicas (the
# streams spread round-robin over them), in one run on this machine, with
# the same sender, the same number of notifications and the same number of
# concurrent NotifyStreams. Starts its own PostgreSQL (tests/pg/pg_server.py)
# and nodes on loopback (TLS), stops everything at the end.
# Usage: bench/replica_bench.sh [BUILD_DIR] [-- replica_bench flags, e.g. --n=20000]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
shift || true
[ "${1:-}" = "--" ] && shift
cli=$build/cli/pullmail
work=$(mktemp -d /tmp/pullmail-replica-bench.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  python3 tests/pg/pg_server.py stop "$work/pg" >/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

python3 tests/pg/pg_server.py start "$work/pg" >/dev/null
[ -f "$work/pg/url" ] || { echo "replica_bench: $(cat "$work/pg/skip")" >&2; exit 1; }
pg=$(cat "$work/pg/url")
psql=/usr/lib/postgresql/15/bin/psql

start() {  # log program args...
  local log=$1; shift
  PULLMAIL_LOG_LEVEL=warning "$@" >"$log.out" 2>"$log.err" &
  pids+=($!)
  for _ in $(seq 1 200); do
    grep -q '^READY' "$log.out" 2>/dev/null && return 0
    sleep 0.05
  done
  echo "node did not start: $(tail -3 "$log.err")" >&2
  exit 1
}
port() { python3 -c 'import sys; sys.path.insert(0, "tests/e2e"); from world import free_port; print(free_port())'; }

# run LABEL DATABASE REPLICAS: a fresh two-domain world; b.example's stores in
# DATABASE ("" = SQLite) with REPLICAS recipient processes.
run() {
  local label=$1 db=$2 replicas=$3
  shift 3
  local root=$work/$label
  local extra=()
  if [ -n "$db" ]; then
    local schema="bench_${label//[^a-z0-9]/_}"
    "$psql" -q "$pg" -c "CREATE SCHEMA $schema" >/dev/null
    extra=(--database "$pg?options=-csearch_path%3D$schema")
  fi
  "$cli" init --root "$root" --domain a.example >/dev/null
  "$cli" init --root "$root" --domain b.example "${extra[@]}" >/dev/null
  PULLMAIL_PASSWORD=bench "$cli" user add reader@b.example --config "$root/b.example/node.toml" >/dev/null
  start "$root/a-sender" "$build/sender-node/pullmail-sender" --config "$root/a.example/node.toml"
  local endpoints
  endpoints=$(sed -n '/^\[recipient\]/,/^\[/s/^listen = "\(.*\)"/\1/p' "$root/b.example/node.toml")
  start "$root/b-recipient-1" "$build/recipient-node/pullmail-recipient" --config "$root/b.example/node.toml"
  for i in $(seq 2 "$replicas"); do
    local l="127.0.0.1:$(port)" m="127.0.0.1:$(port)"
    start "$root/b-recipient-$i" "$build/recipient-node/pullmail-recipient" \
      --config "$root/b.example/node.toml" --listen "$l" --metrics_listen "$m"
    endpoints="$endpoints,$l"
  done
  "$build/bench/replica_bench" --from "$root/a.example/node.toml" --to "$root/b.example/node.toml" \
    --reader reader@b.example --endpoint "$endpoints" --label "$label" "$@"
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  pids=()
}

echo "notifications/s into b.example's recipient node(s), $(nproc) cores shared by all processes:"
run sqlite-1 "" 1 "$@"
run postgresql-1 "$pg" 1 "$@"
run postgresql-2 "$pg" 2 "$@"
