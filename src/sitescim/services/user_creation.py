"""Creation of users through SCIM, one at a time.

Each creation writes ``user.created`` with the document its response shows,
in its transaction. A Bulk request's run of creations is ``user_batches``,
which builds each user with ``_new_user`` here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from scim2_models import (
    Context,
)
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
