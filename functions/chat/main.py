"""The `chat` Cloud Function: POST a message (+ history), get Gemini's answer as JSON or SSE.

parse -> shared checks (origin, method, kill switch, sign-in, body, limits) -> Gemini -> respond.
"""

from flask import Response

from core import log
from core.auth import authenticate
from core.body import read_json
from core.config import load_config
from core.errors import ApiError, json_response
from core.http import Endpoint
from core.quota import Quota

from sse import ChatEvents
from turn import parse_turn
from upstream import Gemini

CONFIG = load_config("chat")
log.configure(CONFIG.log_level)
ENDPOINT = Endpoint(CONFIG)
QUOTA = Quota(CONFIG)
GEMINI = Gemini(CONFIG)


@ENDPOINT.route("/", "/api/chat", methods=("POST", "OPTIONS"))
def answer(request):
    if not CONFIG.chat_enabled:
        raise ApiError("unavailable", "Chat is paused by the operators; please try later.",
                       retry_after=300, reason="kill_switch")
    identity = authenticate(request, CONFIG)
    turn = parse_turn(read_json(request, CONFIG.max_request_bytes), CONFIG)
    admission = QUOTA.admit_chat(identity.subject)
    streaming = "text/event-stream" in request.headers.get("Accept", "")
    try:
        if streaming:
            first, rest = GEMINI.open_stream(turn, identity.subject)
        else:
            reply = GEMINI.complete(turn, identity.subject)
    except BaseException:
        admission.finish(0)  # nothing was generated: free the stream slot, charge nothing
        raise
    if streaming:
        return Response(ChatEvents(first, rest, admission.finish),
                        mimetype="text/event-stream", headers={"X-Accel-Buffering": "no"})
    return json_response({"reply": reply.text, "finishReason": reply.finish_reason or "STOP",
                          "usage": reply.public_usage(),
                          "quota": admission.finish(reply.total_tokens())})


def chat(request):
    """functions-framework entry point."""
    return ENDPOINT.handle(request)
