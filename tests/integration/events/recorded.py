"""Reading back the events a test's requests recorded, as the feed shows them and as stored."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from sitescim.db.application_tables import Event
from sitescim.db.repositories.events import last_position
from sitescim.services import events
from sitescim.services.runtime import Runtime
from tests.world import World

USER_URN = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_URN = "urn:ietf:params:scim:schemas:core:2.0:Group"


def feed_end(world: World) -> int:
    """Where the feed ends now: a test reads what its own requests added after it."""
    with world.runtime.db.transaction(write=False) as session:
        return last_position(session)


def recorded(runtime: Runtime, after: int) -> list[dict[str, Any]]:
    """The events after a position, as the feed and the webhooks show them."""
    page = events.read_feed(runtime, events.FeedQuery(after=after, limit=events.MAX_PAGE))
    return page.events


def types_after(runtime: Runtime, after: int) -> list[str]:
    return [event["type"] for event in recorded(runtime, after)]


def stored_text(runtime: Runtime) -> str:
    """Every column of every stored event, as one text to search for a secret."""
    with runtime.db.transaction(write=False) as session:
        rows = session.execute(select(Event.__table__)).all()
    return "\n".join(json.dumps([str(value) for value in row]) for row in rows)


def token_actor(token_id: str, description: str) -> dict[str, Any]:
    return {"type": "token", "id": token_id, "label": description}
