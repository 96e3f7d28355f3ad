"""What the application that serves a site learns of its changes (spec section 6).

An event's public id is ``evt_`` and its feed position in 16 digits, so ids sort
as the feed does and a consumer's cursor is simply the last id it read.
"""

from __future__ import annotations

import re
from enum import StrEnum

from sitescim.domain.errors import InvalidInputError

ID_PREFIX = "evt_"
_ID_DIGITS = 16
_ID = re.compile(rf"{ID_PREFIX}(\d{{1,{_ID_DIGITS}}})")


class EventType(StrEnum):
    USER_CREATED = "user.created"
    USER_UPDATED = "user.updated"
    USER_DEACTIVATED = "user.deactivated"
    USER_REACTIVATED = "user.reactivated"
    USER_DELETED = "user.deleted"
    GROUP_CREATED = "group.created"
    GROUP_UPDATED = "group.updated"
    GROUP_DELETED = "group.deleted"
    GROUP_MEMBERS_ADDED = "group.members_added"
    GROUP_MEMBERS_REMOVED = "group.members_removed"
    TOKEN_CREATED = "token.created"  # noqa: S105 - an event type, not a secret
    TOKEN_REVOKED = "token.revoked"  # noqa: S105 - an event type, not a secret
    TOKEN_EXPIRING = "token.expiring"  # noqa: S105 - an event type, not a secret
    TOKEN_EXPIRED = "token.expired"  # noqa: S105 - an event type, not a secret

    @property
    def resource_type(self) -> str:
        """``user``, ``group`` or ``token``: what the event's ``data`` is."""
        return self.value.partition(".")[0]


def event_id(position: int) -> str:
    return f"{ID_PREFIX}{position:0{_ID_DIGITS}d}"


def parse_event_id(text: str) -> int:
    """The position an event id (a feed cursor) names; a clear error for anything else."""
    match = _ID.fullmatch(text.strip())
    if match is None:
        raise InvalidInputError("cursor", "is not an event id such as evt_0000000000000042")
    return int(match.group(1))


def parse_types(text: str | None) -> frozenset[EventType] | None:
    """Event types from ``user.created,group.deleted``; None (all) for nothing given.

    A type that does not exist is refused, not ignored: a consumer that misspells
    one would otherwise wait forever for events that can never come.
    """
    if text is None or not text.strip():
        return None
    chosen: set[EventType] = set()
    for name in (part.strip() for part in text.split(",")):
        if not name:
            continue
        try:
            chosen.add(EventType(name))
        except ValueError:
            known = ", ".join(sorted(EventType))
            raise InvalidInputError(
                "types", f"{name[:60]!r} is not an event type ({known})"
            ) from None
    return frozenset(chosen) or None
