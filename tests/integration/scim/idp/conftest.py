"""Replaying identity-provider traffic: payloads from tests/samples/idp, state read from the DB.

The payloads are written from each provider's public documentation (Microsoft's
"Develop a SCIM endpoint" guide and its SCIM known-issues page, Okta's SCIM 2.0
protocol reference and test suite); ``{{name}}`` stands for an id only known at
run time. Every test checks what was stored by reading the rows back, not only
the status codes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from sitescim.db.engine import Database
from sitescim.db.models import Group, Membership, Site, User, UserValue
from sitescim.settings import Settings
from sitescim.web.app import create_app
from tests.world import FakeClock

SAMPLES = Path(__file__).parents[3] / "samples" / "idp"
USER_URN = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_URN = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE_URN = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def sample(name: str, **ids: str) -> dict[str, Any]:
    """A payload of tests/samples/idp with its ``{{placeholders}}`` filled in."""
    text = (SAMPLES / name).read_text()
    for key, value in ids.items():
        text = text.replace("{{" + key + "}}", value)
    assert "{{" not in text, f"{name}: a placeholder is left unfilled"
    payload: dict[str, Any] = json.loads(text)
    return payload


@pytest.fixture
def strict_client(settings: Settings, database: Database, clock: FakeClock) -> Iterator[TestClient]:
    """The same service with SITESCIM_SCIM_STRICT=true: quirks get RFC errors."""
    app = create_app(
        settings.model_copy(update={"scim_strict": True}), clock=clock, database=database
    )
    with TestClient(app) as test_client:
        yield test_client


@dataclass(frozen=True)
class StoredUser:
    """A user as the database holds it, with its multi-valued rows by attribute."""

    row: User
    values: dict[str, list[UserValue]]

    def emails(self) -> list[tuple[str | None, str | None]]:
        return [(value.type, value.value) for value in self.values.get("emails", [])]


class Store:
    """Reads what the service stored, in a transaction of its own."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def user(self, user_id: str) -> StoredUser | None:
        with self.database.transaction(write=False) as session:
            row = session.get(User, user_id)
            if row is None:
                return None
            values: dict[str, list[UserValue]] = {}
            query = (
                select(UserValue)
                .where(UserValue.user_id == user_id)
                .order_by(UserValue.attribute, UserValue.position)
            )
            for value in session.scalars(query):
                values.setdefault(value.attribute, []).append(value)
            session.expunge_all()
            return StoredUser(row, values)

    def user_ids(self, site_slug: str) -> set[str]:
        with self.database.transaction(write=False) as session:
            site_id = session.scalar(select(Site.id).where(Site.slug == site_slug))
            return set(session.scalars(select(User.id).where(User.site_id == site_id)))

    def group_ids(self, site_slug: str) -> set[str]:
        with self.database.transaction(write=False) as session:
            site_id = session.scalar(select(Site.id).where(Site.slug == site_slug))
            return set(session.scalars(select(Group.id).where(Group.site_id == site_id)))

    def group(self, group_id: str) -> Group | None:
        with self.database.transaction(write=False) as session:
            row = session.get(Group, group_id)
            if row is not None:
                session.expunge(row)
            return row

    def members(self, group_id: str) -> set[str]:
        with self.database.transaction(write=False) as session:
            rows = session.execute(
                select(Membership.user_id, Membership.member_group_id).where(
                    Membership.group_id == group_id
                )
            )
            return {user_id or group for user_id, group in rows}


@pytest.fixture
def store(database: Database) -> Store:
    return Store(database)
