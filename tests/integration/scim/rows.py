"""Rows written straight to the tables, for tests that need many or odd ones fast."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from sitescim.db.engine import Database
from sitescim.db.models import Membership, User, UserValue

T0 = datetime(2026, 1, 1, tzinfo=UTC)

ValueSpec = tuple[str, str | None, str | None, bool]  # attribute, value, type, primary


def insert_user(
    session: Session,
    site_id: str,
    user_name: str,
    *,
    values: Sequence[ValueSpec] = (),
    updated_at: datetime = T0,
    **columns: Any,
) -> User:
    """A user row (and its value rows) as mapping.user_from_scim would write them."""
    user = User(
        site_id=site_id,
        user_name=user_name,
        user_name_key=user_name.casefold(),
        created_at=T0,
        updated_at=updated_at,
        **columns,
    )
    if user.display_name is not None:
        user.display_name_key = user.display_name.casefold()
    session.add(user)
    session.flush()
    for position, (attribute, value, kind, primary) in enumerate(values):
        session.add(
            UserValue(
                user_id=user.id,
                site_id=site_id,
                attribute=attribute,
                position=position,
                value=value,
                value_key=None if value is None else value.casefold(),
                type=kind,
                primary=primary,
                extra={},
            )
        )
    session.flush()
    return user


def add_users(database: Database, site_id: str, count: int, prefix: str = "member") -> list[str]:
    """Users inserted in bulk: the large-group tests need thousands of them fast."""
    now = datetime(2026, 3, 1, tzinfo=UTC)
    ids = [str(uuid.uuid4()) for _ in range(count)]
    rows = [
        {
            "id": user_id,
            "site_id": site_id,
            "user_name": f"{prefix}{n}@a.test",
            "user_name_key": f"{prefix}{n}@a.test",
            "display_name": f"{prefix.title()} {n}",
            "active": True,
            "privilege": "user",
            "created_at": now,
            "updated_at": now,
            "version": 1,
        }
        for n, user_id in enumerate(ids)
    ]
    with database.transaction(write=True) as session:
        session.execute(insert(User), rows)
    return ids


def add_member_rows(database: Database, site_id: str, group_id: str, user_ids: list[str]) -> None:
    """Membership rows of ``group_id``, inserted in bulk."""
    with database.transaction(write=True) as session:
        session.execute(
            insert(Membership),
            [{"site_id": site_id, "group_id": group_id, "user_id": uid} for uid in user_ids],
        )


def member_count(database: Database, group_id: str) -> int:
    """How many membership rows ``group_id`` has."""
    with database.transaction(write=False) as session:
        query = select(func.count()).where(Membership.group_id == group_id)
        return int(session.scalar(query) or 0)
