#!/usr/bin/env bash
# The README's test command: installs what is missing, builds, and runs every
# test (unit, end-to-end, interop, scenario) through ctest; then core's unit
# tests again under AddressSanitizer + UndefinedBehaviorSanitizer, and each
# libFuzzer target of fuzz/ briefly (SECURITY.md). Each of the three builds
# has its own directory. Any failure fails the whole command.
# Env: PULLMAIL_BUILD_DIR (build), PULLMAIL_ASAN_BUILD_DIR (build-asan),
#      PULLMAIL_FUZZ_BUILD_DIR (build-fuzz), PULLMAIL_CI_FUZZ_SECONDS (30 per
#      target; 0 skips the fuzz stage), PULLMAIL_SKIP_SANITIZE=1 skips the
#      sanitizer stage.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
build=${PULLMAIL_BUILD_DIR:-build}
ctest --test-dir "$build" --output-on-failure -j "${PULLMAIL_TEST_JOBS:-2}" --timeout 600

# Core's unit tests under ASan + UBSan (-DPULLMAIL_SANITIZE=ON; a finding
# aborts the test). Only core and its tests are built: the programs and the
# e2e suites are not.
if [ "${PULLMAIL_SKIP_SANITIZE:-0}" != 1 ]; then
  asan=${PULLMAIL_ASAN_BUILD_DIR:-build-asan}
  core_tests=()
  for dir in core/*/; do
    if compgen -G "${dir}*_test.cc" >/dev/null; then
      core_tests+=("core_$(basename "$dir")_test")
    fi
  done
  echo "test: core unit tests under ASan+UBSan (${asan}): ${core_tests[*]}"
  cmake -S . -B "$asan" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPULLMAIL_SANITIZE=ON >/dev/null
  cmake --build "$asan" -j "${PULLMAIL_JOBS:-$(nproc)}" --target "${core_tests[@]}"
  # ctest in the core/ subdirectory runs exactly the tests registered there.
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir "$asan/core" --output-on-failure -j "${PULLMAIL_TEST_JOBS:-2}" --timeout 600
fi

# Every fuzz target for a short while (scripts/fuzz.sh; a crash, leak,
# sanitizer report or a single input running over a minute fails).
fuzz_seconds=${PULLMAIL_CI_FUZZ_SECONDS:-30}
if [ "$fuzz_seconds" != 0 ]; then
  scripts/fuzz.sh "$fuzz_seconds"
fi
