"""The doctor's checks of what `./deploy.sh monitoring` sets up: a log-based metric with its filter
and an enabled alert policy mailing a live channel for each alert of scripts/deploy/alerts.txt,
and, when the doctor is given the billing account, the project's billing budget at 50/90/100 %.
scripts/doctor.py runs them. No e-mail address is ever printed: channels are named by count.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

ALERTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "deploy", "alerts.txt")
LABEL = "jette"  # deploy.sh's user label: =alerts on the channel, =its metric on each policy
BUDGET_THRESHOLDS = [0.5, 0.9, 1.0]


def budget_name(project: str) -> str:
    return f"Jette {project} (deploy.sh)"  # monitoring.sh's BUDGET_NAME


def alert_filters() -> dict[str, str]:
    """Each alert's metric and the log filter it counts (alerts.txt: its first and last field)."""
    with open(ALERTS, encoding="utf-8") as table:
        rows = [line.rstrip("\n").split("|", 5) for line in table
                if line.strip() and not line.startswith("#")]
    return {row[0]: row[5] for row in rows}


def check_monitoring(report, gcloud, args) -> None:
    fix = f"set ALERT_EMAIL in deploy.env, then ./deploy.sh monitoring --project {args.project}"
    lists = (("logging", "metrics", "list"), ("alpha", "monitoring", "policies", "list"),
             ("beta", "monitoring", "channels", "list"))
    with ThreadPoolExecutor(len(lists)) as pool:  # each gcloud start costs about a second
        (metrics, error), (policies, policy_error), (channels, channel_error) = pool.map(
            lambda words: gcloud(*words, project=args.project), lists)
    filters = alert_filters()
    if error:
        report.check(False, f"alert metrics unreadable: {error}",
                     "gcloud auth login with a project viewer account")
    else:
        live = {m.get("name"): m.get("filter") for m in metrics or []}
        for metric, wanted in filters.items():
            state = ("counts its events" if live.get(metric) == wanted else
                     "missing" if metric not in live else "has another filter than alerts.txt")
            report.check(state == "counts its events", f"alert metric {metric}: {state}", fix)
    if policy_error or channel_error:
        report.check(False, f"alert policies unreadable: {policy_error or channel_error}",
                     "gcloud auth login with a project viewer account")
        return
    live_channels = {c.get("name"): c for c in channels or [] if c.get("enabled") is True}
    by_label = {(p.get("userLabels") or {}).get(LABEL): p for p in policies or []}
    for metric in filters:
        policy = by_label.get(metric)
        mails = [n for n in (policy or {}).get("notificationChannels", []) if n in live_channels]
        watched = any(f"logging.googleapis.com/user/{metric}\"" in
                      ((c.get("conditionThreshold") or {}).get("filter") or "")
                      for c in (policy or {}).get("conditions", []))
        problem = ("missing" if policy is None else
                   "disabled" if policy.get("enabled") is not True else
                   "does not watch its metric" if not watched else
                   "mails no enabled channel" if not mails else None)
        report.check(problem is None, f"alert policy on {metric}: " + (
            problem or f"enabled, mails {len(mails)} channel{'s' * (len(mails) > 1)}"), fix)


def check_budget(report, gcloud, args) -> None:
    if not args.billing_account:
        report.check(True, "billing budget: not checked (pass --billing-account, deploy.env's "
                     "BILLING_ACCOUNT)")
        return
    fix = (f"set BILLING_ACCOUNT and BUDGET_AMOUNT in deploy.env, then ./deploy.sh monitoring "
           f"--project {args.project}")
    budgets, error = gcloud("billing", "budgets", "list", "--billing-account",
                            args.billing_account, project=args.project)
    if error:
        report.check(False, f"billing budget unreadable: {error}",
                     "gcloud auth login with an account that may view the billing account's "
                     "budgets (roles/billing.viewer)")
        return
    name = budget_name(args.project)
    budget = next((b for b in budgets or [] if b.get("displayName") == name), None)
    if budget is None:
        report.check(False, f"billing budget '{name}': missing", fix)
        return
    rules = sorted(float(r.get("thresholdPercent", 0)) for r in budget.get("thresholdRules", []))
    scope = (budget.get("budgetFilter") or {}).get("projects") or []
    amount = (budget.get("amount") or {}).get("specifiedAmount") or {}
    problem = ("does not mail at 50, 90 and 100 %" if rules != BUDGET_THRESHOLDS else
               "counts more than this project" if len(scope) != 1 else
               "has no fixed amount" if not amount.get("units") else None)
    total = " ".join(filter(None, (amount.get("units"), amount.get("currencyCode"))))
    report.check(problem is None, f"billing budget '{name}': " + (
        problem or f"{total} a month, mails at 50, 90 and 100 %"), fix)
