#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Deploy the app to your own Google Cloud / Firebase project:
#   ./deploy.sh [chat|auth|health|hosting|monitoring|all] --project ID [--region R] [--dry-run]
# Each function runs as its own service account with only the roles and the secrets (pinned to
# their current version) it uses; Hosting gets the web app with its CSP narrowed to the chat
# function's origin; monitoring sets up the alerts (and the billing budget). `all` deploys health,
# auth, chat, then hosting, then monitoring once ALERT_EMAIL is set. Settings: deploy.env (copy
# deploy.env.example; DEPLOY_ENV_FILE names another file); flags win over it.
#   ./deploy.sh ci-identity --project ID --repo OWNER/NAME [--region R] [--dry-run]
# makes, once, what the deploy workflow of that GitHub repository needs to deploy without a key
# (Workload Identity Federation and a deployer service account: README, Deploy from GitHub).
# --dry-run prints every command in order, one per line, pasteable, and runs none of them.
# The parts, sourced in this order: scripts/deploy/settings.sh (deploy.env and its checks),
# commands.sh (running, or printing in a dry run), functions.sh (service accounts, secrets, the
# functions), hosting.sh (the web app, its config.json and CSP), monitoring.sh (alerts, budget),
# ci_identity.sh (the deploy from GitHub Actions).
set -euo pipefail
cd "$(dirname "$0")"

PYTHON=.venv/bin/python
FIREBASE=node_modules/.bin/firebase
SECRETS=scripts/manage_secrets.py

usage="usage: ./deploy.sh [chat|auth|health|hosting|monitoring|all] --project ID [--region R]"
usage+=" [--dry-run] | ./deploy.sh ci-identity --project ID --repo OWNER/NAME [--region R]"
usage+=" [--dry-run]"
die() { echo "deploy: $*" >&2; exit 1; }

target=all project="" region_flag="" repo="" dry_run=false
while [ $# -gt 0 ]; do
  case "$1" in
    chat|auth|health|hosting|monitoring|all|ci-identity) target=$1 ;;
    --project|--region|--repo)
      [ $# -ge 2 ] || { echo "deploy: $1 needs a value; $usage" >&2; exit 2; }
      case "$1" in --project) project=$2 ;; --region) region_flag=$2 ;; *) repo=$2 ;; esac; shift ;;
    --repo=*) repo=${1#*=} ;;
    --project=*) project=${1#*=} ;;
    --region=*) region_flag=${1#*=} ;;
    --dry-run) dry_run=true ;;
    -h|--help) echo "$usage"; exit 0 ;;
    *) echo "deploy: unknown argument $1; $usage" >&2; exit 2 ;;
  esac
  shift
done
[ -n "$project" ] || { echo "deploy: --project is required; $usage" >&2; exit 2; }
[[ $project =~ ^[a-z][a-z0-9-]{2,28}[a-z0-9]$ ]] || die "--project: not a project id: $project"
if [ "$target" = ci-identity ]; then  # GitHub's syntax: OWNER up to 39, NAME up to 100 characters
  [ -n "$repo" ] || { echo "deploy: ci-identity needs --repo OWNER/NAME; $usage" >&2; exit 2; }
  [[ $repo =~ ^[A-Za-z0-9]([A-Za-z0-9-]{0,37}[A-Za-z0-9])?/[A-Za-z0-9._-]{1,100}$ &&
     ${repo#*/} != . && ${repo#*/} != .. ]] ||
    die "--repo: not a GitHub repository OWNER/NAME: $repo"
elif [ -n "$repo" ]; then
  echo "deploy: --repo is only for ci-identity; $usage" >&2; exit 2
fi

source scripts/deploy/settings.sh
source scripts/deploy/commands.sh
source scripts/deploy/functions.sh
source scripts/deploy/hosting.sh
source scripts/deploy/monitoring.sh
source scripts/deploy/ci_identity.sh

# --- preflight (skipped in a dry run) ---------------------------------------------------------
case "$target" in
  all) functions=(health auth chat) ;; hosting|monitoring|ci-identity) functions=() ;;
  *) functions=("$target") ;;
esac
for fn in "${functions[@]}"; do check_knobs "$fn"; done
monitoring=false
if with_monitoring "$target"; then monitoring=true; fi
if ! $dry_run; then
  command -v gcloud >/dev/null ||
    die "gcloud not found: install the Google Cloud CLI (https://cloud.google.com/sdk/docs/install)"
  [ -x "$PYTHON" ] || die "$PYTHON not found: run ./scripts/setup.sh first"
  apis=()
  [ "$target" = monitoring ] || apis+=(cloudfunctions)
  if $monitoring; then apis+=("${MONITORING_APIS[@]}"); fi
  if [ ${#functions[@]} -gt 0 ] || [ "$target" = ci-identity ]; then
    [ -f "$SECRETS" ] || die "$SECRETS not found: this checkout is incomplete"
    apis+=(run cloudbuild artifactregistry secretmanager firestore iam cloudresourcemanager)
  fi
  if [ "$target" = hosting ] || [ "$target" = all ]; then
    if ! { [ -x "$FIREBASE" ] && command -v npm >/dev/null && [ -d hosting/node_modules ]; }; then
      die "firebase-tools or the web app's packages are missing: run ./scripts/setup.sh first"
    fi
    apis+=(firebasehosting)
  fi
  [ "$target" != ci-identity ] || apis+=("${CI_APIS[@]}")
  [ -n "$(gcloud auth list --filter=status:ACTIVE --format='value(account)' 2>/dev/null)" ] ||
    die "gcloud is not logged in: run gcloud auth login (and gcloud auth application-default login)"
  enabled=$(gcloud services list --enabled --project="$project" --format='value(config.name)' \
    2>/dev/null) || die "cannot list the APIs of project $project: check the id and your access" \
    "(gcloud projects describe $project)"
  missing=()
  for api in "${apis[@]}"; do
    grep -qx "$api.googleapis.com" <<< "$enabled" || missing+=("$api.googleapis.com")
  done
  [ ${#missing[@]} -eq 0 ] ||
    die "APIs not enabled in $project: run gcloud services enable ${missing[*]} --project=$project"
fi

# Read every secret version first: a missing secret stops the run before anything changes.
for fn in "${functions[@]}"; do
  for secret in $(secrets_of "$fn"); do resolve_version "$secret"; done
done
for fn in "${functions[@]}"; do deploy_function "$fn"; done
[[ " ${functions[*]} " == *" chat "* || " ${functions[*]} " == *" auth "* ]] && enable_ttl
if [ "$target" = hosting ] || [ "$target" = all ]; then deploy_hosting; fi
[ "$target" != ci-identity ] || deploy_ci_identity
if $monitoring; then deploy_monitoring
elif [ "$target" = all ]; then say "monitoring skipped: set ALERT_EMAIL in deploy.env for alerts"
fi
settings_from=$env_file
[ -f "$env_file" ] || settings_from="the defaults (no $env_file)"
$dry_run || echo "deploy: done: $target in $project, $region, settings from $settings_from" >&2
