"""SCIM provisioning of a site's users: read, list, replace, patch, deactivate, delete.

Creation is in ``user_creation``; the rules every change keeps in ``user_rules``;
the frame of a PUT or PATCH in ``user_changes``. The site always comes from the
token (T10): a user of another site is absent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from scim2_models import (
    Context,
    MutabilityException,
    PatchOp,
)
from sqlalchemy.orm import Session

from sitescim.db import listings
from sitescim.db.reads import Reads
from sitescim.db.records import UserSnapshot
from sitescim.db.repositories import users as users_repo
from sitescim.domain.actions import Action
from sitescim.domain.errors import NotFoundError
from sitescim.domain.events import EventType
from sitescim.domain.privileges import Privilege
from sitescim.scim import listing, user_documents, user_patch
from sitescim.scim.listing import ListQuery
from sitescim.scim.mapping import ScimUser
from sitescim.services import audit
from sitescim.services import user_changes as frame
from sitescim.services import user_rules as rules
from sitescim.services.events import NewEvent, emit
from sitescim.services.runtime import Runtime
from sitescim.services.tokens import AuthenticatedToken


@dataclass(frozen=True, slots=True)
class UserPage:
    total: int
    start_index: int | None  # None when a cursor pages (RFC 9865)
    resources: Sequence[dict[str, Any]]
    next_cursor: str | None = None


async def read_user(
    reads: Reads,
    token: AuthenticatedToken,
    user_id: str,
    *,
    base_url: str,
    already_read: bool = False,
    snapshot: UserSnapshot | None = None,
) -> dict[str, Any]:
    """GET by id: one statement, so one snapshot of the user, its values and groups.

    The site is the token's (T10); a user of another site is absent. ``already_read``:
    the token's statement read this id of the token's site, and found ``snapshot``.
    """
    if not already_read:
        snapshot = await reads.user(token.site_id, user_id)
    if snapshot is None:
        raise NotFoundError(f"No user with id {user_id!r}.")
    return user_documents.user_document(snapshot.user, snapshot.values, snapshot.groups, base_url)


def list_users(
    session: Session, token: AuthenticatedToken, query: ListQuery, *, base_url: str
) -> UserPage:
    """A page of the site's users matching the query, filtered and sorted in the database."""
    page = listings.read_user_page(
        session, token.site_id, listing.plan_user_page(token.site_id, query)
    )
    resources = [
        user_documents.user_document(user, page.values[user.id], page.groups[user.id], base_url)
        for user in page.users
    ]
    return UserPage(
        total=page.total,
        start_index=query.start_index if query.cursor is None else None,
        resources=resources,
        next_cursor=page.next_cursor,
    )


@dataclass(frozen=True, slots=True)
class PreparedReplacement:
    """A PUT body validated before the write began, or the error it raised.

    The error is raised once the user is found and If-Match holds, as when the
    body was validated there: a 404 or 412 still comes before a 400 about it.
    """

    wanted: ScimUser | None
    error: Exception | None = None
    hashed: rules.HashedPassword | None = None

    @property
    def password(self) -> str | None:
        """The password to hash before the write, if there is one not yet hashed."""
        if self.wanted is None or self.hashed is not None:
            return None
        return self.wanted.password


def prepare_replacement(token: AuthenticatedToken, body: dict[str, Any]) -> PreparedReplacement:
    """Validate a PUT body against the site's User schema, outside the write."""
    try:
        wanted = rules.model_for(token).model_validate(
            body, scim_ctx=Context.RESOURCE_REPLACEMENT_REQUEST
        )
    except Exception as error:  # raised again in replace_user, in its place
        return PreparedReplacement(None, error)
    return PreparedReplacement(wanted)


def hash_replacement_password(
    runtime: Runtime, token: AuthenticatedToken, prepared: PreparedReplacement
) -> PreparedReplacement:
    """The replacement with its password checked and hashed (slow on purpose: argon2),
    so the write does not hash it while holding the lock."""
    password = prepared.password
    if password is None:
        return prepared
    return replace(prepared, hashed=rules.hash_ahead(runtime, token, password))


@audit.records_failures(Action.SCIM_USER_REPLACE, "user")
def replace_user(
    session: Session,
    runtime: Runtime,
    token: AuthenticatedToken,
    user_id: str,
    body: dict[str, Any],
    *,
    base_url: str,
    if_match: str | None = None,
    address: str | None = None,
    prepared: PreparedReplacement | None = None,
) -> dict[str, Any]:
    """PUT: readOnly attributes are ignored, immutable ones checked (RFC 7644 §3.5.1).

    ``prepared`` is ``body`` validated before the transaction (prepare_replacement);
    without it (a Bulk operation) the body is validated here.
    """
    user, before = frame.open_for_change(
        session, token, user_id, if_match=if_match, base_url=base_url
    )
    if prepared is None:
        prepared = prepare_replacement(token, body)
    if prepared.error is not None:
        raise prepared.error
    wanted = prepared.wanted
    assert wanted is not None
    stored = before.resource(token)
    wanted.replace(stored)
    return frame.save(
        session,
        runtime,
        token,
        user,
        before=before,
        after=wanted,
        action=Action.SCIM_USER_REPLACE,
        base_url=base_url,
        address=address,
        hashed=prepared.hashed,
    )


