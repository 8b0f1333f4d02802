#!/usr/bin/env bash
# The README's test command: installs what is missing, builds, and runs every
# test (unit, end-to-end, interop, scenario) through ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
build=${PULLMAIL_BUILD_DIR:-build}
ctest --test-dir "$build" --output-on-failure -j "${PULLMAIL_TEST_JOBS:-2}" --timeout 600
