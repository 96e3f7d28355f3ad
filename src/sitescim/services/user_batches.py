"""A Bulk request's run of user creations, written as one batch.

Each user is checked and built as its single creation builds it
(``user_creation._new_user``); the batch then writes them all with one
statement per table instead of seven statements each.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from sitescim.db.repositories import users as users_repo
from sitescim.services import audit
from sitescim.services.events import emit
from sitescim.services.runtime import Runtime
from sitescim.services.tokens import AuthenticatedToken
from sitescim.services.user_creation import _new_user, _NewUser


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
    prepared: list[_NewUser | None] = []
    for body in bodies:
        try:
            prepared.append(
                _new_user(session, runtime, token, body, base_url=base_url, address=address)
            )
        except Exception:  # create_user raises it again, and audits it
            prepared.append(None)
    keys = [new.user.user_name_key for new in prepared if new is not None]
    taken = users_repo.user_name_keys_taken(session, token.site_id, keys)
    for position, new in enumerate(prepared):
        if new is None:
            continue
        if new.user.user_name_key in taken:
            prepared[position] = None
        taken.add(new.user.user_name_key)
    ready = [new for new in prepared if new is not None]
    if ready:
        try:
            with session.begin_nested():
                users_repo.insert_users(session, [(new.user, new.values) for new in ready])
                audit.record_all(session, [new.event for new in ready])
                emit(session, *(new.announced for new in ready))
        except IntegrityError:
            return [None] * len(bodies)
    return [None if new is None else new.document for new in prepared]
