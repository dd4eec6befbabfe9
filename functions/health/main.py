"""The `health` Cloud Function: GET|HEAD /api/health -> {"status": "ok"} and nothing more.

It imports only the core's config, errors and http modules: no Gemini SDK, no firebase-admin.
"""

from core import startup  # first: pauses garbage collection while the modules below load
from core import log
from core.config import load_config
from core.errors import json_response
from core.http import Endpoint

CONFIG = load_config("health")
log.configure(CONFIG.log_level)
ENDPOINT = Endpoint(CONFIG)
startup.loaded()


@ENDPOINT.route("/", "/api/health", methods=("GET", "HEAD"))
def status(request):
    return json_response({"status": "ok"})


def health(request):
    """functions-framework entry point."""
    return ENDPOINT.handle(request)
