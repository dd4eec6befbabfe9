#!/usr/bin/env bash
# Deploy the app to your own Google Cloud / Firebase project:
#   ./deploy.sh [chat|auth|health|hosting|all] --project ID [--region R] [--dry-run]
# Each function runs as its own service account with only the roles and the secrets (pinned to
# their current version) it uses; Hosting gets the web app with its CSP narrowed to the chat
# function's origin. `all` deploys health, auth, chat, then hosting. Settings: deploy.env (copy
# deploy.env.example; DEPLOY_ENV_FILE names another file); flags win over it.
# --dry-run prints every command in order, one per line, pasteable, and runs none of them.
set -euo pipefail
cd "$(dirname "$0")"

PYTHON=.venv/bin/python
FIREBASE=node_modules/.bin/firebase
SECRETS=scripts/manage_secrets.py
# Every setting deploy.env may hold, and the functions that read each one; passed only when set.
# functions/core/settings.py declares them (source "deploy.env"); tests/deploy/test_settings.py
# checks that this list and the secrets below send each one to exactly those functions.
APP_SETTINGS=(
  "LOG_LEVEL chat auth health" "TRUSTED_PROXY_HOPS chat auth health"
  "ALLOWED_EMAILS chat auth" "ALLOWED_DOMAINS chat auth" "CHECK_REVOKED chat auth"
  "ALLOWED_SIGN_IN_PROVIDERS chat auth"
  "RATE_LIMITS chat auth" "DAILY_TOKEN_BUDGET chat auth" "GLOBAL_DAILY_TOKEN_BUDGET chat auth"
  "AUTH_RATE_LIMITS auth" "MAX_CONCURRENT_STREAMS_PER_USER chat" "CHAT_ENABLED chat"
  "SYSTEM_PROMPT chat" "MAX_OUTPUT_TOKENS chat" "GEMINI_TIMEOUT_S chat"
  "MAX_HISTORY_MESSAGES chat" "REQUEST_BODY_TIMEOUT_S chat"
  # chat enforces these; auth tells the web app (GET /api/auth's "chat" block)
  "MAX_REQUEST_BYTES chat auth" "MAX_MESSAGE_CHARS chat auth" "MAX_INSTRUCTIONS_CHARS chat auth"
  "MAX_ATTACHMENTS chat auth" "MAX_ATTACHMENT_BYTES chat auth" "ATTACHMENT_TYPES chat auth"
)
# GEMINI_MODELS or GEMINI_MODEL (see `models` below) goes to chat and auth.
DEPLOY_SETTINGS=(REGION EXTRA_ORIGINS REQUIRE_AUTH GEMINI_MODEL GEMINI_MODELS MIN_INSTANCES
                 APP_CHECK APP_CHECK_SITE_KEY)
for fn in CHAT AUTH HEALTH; do
  for knob in MEMORY CPU CONCURRENCY MAX_INSTANCES MIN_INSTANCES TIMEOUT; do
    DEPLOY_SETTINGS+=("${knob}_$fn")
  done
done

# With a reCAPTCHA Enterprise site key (APP_CHECK_SITE_KEY), the Hosting CSP gains exactly these
# (the web app's App Check: the reCAPTCHA script and frame, and the token exchange).
APP_CHECK_CSP=(
  "script-src https://www.google.com/recaptcha/ https://www.gstatic.com/recaptcha/"
  "frame-src https://www.google.com/recaptcha/ https://recaptcha.google.com/recaptcha/"
  "connect-src https://content-firebaseappcheck.googleapis.com"
)

