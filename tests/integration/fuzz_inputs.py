"""What the fuzz suite sends: hypothesis strategies for JSON bodies, chat requests, header values,
paths and methods; tables of malformed HTTP; and openapi.yaml's chat schema as an independent
oracle.
"""

from __future__ import annotations

import base64
import json
import time

from hypothesis import strategies as st

from tests.integration.fuzz_attachments import attachment_lists, attachments_statuses
from tests.integration.fuzz_http import ALLOWED_ORIGINS, LEAKS, request_bytes
from tests.integration.harness import APP_ORIGIN, PROJECT_ID

ROUTES = {  # openapi.yaml's paths (and x-direct-paths) -> methods, per function
    "chat": {"/": ("POST", "OPTIONS"), "/api/chat": ("POST", "OPTIONS")},
    "auth": {"/": ("GET", "OPTIONS"), "/api/auth": ("GET", "OPTIONS"),
             "/revoke": ("POST", "OPTIONS"), "/api/auth/revoke": ("POST", "OPTIONS")},
    "health": {"/": ("GET", "HEAD"), "/api/health": ("GET", "HEAD")},
}
MAX_CHARS, MAX_HISTORY, MAX_BYTES = 8000, 40, 65536  # openapi.yaml's defaults; 64 KiB
MAX_INSTRUCTIONS, MODELS = 2000, ("gemini-2.5-flash",)  # issue #10's defaults (GEMINI_MODEL)
VALID = object()  # stands for the signed-in user's real ID token
JSON = ("Content-Type", "application/json")

# ---- JSON ------------------------------------------------------------------------------------

