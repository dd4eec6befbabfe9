#!/usr/bin/env bash
# Install what the local stack and the tests need: .venv from the pinned requirements and
# firebase-tools (the Auth emulator) from the committed package lock. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

python_bin=${PYTHON:-$(command -v python3.11 || command -v python3)}
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv with $python_bin"
  "$python_bin" -m venv .venv
fi

req_sum=$(cat requirements.txt functions/*/requirements.txt | sha256sum | cut -d' ' -f1)
if [ "$(cat .venv/.requirements.sha256 2>/dev/null)" != "$req_sum" ]; then
  echo "setup: installing pinned Python requirements"
  .venv/bin/python -m pip install --quiet --quiet --disable-pip-version-check -r requirements.txt
  echo "$req_sum" > .venv/.requirements.sha256
fi

lock_sum=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ "$(cat node_modules/.lock.sha256 2>/dev/null)" != "$lock_sum" ]; then
  echo "setup: installing firebase-tools from package-lock.json"
  # --ignore-scripts: the only install script builds re2 (unused by the Auth emulator) for minutes
  npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
  echo "$lock_sum" > node_modules/.lock.sha256
fi
