#!/usr/bin/env bash
# Install what the local stack and the tests need: .venv from the pinned requirements,
# firebase-tools (the Auth emulator) and the web app's packages from their committed locks,
# then build the web app (hosting/dist). Safe to run again.
# --test-services: also make sure of the system tools the tests run: redis-server, Chromium,
# and shellcheck (installed with apt-get when missing, as root), gcloud with its Firestore
# emulator, and java.
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

# npm ci in a folder whenever its package-lock.json changed.
# --ignore-scripts: no package here needs one (firebase-tools' only script builds re2, unused by
# the Auth emulator, from source for minutes).
npm_ci() {
  local dir=$1 lock_sum
  lock_sum=$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)
  if [ "$(cat "$dir/node_modules/.lock.sha256" 2>/dev/null)" != "$lock_sum" ]; then
    echo "setup: npm ci in $dir"
    (cd "$dir" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
    echo "$lock_sum" > "$dir/node_modules/.lock.sha256"
  fi
}
npm_ci .
npm_ci hosting
(cd hosting && npm run --silent build -- --logLevel warn)

if [ "$test_services" = true ]; then
  missing=()
  command -v redis-server >/dev/null || missing+=(redis-server)
  command -v chromium >/dev/null || missing+=(chromium)
  command -v shellcheck >/dev/null || missing+=(shellcheck)
  if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
      echo "setup: missing ${missing[*]}: run 'sudo apt-get install ${missing[*]}'" >&2
      exit 1
    fi
    echo "setup: installing ${missing[*]} with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
  command -v gcloud >/dev/null || {
    echo "setup: gcloud is missing: install the Google Cloud CLI (google-cloud-cli and" \
      "google-cloud-cli-firestore-emulator)" >&2; exit 1; }
  command -v java >/dev/null || {
    echo "setup: java is missing: install a Java 17+ runtime for the Firestore emulator" >&2
    exit 1; }
fi
