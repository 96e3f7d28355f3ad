"""The e-mail outbox's rules: where mail goes (the SMTP URL), a message's states,
and how long a failed one waits before the next try.

A message is ``pending`` until an instance claims it: ``sending``, with
``next_attempt_at`` as the claim's lease. An instance that dies while sending
leaves it to be claimed again when the lease ends, so a message is sent at
least once (twice only if a sender dies between the server's acceptance and
its own record of it). A failed try makes it ``pending`` again after a growing
delay; after ``MAX_ATTEMPTS`` it is ``failed`` and kept, with its last error.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from urllib.parse import unquote, urlsplit

from sitescim.domain.errors import InvalidInputError

MAX_ATTEMPTS = 12
FIRST_RETRY = timedelta(minutes=1)
LONGEST_RETRY = timedelta(hours=6)
SEND_LEASE = timedelta(minutes=5)
"""Longer than a send can take (the SMTP timeout bounds each step), so a live sender
keeps its claim; short enough that a dead one's messages go out soon after."""
MAX_ERROR_LENGTH = 500

_DEFAULT_PORTS = {"smtp": 25, "smtp+starttls": 587, "smtps": 465}


class EmailStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"


def retry_delay(attempts: int) -> timedelta:
    """1, 2, 4 ... minutes, doubling up to 6 hours: 12 tries span about a day."""
    delay = FIRST_RETRY * (1 << min(max(0, attempts - 1), 20))
    return min(delay, LONGEST_RETRY)


@dataclass(frozen=True, slots=True)
class SmtpTarget:
    """Where and how to send: parsed from ``SITESCIM_SMTP_URL``. Its repr hides the password."""

    host: str
    port: int
    security: str
    """``plain``, ``starttls`` (upgrade after connecting) or ``tls`` (TLS from the start)."""
    username: str | None = None
    password: str | None = field(default=None, repr=False)


def parse_smtp_url(url: str) -> SmtpTarget:
    """``smtp://``, ``smtp+starttls://`` or ``smtps://[user[:password]@]host[:port]``.

    Errors name the part that is wrong, never the URL: it may carry a password.
    """
    parts = urlsplit(url)
    if parts.scheme not in _DEFAULT_PORTS:
        raise InvalidInputError("smtp_url", "must start with smtp://, smtp+starttls:// or smtps://")
    if not parts.hostname:
        raise InvalidInputError("smtp_url", "must name a host")
    try:
        port = parts.port or _DEFAULT_PORTS[parts.scheme]
    except ValueError:
        raise InvalidInputError(
            "smtp_url", "has a port that is not a number from 1 to 65535"
        ) from None
    security = {"smtp": "plain", "smtp+starttls": "starttls", "smtps": "tls"}[parts.scheme]
    return SmtpTarget(
        host=parts.hostname,
        port=port,
        security=security,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
    )
