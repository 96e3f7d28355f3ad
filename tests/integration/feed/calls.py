"""Writing events and operator keys for the feed's tests, the way the services do."""

from __future__ import annotations

from typing import Any

from sitescim.domain.events import EventType
from sitescim.services import api_keys, events
from sitescim.services.audit import Who
from tests.factories import bearer
from tests.world import World

SYSTEM = Who(kind="system")


def emit(
    world: World, site_id: str, *names: str, type_: EventType = EventType.USER_UPDATED
) -> None:
    """One event per name, in one transaction, in the order given."""
    with world.runtime.db.transaction(write=True) as session:
        events.emit(
            session,
            *(
                events.NewEvent(
                    type=type_,
                    site_id=site_id,
                    resource_id=name,
                    data={"id": name},
                    who=SYSTEM,
                    now=world.runtime.clock(),
                )
                for name in names
            ),
        )


def operator(world: World, *sites: str) -> tuple[str, dict[str, str]]:
    """A new key's id and the headers that present it."""
    issued = api_keys.create_key(world.runtime, description="app", site_slugs=list(sites))
    return issued.view.id, bearer(issued.key)


def names(page: dict[str, Any]) -> list[str]:
    return [event["data"]["id"] for event in page["events"]]
