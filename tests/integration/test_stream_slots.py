"""Stream slots on the real shared stores (issue #8 §2): with a short answer period, slots held
by hung answers lapse once and never drive the count below zero or free a slot twice."""

from __future__ import annotations

import secrets
import time

import pytest

import core.quota as quota_module
from core.config import load_config
from core.errors import ApiError
from core.quota import Quota


@pytest.fixture(params=["redis", "firestore"])
def quota(request, monkeypatch) -> Quota:
    monkeypatch.setattr(quota_module, "STREAM_MARGIN_S", 1)  # answers of at most 2 s
    if request.param == "redis":
        storage = f"{request.getfixturevalue('redis_server').url}/15"
    else:
        firestore = request.getfixturevalue("firestore")
        monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", firestore.emulator.host)
        storage = f"firestore://slots_{secrets.token_hex(4)}"
    return Quota(load_config("chat", {
        "APP_ENV": "development", "RATE_LIMIT_STORAGE": storage, "GEMINI_TIMEOUT_S": "1",
        "RATE_LIMITS": "100000/minute", "MAX_CONCURRENT_STREAMS_PER_USER": "2",
        "FIREBASE_PROJECT_ID": "demo-jette"}))


def refused(quota: Quota, subject: str) -> str:
    with pytest.raises(ApiError) as caught:
        quota.admit_chat(subject, 0)
    return caught.value.reason


def test_hung_slots_lapse_once_and_never_free_fresh_ones(quota):
    subject = f"uid:slots{secrets.token_hex(4)}"
    hung = [quota.admit_chat(subject, 0), quota.admit_chat(subject, 0)]
    assert refused(quota, subject) == "concurrent_streams"
    time.sleep(4.2)  # two periods of 2 s: the hung answers' slots have lapsed
    fresh = [quota.admit_chat(subject, 0), quota.admit_chat(subject, 0)]
    for admission in hung:  # their instances come back and give their slots back, late
        quota.settle_chat(admission, 0)
    assert refused(quota, subject) == "concurrent_streams"  # no negative count, no extra slot
    quota.settle_chat(fresh[0], 0)
    replacement = quota.admit_chat(subject, 0)
    assert refused(quota, subject) == "concurrent_streams"
    for admission in (fresh[1], replacement):
        quota.settle_chat(admission, 0)


def test_answers_overlapping_across_periods_keep_their_count(quota):
    subject = f"uid:overlap{secrets.token_hex(4)}"
    held = quota.admit_chat(subject, 0)
    for _ in range(4):  # each answer starts while the last is open, across 4 s of periods
        time.sleep(1.1)
        following = quota.admit_chat(subject, 0)
        quota.settle_chat(held, 0)
        held = following
        second = quota.admit_chat(subject, 0)
        assert refused(quota, subject) == "concurrent_streams"
        quota.settle_chat(second, 0)
    quota.settle_chat(held, 0)
