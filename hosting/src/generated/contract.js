// Written by scripts/generate.py from functions/core/errors.py and
// functions/core/settings.py: do not edit. After changing those, run
//   .venv/bin/python scripts/generate.py
// (tests/unit/test_generated.py fails while this file is stale).

/** Every error code the functions answer with: its HTTP status, the server's default
 * message, and the extra header every answer with it carries (null: none). */
export const ERROR_CODES = Object.freeze({
  invalid_argument: Object.freeze({ status: 400, message: "The request is not valid.", header: null }),
  unauthenticated: Object.freeze({ status: 401, message: "Sign in to continue.", header: "WWW-Authenticate" }),
  permission_denied: Object.freeze({ status: 403, message: "You do not have access to this app.", header: null }),
  not_found: Object.freeze({ status: 404, message: "There is nothing here.", header: null }),
  method_not_allowed: Object.freeze({ status: 405, message: "This method is not allowed here.", header: "Allow" }),
  request_timeout: Object.freeze({ status: 408, message: "The request body did not arrive in time.", header: null }),
  payload_too_large: Object.freeze({ status: 413, message: "The request is too large.", header: null }),
  unsupported_media_type: Object.freeze({ status: 415, message: "Send the request as application/json.", header: null }),
  blocked: Object.freeze({ status: 422, message: "The answer was blocked by the model's safety filters.", header: null }),
  rate_limited: Object.freeze({ status: 429, message: "Too many requests; please wait a moment.", header: "Retry-After" }),
  quota_exceeded: Object.freeze({ status: 429, message: "Your quota is used up for today.", header: "Retry-After" }),
  internal: Object.freeze({ status: 500, message: "Something went wrong on our side.", header: null }),
  upstream_error: Object.freeze({ status: 502, message: "The model service failed; please try again.", header: null }),
  unavailable: Object.freeze({ status: 503, message: "The service is busy or paused; please try again later.", header: "Retry-After" }),
  timeout: Object.freeze({ status: 504, message: "The model took too long to answer.", header: null }),
});

/** The server's default limits (GET /api/auth's chat.limits says the deployment's). */
export const DEFAULT_LIMITS = Object.freeze({
  maxRequestBytes: 20971520,
  maxMessageChars: 8000,
  maxHistoryMessages: 40,
  maxInstructionsChars: 2000,
  maxAttachments: 4,
  maxAttachmentBytes: 5242880,
  attachmentTypes: Object.freeze(["image/png", "image/jpeg", "image/webp", "image/heic", "image/heif", "application/pdf", "text/plain", "text/markdown", "text/csv"]),
});