texts = st.text(max_size=40).filter(lambda text: not any(word in text for word in LEAKS))
scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), texts,
                    st.text(st.characters(categories=["Cs", "Co", "Cc", "Zs", "Mn"]), max_size=6))
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(texts, inner, max_size=4), max_leaves=12)
edge_texts = st.sampled_from([
    "", " ", "\t\n", "\u3000", "\u200b", "\u2028", "\x00", "\ufeff", "\U0001f600", "e\u0301",
    "\uffff", "a" * MAX_CHARS, "a" * (MAX_CHARS + 1), "w " * (MAX_CHARS // 2),
    "\U0001f600" * MAX_CHARS, "null", "</script>", "%s%n{0}"])
message_values = st.one_of(texts, edge_texts, json_values)


def dump(value, ascii_only: bool) -> bytes:
    # "surrogatepass": an unescaped lone surrogate becomes CESU-8 bytes, i.e. invalid UTF-8.
    return json.dumps(value, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")


def nested(depth: int, kind: str) -> bytes:
    if kind == "list":
        return b"[" * depth + b"1" + b"]" * depth
    if kind == "object":
        return b'{"a":' * depth + b"1" + b"}" * depth
    return b"[" * depth  # never closed


RAW_TRICKS = [
    b"NaN", b"-Infinity", b"Infinity", b"nan", b"1e999999", b"-0", b"1" * 5000, b"0x10", b"01",
    b".5", b"+1", b"1_000", b'"\\ud800"', b'"\\udfff x"', b'"\\ud83d\\ude00"', b'"\\u0000"',
    b'"a\x01b"', b"'single'", b'"tab\there"', b"", b'{"message": "a", "message": "b"}',
    b'{"message": "hi",}', b'{"message": "hi"} x', b'{"message": "hi"}{}',
    b'/*c*/{"message": "hi"}', b"\xc2\xa0{}", b'{"\\u', b'"', b"true", b"[]", b"{}",
    b'"\xed\xa0\x80"', b'"\xff\xfe"', b'"\xc0\xaf"']
raw_tricks = st.one_of(st.sampled_from(RAW_TRICKS), st.builds(
    nested, st.one_of(st.integers(28, 36), st.sampled_from([200, 1000, 20000, 40000])),
    st.sampled_from(["list", "object", "open"])))


def corrupt(raw: bytes, bad: bytes, where: int) -> bytes:
    where %= len(raw) + 1
    return raw[:where] + bad + raw[where:]


def _history_items():
    roles = st.one_of(st.sampled_from(["user", "model", "system", "assistant", "User", "MODEL",
                                       "function", "tool", "", " user", "user\x00"]),
                      texts, json_values)
    item = st.fixed_dictionaries({}, optional={"role": roles, "text": message_values,
                                               "parts": json_values, "Role": texts,
                                               "attachments": attachment_lists | json_values})
    valid = st.fixed_dictionaries({"role": st.sampled_from(["user", "model"]), "text": texts})
    return st.one_of(valid, item, _attached_turns, json_values)


_attached_turns = st.fixed_dictionaries(  # a user turn's files (a model turn may carry none)
    {"role": st.sampled_from(["user", "user", "model"]), "text": texts | edge_texts,
     "attachments": attachment_lists})


UNKNOWN_FIELDS = ["system_instruction", "systemInstruction", "temperature", "model",
                  "attachments", "instructions", "role", "Message", "message ", "__proto__",
                  "generationConfig", "safetySettings", "tools"]
chat_bodies = st.fixed_dictionaries({}, optional={
    "message": message_values,
    "model": st.sampled_from([*MODELS, "gemini-2.5-pro", "Gemini-2.5-Flash", ""]) | json_values,
    "instructions": message_values,
    "history": st.one_of(st.lists(_history_items(), max_size=4), json_values,
                         st.integers(MAX_HISTORY - 1, MAX_HISTORY + 1).map(
                             lambda n: [{"role": "user", "text": "x"}] * n)),
    "attachments": attachment_lists | attachment_lists | json_values,
}).flatmap(lambda body: st.just(body) | st.dictionaries(
    st.sampled_from(UNKNOWN_FIELDS) | texts, json_values, max_size=2).map(
        lambda extra: {**extra, **body}))

# Bodies about files: a message, its attachments, and a history whose user turns carry some.
attachment_bodies = st.fixed_dictionaries(
    {"message": texts | edge_texts, "attachments": attachment_lists},
    optional={"history": st.lists(_attached_turns | st.fixed_dictionaries(
        {"role": st.sampled_from(["user", "model"]), "text": texts}), max_size=3)})

json_bodies = st.one_of(
    st.builds(dump, json_values, st.booleans()),
    st.builds(lambda value, ascii_only: dump({"message": value}, ascii_only), message_values,
              st.booleans()),
    st.builds(dump, chat_bodies, st.booleans()),
    raw_tricks,
    raw_tricks.map(lambda raw: b'{"message": ' + raw + b"}"),
    st.builds(lambda text, prefix: prefix + dump({"message": text}, False), texts,
              st.sampled_from([b"\xef\xbb\xbf", b" \r\n\t", b"\xc2\xa0", b"\x00"])),
    st.builds(corrupt, st.builds(dump, chat_bodies, st.just(False)),
              st.sampled_from([b"\xff", b"\xc0\xaf", b"\xed\xa0\x80", b"\xe2\x82", b"\x80"]),
              st.integers(0, 10**6)),
    st.binary(max_size=64),
    st.integers(MAX_BYTES - 30, MAX_BYTES + 30).map(
        lambda size: b'{"message": "' + b"a" * (size - 16) + b'"}'),
)


def chat_statuses(raw: bytes) -> frozenset[int]:
    """The statuses openapi.yaml allows for this chat body (strict UTF-8 JSON, exact schema, each
    check in the contract's order, the first failure answering), decided without the product:
    {200} for a valid request."""
    if len(raw) > MAX_BYTES:
        return frozenset({413})
    body = _strict_json(raw)
    if not isinstance(body, dict):
        return frozenset({400})
    return _body_statuses(body) or frozenset({200})


def _strict_json(raw: bytes):
    if raw.startswith(b"\xef\xbb\xbf"):
        return None

    def pairs(items):
        if len({key for key, _ in items}) != len(items):
            raise ValueError("duplicate key")
        return dict(items)

    def no_constant(name):
        raise ValueError(name)

    try:
        body = json.loads(raw.decode("utf-8"), object_pairs_hook=pairs, parse_constant=no_constant)
        json.dumps(body, ensure_ascii=False).encode("utf-8")  # a lone surrogate cannot be sent
    except (ValueError, RecursionError):
        return None
    return body


BAD = frozenset({400})
FIELDS = {"message": str, "history": list, "model": str, "instructions": str, "attachments": list}


def _body_statuses(body: dict) -> frozenset[int]:
    """Empty when the body passes; the message's attachments are checked before its text."""
    if set(body) - set(FIELDS) or "message" not in body or any(
            not isinstance(body[name], kind) for name, kind in FIELDS.items() if name in body):
        return BAD
    attachments = body.get("attachments", [])
    if statuses := attachments_statuses(attachments):
        return statuses
    if not _good_text(body["message"], blank_ok=bool(attachments)):
        return BAD
    if "model" in body and body["model"] not in MODELS:
        return BAD
    instructions = body.get("instructions", "")
    if instructions.strip() and len(instructions) > MAX_INSTRUCTIONS:
        return BAD
    history = body.get("history", [])
    if len(history) > MAX_HISTORY:
        return BAD
    for item in history:
        if not isinstance(item, dict) or set(item) - {"role", "text", "attachments"} \
                or not isinstance(item.get("role"), str) or not isinstance(item.get("text"), str) \
                or not isinstance(item.get("attachments", []), list) \
                or item["role"] not in ("user", "model") \
                or "attachments" in item and item["role"] != "user":
            return BAD
        if statuses := attachments_statuses(item.get("attachments", [])):
            return statuses
        if not _good_text(item["text"], blank_ok=bool(item.get("attachments"))):
            return BAD
    return frozenset()


def _good_text(value: str, blank_ok: bool) -> bool:
    return (blank_ok or bool(value.strip())) and len(value) <= MAX_CHARS


# ---- header values ---------------------------------------------------------------------------

header_texts = st.text(st.characters(exclude_categories=["Cc", "Cs"]), max_size=40)


def header_bytes(max_size: int = 60):
    """Raw header values gunicorn lets through: visible ASCII, SP, HTAB and obs-text bytes."""
    allowed = bytes([9, *range(0x20, 0x7F), *range(0x80, 0x100)])
    return st.binary(max_size=max_size).map(lambda b: bytes(allowed[x % len(allowed)] for x in b))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forged_jwts():
    """Unsigned tokens (the Auth emulator accepts them): right claims, or mangled ones."""
    now = int(time.time())
    good = {"iss": f"https://securetoken.google.com/{PROJECT_ID}", "aud": PROJECT_ID,
            "sub": "fuzz-forged", "iat": now - 5, "exp": now + 3600, "auth_time": now - 5,
            "email": "forged@example.com", "firebase": {"sign_in_provider": "google.com"}}
    mangled = st.builds(
        lambda drop, changes: {**{k: v for k, v in good.items() if k not in drop}, **changes},
        st.sets(st.sampled_from(sorted(good)), max_size=2),
        st.dictionaries(st.sampled_from([*good, "uid", "name"]), json_values, max_size=2))
    header = st.one_of(st.just({"alg": "none", "typ": "JWT"}), st.just({"alg": "RS256"}),
                       json_values)
    segment = st.one_of(st.builds(lambda v: _b64(dump(v, True)), json_values),
                        st.text("abcXYZ-_=+/.", max_size=12))
    return st.one_of(
        st.builds(lambda h, c: f"{_b64(dump(h, True))}.{_b64(dump(c, True))}.", header,
                  st.just(good) | mangled),
        st.lists(segment, min_size=1, max_size=4).map(".".join))


authorizations = st.one_of(
    st.none(), st.just(VALID), st.just(VALID), forged_jwts().map(lambda t: f"Bearer {t}"),
    st.sampled_from(["Bearer", "Bearer ", "bearer", "Basic dXNlcjpwYXNz", "Token abc",
                     "Bearer a.b.c", "Bearer " + "A" * 4097, "Bearer " + "A.B" * 2600,
                     "Digest x", "Bearer\tx", "Bearer  Bearer x", "Negotiate YII=",
                     "Bearer null", "Bearer undefined"]),
    header_texts.map(lambda t: "Bearer " + t), header_bytes(),
    header_bytes().map(lambda b: b"Bearer " + b))
origins = st.one_of(st.none(), st.sampled_from(sorted(ALLOWED_ORIGINS)), st.sampled_from([
    "null", "https://evil.example", APP_ORIGIN + "/", APP_ORIGIN.upper(), APP_ORIGIN + ".evil",
    "http://app.example.test", APP_ORIGIN + ":443", "*", "file://", "chrome-extension://abc",
    APP_ORIGIN + ", https://evil.example"]), header_texts, header_bytes())
accepts = st.one_of(st.none(), st.sampled_from([
    "application/json", "text/event-stream", "text/event-stream; charset=utf-8", "*/*",
    "text/html, text/event-stream;q=0.9", "TEXT/EVENT-STREAM", "application/json, */*"]),
    header_texts)
forwarded = st.one_of(st.none(), st.sampled_from([
    "198.51.100.7", "1.1.1.1, 2.2.2.2", "::1", "[::1]:80", "999.1.1.1", ", , ,", "unknown",
    "fe80::1%eth0", "1.1.1.1\t,2.2.2.2", ",".join(["10.0.0.1"] * 600), "-1", "0"]),
    header_texts, header_bytes())
hosts = st.one_of(st.sampled_from([
    "", "evil.example", "a b", "[::1", "x:99999", "127.0.0.1:1:2", "..", "a..b", ".", "a" * 64,
    "localhost, evil.example", "xn--", "\u00e9.example"]), header_texts, header_bytes(20))
junk = st.one_of(st.none(), header_texts, header_bytes(), forged_jwts(),
                 st.sampled_from(["a.b.c", "A" * 8000, ""]))


@st.composite
def header_sets(draw, content_type: bool = True):
    """(headers, the Origin as the server reads it) for one request; VALID marks the token."""
    headers = [(name, value) for name, value in (
        ("Authorization", draw(authorizations)), ("Origin", draw(origins)),
        ("Accept", draw(accepts)), ("X-Forwarded-For", draw(forwarded)),
        ("X-Firebase-AppCheck", draw(junk)), ("X-Cloud-Trace-Context", draw(junk)),
        ("traceparent", draw(junk)), ("Cookie", draw(junk)),
        ("Access-Control-Request-Method", draw(junk))) if value is not None]
    if draw(st.booleans()):  # a header twice (a second Host or Content-Type is in MALFORMED)
        headers.append(draw(st.sampled_from(headers or [("X-Extra", "1")])))
    if content_type:
        headers.append(JSON)
    headers = draw(st.permutations(headers))
    return headers, seen_origin(headers)


def seen_origin(headers: list) -> str | None:
    """The Origin as the server reads it: OWS stripped; two Origin headers are never allowed."""
    values = [value for name, value in headers if name == "Origin"]
    if len(values) != 1:
        return "(several)" if values else None
    value = values[0]
    return (value.decode("latin-1") if isinstance(value, bytes) else value).strip(" \t")


def auth_kind(headers: list) -> str:
    values = [value for name, value in headers if name == "Authorization"]
    return "missing" if not values else "valid" if values == [VALID] else "other"


# ---- paths and methods -----------------------------------------------------------------------

METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD", "TRACE", "CONNECT"]
made_up_methods = st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.!$%&'*+^`|~", min_size=3,
                          max_size=20)  # gunicorn's own rule; lower case etc. is in MALFORMED
KNOWN_PATHS = sorted({path for routes in ROUTES.values() for path in routes}
                     | {"/api/chat/x", "/nope", "/api", "/api/chat/", "/API/CHAT", "/api/auth/x",
                        "/api/health/x", "/revoke/x", "/index.html"})
ODD_PATHS = ["//", "/%00", "/api//chat", "/api/chat/..", "/api/../api/chat", "/..", "/%2e%2e/",
             "/api/%63hat", "/api/chat;x", "/api/chat%20", "/api/chat%2F", "/%ff", "/%c3%a9",
             "/%ed%a0%80", "/?", "/#frag", "/" + "a" * 10000, "/a" * 3000,
             "http://evil.example/api/chat", "/api/chat%00", "/./", "/robots.txt",
             "/favicon.ico", "/.env", "/../../etc/passwd", "/api/chat?message=hi",
             "/api/health?" + "x=1&" * 500]
odd_paths = st.one_of(
    st.sampled_from(ODD_PATHS),
    st.text("abc/.%?#;&=~-_:@!$'()*+,0123456789ABCDEF", max_size=30).map(lambda t: "/" + t),
    st.binary(max_size=12).map(lambda b: "/" + "".join(f"%{x:02X}" for x in b)))

# ---- malformed HTTP --------------------------------------------------------------------------

BODY = b'{"message": "hi"}'
_JSON_LINE = b"Content-Type: application/json\r\n"
MALFORMED = [  # request line (+ header lines); Host, Connection and Authorization are added
    b"get / HTTP/1.1", b"patch /api/chat HTTP/1.1", b"G#T / HTTP/1.1", b"GE / HTTP/1.1",
    b"GETGETGETGETGETGETGET / HTTP/1.1", b"G@T / HTTP/1.1", b"GET /\xc3\xa9 HTTP/1.1",
    b"GET /\xff HTTP/1.1", b"GET /a b HTTP/1.1", b"GET / HTTP/2.0", b"GET / HTTP/1.10",
    b"GET / http/1.1", b"GET /", b"GET  / HTTP/1.1", b"\r\nGET / HTTP/1.1", b"GET / HTTP/1.0",
    b"GET http://evil.example/ HTTP/1.1", b"OPTIONS * HTTP/1.1", b"GET * HTTP/1.1",
    b"CONNECT evil.example:443 HTTP/1.1", b"GET / HTTP/1.1\r\nX-A: \x00",
    b"GET / HTTP/1.1\r\nX-A: a\x7fb", b"GET / HTTP/1.1\r\nX A: b", b"GET / HTTP/1.1\r\nNoColon",
    b"GET / HTTP/1.1\r\nX-A : b", b"GET / HTTP/1.1\r\nX-A: b\r\n folded",
    b"GET / HTTP/1.1\r\n: empty", b"GET / HTTP/1.1\r\n\xc3\xa9: b", b"GET / HTTP/1.1\nX-A: lf",
    b"GET / HTTP/1.1\r\nX-Big: " + b"a" * 9000,
    b"GET / HTTP/1.1\r\nOrigin: https://app.example.test\r\nX-Big: " + b"a" * 9000,
    b"GET / HTTP/1.1\r\n" + b"\r\n".join([b"X-Many: 1"] * 101),
    b"GET / HTTP/1.1\r\nHost: a.example",
    b"POST / HTTP/1.1\r\nContent-Type: application/json\r\nContent-Type: text/plain",
]
FRAMED = [  # (header lines, body) of bodies whose framing is broken
    (b"Content-Length: abc", BODY), (b"Content-Length: -1", BODY),
    (b"Content-Length: 17\r\nContent-Length: 16", BODY),
    (b"Content-Length: 17\r\nTransfer-Encoding: chunked", BODY),
    (b"Transfer-Encoding: gzip, chunked", BODY), (b"Transfer-Encoding: xchunked", BODY),
    (_JSON_LINE + b"Transfer-Encoding: chunked", b"zz\r\n" + BODY + b"\r\n0\r\n\r\n"),
    (_JSON_LINE + b"Transfer-Encoding: chunked", b"11\r\n" + BODY + b"\r\n"),
    (_JSON_LINE + b"Transfer-Encoding: chunked", b"fffffffffffffff\r\n" + BODY),
    (b"Transfer-Encoding: chunked", b"zz\r\n"),
    (_JSON_LINE + b"Content-Length: 100", BODY),
    (_JSON_LINE + b"Expect: 100-continue\r\nContent-Length: 17", BODY),
]


def malformed(function: str, token: str) -> list[tuple[str, bytes]]:
    """(method, bytes) of every MALFORMED entry, and of every FRAMED one per route method."""
    extra = b"Host: 127.0.0.1\r\nConnection: close\r\nAuthorization: Bearer " + token.encode()
    requests = [head + b"\r\n" + extra + b"\r\n\r\n" for head in MALFORMED]
    for method in sorted({m for methods in ROUTES[function].values() for m in methods}):
        requests += [method.encode() + b" / HTTP/1.1\r\n" + head + b"\r\n" + extra
                     + b"\r\n\r\n" + body for head, body in FRAMED]
    return [(raw.lstrip(b"\r\n").split(b" ", 1)[0].decode("latin-1"), raw) for raw in requests]


MUTATIONS = [b"\r", b"\n", b"\r\n", b"\x00", b" ", b":", b"\t", b"\xff", b"\x7f", b",", b";",
             b"\r\n\r\n", b"%", b"/", b"?", b"#", b"\xc3\xa9", b"0", b"-"]


@st.composite
def mutated_requests(draw):
    """(function, bytes): a good request to one of its routes, then 1-3 byte edits."""
    function = draw(st.sampled_from(sorted(ROUTES)))
    path, methods = draw(st.sampled_from(sorted(ROUTES[function].items())))
    method = draw(st.sampled_from(methods))
    headers = [("Authorization", "Bearer VALID"), ("Accept", draw(accepts) or "*/*"),
               ("X-Forwarded-For", "198.51.100.7")]
    body = BODY if method == "POST" else b""
    raw = bytearray(request_bytes(method, path, headers + [JSON] * bool(body), body))
    for _ in range(draw(st.integers(1, 3))):
        where = draw(st.integers(0, len(raw)))
        edit = draw(st.sampled_from(["insert", "replace", "delete"]))
        if edit == "delete":
            del raw[where:where + draw(st.integers(1, 4))]
        else:
            piece = draw(st.sampled_from(MUTATIONS) | st.binary(min_size=1, max_size=3))
            raw[where:where + (len(piece) if edit == "replace" else 0)] = piece
    return function, bytes(raw)
