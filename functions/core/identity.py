"""Who is calling: a verified Firebase user or an anonymous client, and its HMAC pseudonym.

Raw uids and IPs stay in memory; logs and counters only ever see `Identity.subject`.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from dataclasses import dataclass, field

__all__ = ["Identity", "pseudonym", "client_ip", "anonymous"]


def pseudonym(secret_key: bytes, kind: str, value: str) -> str:
    """Stable, non-reversible name for a uid or IP: `kind:` + 24 hex chars of HMAC-SHA256."""
    digest = hmac.new(secret_key, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()
    return f"{kind}:{digest[:24]}"


def client_ip(headers, remote_addr: str | None, trusted_hops: int) -> str:
    """The client address as seen by the last `trusted_hops` proxies we trust.

    Google's front end appends the address it saw to X-Forwarded-For; entries to the left of
    that are whatever the client sent, so we count hops from the right and never read the left.
    """
    hops = [h.strip() for h in headers.get("X-Forwarded-For", "").split(",") if h.strip()]
    candidate = hops[-trusted_hops] if trusted_hops and len(hops) >= trusted_hops else remote_addr
    try:
        return str(ipaddress.ip_address((candidate or "").strip()))
    except ValueError:
        return "unknown"


@dataclass(frozen=True)
class Identity:
    subject: str
    uid: str | None = field(default=None, repr=False)
    email: str | None = field(default=None, repr=False)
    email_verified: bool = False
    name: str | None = field(default=None, repr=False)
    picture: str | None = field(default=None, repr=False)
    provider: str | None = None

    @property
    def anonymous(self) -> bool:
        return self.uid is None


def anonymous(secret_key: bytes, ip: str) -> Identity:
    return Identity(subject=pseudonym(secret_key, "ip", ip))
