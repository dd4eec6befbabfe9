"""A staged function imported in-process exactly as functions-framework imports it, with its
JSON log lines captured: for the production-mode tests that need no server process."""

from __future__ import annotations

import io
import logging
import sys
from pathlib import Path


def import_staged(monkeypatch, target: str, source: Path):
    """(test client, log stream) of the staged function imported in-process, as
    functions-framework does, with its JSON log lines captured in the stream."""
    import functions_framework

    monkeypatch.setenv("FUNCTION_TARGET", target)  # create_app writes it; restore it after
    monkeypatch.delitem(sys.modules, "main", raising=False)
    app = functions_framework.create_app(target=target, source=str(source))
    stream = io.StringIO()
    json_handlers = [h for h in logging.getLogger().handlers
                     if type(h.formatter).__name__ == "JsonFormatter"]
    assert json_handlers, "the function logs JSON lines through the root logger"
    for handler in json_handlers:
        monkeypatch.setattr(handler, "stream", stream)
    return app.test_client(), stream
