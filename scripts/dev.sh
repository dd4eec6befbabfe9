#!/usr/bin/env bash
# Quick start 1/2: set up, then serve the local stack (Auth emulator, Gemini stand-in, chat,
# auth and health on fixed ports). A GEMINI_API_KEY in the environment or .env uses real Gemini.
# Chat and auth share one limits store: redis-server if on PATH, else the Firestore emulator
# (gcloud + java), else memory:// (each counts on its own; the stack says so). No install here,
# as that needs root: `sudo apt-get install redis-server` once (setup.sh --test-services, run by
# ./scripts/test.sh, does it as root). RATE_LIMIT_STORAGE in .env or the shell wins.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
exec .venv/bin/python devtools/stack.py "$@"
