"""scripts/doctor.py's alert and budget checks: the live project holds what `./deploy.sh
monitoring` made (tests/ops/live_monitoring.py builds it from deploy.sh's real plan), then one
thing is broken at a time. The alert address is never printed."""

from __future__ import annotations

import pytest

from .conftest import PROJECT
from .live_monitoring import ALERT_EMAIL
from .test_doctor import failures, run_doctor

FIX = f"./deploy.sh monitoring --project {PROJECT}"
BUDGET = f"billing budget 'Jette {PROJECT} (deploy.sh)'"


def test_what_deploy_sh_made_passes(production, capsys):
    code, lines = run_doctor(production, capsys)
    assert code == 0, "\n".join(failures(lines))
    for metric in ("jette_limit_refused", "jette_auth_failure", "jette_limit_store_down",
                   "jette_upstream_error", "jette_5xx"):
        assert f"✔ alert metric {metric}: counts its events" in lines
        assert f"✔ alert policy on {metric}: enabled, mails 1 channel" in lines
    assert f"✔ {BUDGET}: 50 USD a month, mails at 50, 90 and 100 %" in lines
    assert ALERT_EMAIL not in "\n".join(lines)


def _metric(index, **changes):
    def mutate(monitoring):
        if changes.get("gone"):
            del monitoring["metrics"][index]
        else:
            monitoring["metrics"][index].update(changes)
    return mutate


def _policy(index, **changes):
    def mutate(monitoring):
        if changes.get("gone"):
            del monitoring["policies"][index]
        else:
            monitoring["policies"][index].update(changes)
    return mutate


def _watching(metric):
    def mutate(monitoring):
        for condition in monitoring["policies"][0]["conditions"]:
            condition["conditionThreshold"]["filter"] = (
                f'metric.type="logging.googleapis.com/user/{metric}"')
    return mutate


def _channel(**changes):
    def mutate(monitoring):
        if changes.get("gone"):
            monitoring["channels"].clear()
        else:
            monitoring["channels"][0].update(changes)
    return mutate


def _budget(**changes):
    def mutate(monitoring):
        if changes.get("gone"):
            monitoring["budgets"].clear()
        else:
            monitoring["budgets"][0].update(changes)
    return mutate


ALL_POLICIES = [f"alert policy on {m}: mails no enabled channel" for m in (
    "jette_limit_refused", "jette_auth_failure", "jette_limit_store_down", "jette_upstream_error",
    "jette_5xx")]

BROKEN = {
    "metric deleted": (_metric(4, gone=True), ["alert metric jette_5xx: missing"]),
    "metric filter edited": (_metric(0, filter='jsonPayload.event="limit_refused"'), [
        "alert metric jette_limit_refused: has another filter than alerts.txt"]),
    "policy deleted": (_policy(1, gone=True), ["alert policy on jette_auth_failure: missing"]),
    "policy disabled": (_policy(2, enabled=False), [
        "alert policy on jette_limit_store_down: disabled"]),
    "policy without a channel": (_policy(3, notificationChannels=[]), [
        "alert policy on jette_upstream_error: mails no enabled channel"]),
    "policy on another metric": (_watching("jette_limit_refused_old"), [
        "alert policy on jette_limit_refused: does not watch its metric"]),
    "channel disabled": (_channel(enabled=False), ALL_POLICIES),
    "channel deleted": (_channel(gone=True), ALL_POLICIES),
    "budget deleted": (_budget(gone=True), [f"{BUDGET}: missing"]),
    "budget without the 90 % mail": (_budget(thresholdRules=[
        {"thresholdPercent": 0.5}, {"thresholdPercent": 1.0}]), [
        f"{BUDGET}: does not mail at 50, 90 and 100 %"]),
    "budget on the whole billing account": (_budget(budgetFilter={}), [
        f"{BUDGET}: counts more than this project"]),
    "budget of last month's spend": (_budget(amount={"lastPeriodAmount": {}}), [
        f"{BUDGET}: has no fixed amount"]),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_each_broken_item_fails_its_line_with_a_fix(production, capsys, case):
    mutate, expected = BROKEN[case]
    mutate(production.monitoring)
    code, lines = run_doctor(production, capsys)
    assert code == 1
    failed = failures(lines)
    assert len(failed) == len(expected), "\n".join(failed)
    for line, text in zip(failed, expected):
        assert line.startswith(f"✘ {text} — fix: set ") and line.endswith(FIX), line
    assert ALERT_EMAIL not in "\n".join(lines)


def test_without_the_billing_account_the_budget_is_not_read(production, capsys):
    production.monitoring["budgets"].clear()
    args = production.args()
    index = args.index("--billing-account")
    del args[index:index + 2]
    production.args = lambda: args
    code, lines = run_doctor(production, capsys)
    assert code == 0, "\n".join(failures(lines))
    assert ("✔ billing budget: not checked (pass --billing-account, deploy.env's "
            "BILLING_ACCOUNT)") in lines
    assert not [call for call in production.gcloud_calls() if call[:2] == ["billing", "budgets"]]


def test_unreadable_lists_are_one_line_each(production, capsys):
    production.monitoring["metrics"] = production.monitoring["policies"] = None  # refused
    code, lines = run_doctor(production, capsys, "--billing-account", "0A0A0A-0A0A0A-0A0A0A")
    assert code == 1
    assert [line.split(" — fix: ")[0] for line in failures(lines)] == [
        "✘ alert metrics unreadable: ERROR: (gcloud.logging.metrics.list) PERMISSION_DENIED",
        "✘ alert policies unreadable: ERROR: (gcloud.alpha.monitoring.policies.list) "
        "PERMISSION_DENIED",
        "✘ billing budget unreadable: ERROR: (gcloud.billing.budgets.list) PERMISSION_DENIED: "
        "billingAccounts/0A0A0A-0A0A0A-0A0A0A"]
