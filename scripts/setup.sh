#!/usr/bin/env bash
# Install what the local stack and the tests need: .venv from the pinned requirements and
# firebase-tools (the Auth emulator) from the committed package lock. Safe to run again.
# --test-services: also make sure of the system tools the tests run: redis-server (installed
# with apt-get when missing, as root), gcloud with its Firestore emulator, and java.
set -euo pipefail
cd "$(dirname "$0")/.."

test_services=false
for arg in "$@"; do
  case "$arg" in
    --test-services) test_services=true ;;
    *) echo "setup: unknown argument $arg (usage: $0 [--test-services])" >&2; exit 2 ;;
  esac
done

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

if [ "$test_services" = true ]; then
  if ! command -v redis-server >/dev/null; then
    if [ "$(id -u)" -ne 0 ]; then
      echo "setup: redis-server is missing: run 'sudo apt-get install redis-server'" >&2
      exit 1
    fi
    echo "setup: installing redis-server with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends redis-server >/dev/null
  fi
  command -v gcloud >/dev/null || {
    echo "setup: gcloud is missing: install the Google Cloud CLI (google-cloud-cli and" \
      "google-cloud-cli-firestore-emulator)" >&2; exit 1; }
  command -v java >/dev/null || {
    echo "setup: java is missing: install a Java 17+ runtime for the Firestore emulator" >&2
    exit 1; }
fi
