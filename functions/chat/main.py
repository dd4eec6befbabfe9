"""The `chat` Cloud Function: POST a message (+ history, attachments, a listed model, custom
instructions), get Gemini's answer as JSON or SSE.

parse -> shared checks (origin, method, kill switch, sign-in, body, limits) -> Gemini -> respond.
"""

import functools

from flask import Response

from core import log
from core.app_check import verify_app
from core.auth import authenticate
from core.body import read_json
from core.config import load_config
from core.errors import ApiError, json_response
from core.http import Endpoint
from core.quota import Quota

from billing import Meter, charge, reservation
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
    verify_app(request, CONFIG)
    identity = authenticate(request, CONFIG)
    turn = parse_turn(read_json(request, CONFIG.max_request_bytes), CONFIG)
    meter = Meter()
    if any(attachment.token_bound() is None for attachment in turn.all_attachments()):
        QUOTA.precheck_chat(identity.subject)  # Gemini counts no file of a refused request
    count_media = functools.partial(GEMINI.count_media, subject=identity.subject, model=turn.model)
    admission = QUOTA.admit_chat(identity.subject, reservation(turn, CONFIG, count_media))

    @functools.cache  # counted once, however often the stream asks
    def settle() -> dict:
        """Charge what Gemini bills and free the stream slot."""
        count_tokens = functools.partial(GEMINI.count_tokens, model=turn.model)
        return admission.settle(charge(meter, turn, CONFIG, count_tokens))

    streaming = "text/event-stream" in request.headers.get("Accept", "").lower()
    try:
        if streaming:
            first, rest = GEMINI.open_stream(turn, identity.subject, meter)
        else:
            reply = GEMINI.complete(turn, identity.subject, meter)
    except BaseException:
        settle()  # Gemini bills only what it accepted: usually nothing here
        raise
    if streaming:
        return Response(ChatEvents(first, rest, meter, settle),
                        mimetype="text/event-stream", headers={"X-Accel-Buffering": "no"})
    return json_response({"reply": reply.text, "finishReason": reply.finish_reason or "STOP",
                          "usage": meter.public_usage(), "quota": settle()})


def chat(request):
    """functions-framework entry point."""
    return ENDPOINT.handle(request)
