"""The load test of issue #12 at a small size; scripts/bench_load.py (whose functions this uses)
runs it full size. Three chat instances share the Firestore emulator; 30 users send 20
requests/s for 8 s, open loop: no error and no 5xx, per-user limits exact, the global budget
overspent by at most one reservation, and both limits hit. And the report's checks each fail
when their goal is missed (else the load test could not fail)."""

from __future__ import annotations

import collections
import dataclasses
import secrets

import bench_load  # scripts/ (pytest pythonpath)
from bench_load import Outcome

PLAN = bench_load.Plan(users=30, rate=20, seconds=8, instances=3)


def test_three_instances_under_load_keep_every_limit(functions, firestore, sign_in, standin,
                                                     monkeypatch):
    limits = bench_load.Limits.for_plan(PLAN)
    collection = f"load_{secrets.token_hex(4)}"
    settings = {**firestore.settings, "RATE_LIMIT_STORAGE": f"firestore://{collection}",
                **limits.settings()}
    urls = [functions.url("chat", K_REVISION=f"{collection}-{number}", **settings)
            for number in range(PLAN.instances)]
    tokens = bench_load.sign_in_users(sign_in, PLAN.users)
    standin.script(*limits.answers(len(PLAN.schedule())))
    outcomes, elapsed = bench_load.run_load(urls, tokens, PLAN)
    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", firestore.emulator.host)
    report = bench_load.Report(PLAN, limits, outcomes, elapsed,
                               bench_load.global_charged(collection),
                               bench_load.billed(standin.base_url))
    assert report.failures() == [], "\n".join(report.lines())


def outcomes_meeting_every_goal(plan: bench_load.Plan, per_user: int) -> list[Outcome]:
    """Per user, the first `per_user` requests past the rate limit (the very first answered,
    later ones refused for the budget), the rest rate-limited."""
    seen: collections.Counter = collections.Counter()
    outcomes = []
    for _, user, _ in plan.schedule():
        seen[user] += 1
        if seen[user] > per_user:
            outcomes.append(Outcome(user, 429, "rate_limited", 0.01))
        else:
            outcomes.append(Outcome(user, 200, None, 0.02) if not outcomes else
                            Outcome(user, 429, "quota_exceeded", 0.01))
    return outcomes


def test_the_load_report_fails_each_goal_it_checks():
    plan = bench_load.Plan(users=2, rate=6, seconds=1, instances=1)
    limits = bench_load.Limits(per_user=1, budget=100, charge=50, reservation=80)
    good = outcomes_meeting_every_goal(plan, limits.per_user)

    def failures(outcomes=good, charged=100, billed=100) -> list[str]:
        return bench_load.Report(plan, limits, outcomes, 1.0, charged, billed).failures()

    assert failures() == []
    assert failures(charged=181, billed=181) == ["overspend within one reservation"]
    assert failures(billed=101) == ["charged >= billed"]
    unlimited = [dataclasses.replace(o, status=200, code=None) if o.code == "rate_limited" else o
                 for o in good]
    assert failures(unlimited) == ["per-user exactness", "per-user limit hit"]
    down = [dataclasses.replace(good[0], status=503, code="unavailable"), *good[1:]]
    assert failures(down) == ["errors", "5xx", "per-user exactness"]
    lost = [dataclasses.replace(good[0], status=None, code=None, error="ConnectionError"),
            *good[1:]]
    assert failures(lost) == ["errors", "per-user exactness"]
    never_out = [dataclasses.replace(o, status=200, code=None) if o.code == "quota_exceeded"
                 else o for o in good]
    assert failures(never_out) == ["global budget ran out"]
