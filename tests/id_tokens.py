"""Real Firebase-style ID tokens for the sign-in tests (tests/production, tests/unit/core),
signed by a key made at test time.

`CertEndpoint` answers what Google's securetoken x509 certificate URL would: {kid: cert PEM}.
Nothing here is a committed key: every key pair is generated when the tests run.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID
from google.auth import transport

PROJECT = "prod-test-project"
ISSUER = f"https://securetoken.google.com/{PROJECT}"
CERT_URL = ("https://www.googleapis.com/robot/v1/metadata/x509/"
            "securetoken@system.gserviceaccount.com")
UID = "Uq" + secrets.token_hex(13)
EMAIL = f"person.{secrets.token_hex(5)}@example.org"
NAME = "Test Person"
PICTURE = "https://lh3.googleusercontent.com/a/test-picture"


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private: rsa.RSAPrivateKey
    cert_pem: str


def new_signing_key(kid: str) -> SigningKey:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    common_name = x509.NameAttribute(NameOID.COMMON_NAME, "securetoken.system.gserviceaccount.com")
    name = x509.Name([common_name])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(private.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1)).sign(private, hashes.SHA256()))
    return SigningKey(kid, private, cert.public_bytes(serialization.Encoding.PEM).decode())


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def encode_jwt(header: dict, claims: dict, sign=None) -> str:
    """A compact JWT; `sign(signing_input) -> bytes`, or None for an unsigned token."""
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
    return f"{signing_input}.{b64url(sign(signing_input.encode()) if sign else b'')}"


def rs256(private: rsa.RSAPrivateKey):
    return lambda data: private.sign(data, padding.PKCS1v15(), hashes.SHA256())


def hs256(secret: bytes):
    return lambda data: hmac.new(secret, data, hashlib.sha256).digest()


def firebase_claims(email: str | None = EMAIL, verified: bool = True, **overrides) -> dict:
    """The claims of a Google sign-in ID token, as Firebase Auth issues them."""
    now = int(time.time())
    claims = {"name": NAME, "picture": PICTURE, "iss": ISSUER, "aud": PROJECT,
              "auth_time": now - 60, "user_id": UID, "sub": UID, "iat": now - 30,
              "exp": now - 30 + 3600, "email": email, "email_verified": verified,
              "firebase": {"identities": {"google.com": ["104857600000000000001"],
                                          "email": [email]},
                           "sign_in_provider": "google.com"}}
    if email is None:  # e.g. a phone sign-in: Firebase then sends no e-mail claims at all
        del claims["email"], claims["email_verified"], claims["firebase"]["identities"]["email"]
    claims.update(overrides)
    return claims


def id_token(key: SigningKey, **claim_overrides) -> str:
    header = {"alg": "RS256", "kid": key.kid, "typ": "JWT"}
    return encode_jwt(header, firebase_claims(**claim_overrides), rs256(key.private))


def emulator_token() -> str:
    """Exactly the shape the Firebase Auth emulator issues: unsigned, no kid, empty signature."""
    return encode_jwt({"alg": "none", "typ": "JWT"}, firebase_claims())


class CertResponse(transport.Response):
    def __init__(self, status: int, data: bytes):
        self._status, self._data = status, data

    status = property(lambda self: self._status)
    headers = property(lambda self: {"content-type": "application/json"})
    data = property(lambda self: self._data)


class CertEndpoint:
    """What https://www.googleapis.com/robot/v1/metadata/x509/securetoken@... answers."""

    def __init__(self, key: SigningKey):
        self.key, self.status, self.requested = key, 200, []

    def __call__(self, url, method="GET", **_):
        self.requested.append((method, url))
        if url != CERT_URL or self.status != 200:
            return CertResponse(self.status if url == CERT_URL else 404, b"unavailable")
        return CertResponse(200, json.dumps({self.key.kid: self.key.cert_pem}).encode())
