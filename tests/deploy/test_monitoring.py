"""`deploy.sh monitoring`: log-based metrics, one e-mail channel, an alert policy per metric and,
with BILLING_ACCOUNT and BUDGET_AMOUNT, a billing budget. The plans (committed goldens), the
policies' structure, a real run against the recording fakes (exactly the plan, then nothing new on
a second run, updates where deploy.env or the project drifted) and the settings' refusals."""

from __future__ import annotations

import json
import os

import pytest

from .sandbox import GOLDEN, PREFLIGHT, ROOT, commands, flags, placeholders_resolved

DEMO = ("--project", "demo", "--region", "us-central1")
ALERTS_ENV = "ALERT_EMAIL=ops@example.com\n"
BUDGET_ENV = ALERTS_ENV + "BILLING_ACCOUNT=01A2B3-C4D5E6-F7A8B9\nBUDGET_AMOUNT=50\n"
PLANS = {"monitoring": ALERTS_ENV, "monitoring-budget": BUDGET_ENV}


def alerts() -> list[list[str]]:
    """scripts/deploy/alerts.txt: metric, threshold setting, default, title, what, filter."""
    lines = (ROOT / "scripts" / "deploy" / "alerts.txt").read_text().splitlines()
    return [line.split("|", 5) for line in lines if line and not line.startswith("#")]


def plan_with(sandbox, env: str, target: str = "monitoring") -> str:
    (sandbox.repo / "deploy.env").write_text(env)
    return sandbox.plan(target, *DEMO, env_file="deploy.env")


def policies(plan: str) -> dict[str, dict]:
    """Each planned policy (create or update) by its metric."""
    found = [json.loads(flags(argv)["--policy"]) for argv in commands(plan)
             if argv[2:5] == ["monitoring", "policies", "create"]
             or argv[2:5] == ["monitoring", "policies", "update"]]
    return {policy["userLabels"]["jette"]: policy for policy in found}


@pytest.mark.parametrize("name", PLANS)
def test_plan_matches_golden(sandbox, name):
    plan = plan_with(sandbox, PLANS[name])
    golden = GOLDEN / f"{name}.txt"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        golden.write_text(plan)
    assert plan == golden.read_text(), f"plan changed; if deliberate: UPDATE_GOLDEN=1 ({golden})"


def test_dry_run_calls_nothing_and_writes_nothing(sandbox):
    (sandbox.repo / "deploy.env").write_text(BUDGET_ENV)
    before = sandbox.files()
    result = sandbox.run("monitoring", *DEMO, "--dry-run", env_file="deploy.env")
    assert sandbox.calls() == [] and sandbox.files() == before and result.stderr == ""


def test_each_alert_gets_a_metric_of_its_filter_and_a_policy_on_that_metric():
    plan = (GOLDEN / "monitoring.txt").read_text()
    steps = commands(plan)
    created = {argv[4]: flags(argv) for argv in steps
               if argv[:4] == ["gcloud", "logging", "metrics", "create"]}
    table = alerts()
    assert list(created) == [row[0] for row in table]
    for metric, setting, default, title, what, log_filter in table:
        assert created[metric]["--log-filter"] == log_filter
        assert created[metric]["--description"] == f"{title}: {what} (deploy.sh)"
        policy = policies(plan)[metric]
        [condition] = policy["conditions"]
        threshold = condition["conditionThreshold"]
        assert threshold["filter"] == (f'metric.type="logging.googleapis.com/user/{metric}" AND '
                                       'resource.type="cloud_run_revision"')
        assert threshold["aggregations"] == [{
            "alignmentPeriod": "300s", "perSeriesAligner": "ALIGN_SUM",
            "crossSeriesReducer": "REDUCE_SUM", "groupByFields": ["resource.label.service_name"]}]
        assert (threshold["comparison"], threshold["duration"]) == ("COMPARISON_GT", "0s")
        assert threshold["thresholdValue"] == int(default) and threshold["trigger"] == {"count": 1}
        assert policy["enabled"] is True and policy["combiner"] == "OR"
        assert policy["notificationChannels"] == ["<alert channel>"]
        assert policy["displayName"] == f"Jette: {title}"
        # The mail points at SECURITY.md's entry for this alert, which exists.
        assert "SECURITY.md, section Alerts" in policy["documentation"]["content"]
        assert metric in policy["documentation"]["content"]
        assert f"`{metric}`" in (ROOT / "SECURITY.md").read_text()
    # Metrics first (Monitoring needs time to see them), then the channel, then the policies.
    kinds = [" ".join(argv[1:4]) for argv in steps if "list" not in argv and "describe" not in argv]
    assert kinds == (["logging metrics create"] * 5 + ["beta monitoring channels"]
                     + ["alpha monitoring policies"] * 5)