usage="usage: ./deploy.sh [chat|auth|health|hosting|all] --project ID [--region R] [--dry-run]"
die() { echo "deploy: $*" >&2; exit 1; }
space=$' \t\n\r\v\f'  # what the settings' rules ignore around a value (ASCII, as core/config.py)
trimmed() { local v=$1; v=${v#"${v%%[!"$space"]*}"}; echo "${v%"${v##*[!"$space"]}"}"; }
# The one boolean rule, core/config.py's parse_bool (tests/deploy/test_booleans.py): ignoring case
# and surrounding whitespace, 1/true/yes/on is true and 0/false/no/off or empty is false; any
# other value stops the deploy, naming the setting.
is_true() {  # is_true NAME VALUE [DEFAULT]: empty means DEFAULT (false when not given)
  local value=${2,,}
  value=${value#"${value%%[!"$space"]*}"}; value=${value%"${value##*[!"$space"]}"}
  [ -n "$value" ] || value=${3:-false}
  case "$value" in
    1|true|yes|on) return 0 ;;
    0|false|no|off) return 1 ;;
    *) die "$1: must be true or false (1, true, yes, on or 0, false, no, off, in any case;" \
         "empty means the default)" ;;
  esac
}

target=all project="" region_flag="" dry_run=false
while [ $# -gt 0 ]; do
  case "$1" in
    chat|auth|health|hosting|all) target=$1 ;;
    --project|--region) [ $# -ge 2 ] || { echo "deploy: $1 needs a value; $usage" >&2; exit 2; }
      if [ "$1" = --project ]; then project=$2; else region_flag=$2; fi; shift ;;
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

# --- settings: deploy.env is KEY=value lines, read literally (never executed) -------------------
declare -A conf=()
env_file=${DEPLOY_ENV_FILE:-deploy.env}
known=" ${DEPLOY_SETTINGS[*]} ${APP_SETTINGS[*]%% *} "
if [ -f "$env_file" ]; then
  n=0
  while IFS= read -r line || [ -n "$line" ]; do
    n=$((n + 1)); line=${line%$'\r'}
    [[ $line =~ ^[[:space:]]*(#|$) ]] && continue
    [[ $line =~ ^[[:space:]]*([A-Z][A-Z0-9_]*)=(.*)$ ]] || die "$env_file:$n: expected KEY=value"
    key=${BASH_REMATCH[1]} value=${BASH_REMATCH[2]}
    [[ $known == *" $key "* ]] || die "$env_file:$n: unknown setting $key (see deploy.env.example)"
    value=${value%"${value##*[![:space:]]}"}
    [[ $value =~ ^\"(.*)\"$ || $value =~ ^\'(.*)\'$ ]] && value=${BASH_REMATCH[1]}
    conf[$key]=$value
  done < "$env_file"
fi
setting() { local v=${conf[$1]:-}; echo "${v:-$2}"; }

region=${region_flag:-$(setting REGION us-central1)}
[[ $region =~ ^[a-z]+-[a-z]+[0-9]+$ ]] || die "REGION/--region: not a region: $region"
origins="https://$project.web.app,https://$project.firebaseapp.com"
IFS=, read -ra extra <<< "$(setting EXTRA_ORIGINS "")"
for origin in "${extra[@]}"; do
  origin=${origin//[[:space:]]/}
  [ -z "$origin" ] && continue
  [[ $origin =~ ^https://[a-z0-9.-]+(:[0-9]+)?$ ]] ||
    die "EXTRA_ORIGINS: each entry must be an exact https origin like https://chat.example.com"
  origins+=",$origin"
done
for name in REQUIRE_AUTH CHECK_REVOKED CHAT_ENABLED; do
  is_true "$name" "${conf[$name]:-}" || true  # refuses what the functions would refuse at start
done
# App Check (chat and auth; the web app needs the site key to get tokens at all).
app_check=$(trimmed "$(setting APP_CHECK off)") site_key=$(trimmed "$(setting APP_CHECK_SITE_KEY "")")
app_check=${app_check,,}
[[ $app_check =~ ^(off|monitor|enforce)$ ]] || die "APP_CHECK: must be off, monitor or enforce"
[[ -z $site_key || $site_key =~ ^[A-Za-z0-9_-]{20,100}$ ]] ||
  die "APP_CHECK_SITE_KEY: not a reCAPTCHA Enterprise site key (20-100 letters, digits, - or _)"
[[ $app_check != enforce || -n $site_key ]] ||
  die "APP_CHECK=enforce needs APP_CHECK_SITE_KEY: without it the web app gets no App Check" \
    "tokens and chat and auth refuse every request"

# Models (chat calls them, auth lists them): GEMINI_MODELS, id:weight pairs with the default
# first, else GEMINI_MODEL as the one model. Checked by core/models.py's rule and words, so that
# what the functions would refuse at start stops the deploy (tests/deploy/test_models.py).
id_rule="lowercase letters, digits, '.' and '-' (at most 100, starting with a letter or digit),\
 like gemini-2.5-flash"
model_id_re='^[abcdefghijklmnopqrstuvwxyz0123456789][abcdefghijklmnopqrstuvwxyz0123456789.-]{0,99}$'
models_example="like gemini-2.5-flash:1,gemini-2.5-flash-lite:0.3,gemini-2.5-pro:8"
check_models() {  # check_models LIST: core/models.py's first refusal (parse_models), or nothing
  local rest="$1," entry id weight int frac number=0 where
  local -A seen=()
  while [ -n "$rest" ]; do
    entry=${rest%%,*} rest=${rest#*,} number=$((number + 1))
    where="GEMINI_MODELS: entry $number"
    [ -n "$(trimmed "$entry")" ] ||
      die "$where is empty; list id:weight pairs separated by commas, $models_example"
    [[ $entry == *:* ]] || die "$where: must be id:weight, $models_example"
    id=$(trimmed "${entry%%:*}") weight=$(trimmed "${entry#*:}")
    [[ $id =~ $model_id_re ]] || die "$where: the model id must be $id_rule"
    int=1001 frac=""  # 0 < weight <= 1000, at most 4 + 6 digits
    if [[ $weight =~ ^([0123456789]{1,4})(\.([0123456789]{1,6}))?$ &&
          $weight == *[123456789]* ]]; then
      int=$((10#${BASH_REMATCH[1]})) frac=${BASH_REMATCH[3]}
    fi
    (( int < 1000 )) || [[ $int == 1000 && $frac != *[123456789]* ]] ||
      die "$where: the weight must be a decimal number above 0 and at most 1000, with at most 6" \
        "decimals, like 1, 0.3 or 8"
    [ -z "${seen[$id]:-}" ] || die "$where: the model is listed twice"
    seen[$id]=1
  done
  (( number <= 20 )) || die "GEMINI_MODELS: at most 20 models"
}
gemini_models=$(trimmed "$(setting GEMINI_MODELS "")")
gemini_model=$(trimmed "$(setting GEMINI_MODEL "")")
[[ -z $gemini_model || $gemini_model =~ $model_id_re ]] ||
  die "GEMINI_MODEL: must be a Gemini model id: $id_rule"
if [ -n "$gemini_models" ]; then
  check_models "$gemini_models"
  first=$(trimmed "${gemini_models%%,*}")
  [[ -z $gemini_model || $gemini_model == "$(trimmed "${first%%:*}")" ]] ||
    die "GEMINI_MODEL: must be the first (default) model of GEMINI_MODELS when both are set;" \
      "unset GEMINI_MODEL or list that model first"
  models="GEMINI_MODELS=$gemini_models"  # only the list: one source of truth for the functions
else
  models="GEMINI_MODEL=${gemini_model:-gemini-2.5-flash}"
fi

# Per-function knob: <KNOB>_<FN> from deploy.env, else this default.
knob() {  # knob KNOB FN
  local fallback
  case "$1:$2" in
    MEMORY:health) fallback=256Mi ;; MEMORY:chat) fallback=4Gi ;; MEMORY:*) fallback=512Mi ;;
    CPU:health) fallback=0.167 ;; CPU:*) fallback=1 ;;
    CONCURRENCY:chat) fallback=20 ;; CONCURRENCY:auth) fallback=10 ;; CONCURRENCY:*) fallback=1 ;;
    MAX_INSTANCES:chat) fallback=5 ;; MAX_INSTANCES:auth) fallback=3 ;;
    MAX_INSTANCES:*) fallback=2 ;;
    MIN_INSTANCES:*) fallback=$(setting MIN_INSTANCES 0) ;;
    TIMEOUT:chat) fallback=120s ;; TIMEOUT:auth) fallback=30s ;; TIMEOUT:*) fallback=10s ;;
  esac
  setting "$1_${2^^}" "$fallback"
}

