"""Site SCIM access tokens: their format and the rules T1-T11 that need no storage.

Format (T9): ``sscim_`` + 43 base62 characters carrying 256 random bits + a
6-character base62 CRC32 of everything before it. The prefix lets secret
scanners recognise a leaked token; the checksum lets us refuse a mistyped or
truncated one without touching the database. Base62 keeps the value one word
for double-click selection, like GitHub's ``ghp_`` tokens.

At rest only an HMAC-SHA-256 of the value under a server-side pepper is kept
(T5): a token has 256 bits of entropy, so a slow password hash would add cost to
every request and no safety, while the pepper means a stolen table alone cannot
be used to test candidate tokens.
"""

from __future__ import annotations

import hmac
import math
import re
import secrets
import zlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from types import MappingProxyType

from sitescim.domain.clock import as_utc
from sitescim.domain.errors import InvalidInputError, PermissionDeniedError
from sitescim.domain.privileges import Actor

PREFIX = "sscim_"
ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
RANDOM_BITS = 256
RANDOM_CHARS = 43  # 62**43 > 2**256
CHECKSUM_CHARS = 6  # 62**6 > 2**32
TOKEN_LENGTH = len(PREFIX) + RANDOM_CHARS + CHECKSUM_CHARS

LIFETIME = timedelta(days=365)
EXPIRY_WARNING = timedelta(days=30)
DESCRIPTION_MAX = 100

_AFTER_PREFIX = re.compile(f"[{ALPHABET}]{{{RANDOM_CHARS + CHECKSUM_CHARS}}}")
_PAIRS = tuple(first + second for first in ALPHABET for second in ALPHABET)
_PAIR = len(_PAIRS)


@dataclass(frozen=True, slots=True)
class Scope:
    name: str
    label: str
    grants: frozenset[str]


# The list of scopes is data: adding one is adding an entry here.
SCOPES = MappingProxyType(
    {"scim": Scope(name="scim", label="SCIM", grants=frozenset({"scim"}))},
)
SCIM_API = "scim"


class TokenStatus(StrEnum):
    ACTIVE = "active"
    EXPIRED = "expired"
    REVOKED = "revoked"


def _base62(number: int, width: int) -> str:
    chars = []
    for _ in range(width):
        number, rest = divmod(number, 62)
        chars.append(ALPHABET[rest])
    return "".join(reversed(chars))


def _checksum(body: str) -> str:
    """``_base62(crc32, 6)`` two digits at a time: it runs on every SCIM request (T9)."""
    high, low = divmod(zlib.crc32(body.encode("ascii")), _PAIR)
    top, middle = divmod(high, _PAIR)
    return _PAIRS[top] + _PAIRS[middle] + _PAIRS[low]


def generate_token() -> str:
    return format_token(secrets.randbits(RANDOM_BITS))


def format_token(random_number: int, *, prefix: str = PREFIX) -> str:
    """The token carrying these random bits; separate so tests can choose the bits.

    Operator API keys (domain.api_keys) share the format under their own prefix.
    """
    body = prefix + _base62(random_number % 2**RANDOM_BITS, RANDOM_CHARS)
    return body + _checksum(body)


def is_well_formed(value: str, *, prefix: str = PREFIX) -> bool:
    """Prefix, length, alphabet and checksum: the checks that need no database."""
    if not value.startswith(prefix) or _AFTER_PREFIX.fullmatch(value, len(prefix)) is None:
        return False
    body, checksum = value[:-CHECKSUM_CHARS], value[-CHECKSUM_CHARS:]
    return hmac.compare_digest(_checksum(body), checksum)


def hash_token(value: str, pepper: bytes) -> str:
    """``hmac.digest`` is one call into OpenSSL; ``hmac.new`` built an object first."""
    return hmac.digest(pepper, value.encode("ascii", "replace"), "sha256").hex()


def validate_description(raw: object) -> str:
    if not isinstance(raw, str):
        raise InvalidInputError("description", "is required and must be text")
    description = raw.strip()
    if not description:
        raise InvalidInputError("description", "is required")
    if len(description) > DESCRIPTION_MAX:
        raise InvalidInputError("description", f"must be at most {DESCRIPTION_MAX} characters")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in description):
        raise InvalidInputError("description", "must not contain control characters")
    return description


def validate_scope(raw: object) -> Scope:
    if not isinstance(raw, str) or raw not in SCOPES:
        allowed = ", ".join(SCOPES)
        raise InvalidInputError("scope", f"must be one of: {allowed}")
    return SCOPES[raw]


def scope_allows(scope_name: str, api: str) -> bool:
    """A stored scope that has since left the list grants nothing."""
    scope = SCOPES.get(scope_name)
    return scope is not None and api in scope.grants


def expiry_for(created_at: datetime) -> datetime:
    return created_at + LIFETIME


def token_status(
    *, revoked_at: datetime | None, expires_at: datetime, now: datetime
) -> TokenStatus:
    if revoked_at is not None:
        return TokenStatus.REVOKED
    if expires_at.tzinfo is None or now.tzinfo is None:  # naive is UTC (as_utc)
        expires_at, now = as_utc(expires_at), as_utc(now)
    if expires_at <= now:
        return TokenStatus.EXPIRED
    return TokenStatus.ACTIVE


def days_left(expires_at: datetime, now: datetime) -> int:
    """Days until expiry, rounded up (a new token has 365), never negative."""
    remaining = (as_utc(expires_at) - as_utc(now)).total_seconds()
    return max(0, math.ceil(remaining / 86400))


def expires_soon(expires_at: datetime, now: datetime) -> bool:
    remaining = as_utc(expires_at) - as_utc(now)
    return timedelta(0) < remaining <= EXPIRY_WARNING


def last_use_is_stale(last_used_at: datetime | None, now: datetime, resolution: timedelta) -> bool:
    """Record use at most once per resolution so authentication is not a write per request.

    Aware datetimes compare and subtract as instants whatever their zone, so only a
    naive one (UTC, from SQLite) goes through ``as_utc``: this runs on every request.
    """
    if last_used_at is None:
        return True
    if last_used_at.tzinfo is None or now.tzinfo is None:
        last_used_at, now = as_utc(last_used_at), as_utc(now)
    return now - last_used_at >= resolution


def ensure_may_manage_tokens(actor: Actor, *, site_id: str) -> None:
    """T1/T7: only an active Promaster of the very site creates, sees or revokes tokens."""
    if actor.site_id != site_id or not actor.is_promaster:
        raise PermissionDeniedError("Only the site's Promasters may manage SCIM access tokens.")
