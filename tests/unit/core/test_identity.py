"""core.identity: HMAC pseudonyms and the client IP as Google's front end reports it."""

from __future__ import annotations

import re

import pytest

from core.identity import Identity, anonymous, client_ip, pseudonym

KEY = b"k" * 16 + b"0123456789abcdef"
OTHER_KEY = b"another-key-of-32-bytes-for-test"


def test_pseudonym_is_deterministic_for_a_key():
    assert pseudonym(KEY, "uid", "user-123") == pseudonym(KEY, "uid", "user-123")


def test_pseudonym_differs_per_key_kind_and_value():
    base = pseudonym(KEY, "uid", "user-123")
    assert pseudonym(OTHER_KEY, "uid", "user-123") != base
    assert pseudonym(KEY, "ip", "user-123").split(":")[1] != base.split(":")[1]
    assert pseudonym(KEY, "uid", "user-124") != base


def test_pseudonym_shape_is_kind_and_24_hex():
    for kind, value in (("uid", "x"), ("ip", "203.0.113.7"), ("uid", "u" * 1000)):
        name = pseudonym(KEY, kind, value)
        assert re.fullmatch(rf"{kind}:[0-9a-f]{{24}}", name)


@pytest.mark.parametrize("value", ["203.0.113.77", "Zq9UidAbcDef123", "2001:db8::77"])
def test_pseudonym_never_contains_the_raw_value(value):
    assert value not in pseudonym(KEY, "ip", value)
    assert value.lower() not in pseudonym(KEY, "uid", value)


def test_anonymous_identity_uses_the_ip_pseudonym():
    identity = anonymous(KEY, "203.0.113.9")
    assert identity.anonymous and identity.uid is None
    assert identity.subject == pseudonym(KEY, "ip", "203.0.113.9")


def test_identity_repr_hides_personal_data():
    identity = Identity(subject="uid:abc", uid="Zq9-raw-uid", email="ann@zq9.example",
                        name="Ann Zq9", picture="https://zq9.example/p.png")
    text = repr(identity)
    assert "uid:abc" in text
    assert "Zq9" not in text and "zq9" not in text
    assert not identity.anonymous


def xff(value: str) -> dict[str, str]:
    return {"X-Forwarded-For": value}


def test_right_most_entry_is_the_client_seen_by_one_trusted_hop():
    headers = xff("6.6.6.6, 7.7.7.7, 203.0.113.5")  # the left entries were sent by the client
    assert client_ip(headers, "10.0.0.1", 1) == "203.0.113.5"


def test_trusted_hops_count_from_the_right():
    headers = xff("6.6.6.6, 203.0.113.5, 130.211.0.1")
    assert client_ip(headers, "10.0.0.1", 2) == "203.0.113.5"


def test_spoofed_left_entries_never_win():
    for spoof in ("1.1.1.1", "127.0.0.1", "::1", "not-an-ip"):
        assert client_ip(xff(f"{spoof}, 198.51.100.4"), "10.0.0.1", 1) == "198.51.100.4"


def test_falls_back_to_remote_addr():
    assert client_ip({}, "192.0.2.44", 1) == "192.0.2.44"
    assert client_ip(xff(""), "192.0.2.44", 1) == "192.0.2.44"
    assert client_ip(xff(" , "), "192.0.2.44", 1) == "192.0.2.44"
    assert client_ip(xff("198.51.100.4"), "192.0.2.44", 0) == "192.0.2.44"
    assert client_ip(xff("198.51.100.4"), "192.0.2.44", 2) == "192.0.2.44"  # too few hops


@pytest.mark.parametrize(("header", "remote"), [
    ("garbage", "10.0.0.1"), ("1.2.3.4.5", None), ("203.0.113.5:8080", None),
    ("<script>", None), ("", None), ("", "not-an-ip"), ("999.1.1.1", None),
])
def test_garbage_is_unknown(header, remote):
    assert client_ip(xff(header), remote, 1) == "unknown"


def test_ipv6_is_normalized():
    assert client_ip(xff("2001:DB8:0:0:0:0:0:0001"), None, 1) == "2001:db8::1"
    assert client_ip({}, "2001:0db8::0001", 1) == "2001:db8::1"
    assert client_ip(xff(" 203.0.113.5 "), None, 1) == "203.0.113.5"


