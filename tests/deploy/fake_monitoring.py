"""Cloud Logging, Cloud Monitoring and the Budget API as `deploy.sh monitoring` sees them through
gcloud, for fake_tools.py: log-based metrics, notification channels, alert policies and budgets
kept in the sandbox's JSON state, answering in the `--format=value(...)` shapes deploy.sh asks for
(tab-separated fields, one resource a line)."""

from __future__ import annotations

import json
import re
import sys

CHANNEL = "projects/{project}/notificationChannels/{n}"
ALERT_CHANNEL = CHANNEL.format(project="demo", n=101)  # the first one made in project demo
ALERT_EMAIL = "ops@example.com"  # the address of the plans: shown as <ALERT_EMAIL>
POLICY = "projects/{project}/alertPolicies/{n}"
BUDGET = "billingAccounts/{account}/budgets/{n}"


def _equals(expression: str, field: str) -> str | None:
    """The value of `field="value"` in a gcloud --filter (the only shape deploy.sh writes)."""
    found = re.fullmatch(rf'{re.escape(field)}="([^"]*)"', expression or "")
    return found and found[1]


def gcloud(words: list[str], flag, state: dict) -> int | None:
    """Play a monitoring command (its words without flags; `flag(name)` reads a flag), or return
    None when it is not one."""
    for key, empty in (("metrics", {}), ("channels", []), ("policies", []), ("budgets", []),
                       ("policy_not_ready", 0)):  # creates refused as for a metric too new
        state.setdefault(key, empty)
    project = flag("--project")
    command = " ".join(words[:3] if words[0] in ("logging", "billing") else words[:4])
    if command == "logging metrics describe":
        metric = state["metrics"].get(words[3])
        if metric is None:
            print(f"ERROR: (gcloud.logging.metrics.describe) NOT_FOUND: {words[3]}",
                  file=sys.stderr)
            return 1
        print(f"{metric['filter']}\t{metric['description']}")
    elif command in ("logging metrics create", "logging metrics update"):
        state["metrics"][words[3]] = {"filter": flag("--log-filter"),
                                      "description": flag("--description")}
    elif command == "beta monitoring channels list":
        label = _equals(flag("--filter"), "userLabels.jette")
        for channel in state["channels"]:
            if channel["userLabels"].get("jette") == label and flag("--type") == channel["type"]:
                print(f"{channel['name']}\t{channel['labels']['email_address']}")
    elif command == "beta monitoring channels create":
        name = CHANNEL.format(project=project, n=len(state["channels"]) + 101)
        key, value = flag("--user-labels").split("=")
        state["channels"].append({"name": name, "type": flag("--type"), "userLabels": {key: value},
                                  "labels": dict([flag("--channel-labels").split("=", 1)])})
        print(name)
    elif command == "beta monitoring channels update":
        [channel] = [c for c in state["channels"] if c["name"] == words[4]]
        channel["labels"].update([flag("--update-channel-labels").split("=", 1)])
    elif command == "alpha monitoring policies list":
        label = _equals(flag("--filter"), "userLabels.jette")
        for policy in state["policies"]:
            if policy["userLabels"].get("jette") == label:
                print(policy["name"])
    elif command == "alpha monitoring policies create":
        if state["policy_not_ready"] > 0:
            state["policy_not_ready"] -= 1
            print("ERROR: (gcloud.alpha.monitoring.policies.create) NOT_FOUND: Cannot find "
                  "metric(s) that match type = ...", file=sys.stderr)
            return 1
        policy = json.loads(flag("--policy"))
        policy["name"] = POLICY.format(project=project, n=len(state["policies"]) + 201)
        state["policies"].append(policy)
        print(policy["name"])
    elif command == "alpha monitoring policies update":
        [index] = [i for i, p in enumerate(state["policies"]) if p["name"] == words[4]]
        state["policies"][index] = {**json.loads(flag("--policy")), "name": words[4]}
        print(words[4])
    elif command == "billing budgets list":
        wanted = _equals(flag("--filter"), "displayName")
        for budget in state["budgets"]:
            if budget["account"] == flag("--billing-account") and budget["displayName"] == wanted:
                print(f"{budget['name']}\t{budget['units']}\t{budget['channel']}")
    elif command == "billing budgets create":
        account = flag("--billing-account")
        state["budgets"].append({
            "name": BUDGET.format(account=account, n=len(state["budgets"]) + 301),
            "account": account, "displayName": flag("--display-name"),
            "units": flag("--budget-amount").rstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZ"),
            "channel": flag("--notifications-rule-monitoring-notification-channels")})
    elif command == "billing budgets update":
        [budget] = [b for b in state["budgets"] if b["name"] == words[3]]
        budget["units"] = flag("--budget-amount").rstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
        budget["channel"] = flag("--notifications-rule-monitoring-notification-channels")
    else:
        return None
    return 0
