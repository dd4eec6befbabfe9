# shellcheck shell=bash disable=SC2034,SC2154  # deploy.sh's globals (the whole: test_shellcheck.py)
# Sourced by deploy.sh (never run on its own): the settings. It reads deploy.env (every setting
# checked here, so that a bad value stops the deploy before any command runs) and answers
# `setting NAME DEFAULT` and `knob KNOB FN`.

# Every setting deploy.env may hold, and the functions that read each one; passed only when set.
# functions/core/settings.py declares them (source "deploy.env"); tests/deploy/test_settings.py
# checks that this list and the secrets (functions.sh's secrets_of) send each one to exactly
# those functions.
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
                 APP_CHECK APP_CHECK_SITE_KEY
                 # alerts and the billing budget: monitoring.sh checks and uses them
                 ALERT_EMAIL ALERT_LIMIT_REFUSED_PER_5MIN ALERT_AUTH_FAILURES_PER_5MIN
                 ALERT_UPSTREAM_ERRORS_PER_5MIN ALERT_5XX_PER_5MIN BILLING_ACCOUNT BUDGET_AMOUNT)
for fn in CHAT AUTH HEALTH; do
  for knob in MEMORY CPU CONCURRENCY MAX_INSTANCES MIN_INSTANCES TIMEOUT; do
    DEPLOY_SETTINGS+=("${knob}_$fn")
  done
done

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

# Per-function knob: <KNOB>_<FN> from deploy.env, else this default. CONCURRENCY (also THREADS)
# is measured: chat's is bound by memory, auth's by CPU (deploy.env.example says how).
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
