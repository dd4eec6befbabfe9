"""The load test of issue #12: chat instances (functions-framework) sharing gcloud's Firestore
emulator as their limits store, users of the Firebase Auth emulator, the Gemini stand-in, and
an open-loop load (requests sent on schedule, whatever the answers). Only 127.0.0.1 is used.

    .venv/bin/python scripts/bench_load.py [--users 200] [--rate 40] [--seconds 30] [--instances 3]

Both limits bind: the per-user limit is a little under the mean number of requests per user,
the global budget about half of what the per-user limits let through (every answer bills the
same scripted number of tokens). Goals, exit 1 if one fails: no transport error or unexpected
status, no 5xx; per user exactly min(sent, limit) requests past the rate limit; the budget
overspent (shards at the end, and what the stand-in billed) by at most one reservation; and
both limits hit. Latency: from a request's scheduled send time to its whole JSON answer.
"""

from __future__ import annotations

import argparse
import collections
import concurrent.futures
import dataclasses
import os
import pathlib
import random
import secrets
import statistics
import sys
import tempfile
import threading
import time

import requests

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "devtools"), str(ROOT / "functions"), str(ROOT / "functions" / "chat")]

from auth_emulator import sign_in_with_google, start_auth_emulator  # noqa: E402
from firestore_emulator import start_firestore_emulator  # noqa: E402
from procs import free_port, start_function, start_standin  # noqa: E402
from stack import PROJECT_ID, function_env  # noqa: E402

MESSAGE = "How do budgets hold under load?"
MAX_OUTPUT_TOKENS = 64
BIG = "100000000"


@dataclasses.dataclass(frozen=True)
class Plan:
    """Who sends what when: `rate` requests/s for `seconds`, each from a user drawn at random
    (seeded) and to the instances in turn."""

    users: int = 200
    rate: float = 40.0
    seconds: float = 30.0
    instances: int = 3
    seed: int = 12

    def schedule(self) -> list[tuple[float, int, int]]:
        """(send time from the start in s, user, instance) of every request."""
        draw = random.Random(self.seed)
        return [(number / self.rate, draw.randrange(self.users), number % self.instances)
                for number in range(round(self.rate * self.seconds))]

    def sent_per_user(self) -> list[int]:
        sent = [0] * self.users
        for _, user, _ in self.schedule():
            sent[user] += 1
        return sent


