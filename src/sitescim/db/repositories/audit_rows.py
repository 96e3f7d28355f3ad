"""Audit rows written with each change, as one plain INSERT on the driver connection.

Every SCIM change writes one; through Core (an ORM object turned into a dict,
then a compiled INSERT) it cost a tenth of a PATCH, inside the write lock.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.orm import Session

from sitescim.db.driver import driver, insert_sql

COLUMNS = (
    "site_id",
    "occurred_at",
    "action",
    "outcome",
    "actor_type",
    "actor_id",
    "actor_label",
    "target_type",
    "target_id",
    "client_address",
    "detail",
    "message",
    "repeat_count",
)
"""What an audit row says; ``id`` is the database's, ``dedup_key`` only for counted rows."""
_INSERT = insert_sql("audit_events", COLUMNS)


def insert(session: Session, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert audit rows (``COLUMNS`` each) in the caller's transaction; one may be
    sent with the commit (``Driver.execute_later``)."""
    if rows:
        driver(session).insert(
            _INSERT,
            COLUMNS,
            rows,
            moments=("occurred_at",),
            json_columns=("detail",),
            texts=("action",),
            later=True,
        )
