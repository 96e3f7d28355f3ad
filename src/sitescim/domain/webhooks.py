"""Webhook rules (spec section 6): signing secrets, which URLs may be called, the
retry schedule and the Standard Webhooks body.

Everything here is decided without the network or the database; resolving a
host and sending are the services' business.
"""

from __future__ import annotations

import base64
import ipaddress
import secrets
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from sitescim.domain.errors import InvalidInputError

SECRET_PREFIX = "whsec_"  # noqa: S105 - the Standard Webhooks prefix, not a secret
SECRET_BYTES = 32
MAX_URL_LENGTH = 2048

RETRY_SCHEDULE: tuple[timedelta, ...] = tuple(
    timedelta(seconds=seconds)
    for seconds in (
        5,
        30,
        2 * 60,
        10 * 60,
        30 * 60,
        3600,
        2 * 3600,
        4 * 3600,
        8 * 3600,
        12 * 3600,
        24 * 3600,
        24 * 3600,
    )
)
"""The wait after each failed attempt: about three days in all (3 d 3 h 49 min 15 s).
After the last one the delivery has failed and its endpoint is failing."""


class EndpointStatus(StrEnum):
    ACTIVE = "active"
    FAILING = "failing"  # a delivery ran out of retries: sending is paused until resumed
    REMOVED = "removed"


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


def retry_delay(attempts: int) -> timedelta | None:
    """How long to wait after the ``attempts``-th failed attempt; None: give up."""
    if attempts < 1 or attempts > len(RETRY_SCHEDULE):
        return None
    return RETRY_SCHEDULE[attempts - 1]


def generate_secret() -> str:
    """``whsec_`` and base64 of random bytes, the form ``standardwebhooks.Webhook`` takes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


@dataclass(frozen=True, slots=True)
class Target:
    """A webhook URL taken apart: what is resolved and what is connected to."""

    url: str
    scheme: str
    host: str
    port: int


def parse_url(text: str) -> Target:
    """An http(s) URL with a host and no credentials; anything else is refused.

    Credentials in a URL would be stored and listed in clear, and would travel
    to whoever the URL names: a receiver authenticates requests by the signature.
    """
    url = text.strip()
    if not url or len(url) > MAX_URL_LENGTH:
        raise InvalidInputError("url", f"must be 1-{MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise InvalidInputError("url", "is not a valid URL") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise InvalidInputError("url", "must be an http or https URL")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise InvalidInputError("url", "must not carry credentials (user:password@)")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise InvalidInputError("url", "must name a host")
    if parts.fragment:
        raise InvalidInputError("url", "must not have a fragment")
    return Target(
        url=url, scheme=scheme, host=host, port=port or (443 if scheme == "https" else 80)
    )


def is_public_address(address: str) -> bool:
    """False for loopback, private, link-local, multicast, reserved and unspecified
    addresses (and IPv4 ones mapped into IPv6): the places a webhook must not reach."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not (
        ip.is_loopback
        or ip.is_private
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or not ip.is_global
    )


def body(event: dict[str, Any]) -> dict[str, Any]:
    """The Standard Webhooks payload: the event's type and time, the event as ``data``."""
    return {"type": event["type"], "timestamp": event["occurred_at"], "data": event}
