"""A Bulk request's run of user creations, written as one batch.

Each user is checked and built as its single creation builds it, with one
shortcut: a body of the plain shape identity providers send is read by
``scim.plain_users`` instead of scim2-models (held equal to it by a property
test), and its rows are built as column values, not ORM objects. Any other
body goes through ``user_creation._new_user``. The batch then writes them all
with one statement per table instead of seven statements each.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from sitescim.db.models import new_id
from sitescim.db.repositories import user_batches as batches_repo
from sitescim.db.repositories import users as users_repo
from sitescim.db.repositories.batches import column_values
from sitescim.domain.actions import Action
from sitescim.domain.events import EventType
from sitescim.domain.privileges import Privilege
from sitescim.scim import plain_users
from sitescim.scim.etags import make_etag
from sitescim.scim.mapping import RESOURCE_TYPE
from sitescim.scim.schemas import (
    CORE_ATTRIBUTES,
    NAME_ATTRIBUTES,
    SITESCIM_USER_SCHEMA,
    USER_SCHEMA,
)
from sitescim.scim.stored_documents import stored_document
from sitescim.scim.user_documents import scim_datetime
from sitescim.services import audit
from sitescim.services.events import NewEvent, event_row, number_at_commit
from sitescim.services.runtime import Runtime
from sitescim.services.tokens import AuthenticatedToken
from sitescim.services.user_creation import _new_user


@dataclass(frozen=True, slots=True)
class NewUserValues:
    """A user ready to insert, as column values: its row, value rows, document, audit
    row and event (what ``user_creation._NewUser`` holds, without ORM objects)."""

    user: dict[str, Any]
    values: list[dict[str, Any]]
    document: dict[str, Any]
    audited: dict[str, Any]
    announced: NewEvent  # user.created


def plain_new_user(
    token: AuthenticatedToken,
    body: dict[str, Any],
    *,
    user_id: str,
    now: datetime,
    base_url: str,
    address: str | None,
    plain: plain_users.PlainUser | None = None,
) -> NewUserValues | None:
    """What ``_new_user`` builds for a plain body, or None for a body it must build.
    ``plain``: the body as ``read_plain_user`` already read it."""
    if plain is None:
        plain = plain_users.read_plain_user(body)
    if plain is None:
        return None
    site_id = token.site_id
    user = {
        "id": user_id,
        "site_id": site_id,
        "privilege": Privilege.USER.value,
        "created_at": now,
        "updated_at": now,
        "version": 1,
        **plain.columns,
        "manager_id": None,
        "manager_display_name": None,
    }
    values = [{"user_id": user_id, "site_id": site_id, **row} for row in plain.values]
    document = _plain_document(user, plain.values, base_url)
    user["document"] = stored_document(document)
    user["document_version"] = 1
    who = token.who
    audited = audit.event_values(
        now=now,
        site_id=site_id,
        action=Action.SCIM_USER_CREATE,
        who=who,
        target=("user", user_id),
        address=address,
        detail={"attributes": _attributes(tuple(document))},
    )
    announced = NewEvent(EventType.USER_CREATED, site_id, user_id, document, who, now)
    return NewUserValues(user, values, document, audited, announced)


@lru_cache(maxsize=256)
def _attributes(keys: tuple[str, ...]) -> list[str]:
    """The attributes an audit row of a creation names; a batch's documents mostly
    share their keys, and sorting them anew for each cost more than building it.
    The list is shared between rows: nothing changes an audit row's detail."""
    return sorted(key for key in keys if key not in ("meta", "schemas"))


@lru_cache(maxsize=16)
def _scim_datetime(moment: datetime) -> str:
    """A batch's users are created at one moment, formatted once."""
    return scim_datetime(moment)


_CORE = tuple((attribute.name, attribute.column) for attribute in CORE_ATTRIBUTES)
_NAME = tuple((attribute.name, attribute.column) for attribute in NAME_ATTRIBUTES)


