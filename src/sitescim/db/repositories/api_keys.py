"""Operator API keys: stored by keyed hash, found by it, listed, revoked."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, select, update
from sqlalchemy.orm import Session

from sitescim.db.application_tables import ApiKey


def add(session: Session, key: ApiKey) -> None:
    session.add(key)
    session.flush()


def find_by_hash(connection: Connection, key_hash: str) -> ApiKey | None:
    row = connection.execute(select(ApiKey.__table__).where(ApiKey.key_hash == key_hash)).first()
    return None if row is None else ApiKey(**row._mapping)


def get(session: Session, key_id: str) -> ApiKey | None:
    return session.get(ApiKey, key_id)


def list_all(session: Session) -> Sequence[ApiKey]:
    return session.scalars(select(ApiKey).order_by(ApiKey.created_at, ApiKey.id)).all()


def touch(session: Session, key_id: str, *, now: datetime, stale_before: datetime) -> None:
    """Record a use, at most once per resolution (the same rule as a token's last use)."""
    session.execute(
        update(ApiKey)
        .where(
            ApiKey.id == key_id,
            (ApiKey.last_used_at.is_(None)) | (ApiKey.last_used_at < stale_before),
        )
        .values(last_used_at=now)
    )