@dataclasses.dataclass(frozen=True)
class Limits:
    """The chat settings of a load test and what they imply."""

    per_user: int  # requests per user in one window (an hour: longer than any run)
    budget: int  # the deployment's daily token budget
    charge: int  # what each answer bills (scripted)
    reservation: int  # what each request reserves: the most the budget may be overspent

    @classmethod
    def for_plan(cls, plan: Plan) -> Limits:
        sent = plan.sent_per_user()
        per_user = max(1, round(0.8 * sum(sent) / plan.users))
        reservation = reservation_of(MESSAGE, {"MAX_OUTPUT_TOKENS": str(MAX_OUTPUT_TOKENS)})
        charge = reservation // 2
        allowed = sum(min(count, per_user) for count in sent)  # what the rate limit lets by
        return cls(per_user, charge * max(1, allowed // 2), charge, reservation)

    def settings(self) -> dict[str, str]:
        return {"RATE_LIMITS": f"{self.per_user}/hour", "GLOBAL_DAILY_TOKEN_BUDGET": str(self.budget),
                "DAILY_TOKEN_BUDGET": BIG, "MAX_CONCURRENT_STREAMS_PER_USER": "100",
                "MAX_OUTPUT_TOKENS": str(MAX_OUTPUT_TOKENS), "THREADS": "20"}

    def answers(self, count: int) -> list[dict]:
        """Stand-in steps: `count` answers, each billing `charge` tokens."""
        usage = {"promptTokenCount": self.charge - 1, "candidatesTokenCount": 1,
                 "totalTokenCount": self.charge}
        return [{"action": "reply", "text": "Fine.", "usage": usage}] * count


def reservation_of(message: str, settings: dict[str, str]) -> int:
    """What chat reserves for `message` (chat's own billing code, default system prompt)."""
    from billing import reservation
    from core.config import load_config
    from turn import parse_turn

    config = load_config("chat", {"APP_ENV": "development", "GEMINI_API_KEY": "x", **settings})
    return reservation(parse_turn({"message": message}, config), config)


def sign_in_users(sign_in, count: int) -> list[str]:
    """ID tokens of `count` new users; `sign_in()` makes one."""
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        return list(pool.map(lambda _: sign_in(), range(count)))


@dataclasses.dataclass
class Outcome:
    user: int
    status: int | None  # None: no answer (transport error)
    code: str | None  # the error envelope's code
    latency: float  # s from the scheduled send time to the whole answer
    error: str | None = None


def run_load(urls: list[str], tokens: list[str], plan: Plan) -> tuple[list[Outcome], float]:
    """Send the plan's requests on schedule (open loop); returns their outcomes and the
    seconds from the first send to the last answer."""
    local = threading.local()

    def one(url: str, user: int, due: float) -> Outcome:
        session = getattr(local, "session", None)
        if session is None:  # one connection per sending thread, kept alive
            session = local.session = requests.Session()
        try:
            response = session.post(url, json={"message": MESSAGE}, timeout=60,
                                    headers={"Authorization": f"Bearer {tokens[user]}"})
        except requests.RequestException as error:
            return Outcome(user, None, None, time.monotonic() - due, type(error).__name__)
        try:
            code = None if response.ok else response.json()["error"]["code"]
        except (ValueError, KeyError, TypeError):
            code = "(no error envelope)"
        return Outcome(user, response.status_code, code, time.monotonic() - due)

    with concurrent.futures.ThreadPoolExecutor(max(8, round(plan.rate * 5))) as pool:
        start = time.monotonic() + 0.2
        futures = []
        for at, user, instance in plan.schedule():
            time.sleep(max(0.0, start + at - time.monotonic()))
            futures.append(pool.submit(one, urls[instance], user, start + at))
        outcomes = [future.result() for future in futures]
    return outcomes, time.monotonic() - start


def global_charged(collection: str) -> int:
    """The deployment's budget as stored: the sum of its shards (FIRESTORE_EMULATOR_HOST)."""
    from google.cloud import firestore

    client = firestore.Client(project=PROJECT_ID)
    return sum(int(snap.to_dict()["count"]) for snap in client.collection(collection).stream()
               if snap.id.startswith("budget|global|"))


def billed(standin_url: str) -> int:
    records = requests.get(f"{standin_url}/_standin/requests", timeout=30).json()
    return sum(r.get("billed_tokens", 0) for r in records if r["method"] != "countTokens")


@dataclasses.dataclass
class Report:
    plan: Plan
    limits: Limits
    outcomes: list[Outcome]
    elapsed: float
    charged: int
    billed: int

    def _count(self, status: int | None, code: str | None = None) -> int:
        return sum(o.status == status and o.code == code for o in self.outcomes)

    def unexpected(self) -> collections.Counter:
        """Transport errors (by class) and unexpected statuses (with their code), counted."""
        expected = {(200, None), (429, "rate_limited"), (429, "quota_exceeded")}
        return collections.Counter(o.error or f"{o.status} {o.code}" for o in self.outcomes
                                   if (o.status, o.code) not in expected)

    @property
    def errors(self) -> int:
        return sum(self.unexpected().values())

    @property
    def server_errors(self) -> int:
        return sum(o.status is not None and o.status >= 500 for o in self.outcomes)

    def inexact_users(self) -> list[int]:
        """Users for whom not exactly min(sent, limit) requests got past the rate limit."""
        past = [0] * self.plan.users
        for outcome in self.outcomes:
            past[outcome.user] += outcome.status == 200 or outcome.code == "quota_exceeded"
        return [user for user, sent in enumerate(self.plan.sent_per_user())
                if past[user] != min(sent, self.limits.per_user)]

    def failures(self) -> list[str]:
        overspend = max(self.charged, self.billed) - self.limits.budget
        checks = {"errors": self.errors == 0, "5xx": self.server_errors == 0,
                  "per-user exactness": not self.inexact_users(),
                  "overspend within one reservation": overspend <= self.limits.reservation,
                  "charged >= billed": self.charged >= self.billed,
                  "per-user limit hit": self._count(429, "rate_limited") > 0,
                  "global budget ran out": self._count(429, "quota_exceeded") > 0}
        return [name for name, ok in checks.items() if not ok]

    def lines(self) -> list[str]:
        plan, limits, sent = self.plan, self.limits, len(self.outcomes)
        over = self.charged - limits.budget
        return [
            f"load: {plan.instances} chat instances, {plan.users} users, {plan.rate:g} requests/s "
            f"for {plan.seconds:g} s (open loop, Firestore emulator)",
            f"limits: {limits.per_user}/hour per user; global budget {limits.budget:,} tokens; "
            f"each request reserves {limits.reservation}, each answer bills {limits.charge}",
            f"requests sent {sent}: 200 {self._count(200)}, 429 rate_limited "
            f"{self._count(429, 'rate_limited')}, 429 quota_exceeded "
            f"{self._count(429, 'quota_exceeded')}",
            f"errors {self.errors} (goal 0){_listed(self.unexpected())}, 5xx "
            f"{self.server_errors} (goal 0)",
            f"per-user limits: {plan.users - len(self.inexact_users())}/{plan.users} users exact "
            f"({sum(s > limits.per_user for s in plan.sent_per_user())} went past the limit)",
            f"global budget: charged {self.charged:,} (stand-in billed {self.billed:,}) of "
            f"{limits.budget:,}: overspend {over:+,} (bound +{limits.reservation}); "
            f"used {self.charged / limits.budget:.1%}",
            f"latency, scheduled send to whole answer: refused (429: token check, admission, "
            f"give-back) {self._percentiles(429)}; answered (200: also the stand-in's reply "
            f"and the settlement) {self._percentiles(200)}",
            f"throughput {sent / self.elapsed:.1f} answers/s over {self.elapsed:.1f} s",
        ]

    def _percentiles(self, status: int) -> str:
        times = sorted(o.latency * 1000 for o in self.outcomes if o.status == status)
        if len(times) < 2:
            return "n/a"
        cuts = statistics.quantiles(times, n=100)
        return f"p50 {cuts[49]:.0f} ms, p99 {cuts[98]:.0f} ms"


def _listed(counts: collections.Counter) -> str:
    return ": " + ", ".join(f"{what} x{n}" for what, n in counts.most_common()) if counts else ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    for name in ("users", "rate", "seconds", "instances"):
        parser.add_argument(f"--{name}", type=type(getattr(Plan, name)), default=getattr(Plan, name))
    args = parser.parse_args(argv)
    plan = Plan(args.users, args.rate, args.seconds, args.instances)
    limits = Limits.for_plan(plan)
    collection = f"load_{secrets.token_hex(4)}"
    services = []
    with tempfile.TemporaryDirectory() as tmp:
        try:
            urls, sign_in, standin_url = start(plan, limits, collection, pathlib.Path(tmp),
                                               services)
            tokens = sign_in_users(sign_in, plan.users)
            requests.post(f"{standin_url}/_standin/script", timeout=30, json={
                "steps": limits.answers(len(plan.schedule()))}).raise_for_status()
            outcomes, elapsed = run_load(urls, tokens, plan)
            report = Report(plan, limits, outcomes, elapsed, global_charged(collection),
                            billed(standin_url))
        finally:
            for service in reversed(services):
                service.stop()
    print("\n".join(report.lines()))
    failed = report.failures()
    if failed:
        print(f"bench_load: goals failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


def start(plan: Plan, limits: Limits, collection: str, logs: pathlib.Path, services: list):
    """The emulators, the stand-in and the plan's chat instances (added to `services` as they
    start); returns the instances' URLs, a sign_in() for a new user and the stand-in's URL."""
    store = start_firestore_emulator(free_port(), PROJECT_ID, log_path=logs / "firestore.out")
    services.append(store)
    os.environ["FIRESTORE_EMULATOR_HOST"] = store.host  # for global_charged
    auth = start_auth_emulator(free_port(), PROJECT_ID, log_path=logs / "auth.out")
    services.append(auth)
    ports = {"auth-emulator": int(auth.host.rsplit(":", 1)[1]), "gemini-standin": free_port()}
    services.append(start_standin(ports["gemini-standin"], logs / "standin.log"))
    env, real_gemini = function_env(limits.settings(), ports)
    if real_gemini:
        sys.exit("bench_load: unset GEMINI_API_KEY: the load goes to the stand-in only")
    env |= {"RATE_LIMIT_STORAGE": f"firestore://{collection}", "FIRESTORE_EMULATOR_HOST": store.host}
    urls = []
    for number in range(plan.instances):
        port = free_port()
        services.append(start_function("chat", port, {**env, "K_REVISION": f"load-{number}"},
                                       logs / f"chat-{number}.log", logs / "build" / str(number)))
        urls.append(f"http://127.0.0.1:{port}/")

    def sign_in() -> str:
        email = f"load.{secrets.token_hex(6)}@example.com"
        return sign_in_with_google(auth.host, sub=f"google-{email}", email=email)["idToken"]

    return urls, sign_in, f"http://127.0.0.1:{ports['gemini-standin']}"


if __name__ == "__main__":
    sys.exit(main())
