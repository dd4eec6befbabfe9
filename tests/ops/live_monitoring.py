"""What `./deploy.sh monitoring` leaves in a project, as the doctor's `gcloud ... list
--format=json` calls show it: built from deploy.sh's real dry-run plan (its metrics, channel,
policies and budget, exactly as it sends them), plus what Google's servers add (resource names,
`enabled`, project numbers, threshold rules as numbers)."""

from __future__ import annotations

import functools
import json
import os
import pathlib
import shlex
import subprocess
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[2]
BILLING_ACCOUNT = "01A2B3-C4D5E6-F7A8B9"
ALERT_EMAIL = "alerts.person.zq9@example.com"  # never to be printed by the doctor
PROJECT_NUMBER = "123456789012"


def _flags(argv: list[str]) -> dict[str, str]:
    return dict((a.split("=", 1) + [""])[:2] for a in argv if a.startswith("--"))


@functools.lru_cache(maxsize=None)
def _plan(project: str) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        env_file = pathlib.Path(tmp) / "deploy.env"
        env_file.write_text(f"ALERT_EMAIL={ALERT_EMAIL}\nBILLING_ACCOUNT={BILLING_ACCOUNT}\n"
                            "BUDGET_AMOUNT=50\n")
        done = subprocess.run(["bash", "deploy.sh", "monitoring", "--project", project,
                               "--dry-run"], cwd=ROOT, capture_output=True, text=True, timeout=60,
                              env={**os.environ, "DEPLOY_ENV_FILE": str(env_file)})
    assert done.returncode == 0, done.stderr
    return done.stdout


def live_state(project: str) -> dict[str, list[dict]]:
    """{"metrics", "channels", "policies", "budgets"}: each list as gcloud prints it in JSON."""
    channel = f"projects/{project}/notificationChannels/5550001"
    state: dict[str, list[dict]] = {"metrics": [], "channels": [], "policies": [], "budgets": []}
    plan = _plan(project).replace("<alert channel>", channel)
    for line in plan.replace("<ALERT_EMAIL>", ALERT_EMAIL).splitlines():
        argv = shlex.split(line, comments=True)
        if not argv or "create" not in argv:
            continue
        given, kind = _flags(argv), " ".join(argv[1:4])
        if kind == "logging metrics create":
            state["metrics"].append({
                "name": argv[4], "filter": given["--log-filter"],
                "description": given["--description"], "metricDescriptor": {
                    "metricKind": "DELTA", "valueType": "INT64", "unit": "1",
                    "type": f"logging.googleapis.com/user/{argv[4]}"}})
        elif kind == "beta monitoring channels":
            label, value = given["--user-labels"].split("=")
            state["channels"].append({
                "name": channel, "type": given["--type"], "enabled": True,
                "displayName": given["--display-name"], "userLabels": {label: value},
                "labels": dict([given["--channel-labels"].split("=", 1)])})
        elif kind == "alpha monitoring policies":
            policy = json.loads(given["--policy"])
            number = len(state["policies"]) + 1
            policy["name"] = f"projects/{project}/alertPolicies/{number}"
            for condition in policy["conditions"]:
                condition["name"] = f"{policy['name']}/conditions/{number}"
            state["policies"].append(policy)
        elif kind == "billing budgets create":
            amount = given["--budget-amount"]
            state["budgets"].append({
                "name": f"billingAccounts/{given['--billing-account']}/budgets/b-1",
                "displayName": given["--display-name"],
                "budgetFilter": {"projects": [f"projects/{PROJECT_NUMBER}"],
                                 "creditTypesTreatment": "INCLUDE_ALL_CREDITS",
                                 "calendarPeriod": "MONTH"},
                "amount": {"specifiedAmount": {"currencyCode": "USD", "units": amount}},
                "thresholdRules": [{"thresholdPercent": float(a.split("=")[-1]),
                                    "spendBasis": "CURRENT_SPEND"}
                                   for a in argv if a.startswith("--threshold-rule=")],
                "notificationsRule": {"monitoringNotificationChannels": [
                    given["--notifications-rule-monitoring-notification-channels"]]}})
    assert all(state.values()), f"the plan lacks a kind of resource: {state}"
    assert state["channels"][0]["labels"] == {"email_address": ALERT_EMAIL}
    return state
