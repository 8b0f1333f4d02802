#!/usr/bin/env bash
# The README's main command: installs what is missing, builds, and runs the
# loopback federation demo (`pullmail demo`).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
build=${PULLMAIL_BUILD_DIR:-build}
exec "$build/cli/pullmail" demo "$@"
