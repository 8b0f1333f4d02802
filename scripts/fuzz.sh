#!/usr/bin/env bash
# Builds the libFuzzer targets of fuzz/ with clang (ASan + UBSan + coverage)
# in their own build directory and runs each one, one after the other, for
# SECONDS seconds. The seed corpora are generated from the tests
# (fuzz/seeds.py); what a run finds is kept in $build/fuzz-corpus/<target>
# and grows from run to run. Exits non-zero when any target crashes, leaks,
# times out on one input or trips a sanitizer; the reproducer is then in
# $build/fuzz-artifacts/<target>/ (re-run: $build/fuzz/<target> FILE).
#
# Usage: scripts/fuzz.sh [SECONDS [TARGET...]]      (default: 60 s, all)
# Env:   PULLMAIL_FUZZ_BUILD_DIR (build-fuzz), PULLMAIL_JOBS (2),
#        PULLMAIL_FUZZ_TIMEOUT (60: seconds one input may take),
#        PULLMAIL_FUZZ_SKIP_BUILD=1 (run the binaries already in $build/fuzz)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
build=${PULLMAIL_FUZZ_BUILD_DIR:-build-fuzz}
jobs=${PULLMAIL_JOBS:-2}
timeout=${PULLMAIL_FUZZ_TIMEOUT:-60}

all_targets=(imap_command_fuzz imap_session_fuzz mime_fuzz header_fuzz smtp_fuzz pop3_fuzz envelope_fuzz config_fuzz)
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${all_targets[@]}")

if [ "${PULLMAIL_FUZZ_SKIP_BUILD:-0}" != 1 ]; then
  CC=clang CXX=clang++ cmake -S . -B "$build" -DPULLMAIL_FUZZ=ON \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$build" -j "$jobs" --target "${targets[@]}"
fi

seeds="$build/fuzz-seeds"
rm -rf "$seeds"
python3 fuzz/seeds.py "$seeds" >/dev/null

failed=()
summary=()
for t in "${targets[@]}"; do
  corpus="$build/fuzz-corpus/$t"
  artifacts="$build/fuzz-artifacts/$t/"
  log="$build/fuzz-logs/$t.log"
  mkdir -p "$corpus" "$artifacts" "$(dirname "$log")"
  echo "fuzz: $t for ${seconds}s (log: $log)"
  rc=0
  # The new corpus directory comes first: libFuzzer adds what it finds there.
  "$build/fuzz/$t" "$corpus" "$seeds/$t" -max_total_time="$seconds" -timeout="$timeout" \
    -rss_limit_mb=2560 -max_len=65536 -print_final_stats=1 \
    -artifact_prefix="$artifacts" >"$log" 2>&1 || rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  last=$(grep -E '^#[0-9]+' "$log" | tail -1 || true)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  corp=$(sed -n 's/.* corp: \([0-9]*\/[0-9a-zA-Z]*\).*/\1/p' <<<"$last")
  line=$(printf '%-18s execs %-10s cov %-6s ft %-6s corpus %-12s' "$t" "${execs:-?}" \
    "${cov:-?}" "${ft:-?}" "${corp:-?}")
  if [ "$rc" -ne 0 ]; then
    failed+=("$t")
    line+="  FAILED (exit $rc)"
    echo "fuzz: $t FAILED; the end of its log:" >&2
    tail -n 60 "$log" >&2
  fi
  summary+=("$line")
done

echo "fuzz: summary (${seconds}s per target)"
printf '  %s\n' "${summary[@]}"
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: FAILED: ${failed[*]}" >&2
  exit 1
fi