@dataclass(frozen=True, slots=True)
class PreparedPatch:
    """A PATCH body read before the write began: the columns the everyday shapes set
    (scim.user_patch), else the validated PatchOp, else the error it raised (raised
    once the user is found and If-Match holds, as when it was validated there)."""

    columns: list[tuple[str, Any]] | None = None
    operation: Any = None  # PatchOp[the site's User model]
    error: Exception | None = None


def prepare_patch(token: AuthenticatedToken, body: dict[str, Any]) -> PreparedPatch:
    """Recognise or validate a PATCH body, outside the write."""
    changes = user_patch.column_changes(body)
    if changes is not None:
        return PreparedPatch(columns=changes)
    try:
        operation = PatchOp[rules.model_for(token)].model_validate(  # type: ignore[misc]
            body, scim_ctx=Context.RESOURCE_PATCH_REQUEST
        )
    except Exception as error:  # raised again in patch_user, in its place
        return PreparedPatch(error=error)
    return PreparedPatch(operation=operation)


@audit.records_failures(Action.SCIM_USER_PATCH, "user")
def patch_user(
    session: Session,
    runtime: Runtime,
    token: AuthenticatedToken,
    user_id: str,
    body: dict[str, Any],
    *,
    base_url: str,
    if_match: str | None = None,
    address: str | None = None,
    prepared: PreparedPatch | None = None,
) -> dict[str, Any]:
    """PATCH: the operations run in memory on the stored resource, which is then saved.

    The everyday shapes (scim.user_patch) set columns of the row instead.
    ``prepared`` is ``body`` read before the transaction (prepare_patch); without
    it (a Bulk operation) the body is read here.
    """
    user, before = frame.open_for_change(
        session, token, user_id, if_match=if_match, base_url=base_url
    )
    if prepared is None:
        prepared = prepare_patch(token, body)
    if prepared.columns is not None:
        for column, value in prepared.columns:
            setattr(user, column, value)
        user.user_name_key = user.user_name.casefold()
        user.display_name_key = None if user.display_name is None else user.display_name.casefold()
        return frame.store(
            session,
            runtime,
            token,
            user,
            before=before,
            values=before.values,
            password=None,
            action=Action.SCIM_USER_PATCH,
            base_url=base_url,
            address=address,
        )
    if prepared.error is not None:
        raise prepared.error
    after = before.resource(token)  # built for this request alone: patched in place
    was_active = after.active
    prepared.operation.patch(after)
    if after.active is None and was_active is not None:
        # RFC 7644 §3.5.2.2 would leave it unassigned; users.active cannot be (NOT NULL).
        raise MutabilityException(detail=rules.ACTIVE_UNASSIGNED_MESSAGE)
    return frame.save(
        session,
        runtime,
        token,
        user,
        before=before,
        after=after,
        action=Action.SCIM_USER_PATCH,
        base_url=base_url,
        address=address,
    )


def deactivate_user(
    session: Session,
    runtime: Runtime,
    token: AuthenticatedToken,
    user_id: str,
    *,
    base_url: str,
    address: str | None = None,
) -> dict[str, Any]:
    """``active: false``: the user stays, with its data and group links."""
    body = {
        "schemas": [str(PatchOp.__schema__)],
        "Operations": [{"op": "replace", "path": "active", "value": False}],
    }
    return patch_user(session, runtime, token, user_id, body, base_url=base_url, address=address)


@audit.records_failures(Action.SCIM_USER_DELETE, "user")
def delete_user(
    session: Session,
    runtime: Runtime,
    token: AuthenticatedToken,
    user_id: str,
    *,
    base_url: str,
    if_match: str | None = None,
    address: str | None = None,
) -> None:
    """``user.deleted`` shows the user as it was, its groups included (read for it).

    The groups it leaves by cascade get no ``group.members_removed``: the
    user's event names them, and a consumer that applies it drops the user
    from each.
    """
    user, before = frame.open_for_change(
        session, token, user_id, if_match=if_match, base_url=base_url
    )
    if user.active and user.privilege == Privilege.PROMASTER:
        rules.keep_a_promaster(
            session, runtime, token, user, action=Action.SCIM_USER_DELETE, address=address
        )
    users_repo.delete_by_id(session, token.site_id, user_id)
    now = runtime.clock()
    audit.record(
        session,
        now=now,
        site_id=token.site_id,
        action=Action.SCIM_USER_DELETE,
        who=token.who,
        target=("user", user_id),
        address=address,
        detail={"userName": user.user_name},
    )
    emit(
        session,
        NewEvent(EventType.USER_DELETED, token.site_id, user_id, before.document, token.who, now),
    )
