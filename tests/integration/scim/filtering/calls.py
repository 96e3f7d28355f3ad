"""Running a filter and naming its matches, for the filtering tests."""

from __future__ import annotations

from sqlalchemy import select

from sitescim.db.engine import Database
from sitescim.db.models import User
from sitescim.scim.filtering import user_filter

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def matching(database: Database, site_id: str, filter_text: str) -> set[str]:
    with database.transaction(write=False) as session:
        return set(session.scalars(select(User.id).where(user_filter(site_id, filter_text))))


def names(ids: dict[str, str], *keys: str) -> set[str]:
    return {ids[key] for key in keys}
