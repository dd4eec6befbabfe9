"""The contract tests run the functions as the integration suite does: its session fixtures (the
Auth emulator, the Gemini stand-in, functions-framework processes) and its privacy scan of every
log line they write."""

from __future__ import annotations

import pytest

from tests.integration import conftest as integration

# The integration suite's fixtures, for these tests too.
log_dir = integration.log_dir
standin_server, standin = integration.standin_server, integration.standin
auth_emulator, sign_in = integration.auth_emulator, integration.sign_in
functions = integration.functions

# Generous limits: the examples must never run out of quota.
GENEROUS = {"RATE_LIMITS": "100000/minute", "AUTH_RATE_LIMITS": "100000/minute",
            "DAILY_TOKEN_BUDGET": str(10**12), "GLOBAL_DAILY_TOKEN_BUDGET": str(10**13),
            "MAX_CONCURRENT_STREAMS_PER_USER": "100"}


class Deployed:
    """One process per function and a signed-in user, whose token goes with every request."""

    def __init__(self, functions, sign_in):
        self.url = {name: functions.url(name, K_REVISION="contract", **GENEROUS)
                    for name in ("chat", "auth", "health")}
        self.token = sign_in(name="Contract Person")
        self.bearer = {"Authorization": f"Bearer {self.token}"}


@pytest.fixture(scope="module")
def deployed(functions, sign_in, standin_server) -> Deployed:
    standin_server.reset()  # no scripted failure left by another test: the stand-in echoes
    return Deployed(functions, sign_in)


def pytest_sessionfinish(session, exitstatus):
    """The integration suite's privacy scan, when it does not run it itself (this folder alone)."""
    if not session.config.pluginmanager.is_registered(integration):
        integration.pytest_sessionfinish(session, exitstatus)