# --- running, or printing in a dry run --------------------------------------------------------
quote() {  # a shell-quoted line of words, to paste
  local words=() w q="'\\''"
  for w in "$@"; do
    if [[ $w =~ ^[A-Za-z0-9_@%+=:,./-]+$ ]]; then words+=("$w"); else words+=("'${w//\'/$q}'"); fi
  done
  echo "${words[*]}"
}
show() {  # print a command (with $note as a trailing comment): the plan, or progress on stderr
  local line
  line=$(quote "$@")${note:+  # $note}
  if $dry_run; then echo "$line"; else echo "+ $line" >&2; fi
}
say() { if $dry_run; then echo "# $*"; else echo "+ # $*" >&2; fi; }  # a step that is no command
run() { show "$@"; $dry_run || "$@"; }
probe() { show "$@"; ! $dry_run && "$@" >/dev/null 2>&1; }  # does it exist? (dry run: no)
answer=""
ask() {  # ask PLACEHOLDER CMD...: the output of a read-only command into $answer
  local placeholder=$1; shift
  show "$@"
  if $dry_run; then answer=$placeholder; else answer=$("$@") || return; fi
}

# --- secrets and functions --------------------------------------------------------------------
declare -A versions=()
resolve_version() {  # the enabled version every function pins, asked once per run
  if [ -z "${versions[$1]:-}" ]; then
    ask "<version of $1>" "$PYTHON" "$SECRETS" version "$1" --project="$project" || exit 1
    [[ $answer =~ ^[0-9]+$ ]] || $dry_run ||
      die "no enabled version of $1: run $PYTHON $SECRETS create --project=$project"
    versions[$1]=$answer
  fi
}

check_knobs() {  # what gcloud would only refuse at deploy time
  local fn=$1 name
  [[ $(knob CONCURRENCY "$fn") =~ ^[1-9][0-9]*$ ]] ||
    die "CONCURRENCY_${fn^^}: must be a whole number >= 1"
  [[ $(knob CONCURRENCY "$fn") == 1 || $(knob CPU "$fn") =~ ^[1-9][0-9]*(\.[0-9]+)?$ ]] ||
    die "CONCURRENCY_${fn^^} > 1 needs CPU_${fn^^} >= 1 (below 1 vCPU: one request at a time)"
  for name in MAX_INSTANCES MIN_INSTANCES; do
    [[ $(knob "$name" "$fn") =~ ^[0-9]+$ ]] || die "${name}_${fn^^}: must be a whole number"
  done
  [ "$fn" != chat ] || check_chat_memory
}

memory_mib() {  # memory_mib VALUE: a Cloud Run memory size (512Mi, 4Gi, 2048M, 4G) in MiB
  [[ $1 =~ ^([1-9][0-9]{0,5})(Mi|Gi|M|G)$ ]] || return 1
  local n=${BASH_REMATCH[1]}
  case ${BASH_REMATCH[2]} in
    Mi) echo "$n" ;; Gi) echo $((n * 1024)) ;;
    M) echo $((n * 1000000 / 1048576)) ;; G) echo $((n * 1000000000 / 1048576)) ;;
  esac
}

