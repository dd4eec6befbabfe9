#!/usr/bin/env bash
# Install what the local stack and the tests need: .venv from the pinned requirements,
# firebase-tools (the Auth emulator) and the web app's packages from their committed locks,
# then build the web app (hosting/dist). Safe to run again. Needs Python 3.11+ (PYTHON picks
# one) and Node.js 20.19+ or 22.12+ (Vite 8) with npm, and says so in one line if they are not.
# --test-services[=LIST]: also make sure of the system tools the tests run. LIST names some of
# redis-server, chromium, shellcheck, gcloud, firestore-emulator (gcloud's Firestore emulator
# component and Java 17+); all of them by default. Run as root, it installs the first three with
# apt-get when missing; the others it only checks (README "Prerequisites" says how to get them).
set -euo pipefail
cd "$(dirname "$0")/.."

ALL_SERVICES=redis-server,chromium,shellcheck,gcloud,firestore-emulator
services=
for arg in "$@"; do
  case "$arg" in
    --test-services) services=$ALL_SERVICES ;;
    --test-services=*) services=${arg#*=} ;;
    *) echo "setup: unknown argument $arg (usage: $0 [--test-services[=LIST]])" >&2; exit 2 ;;
  esac
done
fail() { echo "setup: $*; see README, Prerequisites" >&2; exit 1; }
need() { [[ ",$services," == *",$1,"* ]]; }
for service in ${services//,/ }; do
  [[ ",$ALL_SERVICES," == *",$service,"* ]] ||
    { echo "setup: unknown test service $service (known: $ALL_SERVICES)" >&2; exit 2; }
done
# sha256sum (Linux) or shasum (macOS)
sha256() { if command -v sha256sum >/dev/null; then sha256sum "$@"; else shasum -a 256 "$@"; fi; }

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  fail "Node.js 20.19+ with npm is needed and not on PATH"
fi
node_version=$(node --version)
IFS=. read -r node_major node_minor _ <<< "${node_version#v}"
if ! { [ "$node_major" -eq 20 ] && [ "$node_minor" -ge 19 ]; } &&
   ! { [ "$node_major" -eq 22 ] && [ "$node_minor" -ge 12 ]; } && [ "$node_major" -lt 23 ]; then
  fail "Node.js $node_version is too old: Vite 8 needs 20.19+ or 22.12+"
fi

python_bin=${PYTHON:-$(command -v python3.11 || command -v python3 || true)}
if [ ! -x .venv/bin/python ]; then
  if [ -z "$python_bin" ] ||
     ! "$python_bin" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    fail "Python 3.11+ is needed (found: ${python_bin:-none}; PYTHON=/path/to/python3.x picks one)"
  fi
  echo "setup: creating .venv with $python_bin"
  "$python_bin" -m venv .venv
fi

req_sum=$(cat requirements.txt functions/*/requirements.txt | sha256 | cut -d' ' -f1)
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
  lock_sum=$(sha256 "$dir/package-lock.json" | cut -d' ' -f1)
  if [ "$(cat "$dir/node_modules/.lock.sha256" 2>/dev/null)" != "$lock_sum" ]; then
    echo "setup: npm ci in $dir"
    (cd "$dir" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
    echo "$lock_sum" > "$dir/node_modules/.lock.sha256"
  fi
}
npm_ci .
npm_ci hosting
(cd hosting && npm run --silent build -- --logLevel warn)

[ -n "$services" ] || exit 0
# Debian packages, installed as root; the Chromium may also be CHROMIUM or another on PATH.
missing=()
if need redis-server && ! command -v redis-server >/dev/null; then missing+=(redis-server); fi
if need shellcheck && ! command -v shellcheck >/dev/null; then missing+=(shellcheck); fi
if need chromium && ! .venv/bin/python devtools/chromium.py >/dev/null 2>&1; then
  [ -z "${CHROMIUM:-}" ] || fail "$(.venv/bin/python devtools/chromium.py 2>&1)"
  missing+=(chromium)
fi
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
    fail "missing ${missing[*]} (Debian, as root: apt-get install ${missing[*]})"
  fi
  echo "setup: installing ${missing[*]} with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if need gcloud || need firestore-emulator; then
  command -v gcloud >/dev/null || fail "gcloud is missing: install the Google Cloud CLI"
fi
if need firestore-emulator; then
  sdk=$(dirname "$(dirname "$(readlink -f "$(command -v gcloud)")")")
  [ -d "$sdk/platform/cloud-firestore-emulator" ] ||
    fail "gcloud's Firestore emulator is missing: install google-cloud-cli-firestore-emulator" \
      "(apt) or run 'gcloud components install cloud-firestore-emulator'"
  command -v java >/dev/null || fail "java is missing: the Firestore emulator needs Java 17+"
  java_major=$(java -version 2>&1 | sed -nE '1s/.*version "([0-9]+).*/\1/p')
  [ "${java_major:-0}" -ge 17 ] ||
    fail "the Firestore emulator needs Java 17+, and java is $(java -version 2>&1 | head -n1)"
fi
