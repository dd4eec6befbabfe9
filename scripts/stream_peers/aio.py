"""The async passthrough peer of scripts/bench_streams.py: the threaded one on
functions_framework.aio (Starlette on uvicorn) with google-genai's async client."""

import functions_framework.aio
from peer import CLIENT, MODEL, event
from starlette.responses import StreamingResponse


@functions_framework.aio.http
async def passthrough(request):
    message = (await request.json())["message"]
    stream = await CLIENT.aio.models.generate_content_stream(model=MODEL, contents=message)

    async def events():
        async for chunk in stream:
            if chunk.text:
                yield event("delta", {"text": chunk.text})
        yield event("done", {})

    return StreamingResponse(events(), media_type="text/event-stream")