# Chat holds about 5x a request's body while it runs (the JSON, the decoded attachments and
# google-genai's base64 copy for Gemini: 96-105 MiB per 20 MiB request, measured with
# scripts/bench_attachment_memory.py), on top of about 155 MiB at rest.
CHAT_IDLE_MIB=256
check_chat_memory() {  # MEMORY_CHAT holds CONCURRENCY_CHAT requests of MAX_REQUEST_BYTES at once
  local memory need body
  memory=$(memory_mib "$(knob MEMORY chat)") ||
    die "MEMORY_CHAT: must be a whole number with Mi, Gi, M or G, like 4Gi"
  body=$(setting MAX_REQUEST_BYTES 20971520)
  [[ $body =~ ^[1-9][0-9]{0,9}$ ]] || die "MAX_REQUEST_BYTES: must be a whole number of bytes"
  need=$((CHAT_IDLE_MIB + $(knob CONCURRENCY chat) * ((body * 11 / 2 + 1048575) / 1048576)))
  ((memory >= need)) ||
    die "MEMORY_CHAT: $memory MiB cannot hold CONCURRENCY_CHAT=$(knob CONCURRENCY chat) requests" \
      "of MAX_REQUEST_BYTES=$body at once: give it at least $need MiB ($CHAT_IDLE_MIB MiB +" \
      "5.5 x MAX_REQUEST_BYTES per request), or lower CONCURRENCY_CHAT or MAX_REQUEST_BYTES"
}

