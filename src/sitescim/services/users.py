"""SCIM provisioning of a site's users: create, read, replace, patch, deactivate, delete.

The rules of spec section 2 live here, whatever route a change takes:

- users created through SCIM start as ``user``; the privilege is read-only to
  SCIM unless the site lets SCIM set it (``Site.scim_may_set_promaster``);
- the last active Promaster of a site is never deactivated, demoted or
  deleted through SCIM (409);
- a ``password`` is checked against the site's policy, stored as an argon2
  hash, and never returned nor written to the audit log;
- every change bumps ``version`` and ``updated_at`` and is audited with the
  token and the names (never the values) of the attributes it touched.

The site always comes from the token (T10): a user of another site is absent.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from scim2_models import (
    ConflictException,
    Context,
    InvalidValueException,
    MutabilityException,
    NotFoundException,
    PatchOp,
    UniquenessException,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from sitescim.db import listings
from sitescim.db import repositories as repo
from sitescim.db.listings import GroupRef
from sitescim.db.models import AuditEvent, new_id
from sitescim.db.models import User as UserRow
from sitescim.db.reads import Reads
from sitescim.domain import passwords
from sitescim.domain.errors import InvalidInputError
from sitescim.domain.privileges import Privilege
from sitescim.scim import etags, listing, mapping, user_documents, user_patch
from sitescim.scim.listing import ListQuery
from sitescim.scim.mapping import ScimUser
from sitescim.services import audit
from sitescim.services.runtime import Runtime
from sitescim.services.tokens import AuthenticatedToken

ACTIVE_UNASSIGNED_MESSAGE = (
    "'active' cannot be removed here: a user is active or not. "
    "Replace it with true or false instead."
)
LAST_PROMASTER_MESSAGE = (
    "This user is the last active Promaster of the site; a site always keeps at least one. "
    "Make another user a Promaster in the site first."
)


@dataclass(frozen=True, slots=True)
class UserPage:
    total: int
    start_index: int | None  # None when a cursor pages (RFC 9865)
    resources: Sequence[dict[str, Any]]
    next_cursor: str | None = None


def model_for(token: AuthenticatedToken) -> type[ScimUser]:
    """The site's User schema: ``privilege`` is writable only where the site allows it."""
    return mapping.user_model(privilege_writable=token.may_set_promaster)


def _load(session: Session, site_id: str, user_id: str) -> UserRow:
    user = repo.get_user(session, site_id, user_id)
    if user is None:
        raise NotFoundException(detail=f"No user with id {user_id!r}.")
    return user


@dataclass(frozen=True, slots=True)
class _Stored:
    """A user as stored before a change: read once, for the resource a PUT or
    PATCH works on, for the audit's comparison and for the values' rewrite."""

    values: Sequence[Any]
    groups: list[GroupRef]
    document: dict[str, Any]
    columns: dict[str, Any]  # the users row as read: a save writes what differs from it

    def resource(self, token: AuthenticatedToken) -> ScimUser:
        """The stored user as a resource, for the general PUT and PATCH.

        Validated from the document, which costs a third of building it from
        rows (mapping.user_to_scim); the everyday PATCH never needs it.
        """
        return model_for(token).model_validate(self.document)


def _open_for_change(
    session: Session,
    token: AuthenticatedToken,
    user_id: str,
    *,
    if_match: str | None,
    base_url: str,
) -> tuple[UserRow, _Stored]:
    """The frame PUT and PATCH share: the user (If-Match checked) and its state.

    The site is the token's (T10): its policy came with the token check. The
    row is read locked through Core and held as a transient ``User`` the rules
    work on; the save then updates only the columns that changed, in one
    statement (an ORM load and flush cost more than the rest of a PATCH).
    """
    row = repo.read_user_for_change(session, token.site_id, user_id)
    if row is None:
        raise NotFoundException(detail=f"No user with id {user_id!r}.")
    columns = dict(row._mapping)
    user = UserRow(**columns)
    _check_if_match(user, if_match)
    connection = session.connection()  # Core reads: no ORM layer around them
    values: Sequence[Any] = repo.list_user_values(connection, [user.id])
    groups = [
        GroupRef(id=group_id, display=display)
        for _, group_id, display in repo.list_user_groups(connection, token.site_id, [user.id])
    ]
    document = user_documents.user_document(user, values, groups, base_url)
    return user, _Stored(values=values, groups=groups, document=document, columns=columns)


