"""The `chat` Cloud Function: POST a message (+ history, attachments, a listed model, custom
instructions), get Gemini's answer as JSON or SSE.

parse -> shared checks (origin, method, kill switch, sign-in, body) -> a Bill (limits, the worst
case reserved) -> Gemini -> respond; the bill settles to what Gemini billed, exactly once.
"""

from core import startup  # first: pauses garbage collection while the modules below load
from flask import Response

from core import log
from core.app_check import verify_app
from core.auth import authenticate
from core.body import read_json
from core.config import load_config
from core.errors import ApiError, json_response
from core.http import Endpoint
from core.quota import Quota

from billing import Bill
from sse import ChatEvents
from turn import parse_turn
from upstream import Gemini

CONFIG = load_config("chat")
log.configure(CONFIG.log_level)
ENDPOINT = Endpoint(CONFIG)
QUOTA = Quota(CONFIG)
GEMINI = Gemini(CONFIG)
startup.loaded()


@ENDPOINT.route("/", "/api/chat", methods=("POST", "OPTIONS"))
def answer(request):
    if not CONFIG.chat_enabled:
        raise ApiError("unavailable", "Chat is paused by the operators; please try later.",
                       retry_after=300, reason="kill_switch")
    verify_app(request, CONFIG)
    identity = authenticate(request, CONFIG)
    turn = parse_turn(read_json(request, CONFIG.max_request_bytes), CONFIG)
    streaming = "text/event-stream" in request.headers.get("Accept", "").lower()
    with Bill.open(CONFIG, QUOTA, GEMINI, identity.subject, turn) as bill:
        if streaming:
            first, rest = GEMINI.open_stream(turn, bill.meter)
            return Response(ChatEvents(first, rest, bill.hand_over()),
                            mimetype="text/event-stream", headers={"X-Accel-Buffering": "no"})
        reply = GEMINI.complete(turn, bill.meter)
        return json_response({"reply": reply.text, "finishReason": reply.finish_reason or "STOP",
                              "usage": bill.meter.public_usage(), "quota": bill.settle()})


def chat(request):
    """functions-framework entry point."""
    return ENDPOINT.handle(request)
