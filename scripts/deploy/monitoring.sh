# shellcheck shell=bash disable=SC2154  # deploy.sh's globals (the whole: test_shellcheck.py)
# Sourced by deploy.sh (never run on its own): alerts and the billing budget. A log-based metric
# counts each security event or error of scripts/deploy/alerts.txt, an alert policy on each one
# e-mails ALERT_EMAIL (one notification channel), and with BILLING_ACCOUNT and BUDGET_AMOUNT a
# Cloud Billing budget on the project mails at 50, 90 and 100 % of it: a second line behind the
# in-app token budgets. Each step finds what an earlier run made (metric name, the policies' and
# channel's user label, the budget's display name) and updates it instead of adding another.

ALERTS_FILE=scripts/deploy/alerts.txt
ALERT_LABEL=jette  # user label of our channel (=alerts) and policies (=their metric)
CHANNEL_NAME="Jette alerts (deploy.sh)"
BUDGET_NAME="Jette $project (deploy.sh)"  # at most 60 characters: a project id has 30
BUDGET_THRESHOLDS=(0.5 0.9 1.0)
POLICY_ATTEMPTS=10  # a metric made moments ago can take Monitoring up to 10 minutes to know

# --- settings (checked whatever the target, like settings.sh's) -------------------------------
alert_email=$(trimmed "$(setting ALERT_EMAIL "")")
billing_account=$(trimmed "$(setting BILLING_ACCOUNT "")")
budget_amount=$(trimmed "$(setting BUDGET_AMOUNT "")")
[[ -z $alert_email || $alert_email =~ ^[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$ ]] ||
  die "ALERT_EMAIL: must be one e-mail address, like ops@example.com (a group for several people)"
[[ -z $billing_account || $billing_account =~ ^[0-9A-F]{6}-[0-9A-F]{6}-[0-9A-F]{6}$ ]] ||
  die "BILLING_ACCOUNT: must be a billing account id like 0X0X0X-0X0X0X-0X0X0X" \
    "(gcloud billing projects describe PROJECT shows it)"
# Whole units only: gcloud reads the digits after a decimal point as nanos (50.5 = 50.000000005).
[[ -z $budget_amount || $budget_amount =~ ^[1-9][0-9]{0,8}([A-Z]{3})?$ ]] ||
  die "BUDGET_AMOUNT: must be a whole amount per month, optionally with the billing account's" \
    "currency, like 50 or 50EUR"
[[ (-z $billing_account && -z $budget_amount) || (-n $billing_account && -n $budget_amount) ]] ||
  die "BILLING_ACCOUNT and BUDGET_AMOUNT: set both for a billing budget, or neither"
alerts=()  # metric|threshold|title|what|filter, each threshold read from deploy.env
read_alerts() {
  local metric key fallback title what filter threshold
  while IFS='|' read -r metric key fallback title what filter; do
    [[ $metric =~ ^(#|$) ]] && continue
    threshold=$fallback
    [ "$key" = - ] || threshold=$(trimmed "$(setting "$key" "$fallback")")
    [[ $threshold =~ ^(0|[1-9][0-9]{0,5})$ ]] ||
      die "$key: must be a whole number of events in 5 minutes (0: alert on any one)"
    alerts+=("$metric|$threshold|$title|$what|$filter")
  done < "$ALERTS_FILE"
}
read_alerts

with_monitoring() {  # with_monitoring TARGET: does this run set up the alerts?
  case "$1" in
    monitoring) [ -n "$alert_email" ] ||
      die "ALERT_EMAIL is not set in $env_file: the alerts need an address to mail" ;;
    all) [ -n "$alert_email" ] ;;  # `all` skips them, saying so, until an address is set
    *) return 1 ;;
  esac
}

MONITORING_APIS=(logging monitoring)  # what it calls (deploy.sh's preflight checks them)
[ -z "$billing_account" ] || MONITORING_APIS+=(billingbudgets)

# --- running ----------------------------------------------------------------------------------
lookup() {  # lookup CMD...: like probe, with the output in $answer (a dry run finds nothing)
  show "$@"
  answer=""
  ! $dry_run && answer=$("$@" 2>/dev/null)
}

# Plans and progress lines end up in CI logs, which others may read: there ALERT_EMAIL is shown
# as <ALERT_EMAIL>, never as itself.
private() {  # private PLACEHOLDER CMD...: like ask, with the address hidden where it is shown
  local placeholder=$1; shift
  show "${@//"$alert_email"/<ALERT_EMAIL>}"
  if $dry_run; then answer=$placeholder; else answer=$("$@") || return; fi
}

json_text() { local s=${1//\\/\\\\}; echo "\"${s//\"/\\\"}\""; }  # a JSON string

policy_json() {  # policy_json METRIC THRESHOLD TITLE WHAT CHANNEL: the AlertPolicy, as the API's
  local metric=$1 threshold=$2 title=$3 what=$4 channel=$5 when
  when="more than $threshold in 5 minutes"
  [ "$threshold" != 0 ] || when="any one in 5 minutes"
  local doc="$title: $when on one function. Counts $what. What it means and what to do first:"
  doc+=" SECURITY.md, section Alerts, $metric (in the repository this app was deployed from)."
  local filter="metric.type=\"logging.googleapis.com/user/$metric\""
  filter+=" AND resource.type=\"cloud_run_revision\""
  echo "{\"displayName\": $(json_text "Jette: $title"), \"userLabels\": {\"$ALERT_LABEL\":" \
    "\"$metric\"}, \"combiner\": \"OR\", \"enabled\": true, \"notificationChannels\":" \
    "[$(json_text "$channel")], \"documentation\": {\"mimeType\": \"text/markdown\"," \
    "\"content\": $(json_text "$doc")}, \"conditions\": [{\"displayName\":" \
    "$(json_text "$title: $when"), \"conditionThreshold\": {\"filter\":" \
    "$(json_text "$filter"), \"aggregations\": [{\"alignmentPeriod\": \"300s\"," \
    "\"perSeriesAligner\": \"ALIGN_SUM\", \"crossSeriesReducer\": \"REDUCE_SUM\"," \
    "\"groupByFields\": [\"resource.label.service_name\"]}], \"comparison\": \"COMPARISON_GT\"," \
    "\"thresholdValue\": $threshold, \"duration\": \"0s\", \"trigger\": {\"count\": 1}," \
    "\"evaluationMissingData\": \"EVALUATION_MISSING_DATA_INACTIVE\"}}]}"
}

create_policy() {  # run, retried only while Monitoring does not know a new metric yet
  local attempt output
  for ((attempt = 1; ; attempt++)); do
    show "$@"
    $dry_run && return 0
    if output=$("$@" 2>&1); then echo "$output" >&2; return 0; fi
    echo "$output" >&2
    [[ $output == *"Cannot find metric"* && attempt -lt POLICY_ATTEMPTS ]] ||
      die "the alert policy was not created: after a first run, Monitoring can take up to 10" \
        "minutes to know new metrics; run ./deploy.sh monitoring --project $project again later"
    echo "deploy: Monitoring does not know the metric yet; retrying in 60s" >&2
    sleep 60
  done
}

# --- the metrics, the channel, the policies, the budget ----------------------------------------
deploy_monitoring() {
  local entry metric threshold title what filter description channel found
  for entry in "${alerts[@]}"; do
    IFS='|' read -r metric threshold title what filter <<< "$entry"
    description="$title: $what (deploy.sh)"
    if ! lookup gcloud logging metrics describe "$metric" --project="$project" \
        --format='value(filter,description)'; then
      note="only if the describe above failed" run gcloud logging metrics create "$metric" \
        --project="$project" --description="$description" --log-filter="$filter"
    elif [ "$answer" != "$filter"$'\t'"$description" ]; then
      note="its filter or description differs" run gcloud logging metrics update "$metric" \
        --project="$project" --description="$description" --log-filter="$filter"
    fi
  done

  ask "" gcloud beta monitoring channels list --project="$project" --type=email \
    --filter="userLabels.$ALERT_LABEL=\"alerts\"" --format='value(name,labels.email_address)' ||
    exit 1
  found=${answer%%$'\n'*}
  if [ -z "$found" ]; then
    note="only if the list above found none" private "<alert channel>" gcloud beta monitoring \
      channels create --project="$project" --type=email --display-name="$CHANNEL_NAME" \
      --description="Alerts and budget mails of this app (deploy.sh)" \
      --user-labels="$ALERT_LABEL=alerts" --channel-labels="email_address=$alert_email" \
      --format='value(name)' || exit 1
    channel=$answer
  else
    channel=${found%%$'\t'*}
    [ "${found#*$'\t'}" = "$alert_email" ] || note="ALERT_EMAIL changed" private "" gcloud \
      beta monitoring channels update "$channel" --project="$project" \
      --update-channel-labels="email_address=$alert_email" --format='value(name)' || exit 1
  fi

  for entry in "${alerts[@]}"; do
    IFS='|' read -r metric threshold title what filter <<< "$entry"
    ask "" gcloud alpha monitoring policies list --project="$project" \
      --filter="userLabels.$ALERT_LABEL=\"$metric\"" --format='value(name)' || exit 1
    found=${answer%%$'\n'*}
    if [ -z "$found" ]; then
      note="only if the list above found none" create_policy gcloud alpha monitoring policies \
        create --project="$project" --format='value(name)' \
        --policy="$(policy_json "$metric" "$threshold" "$title" "$what" "$channel")"
    else  # the whole policy is replaced: thresholds and the channel follow deploy.env
      run gcloud alpha monitoring policies update "$found" --project="$project" \
        --format='value(name)' \
        --policy="$(policy_json "$metric" "$threshold" "$title" "$what" "$channel")"
    fi
  done
  [ -z "$billing_account" ] || deploy_budget "$channel"
}

deploy_budget() {  # deploy_budget CHANNEL: mails the billing account's people and the channel
  # --project names the quota project the Budget API's calls are billed to (a user's
  # credentials have none); --filter-projects is what the budget counts.
  local channel=$1 rules=() percent found
  local fields=name,amount.specifiedAmount.units,notificationsRule.monitoringNotificationChannels
  for percent in "${BUDGET_THRESHOLDS[@]}"; do rules+=("--threshold-rule=percent=$percent"); done
  ask "" gcloud billing budgets list --billing-account="$billing_account" --project="$project" \
    --filter="displayName=\"$BUDGET_NAME\"" --format="value($fields)" || exit 1
  found=${answer%%$'\n'*}
  if [ -z "$found" ]; then
    note="only if the list above found none" run gcloud billing budgets create \
      --billing-account="$billing_account" --project="$project" --display-name="$BUDGET_NAME" \
      --budget-amount="$budget_amount" --calendar-period=month \
      --filter-projects="projects/$project" "${rules[@]}" \
      --notifications-rule-monitoring-notification-channels="$channel"
  elif [ "${found#*$'\t'}" != "${budget_amount%[A-Z][A-Z][A-Z]}"$'\t'"$channel" ]; then
    note="BUDGET_AMOUNT or the channel changed" run gcloud billing budgets update \
      "${found%%$'\t'*}" --project="$project" --budget-amount="$budget_amount" \
      --notifications-rule-monitoring-notification-channels="$channel"
  fi
}
