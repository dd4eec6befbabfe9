#!/usr/bin/env bash
# Quick start 2/2: set up, then run every test: the web app's (vitest), ruff, and pytest (unit,
# real processes, emulators). This full run needs every system tool of README "Prerequisites".
# Extra arguments go to pytest. Naming test paths runs only those, with only the system tools
# they use: ./scripts/test.sh tests/unit -q needs none of them (no gcloud, Java, redis-server,
# Chromium or shellcheck), and skips vitest and ruff.
set -euo pipefail
cd "$(dirname "$0")/.."

# The system tools (setup.sh --test-services=LIST) that the test paths among "$@" use; all of
# them when no path is named (pytest then runs every test).
services_for() {
  local arg skip=false paths=() tools=""
  for arg in "$@"; do
    if [ "$skip" = true ]; then skip=false; continue; fi
    case "$arg" in
      # pytest options whose value follows: never a path to run (--deselect and --ignore narrow)
      -k|-m|-p|-c|-o|-W|--deselect|--ignore|--ignore-glob|--rootdir|--basetemp|--tb|--maxfail|\
      --timeout|--durations|--confcutdir) skip=true ;;
      -*) ;;
      *) paths+=("${arg%%::*}") ;;
    esac
  done
  [ ${#paths[@]} -gt 0 ] || { echo all; return; }
  for arg in "${paths[@]}"; do
    arg=${arg#./}
    case "${arg%/}/" in
      tests/unit/*|tests/production/*|tests/contract/*) ;;
      tests/ops/*) tools+=",gcloud" ;;
      tests/deploy/*) tools+=",gcloud,shellcheck" ;;
      tests/devtools/*) tools+=",redis-server,gcloud,firestore-emulator" ;;
      tests/integration/browser/*) tools+=",redis-server,chromium" ;;
      tests/integration/*/*) tools+=",redis-server,gcloud,firestore-emulator" ;;
      *) echo all; return ;;  # tests/integration, tests, or anything else: it may hold them all
    esac
  done
  echo "${tools#,}"
}

services=$(services_for "$@")
if [ "$services" = all ]; then
  ./scripts/setup.sh --test-services
  (cd hosting && npm test --silent)
  .venv/bin/ruff check functions devtools scripts tests
elif [ -n "$services" ]; then
  ./scripts/setup.sh --test-services="$services"
else
  ./scripts/setup.sh
fi
exec .venv/bin/python -m pytest "$@"
