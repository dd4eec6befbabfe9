"""The threaded passthrough peer of scripts/bench_streams.py: the message to Gemini, its deltas
back as SSE; no sign-in, no limits. Flask on gunicorn's threads, as functions-framework serves
chat."""

from flask import Response
from peer import CLIENT, MODEL, event


def passthrough(request):
    stream = CLIENT.models.generate_content_stream(model=MODEL,
                                                   contents=request.get_json()["message"])

    def events():
        for chunk in stream:
            if chunk.text:
                yield event("delta", {"text": chunk.text})
        yield event("done", {})

    return Response(events(), mimetype="text/event-stream")
