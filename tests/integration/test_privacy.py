"""Privacy: plant canary message text, API key, tokens, e-mails and IPs through every path
(success, refusal, upstream failure), then search every captured log line: zero hits.
"""

from __future__ import annotations

import json
import secrets

import requests

CANARY_TEXT = "canary-message-" + secrets.token_hex(8)
CANARY_IP = "198.51.100.77"
SPOOFED_IP = "203.0.113.200"


def read_lines(log_dir):
    lines = []
    for path in sorted(log_dir.glob("*.log")):
        lines += [(path.name, line) for line in path.read_text(errors="replace").splitlines()]
    return lines


def test_no_secret_reaches_any_log(functions, sign_in, standin, canaries, log_dir):
    canaries.add(CANARY_TEXT, CANARY_IP, SPOOFED_IP)
    chat = functions.url("chat")
    anonymous_chat = functions.url("chat", REQUIRE_AUTH="false")
    email = f"canary.person.{secrets.token_hex(4)}@example.com"
    token = sign_in(email)
    auth = {"Authorization": f"Bearer {token}", "X-Forwarded-For": f"{SPOOFED_IP}, {CANARY_IP}",
            "X-Cloud-Trace-Context": "0123456789abcdef0123456789abcdef/1;o=1"}

    def post(url, body, **headers):
        return requests.post(url, json=body, headers={**auth, **headers}, timeout=20)

    assert post(chat, {"message": CANARY_TEXT}).status_code == 200
    assert post(chat, {"message": CANARY_TEXT}, Accept="text/event-stream").status_code == 200
    assert post(anonymous_chat, {"message": CANARY_TEXT}, Authorization=None).status_code == 200
    refused = [
        post(chat, {"message": CANARY_TEXT, CANARY_TEXT: CANARY_TEXT}),
        post(chat, {"message": CANARY_TEXT * 1000}),
        post(chat, {"message": CANARY_TEXT, "history": [{"role": CANARY_TEXT, "text": "x"}]}),
        post(chat, {"message": CANARY_TEXT}, Authorization=f"Bearer forged.{CANARY_TEXT}.sig"),
        post(chat, {"message": CANARY_TEXT}, Origin=f"https://{CANARY_TEXT}.example"),
    ]
    assert [r.status_code for r in refused] == [400, 400, 400, 401, 403]
    for body in (r.text for r in refused):
        assert CANARY_TEXT not in body and email not in body
    standin.script({"action": "error", "status": 400}, {"action": "drop", "after_chunks": 1})
    assert post(chat, {"message": CANARY_TEXT}).status_code == 502
    assert post(chat, {"message": CANARY_TEXT}, Accept="text/event-stream").status_code == 200
    assert requests.get(functions.url("auth"), headers=auth, timeout=10).status_code == 200

    lines = read_lines(log_dir)
    assert lines, "the functions logged nothing: the scan below would prove nothing"
    leaks = [(name, line[:200]) for name, line in lines for value in canaries.values
             if value in line]
    assert leaks == []

    events = [json.loads(line) for name, line in lines if name.startswith("chat")
              and line.startswith("{")]
    kinds = {(e.get("event"), e.get("reason")) for e in events}
    assert ("validation_failed", "unknown_field") in kinds
    assert ("auth_failure", "invalid") in kinds or ("auth_failure", "malformed") in kinds
    assert any(e.get("event") == "origin_rejected" for e in events)
    assert any(e.get("event") == "upstream_error" for e in events)
    successes = [e for e in events if e.get("event") == "auth_success"]
    assert successes and all(e["subject"].startswith("uid:") for e in successes)
    traced = [e for e in events if "logging.googleapis.com/trace" in e]
    assert traced and traced[0]["logging.googleapis.com/trace"] == \
        "projects/demo-jette/traces/0123456789abcdef0123456789abcdef"