def _check_if_match(user: UserRow, if_match: str | None) -> None:
    etags.check_if_match(
        if_match,
        etags.make_etag(user.id, user.version),
        detail="The resource has changed since you read it (If-Match does not match).",
    )


def _who(token: AuthenticatedToken) -> audit.Who:
    return audit.Who.token(token.token_id, token.description)


def _comparable(document: dict[str, Any]) -> dict[str, Any]:
    return {key: item for key, item in document.items() if key not in ("meta", "schemas")}


def _value_tuples(rows: Iterable[Any]) -> list[tuple[Any, ...]]:
    return sorted(
        (
            row.attribute,
            row.position,
            row.value,
            row.type,
            row.primary,
            row.display,
            row.extra or {},
        )
        for row in rows
    )


def _changed_names(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """SCIM names of the attributes that differ; extension attributes as URN:name."""
    names: list[str] = []
    for key in sorted(set(before) | set(after)):
        old, new = before.get(key), after.get(key)
        if old == new:
            continue
        if key.startswith("urn:") and isinstance(old or new, dict):
            old_dict, new_dict = old or {}, new or {}
            for sub in sorted(set(old_dict) | set(new_dict)):
                if old_dict.get(sub) != new_dict.get(sub):
                    names.append(f"{key}:{sub}")
        else:
            names.append(key)
    return names


def _refuse(
    session: Session,
    runtime: Runtime,
    token: AuthenticatedToken,
    *,
    action: str,
    user_id: str,
    address: str | None,
    message: str,
) -> None:
    audit.record_refusal(
        session,
        runtime,
        site_id=token.site_id,
        action=action,
        who=_who(token),
        target=("user", user_id),
        address=address,
        message=message,
    )


def _keep_a_promaster(
    session: Session,
    runtime: Runtime,
    token: AuthenticatedToken,
    user: UserRow,
    *,
    action: str,
    address: str | None,
) -> None:
    """Refuse (409) to leave the site without an active Promaster."""
    repo.lock_site(session, user.site_id)
    if repo.count_active_promasters(session, user.site_id, excluding=user.id) == 0:
        _refuse(
            session,
            runtime,
            token,
            action=action,
            user_id=user.id,
            address=address,
            message=LAST_PROMASTER_MESSAGE,
        )
        raise ConflictException(detail=LAST_PROMASTER_MESSAGE)


def _privilege(value: str | None, current: str) -> str:
    if value is None:
        return current
    try:
        return Privilege(value).value
    except ValueError:
        allowed = ", ".join(p.value for p in Privilege)
        raise InvalidValueException(detail=f"'privilege' must be one of {allowed}") from None


def _hash_password(runtime: Runtime, token: AuthenticatedToken, password: str) -> str:
    try:
        passwords.check_policy(password, min_length=token.password_min_length)
    except InvalidInputError as error:
        raise InvalidValueException(detail=f"'password' {error.message}") from None
    return runtime.passwords.hash(password)


def _ensure_unique_name(session: Session, user: UserRow) -> None:
    other = repo.user_id_named(session, user.site_id, user.user_name)
    if other is not None and other != user.id:
        raise UniquenessException(detail=f"A user named {user.user_name!r} already exists.")


def _resolve_manager(session: Session, user: UserRow, *, was: str | None = None) -> None:
    """The manager is a user of this site; its display name is read-only, taken from it.

    ``was`` is the manager before a change: an unchanged manager is not read again.
    """
    if user.manager_id is not None and user.manager_id == was:
        return
    if user.manager_id is None:
        user.manager_display_name = None
        return
    manager = repo.get_user(session, user.site_id, user.manager_id)
    if manager is None:  # absent, or another site's: never a dangling reference (T10)
        raise InvalidValueException(detail="manager.value names no user of this site.")
    user.manager_display_name = manager.display_name or manager.user_name


@contextmanager
def _unique_name(user: UserRow) -> Iterator[None]:
    """A userName the unique index refuses (taken, or taken by a concurrent writer
    after a check passed) becomes a SCIM 409; the request's transaction (or a Bulk
    operation's savepoint) then rolls back, so no savepoint is needed here."""
    try:
        yield
    except IntegrityError:
        raise UniquenessException(
            detail=f"A user named {user.user_name!r} already exists."
        ) from None


def _update(session: Session, user: UserRow, stored: dict[str, Any]) -> None:
    """One UPDATE of the columns that differ from the stored row."""
    changes = {name: value for name in stored if (value := getattr(user, name)) != stored[name]}
    with _unique_name(user):
        repo.update_user(session, user.id, changes)


@dataclass(frozen=True, slots=True)
class _NewUser:
    """A user ready to insert: its row, value rows, document and audit row."""

    user: UserRow
    values: list[Any]
    document: dict[str, Any]
    event: AuditEvent


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
    model = model_for(token)
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
    user.privilege = _privilege(mapping.requested_privilege(resource), Privilege.USER.value)
    if resource.password is not None:
        user.password_hash = _hash_password(runtime, token, resource.password)
    _resolve_manager(session, user)
    created = user_documents.user_document(user, values, [], base_url)
    names = sorted(_comparable(created))
    if resource.password is not None:
        names.append("password")
    event = audit.event(
        now=now,
        site_id=token.site_id,
        action="scim.user.create",
        who=_who(token),
        target=("user", user.id),
        address=address,
        detail={"attributes": names},
    )
    return _NewUser(user, values, created, event)


@audit.records_failures("scim.user.create", "user", with_id=False)
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
    with _unique_name(new.user):  # the unique index decides: no query before the INSERT
        repo.insert_users(session, [(new.user, new.values)])
    audit.record_all(session, [new.event])
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
    one of audit rows, one query for the userNames, instead of six statements each.

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
    taken = repo.user_name_keys_taken(session, token.site_id, keys)
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
                repo.insert_users(session, [(new.user, new.values) for new in ready])
                audit.record_all(session, [new.event for new in ready])
        except IntegrityError:
            return [None] * len(bodies)
    return [None if new is None else new.document for new in prepared]


async def read_user(
    reads: Reads, token: AuthenticatedToken, user_id: str, *, base_url: str
) -> dict[str, Any]:
    """GET by id: one statement, so one snapshot of the user, its values and groups.

    The site is the token's (T10); a user of another site is absent.
    """
    snapshot = await reads.user(token.site_id, user_id)
    if snapshot is None:
        raise NotFoundException(detail=f"No user with id {user_id!r}.")
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


def _save(
    session: Session,
    runtime: Runtime,
    token: AuthenticatedToken,
    user: UserRow,
    *,
    before: _Stored,
    after: ScimUser,
    action: str,
    base_url: str,
    address: str | None,
) -> dict[str, Any]:
    """Write ``after`` onto the stored user, under every rule of section 2.

    Returns the user's document. Before and after are compared as documents
    built from rows (what a GET would show), which is how the audit names the
    changed attributes; value rows are rewritten only when they changed.
    """
    values = mapping.user_from_scim(after, user)
    requested = mapping.requested_privilege(after)
    if requested is not None and not token.may_set_promaster:
        raise MutabilityException(detail="'privilege' is read-only in this site")
    user.privilege = _privilege(requested, before.columns["privilege"])
    return _store(
        session,
        runtime,
        token,
        user,
        before=before,
        values=values,
        password=after.password,
        action=action,
        base_url=base_url,
        address=address,
    )


def _store(
    session: Session,
    runtime: Runtime,
    token: AuthenticatedToken,
    user: UserRow,
    *,
    before: _Stored,
    values: Sequence[Any],
    password: str | None,
    action: str,
    base_url: str,
    address: str | None,
) -> dict[str, Any]:
    """Check the rules of section 2 on the changed ``user``, then write what differs
    from the row as read and audit the names of the changed attributes."""
    groups, prior = before.groups, before.columns
    was_active = prior["active"]
    if (
        was_active
        and prior["privilege"] == Privilege.PROMASTER
        and (not user.active or user.privilege != Privilege.PROMASTER)
    ):
        _keep_a_promaster(session, runtime, token, user, action=action, address=address)
    if user.user_name_key != prior["user_name_key"]:
        _ensure_unique_name(session, user)
    _resolve_manager(session, user, was=prior["manager_id"])
    if password is not None:
        user.password_hash = _hash_password(runtime, token, password)

    updated = user_documents.user_document(user, values, groups, base_url)
    names = _changed_names(_comparable(before.document), _comparable(updated))
    if password is not None:
        names.append("password")
    if not names:
        return updated
    now = runtime.clock()
    user.version += 1
    user.updated_at = now
    _update(session, user, before.columns)
    if _value_tuples(values) != _value_tuples(before.values):
        repo.replace_user_values(session, user.id, values)
    if was_active and not user.active:
        action = "scim.user.deactivate"
    audit.record(
        session,
        now=now,
        site_id=token.site_id,
        action=action,
        who=_who(token),
        target=("user", user.id),
        address=address,
        detail={"attributes": names},
    )
    return user_documents.user_document(user, values, groups, base_url)


@audit.records_failures("scim.user.replace", "user")
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
) -> dict[str, Any]:
    """PUT: readOnly attributes are ignored, immutable ones checked (RFC 7644 §3.5.1)."""
    user, before = _open_for_change(session, token, user_id, if_match=if_match, base_url=base_url)
    stored = before.resource(token)
    wanted = type(stored).model_validate(body, scim_ctx=Context.RESOURCE_REPLACEMENT_REQUEST)
    wanted.replace(stored)
    return _save(
        session,
        runtime,
        token,
        user,
        before=before,
        after=wanted,
        action="scim.user.replace",
        base_url=base_url,
        address=address,
    )


