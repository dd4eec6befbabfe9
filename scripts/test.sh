#!/usr/bin/env bash
# Quick start 2/2: set up, then run every test (unit, real processes, emulators).
# Extra arguments go to pytest, e.g. ./scripts/test.sh tests/unit -q
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh --test-services
(cd hosting && npm test --silent)
.venv/bin/ruff check functions devtools scripts tests
exec .venv/bin/python -m pytest "$@"
