#!/usr/bin/env bash
# Quick start 1/2: set up, then serve the local stack (Auth emulator, Gemini stand-in, chat,
# auth and health on fixed ports). A GEMINI_API_KEY in the environment or .env uses real Gemini.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
exec .venv/bin/python devtools/stack.py "$@"
