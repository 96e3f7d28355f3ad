"""Creation of users through SCIM, one at a time.

Each creation writes ``user.created`` with the document its response shows,
in its transaction. A Bulk request's run of creations is ``user_batches``,
which builds each user with ``_new_user`` here.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, cast

from scim2_models import (
    Context,
)
from sqlalchemy.orm import Session

from sitescim.db.models import User as UserRow
from sitescim.db.models import new_id
from sitescim.db.repositories import users as users_repo
from sitescim.domain.actions import Action
from sitescim.domain.events import EventType
from sitescim.domain.privileges import Privilege
from sitescim.scim import mapping, plain_users, stored_documents, user_documents
from sitescim.scim.mapping import ScimUser
from sitescim.services import audit
from sitescim.services import user_changes as frame
from sitescim.services import user_rules as rules
from sitescim.services.events import NewEvent, emit
from sitescim.services.runtime import Runtime
from sitescim.services.tokens import AuthenticatedToken
from sitescim.services.user_changes import UserState

_NO_COLUMNS = dict.fromkeys(users_repo.USER_ROW_COLUMNS)


@dataclass(frozen=True, slots=True)
class _NewUser:
    """A user ready to insert: its row, value rows, document, audit row and event."""

    user: UserRow | UserState  # an ORM object for a batch's Core INSERT, else plain
    values: list[Any]
    document: dict[str, Any]
    event: dict[str, Any]  # the audit row's columns (audit.event_values)
    announced: NewEvent  # user.created


@dataclass(frozen=True, slots=True)
class PreparedCreation:
    """A POST body validated, and its password hashed, before the write began,
    or the error validating it raised.

    Validation and hashing (argon2, slow on purpose) are what a creation costs
    most; SQLite's write lock need not be held for them. An error is raised in
    the use case, in the place it always was, and audited there.
    """

    resource: ScimUser | None
    error: Exception | None = None
    hashed: rules.HashedPassword | None = None
    plain: plain_users.PlainUser | None = None
    """The body as scim.plain_users read it, when of that plain shape (no scim2-models):
    the use case builds it as a Bulk batch does (``user_batches.plain_new_user``)."""

    @property
    def password(self) -> str | None:
        """The password still to hash, if any."""
        if self.resource is None or self.hashed is not None:
            return None
        return self.resource.password


def prepare_creation(token: AuthenticatedToken, body: dict[str, Any]) -> PreparedCreation:
    """Validate a POST body against the site's User schema (fast: no hashing).

    A body of the plain shape identity providers send is only recognised here:
    scim2-models' validation was most of a creation's cost, and the plain
    reader is held equal to it (tests/unit/test_plain_users.py)."""
    plain = plain_users.read_plain_user(body)
    if plain is not None:
        return PreparedCreation(None, plain=plain)
    return _validated(token, body)


def _validated(token: AuthenticatedToken, body: dict[str, Any]) -> PreparedCreation:
    model = rules.model_for(token)
    try:
        resource = model.model_validate(body, scim_ctx=Context.RESOURCE_CREATION_REQUEST)
    except Exception as error:  # raised again in create_user, and audited there
        return PreparedCreation(None, error)
    return PreparedCreation(resource)


def hash_creation_password(
    runtime: Runtime, token: AuthenticatedToken, prepared: PreparedCreation
) -> PreparedCreation:
    """The creation with its password checked against the policy and hashed."""
    password = prepared.password
    if password is None:
        return prepared
    return replace(prepared, hashed=rules.hash_ahead(runtime, token, password))


def _new_user(
    session: Session,
    runtime: Runtime,
    token: AuthenticatedToken,
    body: dict[str, Any],
    *,
    base_url: str,
    address: str | None,
) -> _NewUser:
    """Everything a creation checks and builds, except that its userName is free
    (through scim2-models: the reference the plain reader is held equal to)."""
    prepared = _validated(token, body)
    return _prepared_user(
        session, runtime, token, prepared, base_url=base_url, address=address, plain=False
    )


def _prepared_user(
    session: Session,
    runtime: Runtime,
    token: AuthenticatedToken,
    prepared: PreparedCreation,
    *,
    base_url: str,
    address: str | None,
    plain: bool = True,
) -> _NewUser:
    """What a creation builds and checks in its transaction, once its body is ``prepared``.

    ``plain``: the user is a UserState with every column set, for the plain INSERT
    of a single creation; a batch's Core INSERT takes ORM objects.
    """
    if prepared.error is not None:
        raise prepared.error
    resource = prepared.resource
    assert resource is not None
    now = runtime.clock()
    columns = {
        "id": new_id(),
        "site_id": token.site_id,
        "privilege": Privilege.USER.value,
        "active": True,
        "created_at": now,
        "updated_at": now,
        "version": 1,
    }
    user = UserState({**_NO_COLUMNS, **columns}) if plain else UserRow(**columns)
    values = mapping.user_from_scim(resource, cast(UserRow, user))  # sets columns by name
    user.privilege = rules.privilege_named(
        mapping.requested_privilege(resource), Privilege.USER.value
    )
    if prepared.hashed is not None:
        user.password_hash = prepared.hashed.value()
    elif resource.password is not None:
        user.password_hash = rules.hash_password(runtime, token, resource.password)
    rules.resolve_manager(session, user)
    created = user_documents.user_document(user, values, [], base_url)
    user.document, user.document_version = stored_documents.stored_document(created), 1
    names = sorted(frame.comparable(created))
    if resource.password is not None:
        names.append("password")
    event = audit.event_values(
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
    prepared: PreparedCreation | None = None,
) -> dict[str, Any]:
    """``prepared`` is ``body`` validated and hashed before the transaction
    (prepare_creation, hash_creation_password); without it (a Bulk operation)
    that happens here."""
    if prepared is not None and prepared.plain is not None:
        return _create_plain(
            session, runtime, token, body, prepared.plain, base_url=base_url, address=address
        )
    if prepared is None:
        new = _new_user(session, runtime, token, body, base_url=base_url, address=address)
    else:
        new = _prepared_user(session, runtime, token, prepared, base_url=base_url, address=address)
    with rules.unique_name(new.user):  # the unique index decides: no query before the INSERT
        users_repo.insert_user(session, new.user, new.values)
    audit.record_all(session, [new.event])
    emit(session, new.announced)
    return new.document


def _create_plain(
    session: Session,
    runtime: Runtime,
    token: AuthenticatedToken,
    body: dict[str, Any],
    plain: plain_users.PlainUser,
    *,
    base_url: str,
    address: str | None,
) -> dict[str, Any]:
    """A plain body's creation: its row, values, document, audit row and event built
    from column values, as a Bulk batch builds them (no manager, no password)."""
    from sitescim.services.user_batches import plain_new_user  # it builds on this module

    new = plain_new_user(
        token,
        body,
        user_id=new_id(),
        now=runtime.clock(),
        base_url=base_url,
        address=address,
        plain=plain,
    )
    assert new is not None, "prepare_creation found the body plain"
    columns = {**_NO_COLUMNS, **new.user}  # password_hash, like the rest it does not set: None
    with rules.unique_name(UserState(columns)):
        users_repo.insert_user_columns(session, columns, new.values)
    audit.record_all(session, [new.audited])
    emit(session, new.announced)
    return new.document
