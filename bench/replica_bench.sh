#!/usr/bin/env bash
# A domain's two nodes on SQLite and on PostgreSQL replicas, in one run on
# this machine, printed as one table:
#   sqlite-1       a.example and b.example on SQLite, one sender and one
#                  recipient node;
#   postgresql-1   both domains on PostgreSQL (a schema each), one process of
#                  each node;
#   postgresql-2   the same with two sender replicas of a.example and two
#                  recipient replicas of b.example (the directory and the
#                  bench list both; calls spread round-robin).
# Each run measures (bench/replica_bench.cc) notifications/s into b.example's
# recipient node(s), then a campaign of Submits into a.example's sender
# node(s) and the same messages end to end (delivered by the sender
# replicas' workers from the shared queue, listed in the reader's INBOX),
# with the same notifications, streams and calls in flight every time.
# Starts its own PostgreSQL (tests/pg/pg_server.py) and nodes on loopback
# (TLS), stops everything at the end.
# Everything goes to READERS users of b.example in turn (default 16; with
# one, every commit waits for that one INBOX's row lock).
# Usage: [READERS=N] bench/replica_bench.sh [BUILD_DIR] [-- replica_bench flags, e.g. --n=4000 --submits=2000]
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
# Deadlocks PostgreSQL has detected in the bench's database so far.
deadlocks() { "$psql" -Atc "SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()" "$pg"; }
port() { python3 -c 'import sys; sys.path.insert(0, "tests/e2e"); from world import free_port; print(free_port())'; }

# run LABEL DATABASE REPLICAS: a fresh two-domain world; both domains' stores
# in DATABASE ("" = SQLite, each domain its own files) with REPLICAS sender
# processes of a.example and REPLICAS recipient processes of b.example.
run() {
  local label=$1 db=$2 replicas=$3
  shift 3
  local root=$work/$label
  local extra_a=() extra_b=()
  if [ -n "$db" ]; then
    for d in a b; do
      local schema="bench_${label//[^a-z0-9]/_}_$d"
      "$psql" -q "$pg" -c "CREATE SCHEMA $schema" >/dev/null
      if [ $d = a ]; then extra_a=(--database "$pg?options=-csearch_path%3D$schema")
      else extra_b=(--database "$pg?options=-csearch_path%3D$schema"); fi
    done
  fi
  "$cli" init --root "$root" --domain a.example "${extra_a[@]}" >/dev/null
  "$cli" init --root "$root" --domain b.example "${extra_b[@]}" >/dev/null
  PULLMAIL_PASSWORD=bench "$cli" user add sender@a.example --config "$root/a.example/node.toml" >/dev/null
  local readers=()
  for r in $(seq -f 'reader%02g' 1 "${READERS:-16}"); do
    PULLMAIL_PASSWORD=bench "$cli" user add "$r@b.example" --config "$root/b.example/node.toml" >/dev/null
    readers+=("$r@b.example")
  done
  # [KIND] listen of a node.toml.
  listen_of() { sed -n "/^\[$2\]/,/^\[/s/^listen = \"\(.*\)\"/\1/p" "$1"; }
  local senders recipients
  senders=$(listen_of "$root/a.example/node.toml" sender)
  recipients=$(listen_of "$root/b.example/node.toml" recipient)
  local first_sender=$senders first_recipient=$recipients
  local more_senders=() more_recipients=()
  for _ in $(seq 2 "$replicas"); do
    local l="127.0.0.1:$(port)" m="127.0.0.1:$(port)"
    more_senders+=("$l,$m"); senders="$senders,$l"
    l="127.0.0.1:$(port)" m="127.0.0.1:$(port)"
    more_recipients+=("$l,$m"); recipients="$recipients,$l"
  done
  # Every replica in the directory: a.example's workers deliver to all of
  # b.example's recipient replicas.
  sed -i -e "s/^sender_endpoint = \"$first_sender\"/sender_endpoint = \"$senders\"/" \
         -e "s/^recipient_endpoint = \"$first_recipient\"/recipient_endpoint = \"$recipients\"/" \
         "$root/directory.toml"
  start "$root/a-sender-1" "$build/sender-node/pullmail-sender" --config "$root/a.example/node.toml"
  start "$root/b-recipient-1" "$build/recipient-node/pullmail-recipient" --config "$root/b.example/node.toml"
  local i=2 lm
  for lm in "${more_senders[@]}"; do
    start "$root/a-sender-$i" "$build/sender-node/pullmail-sender" \
      --config "$root/a.example/node.toml" --listen "${lm%,*}" --metrics_listen "${lm#*,}"
    i=$((i + 1))
  done
  i=2
  for lm in "${more_recipients[@]}"; do
    start "$root/b-recipient-$i" "$build/recipient-node/pullmail-recipient" \
      --config "$root/b.example/node.toml" --listen "${lm%,*}" --metrics_listen "${lm#*,}"
    i=$((i + 1))
  done
  local deadlocks_before
  deadlocks_before=$(deadlocks)
  "$build/bench/replica_bench" --from "$root/a.example/node.toml" --to "$root/b.example/node.toml" \
    --reader "$(IFS=,; echo "${readers[*]}")" --endpoint "$recipients" --sender_user sender@a.example \
    --submit_endpoint "$senders" --label "$label" "$@" | tee -a "$work/results"
  [ -z "$db" ] || echo "$label: $(($(deadlocks) - deadlocks_before)) deadlocks detected by PostgreSQL (each waited deadlock_timeout, 1 s, then retried)"
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  pids=()
}

echo "replica_bench $* (READERS=${READERS:-16}): $(nproc) cores shared by every process (nodes, PostgreSQL, load generator)"
echo "uptime before: $(uptime)"
run sqlite-1 "" 1 "$@"
run postgresql-1 "$pg" 1 "$@"
run postgresql-2 "$pg" 2 "$@"
echo "uptime after:  $(uptime)"
echo
# The table, with each figure's ratio to SQLite's and to one PostgreSQL replica's.
awk '
  /^RESULT / { label[++n] = $2; notify[n] = $3; submit[n] = $4; e2e[n] = $5; load[n] = $6 }
  function r(x, base) { return base > 0 ? sprintf("%.2f", x / base) : "-" }
  END {
    name["sqlite-1"] = "SQLite, 1 sender + 1 recipient"
    name["postgresql-1"] = "PostgreSQL, 1 + 1 replica"
    name["postgresql-2"] = "PostgreSQL, 2 + 2 replicas"
    printf "| %-31s | %24s | %18s | %21s | %5s |\n", "configuration", \
           "notifications/s (recip.)", "Submits/s (sender)", "end to end/s", "load"
    printf "| %-31s | %24s | %18s | %21s | %5s |\n", "---", "---", "---", "---", "---"
    for (i = 1; i <= n; i++) {
      printf "| %-31s | %24s | %18s | %21s | %5s |\n", name[label[i]], \
             sprintf("%d (%s)", notify[i], r(notify[i], notify[1])), \
             sprintf("%d (%s)", submit[i], r(submit[i], submit[1])), \
             sprintf("%d (%s)", e2e[i], r(e2e[i], e2e[1])), load[i]
    }
    if (n == 3) {
      printf "two replicas / one (PostgreSQL): notifications %s, Submits %s, end to end %s\n", \
             r(notify[3], notify[2]), r(submit[3], submit[2]), r(e2e[3], e2e[2])
    }
    print "(in brackets: the ratio to SQLite; load: 1-minute load average at the end of the run)"
  }' "$work/results"
