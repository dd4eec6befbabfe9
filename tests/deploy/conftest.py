"""Fixtures of the deploy tests: a fresh sandbox per test, the committed golden plans."""

from __future__ import annotations

import pytest

from .sandbox import GOLDEN, TARGETS, Sandbox


@pytest.fixture
def sandbox(tmp_path) -> Sandbox:
    return Sandbox(tmp_path)


@pytest.fixture(scope="session")
def golden_plans() -> dict[str, str]:
    return {target: (GOLDEN / f"{target}.txt").read_text() for target in TARGETS}
