# shellcheck shell=bash disable=SC2153,SC2154  # deploy.sh's globals (the whole: test_shellcheck.py)
# Sourced by deploy.sh (never run on its own): the three Cloud Functions. Each runs as its own
# service account with only its roles and its secrets, pinned to their current version.

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

  ensure_account "$fn-fn" "Jette $fn function" \
    "Runtime identity of the $fn Cloud Function (deploy.sh)"
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

enable_ttl() {  # Firestore deletes old rate-limit windows by their expire_at
  ask "" gcloud firestore fields ttls list --collection-group=rate_limits --project="$project" \
    --format='value(name)' || true
  [[ $answer == *"/fields/expire_at"* ]] && return 0
  note="only if expire_at is not the TTL field yet" run gcloud firestore fields ttls update \
    expire_at --collection-group=rate_limits --enable-ttl --async --project="$project"
}
