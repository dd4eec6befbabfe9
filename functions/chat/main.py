"""The `chat` Cloud Function: POST a message (+ history), get Gemini's answer as JSON or SSE.

parse -> shared checks (origin, method, kill switch, sign-in, body) -> Gemini -> respond.
"""

from flask import Response

from core import log
from core.auth import authenticate
from core.body import read_json
from core.config import load_config
from core.errors import ApiError, json_response
from core.http import Endpoint

from sse import chat_events
from turn import parse_turn
from upstream import Gemini

CONFIG = load_config("chat")
log.configure(CONFIG.log_level)
ENDPOINT = Endpoint(CONFIG)
GEMINI = Gemini(CONFIG)


@ENDPOINT.route("/", "/api/chat", methods=("POST", "OPTIONS"))
def answer(request):
    if not CONFIG.chat_enabled:
        raise ApiError("unavailable", "Chat is paused by the operators; please try later.",
                       retry_after=300, reason="kill_switch")
    identity = authenticate(request, CONFIG)
    turn = parse_turn(read_json(request, CONFIG.max_request_bytes), CONFIG)
    if "text/event-stream" in request.headers.get("Accept", ""):
        first, rest = GEMINI.open_stream(turn, identity.subject)
        return Response(chat_events(first, rest), mimetype="text/event-stream",
                        headers={"X-Accel-Buffering": "no"})
    reply = GEMINI.complete(turn, identity.subject)
    return json_response({"reply": reply.text, "finishReason": reply.finish_reason or "STOP",
                          "usage": reply.public_usage()})


def chat(request):
    """functions-framework entry point."""
    return ENDPOINT.handle(request)
