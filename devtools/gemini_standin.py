"""Local stand-in for the Gemini REST API (generateContent, streamGenerateContent, countTokens).
Lets the real google-genai SDK run unchanged in tests; failures are scripted via /_standin/*.

`python devtools/gemini_standin.py [--port 8090]` serves it until SIGTERM / Ctrl-C; tests call
serve(). The parts, each by what it does:
  standin_request.py  reads a request as Gemini does: validation (text and inline-data parts,
                      the accepted MIME types) and the one prompt-token count;
  standin_media.py    the inline data: base64, image sizes, PDF pages, media tokens;
  standin_replies.py  the scripted actions (echo, reply, hang, drop, safety_stop, block, empty,
                      error) and the response bodies they produce;
  standin_server.py   the HTTP side: request records, the API and /_standin/* admin paths.

Models: DEFAULT_MODELS plus `--models a,b` / $GEMINI_STANDIN_MODELS (comma-separated); any other
model gets Gemini's 404 NOT_FOUND.
"""
from __future__ import annotations

import argparse
import signal
import sys
import threading

from standin_server import DEFAULT_MODELS, MODELS_ENV, StandinServer, model_ids

__all__ = ["DEFAULT_MODELS", "MODELS_ENV", "StandinServer", "base_url", "main", "serve"]


def serve(host: str = "127.0.0.1", port: int = 0, chunk_delay: float = 0.05, models=()):
    """Starts the stand-in in a background thread; returns (server, thread). Stop with server.shutdown().
    `models`: model ids known besides DEFAULT_MODELS and $GEMINI_STANDIN_MODELS."""
    server = StandinServer((host, port), chunk_delay, models)
    thread = threading.Thread(target=server.serve_forever, name="gemini-standin", daemon=True)
    thread.start()
    return server, thread


def base_url(server: StandinServer) -> str:
    host, port = server.server_address[:2]
    return f"http://{host}:{port}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8090)
    ap.add_argument("--chunk-delay", type=float, default=0.05)
    ap.add_argument("--models", default="", help=f"comma-separated model ids known besides "
                    f"{', '.join(DEFAULT_MODELS)} (also ${MODELS_ENV})")
    args = ap.parse_args(argv)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    server, _ = serve(args.host, args.port, args.chunk_delay, model_ids(args.models))
    print(f"gemini-standin listening on {base_url(server)}", flush=True)
    while not stop.wait(0.5):
        pass
    server.shutdown()
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
