#!/usr/bin/env bash
# Builds a two-domain world on loopback with `pullmail init`, starts its four
# nodes (TLS), runs node_bench against them, and stops everything.
# For the sending side it also inits FANOUT (default 100) more domains,
# f001.example ..., whose recipient endpoints node_bench serves itself with a
# verifying sink (no nodes run for them).
# The measured recipient node's process id goes to node_bench
# (--recipient_pid), which prints its CPU time per notification.
# PERF_RECORD=FILE records the measured recipient node with `perf record -g`
# for the whole run (perf report -i FILE afterwards); PERF_FLAGS replaces -g
# (e.g. "-F 300 --call-graph dwarf" where libraries lack frame pointers).
# Usage: [FANOUT=N] [PERF_RECORD=FILE] bench/run_node_bench.sh [BUILD_DIR] [-- node_bench flags,
#        e.g. --n=50000 --reps=5 --modes=stream,batch]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
shift || true
[ "${1:-}" = "--" ] && shift
bin_cli=$build/cli/pullmail
world=$(mktemp -d /tmp/pullmail-bench.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$world"
}
trap cleanup EXIT

for d in a.example b.example; do
  "$bin_cli" init --root "$world" --domain "$d" >/dev/null
done
fanout=()
for i in $(seq -f '%03g' 1 "${FANOUT:-100}"); do
  "$bin_cli" init --root "$world" --domain "f$i.example" >/dev/null
  fanout+=("$world/f$i.example/node.toml")
done
fanout_flag=$(IFS=,; echo "${fanout[*]}")
PULLMAIL_PASSWORD=bench "$bin_cli" user add sender@a.example --config "$world/a.example/node.toml" >/dev/null
PULLMAIL_PASSWORD=bench "$bin_cli" user add reader@b.example --config "$world/b.example/node.toml" >/dev/null

start() {  # program config log
  "$1" --config "$2" >"$3.out" 2>"$3.err" &
  pids+=($!)
  for _ in $(seq 1 100); do
    grep -q '^READY' "$3.out" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "node did not start: $(tail -3 "$3.err")" >&2
  exit 1
}
for d in a.example b.example; do
  PULLMAIL_LOG_LEVEL=warning start "$build/recipient-node/pullmail-recipient" "$world/$d/node.toml" "$world/$d-recipient"
  PULLMAIL_LOG_LEVEL=warning start "$build/sender-node/pullmail-sender" "$world/$d/node.toml" "$world/$d-sender"
done

recipient_pid=${pids[2]}  # b.example's recipient node (started third)
if [ -n "${PERF_RECORD:-}" ]; then
  perf record ${PERF_FLAGS:--g} -o "$PERF_RECORD" -p "$recipient_pid" >/dev/null 2>&1 &
  perf_pid=$!
  pids+=("$perf_pid")
  sleep 0.5
fi
"$build/bench/node_bench" --recipient_pid="$recipient_pid" --from "$world/a.example/node.toml" --to "$world/b.example/node.toml" \
  --sender_user sender@a.example --reader reader@b.example --password bench \
  --fanout="$fanout_flag" "$@"
if [ -n "${PERF_RECORD:-}" ]; then
  kill -INT "$perf_pid"
  wait "$perf_pid" || true
fi