# Anonymous mode keys an IPv6 client by its /64: one host (SLAAC privacy addresses, or a
# client that rotates on purpose) owns a whole /64, so per-address keys would not limit it.

def test_anonymous_ipv6_identity_is_the_pseudonym_of_its_64():
    identity = anonymous(KEY, "2001:db8:1:2:aaaa:bbbb:cccc:dddd")
    assert identity.anonymous
    assert identity.subject == pseudonym(KEY, "ip", "2001:db8:1:2::/64")


def test_addresses_rotating_inside_one_64_share_one_identity():
    subjects = {anonymous(KEY, f"2001:db8:1:2:{i:x}:{i * 7:x}::{i:x}").subject
                for i in range(1, 50)}
    assert subjects == {pseudonym(KEY, "ip", "2001:db8:1:2::/64")}


def test_neighbouring_64s_and_ipv4_addresses_stay_apart():
    assert anonymous(KEY, "2001:db8:1:2::1").subject != anonymous(KEY, "2001:db8:1:3::1").subject
    # IPv4 stays per address.
    assert anonymous(KEY, "203.0.113.9").subject != anonymous(KEY, "203.0.113.10").subject
    assert anonymous(KEY, "203.0.113.9").subject == pseudonym(KEY, "ip", "203.0.113.9")


def test_ipv4_mapped_ipv6_is_the_ipv4_client():
    assert client_ip(xff("::ffff:203.0.113.5"), None, 1) == "203.0.113.5"
    assert client_ip({}, "::ffff:cb00:7105", 1) == "203.0.113.5"
    assert anonymous(KEY, "::ffff:203.0.113.5").subject == pseudonym(KEY, "ip", "203.0.113.5")
    # ...and two IPv4 clients behind mapped addresses are still two clients, not one /64.
    assert (anonymous(KEY, "::ffff:203.0.113.5").subject
            != anonymous(KEY, "::ffff:203.0.113.6").subject)


def test_ipv6_zone_ids_are_ignored():
    assert anonymous(KEY, "fe80::1%eth0").subject == pseudonym(KEY, "ip", "fe80::/64")


def test_unknown_client_keeps_its_shared_identity():
    assert anonymous(KEY, "unknown").subject == pseudonym(KEY, "ip", "unknown")


def test_rotating_ipv6_addresses_cannot_escape_the_rate_limit():
    from core.config import load_config
    from core.errors import ApiError
    from core.quota import Quota

    config = load_config("chat", {"APP_ENV": "development", "REQUIRE_AUTH": "false",
                                  "RATE_LIMITS": "5/minute",
                                  "MAX_CONCURRENT_STREAMS_PER_USER": "100"})
    quota = Quota(config)

    def admit(header: str):
        ip = client_ip(xff(header), "10.0.0.1", config.trusted_proxy_hops)
        return quota.admit_chat(anonymous(config.secret_key, ip).subject, 0)

    for i in range(5):
        admit(f"2001:db8:aa:bb:{i + 1:x}::{i + 9:x}")
    with pytest.raises(ApiError) as refused:
        admit("2001:db8:aa:bb:ffff:ffff:ffff:ffff")
    assert refused.value.code == "rate_limited"
    # Another /64 (another customer of the same provider) still has its own limit.
    admit("2001:db8:aa:bc::1")


def test_log_subjects_of_anonymous_ipv6_callers_are_their_limit_key(captured):
    import flask

    from core import log
    from core.config import load_config
    from core.http import Endpoint
    from core.identity import anonymous

    config = load_config("chat", {"APP_ENV": "development"})
    endpoint = Endpoint(config)

    @endpoint.route("/", methods=("GET",))
    def probe(request):
        log.logger.info("probe")
        return flask.Response(status=204)

    app = flask.Flask(__name__)
    for host in ("2001:db8:7:9::1", "2001:db8:7:9:ffff::42"):
        with app.test_request_context(headers={"X-Forwarded-For": host}):
            endpoint.handle(flask.request)
    subjects = {line["subject"] for line in captured()}
    assert subjects == {anonymous(config.secret_key, "2001:db8:7:9::5").subject}