def _plain_document(
    user: dict[str, Any], values: list[dict[str, Any]], base_url: str
) -> dict[str, Any]:
    """``user_documents.user_document`` of a plain user's rows, built from the column
    values themselves: a plain user has no groups, no enterprise attribute and no
    manager, and its value rows come in document order (emails, then phoneNumbers,
    by position). Twice as fast as giving the rows attribute access; the property
    test in tests/unit/test_plain_users.py holds the two equal."""
    user_id = user["id"]
    base = base_url.rstrip("/")
    document: dict[str, Any] = {"schemas": [USER_SCHEMA, SITESCIM_USER_SCHEMA], "id": user_id}
    for key, column in _CORE:
        item = user[column]
        if item is not None:
            document[key] = item
    document["userName"] = user["user_name"]
    name = {key: user[column] for key, column in _NAME if user[column] is not None}
    if name:
        document["name"] = name
    document["active"] = user["active"]
    for row in values:
        entry: dict[str, Any] = {"value": row["value"]}
        if row["display"] is not None:
            entry["display"] = row["display"]
        if row["type"] is not None:
            entry["type"] = row["type"]
        if row["primary"] is not None:
            entry["primary"] = row["primary"]
        document.setdefault(row["attribute"], []).append(entry)
    document[SITESCIM_USER_SCHEMA] = {"privilege": user["privilege"]}
    document["meta"] = {
        "resourceType": RESOURCE_TYPE,
        "created": _scim_datetime(user["created_at"]),
        "lastModified": _scim_datetime(user["updated_at"]),
        "location": f"{base}/Users/{user_id}",
        "version": make_etag(user_id, user["version"]),
    }
    return document


def _new_user_values(
    session: Session,
    runtime: Runtime,
    token: AuthenticatedToken,
    body: dict[str, Any],
    *,
    base_url: str,
    address: str | None,
) -> NewUserValues:
    plain = plain_new_user(
        token, body, user_id=new_id(), now=runtime.clock(), base_url=base_url, address=address
    )
    if plain is not None:
        return plain
    new = _new_user(session, runtime, token, body, base_url=base_url, address=address)
    return NewUserValues(
        column_values(new.user),
        [column_values(row) for row in new.values],
        new.document,
        new.event,
        new.announced,
    )


def create_users(
    session: Session,
    runtime: Runtime,
    token: AuthenticatedToken,
    bodies: Sequence[dict[str, Any]],
    *,
    base_url: str,
    address: str | None = None,
) -> list[dict[str, Any] | None]:
    """A Bulk request's run of creations as one batch: two INSERTs of users and values,
    one of audit rows, one of events, one query for the userNames, instead of seven
    statements each.

    Each body's document, or None for a body this batch leaves to ``create_user``
    alone: one that is refused (an invalid body, a userName already taken, by
    the site or by an earlier body of the batch), whose single use case then
    gives the error and the audit row it always does. If the batch's INSERTs
    meet a concurrent writer's row, none of it stays and every body is left.
    """
    prepared: list[NewUserValues | None] = []
    for body in bodies:
        try:
            prepared.append(
                _new_user_values(session, runtime, token, body, base_url=base_url, address=address)
            )
        except Exception:  # create_user raises it again, and audits it
            prepared.append(None)
    keys = [new.user["user_name_key"] for new in prepared if new is not None]
    taken = users_repo.user_name_keys_taken(session, token.site_id, keys)
    for position, new in enumerate(prepared):
        if new is None:
            continue
        if new.user["user_name_key"] in taken:
            prepared[position] = None
        taken.add(new.user["user_name_key"])
    ready = [new for new in prepared if new is not None]
    if ready:
        try:
            with session.begin_nested():
                batches_repo.insert_users(
                    session,
                    [new.user for new in ready],
                    [row for new in ready for row in new.values],
                )
                batches_repo.insert_audit_rows(session, [new.audited for new in ready])
                batches_repo.insert_events(session, [event_row(new.announced) for new in ready])
                number_at_commit(session)
        except IntegrityError:
            return [None] * len(bodies)
    return [None if new is None else new.document for new in prepared]