def test_thresholds_come_from_deploy_env(sandbox):
    plan = plan_with(sandbox, ALERTS_ENV + "ALERT_LIMIT_REFUSED_PER_5MIN=500\n"
                     "ALERT_AUTH_FAILURES_PER_5MIN=0\nALERT_5XX_PER_5MIN=3\n"
                     "ALERT_UPSTREAM_ERRORS_PER_5MIN=7\n")
    got = {metric: policy["conditions"][0]["conditionThreshold"]["thresholdValue"]
           for metric, policy in policies(plan).items()}
    assert got == {"jette_limit_refused": 500, "jette_auth_failure": 0, "jette_5xx": 3,
                   "jette_upstream_error": 7, "jette_limit_store_down": 0}
    assert "Sign-in failures: any one in 5 minutes" in plan


def test_budget_counts_this_project_and_mails_at_50_90_100_percent():
    plan = (GOLDEN / "monitoring-budget.txt").read_text()
    steps = commands(plan)
    assert steps[:-2] == commands((GOLDEN / "monitoring.txt").read_text())
    listing, create = steps[-2:]
    assert listing[:4] == ["gcloud", "billing", "budgets", "list"]
    assert flags(listing)["--filter"] == 'displayName="Jette demo (deploy.sh)"'
    assert create[:4] == ["gcloud", "billing", "budgets", "create"]
    got = flags(create)
    assert got["--billing-account"] == "01A2B3-C4D5E6-F7A8B9" and got["--budget-amount"] == "50"
    assert got["--filter-projects"] == "projects/demo" and got["--project"] == "demo"
    assert got["--notifications-rule-monitoring-notification-channels"] == "<alert channel>"
    assert [a for a in create if a.startswith("--threshold-rule")] == [
        "--threshold-rule=percent=0.5", "--threshold-rule=percent=0.9",
        "--threshold-rule=percent=1.0"]


def test_all_sets_up_monitoring_last_once_an_address_is_set(sandbox, golden_plans):
    assert golden_plans["all"].endswith(
        "# monitoring skipped: set ALERT_EMAIL in deploy.env for alerts\n")
    plan = plan_with(sandbox, ALERTS_ENV, target="all")
    assert plan == (golden_plans["all"].rsplit("# monitoring skipped", 1)[0]
                    + (GOLDEN / "monitoring.txt").read_text())


def run_monitoring(sandbox, env: str = BUDGET_ENV, check: bool = True):
    (sandbox.repo / "deploy.env").write_text(env)
    sandbox.log.write_text("")
    result = sandbox.run("monitoring", *DEMO, env_file="deploy.env", check=check)
    calls = [call["argv"] for call in sandbox.calls()]
    return result, [argv for argv in calls if tuple(argv[:3]) not in PREFLIGHT]


def test_a_run_makes_exactly_the_planned_calls_then_a_second_run_adds_nothing(sandbox):
    plan = plan_with(sandbox, BUDGET_ENV)
    _, first = run_monitoring(sandbox)
    assert first == commands(placeholders_resolved(plan))
    _, second = run_monitoring(sandbox)
    assert [argv for argv in second if "create" in argv] == []
    # Found by their label: each policy is replaced by the same one (thresholds follow
    # deploy.env); the metrics, the channel and the budget are left alone.
    updates = [argv for argv in second if "update" in argv]
    assert [argv[5] for argv in updates] == [f"projects/demo/alertPolicies/{n}"
                                            for n in range(201, 206)]
    assert [flags(argv)["--policy"] for argv in updates] == [
        flags(argv)["--policy"] for argv in first if argv[2:5] == ["monitoring", "policies",
                                                                    "create"]]
    state = json.loads(sandbox.state.read_text())
    assert len(state["metrics"]) == 5 and len(state["channels"]) == 1
    assert len(state["policies"]) == 5 and len(state["budgets"]) == 1


def test_what_drifted_is_updated(sandbox):
    run_monitoring(sandbox)
    state = json.loads(sandbox.state.read_text())
    state["metrics"]["jette_5xx"]["filter"] = "jsonPayload.status>=400"  # edited by hand
    sandbox.state.write_text(json.dumps(state))
    _, calls = run_monitoring(sandbox, BUDGET_ENV.replace("ops@", "oncall@").replace("=50", "=80"))
    changed = [argv[:5] for argv in calls if "update" in argv and "policies" not in argv]
    assert changed == [["gcloud", "logging", "metrics", "update", "jette_5xx"],
                       ["gcloud", "beta", "monitoring", "channels", "update"],
                       ["gcloud", "billing", "budgets", "update",
                        "billingAccounts/01A2B3-C4D5E6-F7A8B9/budgets/301"]]
    state = json.loads(sandbox.state.read_text())
    assert state["metrics"]["jette_5xx"]["filter"] == alerts()[-1][5]
    assert state["channels"][0]["labels"]["email_address"] == "oncall@example.com"
    assert state["budgets"][0]["units"] == "80"


