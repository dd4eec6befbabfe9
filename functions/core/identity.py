"""Who is calling: a verified Firebase user or an anonymous client, and its HMAC pseudonym.

Raw uids and IPs stay in memory; logs and counters only ever see `Identity.subject`.
An anonymous IPv6 client is keyed by its /64 (one host owns a whole /64 and can rotate
addresses inside it at will); an IPv4 client, and an IPv4-mapped IPv6 one, by its address.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from dataclasses import dataclass, field

__all__ = ["Identity", "pseudonym", "client_ip", "anonymous", "client_key"]

IPV6_CLIENT_PREFIX = 64


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
        address = ipaddress.ip_address((candidate or "").strip())
    except ValueError:
        return "unknown"
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # ::ffff:a.b.c.d is the IPv4 client a.b.c.d
    return str(address)


def client_key(ip: str) -> str:
    """What anonymous limits count per: an IPv4 address, or the /64 of an IPv6 address."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip  # "unknown": every unparseable client shares one key
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        host_bits = 128 - IPV6_CLIENT_PREFIX  # (a zone id such as %eth0 is dropped too)
        network = int(address) >> host_bits << host_bits
        return str(ipaddress.IPv6Network((network, IPV6_CLIENT_PREFIX)))
    return str(address)


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
    """An anonymous caller: the pseudonym of its IPv4 address or of its IPv6 /64."""
    return Identity(subject=pseudonym(secret_key, "ip", client_key(ip)))