@audit.records_failures("scim.user.patch", "user")
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
) -> dict[str, Any]:
    """PATCH: the operations run in memory on the stored resource, which is then saved.

    The everyday shapes (scim.user_patch) set columns of the row instead.
    """
    user, before = _open_for_change(session, token, user_id, if_match=if_match, base_url=base_url)
    changes = user_patch.column_changes(body)
    if changes is not None:
        for column, value in changes:
            setattr(user, column, value)
        user.user_name_key = user.user_name.casefold()
        user.display_name_key = None if user.display_name is None else user.display_name.casefold()
        return _store(
            session,
            runtime,
            token,
            user,
            before=before,
            values=before.values,
            password=None,
            action="scim.user.patch",
            base_url=base_url,
            address=address,
        )
    after = before.resource(token)  # built for this request alone: patched in place
    patch = PatchOp[type(after)].model_validate(  # type: ignore[misc]
        body, scim_ctx=Context.RESOURCE_PATCH_REQUEST
    )
    was_active = after.active
    patch.patch(after)
    if after.active is None and was_active is not None:
        # RFC 7644 §3.5.2.2 would leave it unassigned; users.active cannot be (NOT NULL).
        raise MutabilityException(detail=ACTIVE_UNASSIGNED_MESSAGE)
    return _save(
        session,
        runtime,
        token,
        user,
        before=before,
        after=after,
        action="scim.user.patch",
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


@audit.records_failures("scim.user.delete", "user")
def delete_user(
    session: Session,
    runtime: Runtime,
    token: AuthenticatedToken,
    user_id: str,
    *,
    if_match: str | None = None,
    address: str | None = None,
) -> None:
    user = _load(session, token.site_id, user_id)
    _check_if_match(user, if_match)
    if user.active and user.privilege == Privilege.PROMASTER:
        _keep_a_promaster(session, runtime, token, user, action="scim.user.delete", address=address)
    repo.delete_user(session, user)
    audit.record(
        session,
        now=runtime.clock(),
        site_id=token.site_id,
        action="scim.user.delete",
        who=_who(token),
        target=("user", user_id),
        address=address,
        detail={"userName": user.user_name},
    )
