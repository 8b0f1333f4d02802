#!/usr/bin/env bash
# Configures and builds pullmail into ./build (or $PULLMAIL_BUILD_DIR).
# Extra arguments go to cmake's configure step, e.g. -DPULLMAIL_SANITIZE=ON.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${PULLMAIL_BUILD_DIR:-build}
jobs=${PULLMAIL_JOBS:-$(nproc)}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=${PULLMAIL_BUILD_TYPE:-RelWithDebInfo} "$@" >/dev/null
cmake --build "$build" -j "$jobs"
