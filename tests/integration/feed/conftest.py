"""The feed's tests read the events they write themselves, from an empty feed."""

from __future__ import annotations

import pytest
from sqlalchemy import delete

from sitescim.db.application_tables import Event
from tests.world import World


@pytest.fixture
def world(world: World) -> World:
    """The two sites and their people, without the ``user.created`` events making them wrote."""
    with world.runtime.db.transaction(write=True) as session:
        session.execute(delete(Event))
    return world
