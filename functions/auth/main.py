"""The `auth` Cloud Function: who am I (GET /api/auth: the user, the quota left and the chat
settings the web app reads) and sign out everywhere (POST /revoke).

Both need a valid Firebase ID token, whatever REQUIRE_AUTH says: there is no anonymous "me".
"""

from core import startup  # first: pauses garbage collection while the modules below load
from flask import Response

from core import log
from core.app_check import verify_app
from core.auth import authenticate, revoke_sessions
from core.config import chat_settings, load_config
from core.errors import json_response
from core.http import Endpoint
from core.quota import Quota

CONFIG = load_config("auth")
log.configure(CONFIG.log_level)
ENDPOINT = Endpoint(CONFIG)
QUOTA = Quota(CONFIG)
startup.loaded()


@ENDPOINT.route("/", "/api/auth", methods=("GET", "OPTIONS"))
def whoami(request):
    verify_app(request, CONFIG)
    identity = authenticate(request, CONFIG, allow_anonymous=False)
    QUOTA.admit_request(identity.subject)
    return json_response({
        "uid": identity.uid,
        "email": identity.email,
        "emailVerified": identity.email_verified,
        "name": identity.name,
        "picture": identity.picture,
        "provider": identity.provider,
        "allowed": True,
        "quota": QUOTA.status(identity.subject),
        "chat": chat_settings(CONFIG),
    })


@ENDPOINT.route("/revoke", "/api/auth/revoke", methods=("POST", "OPTIONS"))
def revoke(request):
    verify_app(request, CONFIG)
    identity = authenticate(request, CONFIG, allow_anonymous=False)
    QUOTA.admit_request(identity.subject)
    revoke_sessions(identity, CONFIG)
    return Response(status=204)


def auth(request):
    """functions-framework entry point."""
    return ENDPOINT.handle(request)