def test_a_policy_on_a_metric_monitoring_does_not_know_yet_is_retried(sandbox):
    sandbox.set_state(policy_not_ready=2)
    result, calls = run_monitoring(sandbox, ALERTS_ENV)
    creates = [i for i, argv in enumerate(calls) if argv[2:5] == ["monitoring", "policies",
                                                                   "create"]]
    assert len(creates) == 7  # the first one: refused twice, then made; then the four others
    assert calls[creates[0] + 1] == calls[creates[1] + 1] == ["sleep", "60"]
    assert result.stderr.count("Monitoring does not know the metric yet; retrying in 60s") == 2


def test_a_policy_refused_for_good_stops_with_what_to_do(sandbox):
    sandbox.set_state(policy_not_ready=99)
    result, calls = run_monitoring(sandbox, ALERTS_ENV, check=False)
    assert result.returncode != 0
    assert result.stderr.splitlines()[-1] == (
        "deploy: the alert policy was not created: after a first run, Monitoring can take up to "
        "10 minutes to know new metrics; run ./deploy.sh monitoring --project demo again later")
    assert sum(argv[2:5] == ["monitoring", "policies", "create"] for argv in calls) == 10


def test_preflight_asks_for_the_apis_monitoring_calls(sandbox):
    from .fake_tools import default_state

    apis = [a for a in default_state()["apis"] if a.split(".")[0] not in ("billingbudgets",
                                                                          "cloudfunctions")]
    sandbox.set_state(apis=apis)
    result, calls = run_monitoring(sandbox, check=False)
    assert result.stderr.splitlines() == [
        "deploy: APIs not enabled in demo: run gcloud services enable "
        "billingbudgets.googleapis.com --project=demo"]
    assert calls == []


@pytest.mark.parametrize("target, env, message", [
    ("monitoring", "", "ALERT_EMAIL is not set in deploy.env: the alerts need an address to mail"),
    ("chat", "ALERT_EMAIL=ops", "ALERT_EMAIL: must be one e-mail address"),
    ("monitoring", "ALERT_EMAIL=a@example.com,b@example.com",
     "ALERT_EMAIL: must be one e-mail address"),
    ("health", "ALERT_5XX_PER_5MIN=many", "ALERT_5XX_PER_5MIN: must be a whole number of events"),
    ("monitoring", ALERTS_ENV + "ALERT_AUTH_FAILURES_PER_5MIN=-1",
     "ALERT_AUTH_FAILURES_PER_5MIN: must be a whole number"),
    ("all", "BUDGET_AMOUNT=50", "BILLING_ACCOUNT and BUDGET_AMOUNT: set both"),
    ("monitoring", ALERTS_ENV + "BILLING_ACCOUNT=01A2B3-C4D5E6-F7A8B9",
     "BILLING_ACCOUNT and BUDGET_AMOUNT: set both for a billing budget, or neither"),
    ("monitoring", BUDGET_ENV.replace("=50", "=50.5"), "BUDGET_AMOUNT: must be a whole amount"),
    ("monitoring", BUDGET_ENV.replace("=50", "=50 EUR"), "BUDGET_AMOUNT: must be a whole amount"),
    ("monitoring", BUDGET_ENV.replace("01A2B3", "billing"), "BILLING_ACCOUNT: must be a billing"),
])
def test_bad_monitoring_settings_are_one_clear_line(sandbox, target, env, message):
    (sandbox.repo / "deploy.env").write_text(env + "\n")
    result = sandbox.run(target, *DEMO, "--dry-run", env_file="deploy.env", check=False)
    assert result.returncode != 0 and result.stdout == ""
    assert len(result.stderr.splitlines()) == 1 and message in result.stderr
    assert sandbox.calls() == []


def test_a_currency_is_passed_on_and_compared_without_it(sandbox):
    env = BUDGET_ENV.replace("=50", "=50EUR")
    assert "--budget-amount=50EUR" in plan_with(sandbox, env)
    run_monitoring(sandbox, env)
    _, again = run_monitoring(sandbox, env)
    assert not [argv for argv in again if argv[1:3] == ["budgets", "update"]]
    assert json.loads(sandbox.state.read_text())["budgets"][0]["units"] == "50"


def test_the_alert_address_is_sent_but_never_shown(sandbox):
    """Plans and progress lines land in CI logs: the address only reaches Monitoring."""
    env = BUDGET_ENV.replace("ops@example.com", "private.person@example.org")
    plan = plan_with(sandbox, env)
    first, calls = run_monitoring(sandbox, env)
    again, more = run_monitoring(sandbox, env.replace("private.person", "other.person"))
    sent = [arg for argv in calls + more for arg in argv if "@" in arg]
    assert sent == ["--channel-labels=email_address=private.person@example.org",
                    "--update-channel-labels=email_address=other.person@example.org"]
    for shown in (plan, first.stderr, again.stderr):
        assert "email_address=<ALERT_EMAIL>" in shown and "@example.org" not in shown
