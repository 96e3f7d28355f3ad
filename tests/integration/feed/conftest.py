"""The feed's tests read the events they write themselves, from an empty feed."""

from __future__ import annotations

import pytest
from sqlalchemy import delete

from sitescim.db.application_tables import Event
from sitescim.services.runtime import Runtime
from tests.world import World, make_world


@pytest.fixture
def world(runtime: Runtime) -> World:
    """The two sites and their people, without the ``user.created`` events making them wrote."""
    made = make_world(runtime)
    with runtime.db.transaction(write=True) as session:
        session.execute(delete(Event))
    return made
