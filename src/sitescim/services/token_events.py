"""What a token's events show: its public fields, never its value or its hash (T5).

``token.created`` and ``token.revoked`` are written by ``services.tokens``; the
expiry notices (``token.expiring``, ``token.expired``) show the same fields.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sitescim.db.models import AccessToken
from sitescim.domain import tokens as rules
from sitescim.domain.events import EventType
from sitescim.domain.privileges import Actor
from sitescim.scim.user_documents import scim_datetime
from sitescim.services.audit import Who
from sitescim.services.events import NewEvent


def token_event_data(token: AccessToken, now: datetime) -> dict[str, Any]:
    """A token as its events show it: what its list shows, from its row alone (no
    creator read), never its value or hash (T5) nor the address it was last used from."""

    def moment(value: datetime | None) -> str | None:
        return None if value is None else scim_datetime(value)

    return {
        "id": token.id,
        "description": token.description,
        "scope": token.scope,
        "created_by": token.created_by_label,
        "created_by_id": token.created_by_id,
        "created_at": moment(token.created_at),
        "expires_at": moment(token.expires_at),
        "last_used_at": moment(token.last_used_at),
        "status": str(
            rules.token_status(revoked_at=token.revoked_at, expires_at=token.expires_at, now=now)
        ),
        "revoked_at": moment(token.revoked_at),
        "revoked_by": token.revoked_by_label,
    }


def token_event(kind: EventType, token: AccessToken, actor: Actor, now: datetime) -> NewEvent:
    data = token_event_data(token, now)
    return NewEvent(kind, actor.site_id, token.id, data, Who.person(actor), now)
