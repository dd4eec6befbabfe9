"""Property: any malformed bearer token gets 401 `unauthenticated`, never a 5xx, never logged.

Hypothesis drives arbitrary token strings (text, base64url segments, JWTs with arbitrary or
deeply nested JSON headers and payloads, signed or not) through the real staged `auth`
function in production mode, in-process, with the fixtures of test_tokens.py.
"""

from __future__ import annotations

import json

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.id_tokens import SigningKey, b64url, firebase_claims, rs256

from . import test_tokens
from .test_tokens import assert_error

# The real staged function and its signing key: test_tokens.py's fixtures, found here by pytest.
staged, certs, load, signing_key = (test_tokens.staged, test_tokens.certs, test_tokens.load,
                                    test_tokens.signing_key)

B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_="
MAX_TOKEN_CHARS = 4096
DEEP = 2900  # open arrays: 3868 base64url chars, so the token still reaches the JSON parser

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20)
# Header and payload fields firebase-admin and google-auth read, with values of any JSON type.
HEADER_KEYS = st.sampled_from(["alg", "kid", "typ", "crit", "x5u", "jku"])
CLAIM_KEYS = st.sampled_from(["aud", "iss", "sub", "iat", "exp", "auth_time", "email",
                              "email_verified", "firebase", "v", "d", "uid", "user_id"])


def _segment(value) -> str:
    return b64url(json.dumps(value).encode())


@st.composite
def nested(draw) -> str:
    """JSON arrays nested deeper than Python's recursion limit (closed, half closed or open).

    Hypothesis runs a test with the recursion limit raised by 2000 frames; the deployed function
    has the default 1000, so 1000 levels break it and DEEP breaks it here too."""
    depth = draw(st.integers(min_value=900, max_value=DEEP))
    inner = draw(st.sampled_from(["", "1", "{}", '{"a":1}', '"x"']))
    return "[" * depth + inner + "]" * draw(st.sampled_from([depth, 0, depth // 2]))


@st.composite
def jwt_like(draw, signing_key: SigningKey) -> tuple[str, bool]:
    """(token, signed): a JWT whose header and claims hold arbitrary JSON, maybe nested deep,
    and maybe signed by the key the function trusts (then its claims may be odd but genuine)."""
    header = draw(st.dictionaries(HEADER_KEYS, json_values, max_size=4)
                  | st.sampled_from([{"alg": "none"}, {"alg": "RS256", "kid": signing_key.kid},
                                     {"alg": "HS256"}]))
    claims = {**firebase_claims(), **draw(st.dictionaries(CLAIM_KEYS, json_values, max_size=4))}
    header_segment = draw(st.just(_segment(header)) | nested().map(lambda t: b64url(t.encode())))
    payload_segment = draw(st.just(_segment(claims)) | nested().map(lambda t: b64url(t.encode())))
    if draw(st.booleans()):
        return ".".join([header_segment, payload_segment, draw(st.text(B64URL, max_size=40))]), False
    signing_input = f"{header_segment}.{payload_segment}".encode()
    return f"{signing_input.decode()}.{b64url(rs256(signing_key.private)(signing_input))}", True


def tokens(signing_key: SigningKey):
    header_safe = st.characters(blacklist_characters="\r\n\x00", blacklist_categories=("Cs",))
    unsigned = st.one_of(
        st.text(header_safe, max_size=200),
        st.lists(st.text(B64URL, max_size=60), min_size=1, max_size=5).map(".".join),
    )
    return unsigned.map(lambda token: (token, False)) | jwt_like(signing_key)


def test_any_malformed_token_is_401_never_5xx_never_logged(load, signing_key):
    function = load(AUTH_RATE_LIMITS="100000/minute")  # genuine odd tokens may be admitted
    seen = [0]

    @settings(max_examples=150, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(case=tokens(signing_key))
    @example(case=(b64url(b"[" * DEEP) + "." + _segment({}) + ".", False))
    @example(case=(_segment({"alg": "none"}) + "." + b64url(b"[" * DEEP) + ".", False))
    @example(case=(b64url(("[" * 1200 + "]" * 1200).encode()) + "." + _segment({}) + ".", False))
    def check(case: tuple[str, bool]) -> None:
        token, signed = case
        response = function.whoami(f"Bearer {token}")
        if signed and response.status_code in (200, 403):
            # Signed by the trusted key with odd claims: genuine, so a sign-in decision, not 5xx.
            assert response.status_code == 200 or response.get_json()["error"]["code"] == \
                "permission_denied"
        else:
            assert response.status_code == 401, (response.status_code, response.get_data())
            assert_error(response, 401, "unauthenticated")
            assert response.headers["WWW-Authenticate"] == "Bearer"
        text = function.log_stream.getvalue()
        new, seen[0] = text[seen[0]:], len(text)
        entries = [json.loads(line) for line in new.splitlines()]
        if response.status_code == 401:
            assert [e["reason"] for e in entries if e.get("event") == "auth_failure"]
        assert not [e for e in entries if e.get("severity") in ("ERROR", "CRITICAL")]
        logged = json.dumps([list(e.values()) for e in entries], ensure_ascii=False)
        for part in {token.strip(), *token.strip().split(".")}:
            if len(part) >= 16 and len(token) <= MAX_TOKEN_CHARS:
                assert part not in logged, "a log line quoted the token"

    check()
    # The deep nesting did reach the JSON parser (and was refused as "invalid", not a 500).
    parse_errors = {e.get("error_class") for e in function.log_entries()}
    assert "RecursionError" in parse_errors
