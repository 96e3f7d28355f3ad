"""Creation of users through SCIM, one at a time or as a Bulk request's batch.

Each creation writes ``user.created`` with the document its response shows,
in its transaction: a batch writes all of its events in one INSERT.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from scim2_models import (
    Context,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from sitescim.db.models import AuditEvent, new_id
from sitescim.db.models import User as UserRow
from sitescim.db.repositories import users as users_repo
from sitescim.domain.actions import Action
from sitescim.domain.events import EventType
from sitescim.domain.privileges import Privilege
from sitescim.scim import mapping, user_documents
from sitescim.services import audit
from sitescim.services import user_changes as frame
from sitescim.services import user_rules as rules
from sitescim.services.events import NewEvent, emit
from sitescim.services.runtime import Runtime
from sitescim.services.tokens import AuthenticatedToken


@dataclass(frozen=True, slots=True)
class _NewUser:
    """A user ready to insert: its row, value rows, document, audit row and event."""

    user: UserRow
    values: list[Any]
    document: dict[str, Any]
    event: AuditEvent
    announced: NewEvent  # user.created


def _new_user(
    session: Session,
    runtime: Runtime,
    token: AuthenticatedToken,
    body: dict[str, Any],
    *,
    base_url: str,
    address: str | None,
) -> _NewUser:
    """Everything a creation checks and builds, except that its userName is free."""
    model = rules.model_for(token)
    resource = model.model_validate(body, scim_ctx=Context.RESOURCE_CREATION_REQUEST)
    now = runtime.clock()
    user = UserRow(
        id=new_id(),
        site_id=token.site_id,
        privilege=Privilege.USER.value,
        active=True,
        created_at=now,
        updated_at=now,
        version=1,
    )
    values = mapping.user_from_scim(resource, user)
    user.privilege = rules.privilege_named(
        mapping.requested_privilege(resource), Privilege.USER.value
    )
    if resource.password is not None:
        user.password_hash = rules.hash_password(runtime, token, resource.password)
    rules.resolve_manager(session, user)
    created = user_documents.user_document(user, values, [], base_url)
    names = sorted(frame.comparable(created))
    if resource.password is not None:
        names.append("password")
    event = audit.event(
        now=now,
        site_id=token.site_id,
        action=Action.SCIM_USER_CREATE,
        who=token.who,
        target=("user", user.id),
        address=address,
        detail={"attributes": names},
    )
    announced = NewEvent(EventType.USER_CREATED, token.site_id, user.id, created, token.who, now)
    return _NewUser(user, values, created, event, announced)


@audit.records_failures(Action.SCIM_USER_CREATE, "user", with_id=False)
def create_user(
    session: Session,
    runtime: Runtime,
    token: AuthenticatedToken,
    body: dict[str, Any],
    *,
    base_url: str,
    address: str | None = None,
) -> dict[str, Any]:
    new = _new_user(session, runtime, token, body, base_url=base_url, address=address)
    with rules.unique_name(new.user):  # the unique index decides: no query before the INSERT
        users_repo.insert_users(session, [(new.user, new.values)])
    audit.record_all(session, [new.event])
    emit(session, new.announced)
    return new.document


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
