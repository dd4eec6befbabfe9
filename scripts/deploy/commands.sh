# shellcheck shell=bash disable=SC2034,SC2154  # deploy.sh's globals (the whole: test_shellcheck.py)
# Sourced by deploy.sh (never run on its own): how a step runs. In a dry run every command is
# printed (pasteable, one per line) and none runs; otherwise each is shown on stderr, then run.

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

run_retrying() {  # a fresh service account takes a while to be visible to IAM
  local attempt
  for attempt in 1 2 3 4; do
    if run "$@"; then return 0; fi
    [ "$attempt" -lt 4 ] || return 1
    echo "deploy: retrying in $((attempt * 10))s" >&2; sleep $((attempt * 10))
  done
}

ensure_account() {  # ensure_account ID DISPLAY DESCRIPTION: a service account, made if missing
  probe gcloud iam service-accounts describe "$1@$project.iam.gserviceaccount.com" \
    --project="$project" --format='value(email)' ||
    note="only if the describe above failed" run gcloud iam service-accounts create "$1" \
      --project="$project" --display-name="$2" --description="$3"
}
