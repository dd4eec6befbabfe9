"""Expectations written out from the contract, openapi.yaml (never imported from the code under
test)."""

# components/headers: on every answer, errors and preflights included
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
}
PREFLIGHT_ALLOW_HEADERS = "Authorization, Content-Type, X-Firebase-AppCheck"