secrets_of() {  # the Secret Manager secrets a function reads (core/settings.py: source "secret")
  case "$1" in chat) echo GEMINI_API_KEY SECRET_KEY ;; auth) echo SECRET_KEY ;; esac
}

deploy_function() {
  local fn=$1 sa="$1-fn@$project.iam.gserviceaccount.com" roles=() secrets=() envs=()
  read -ra secrets <<< "$(secrets_of "$fn")"
  case "$fn" in
    chat) roles=(roles/datastore.user)
      # verify_id_token(check_revoked=True) reads the user: firebaseauth.users.get
      if is_true CHECK_REVOKED "$(setting CHECK_REVOKED false)"; then
        roles+=(roles/firebaseauth.viewer)
      fi ;;
    # Revoking sessions updates the user (firebaseauth.users.update): no predefined role short of
    # Firebase Authentication Admin (or its twin, editor) grants that.
    auth) roles=(roles/datastore.user roles/firebaseauth.admin) ;;
  esac
  local concurrency cpu name
  concurrency=$(knob CONCURRENCY "$fn") cpu=$(knob CPU "$fn")
  envs=(APP_ENV=production "THREADS=$concurrency" "ALLOWED_ORIGINS=$origins")
  if [ "$fn" != health ]; then
    envs+=("FIREBASE_PROJECT_ID=$project" RATE_LIMIT_STORAGE=firestore://rate_limits
           "APP_CHECK=$app_check")
  fi
  if [ "$fn" = chat ]; then
    envs+=("REQUIRE_AUTH=$(setting REQUIRE_AUTH true)")
  fi
  if [ "$fn" != health ]; then
    envs+=("$models")
  fi
  local entry
  for entry in "${APP_SETTINGS[@]}"; do
    name=${entry%% *}
    [[ " ${entry#* } " == *" $fn "* && -n ${conf[$name]:-} ]] && envs+=("$name=${conf[$name]}")
  done
  # gcloud splits --set-env-vars on commas, and ALLOWED_ORIGINS holds some: pick a delimiter that
  # no value contains (`gcloud topic escaping`).
  local delimiter="" candidate
  for candidate in '##' '@@' '~~' '%%'; do
    [[ "${envs[*]}" == *"$candidate"* ]] || { delimiter=$candidate; break; }
  done
  [ -n "$delimiter" ] || die "a setting contains all of ## @@ ~~ %%; gcloud cannot take it"
  local joined
  joined=$(IFS=$'\n'; echo "${envs[*]}")
  joined="^$delimiter^${joined//$'\n'/$delimiter}"

  probe gcloud iam service-accounts describe "$sa" \
    --project="$project" --format='value(email)' ||
    note="only if the describe above failed" run gcloud iam service-accounts create "$fn-fn" \
      --project="$project" --display-name="Jette $fn function" \
      --description="Runtime identity of the $fn Cloud Function (deploy.sh)"
  local role secret pins=()
  for role in "${roles[@]}"; do
    run_retrying gcloud projects add-iam-policy-binding "$project" \
      --member="serviceAccount:$sa" --role="$role" --condition=None --format=none
  done
  for secret in "${secrets[@]}"; do
    pins+=("$secret=$secret:${versions[$secret]}")
    run_retrying "$PYTHON" "$SECRETS" bind "$secret" --project="$project" \
      --member="serviceAccount:$sa"
  done
  local secret_flag=--clear-secrets
  [ ${#pins[@]} -eq 0 ] || secret_flag="--set-secrets=$(IFS=,; echo "${pins[*]}")"

  run "$PYTHON" scripts/stage_function.py "$fn" "build/deploy/$fn"
  run gcloud functions deploy "$fn" --gen2 --runtime=python312 --region="$region" \
    --source="build/deploy/$fn" --entry-point="$fn" --trigger-http --allow-unauthenticated \
    --service-account="$sa" --memory="$(knob MEMORY "$fn")" --cpu="$cpu" \
    --concurrency="$concurrency" --max-instances="$(knob MAX_INSTANCES "$fn")" \
    --min-instances="$(knob MIN_INSTANCES "$fn")" --timeout="$(knob TIMEOUT "$fn")" \
    --set-env-vars="$joined" "$secret_flag" --project="$project" --quiet
}

run_retrying() {  # a fresh service account takes a while to be visible to IAM
  local attempt
  for attempt in 1 2 3 4; do
    if run "$@"; then return 0; fi
    [ "$attempt" -lt 4 ] || return 1
    echo "deploy: retrying in $((attempt * 10))s" >&2; sleep $((attempt * 10))
  done
}

enable_ttl() {  # Firestore deletes old rate-limit windows by their expire_at
  ask "" gcloud firestore fields ttls list --collection-group=rate_limits --project="$project" \
    --format='value(name)' || true
  [[ $answer == *"/fields/expire_at"* ]] && return 0
  note="only if expire_at is not the TTL field yet" run gcloud firestore fields ttls update \
    expire_at --collection-group=rate_limits --enable-ttl --async --project="$project"
}

# --- hosting ----------------------------------------------------------------------------------
deploy_hosting() {
  ask "<chat-url>" gcloud functions describe chat --gen2 --region="$region" --project="$project" \
    --format='value(serviceConfig.uri)' || answer=""
  [ -n "$answer" ] ||
    die "the chat function is not deployed in $region:" \
      "run ./deploy.sh chat --project $project first"
  local chat_url=$answer limits=() name
  for name in MAX_MESSAGE_CHARS MAX_HISTORY_MESSAGES MAX_REQUEST_BYTES; do
    [ -z "${conf[$name]:-}" ] || limits+=("$name=${conf[$name]}")
  done
  run npm --prefix hosting run build
  local app_config="{\"chatUrl\": \"${chat_url%/}/\"" csp_extra=() extra_text="" rule
  [ -z "$site_key" ] || app_config+=", \"appCheckSiteKey\": \"$site_key\""
  app_config+="}"
  [ ${#limits[@]} -eq 0 ] || app_config+=" with limits ${limits[*]}"
  if [ -n "$site_key" ]; then
    csp_extra=("${APP_CHECK_CSP[@]}")
    for rule in "${csp_extra[@]}"; do extra_text+=", ${rule%% *} += ${rule#* }"; done
  fi
  say "write hosting/dist/config.json: $app_config"
  say "write build/firebase.deploy.json: firebase.json with connect-src ${chat_url%/}," \
    "frame-src https://$project.firebaseapp.com, rewrites to $region," \
    "public = absolute hosting/dist$extra_text"
  if ! $dry_run; then
    "$PYTHON" - "$chat_url" "$project" "$region" "$site_key" "${limits[*]}" "${csp_extra[@]}" <<'PY'
"""Write hosting/dist/config.json and build/firebase.deploy.json (see deploy.sh)."""
import json
import pathlib
import sys
from urllib.parse import urlsplit

chat_url, project, region, site_key, limits, *csp_extra = sys.argv[1:]
limits = limits.split()
url = chat_url.strip().rstrip("/") + "/"
parts = urlsplit(url)
if parts.scheme != "https" or not parts.netloc or parts.path != "/":
    sys.exit(f"deploy: the chat function's URL is not an https origin: {chat_url!r}")
camel = {"MAX_MESSAGE_CHARS": "maxMessageChars", "MAX_HISTORY_MESSAGES": "maxHistoryMessages",
         "MAX_REQUEST_BYTES": "maxRequestBytes"}
app_config = {"chatUrl": url}
if limits:
    app_config["limits"] = {camel[k]: int(v) for k, v in (item.split("=", 1) for item in limits)}
if site_key:
    app_config["appCheckSiteKey"] = site_key
pathlib.Path("hosting/dist/config.json").write_text(json.dumps(app_config, indent=2) + "\n")


def narrow(csp, directive, wildcard, exact):
    rules = [rule.split() for rule in csp.split(";")]
    for tokens in rules:
        if tokens[:1] == [directive]:
            if wildcard not in tokens:
                sys.exit(f"deploy: firebase.json's CSP {directive} has no {wildcard} to narrow")
            tokens[:] = [exact if token == wildcard else token for token in tokens]
    return "; ".join(" ".join(tokens) for tokens in rules)


def extend(csp, directive, sources):
    rules = [rule.split() for rule in csp.split(";")]
    if not any(tokens[:1] == [directive] for tokens in rules):
        sys.exit(f"deploy: firebase.json's CSP has no {directive} to extend")
    for tokens in rules:
        if tokens[:1] == [directive]:
            tokens.extend(source for source in sources if source not in tokens)
    return "; ".join(" ".join(tokens) for tokens in rules)


config = json.loads(pathlib.Path("firebase.json").read_text())
hosting = config["hosting"]
hosting["public"] = str(pathlib.Path(hosting["public"]).resolve())  # --config moves the root
for rewrite in hosting.get("rewrites", []):
    if "run" in rewrite:
        rewrite["run"]["region"] = region
narrowed = 0
for rule in hosting.get("headers", []):
    for header in rule["headers"]:
        if header["key"] == "Content-Security-Policy":
            csp = narrow(header["value"], "connect-src", "https://*.a.run.app",
                         f"https://{parts.netloc}")
            csp = narrow(csp, "frame-src", "https://*.firebaseapp.com",
                         f"https://{project}.firebaseapp.com")
            for rule in csp_extra:  # App Check, only with a site key
                directive, *sources = rule.split()
                csp = extend(csp, directive, sources)
            header["value"] = csp
            narrowed += 1
if not narrowed:
    sys.exit("deploy: firebase.json has no Content-Security-Policy header to narrow")
pathlib.Path("build").mkdir(exist_ok=True)
pathlib.Path("build/firebase.deploy.json").write_text(json.dumps(config, indent=2) + "\n")
PY
  fi
  run "$FIREBASE" deploy --only hosting --project "$project" --config build/firebase.deploy.json
}

# --- preflight (skipped in a dry run) ---------------------------------------------------------
case "$target" in
  all) functions=(health auth chat) ;; hosting) functions=() ;; *) functions=("$target") ;;
esac
for fn in "${functions[@]}"; do check_knobs "$fn"; done
if ! $dry_run; then
  command -v gcloud >/dev/null ||
    die "gcloud not found: install the Google Cloud CLI (https://cloud.google.com/sdk/docs/install)"
  [ -x "$PYTHON" ] || die "$PYTHON not found: run ./scripts/setup.sh first"
  apis=(cloudfunctions)
  if [ ${#functions[@]} -gt 0 ]; then
    [ -f "$SECRETS" ] || die "$SECRETS not found: this checkout is incomplete"
    apis+=(run cloudbuild artifactregistry secretmanager firestore iam cloudresourcemanager)
  fi
  if [ "$target" = hosting ] || [ "$target" = all ]; then
    if ! { [ -x "$FIREBASE" ] && command -v npm >/dev/null && [ -d hosting/node_modules ]; }; then
      die "firebase-tools or the web app's packages are missing: run ./scripts/setup.sh first"
    fi
    apis+=(firebasehosting)
  fi
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
settings_from=$env_file
[ -f "$env_file" ] || settings_from="the defaults (no $env_file)"
$dry_run || echo "deploy: done: $target in $project, $region, settings from $settings_from" >&2
