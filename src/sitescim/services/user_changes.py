"""The frame a PUT or PATCH of a user runs in: read locked, changed, checked, written.

Every change bumps ``version`` and ``updated_at`` and is audited with the
token and the names (never the values) of the attributes it touched. It also
writes its events (``user_events``) with the document the response shows; a
request that changes nothing writes none.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from scim2_models import (
    MutabilityException,
)
from sqlalchemy.orm import Session

from sitescim.db.models import User as UserRow
from sitescim.db.repositories import users as users_repo
from sitescim.domain.actions import Action
from sitescim.domain.errors import NotFoundError
from sitescim.domain.events import EventType
from sitescim.domain.privileges import Privilege
from sitescim.scim import etags, mapping, stored_documents, user_documents
from sitescim.scim.mapping import ScimUser
from sitescim.services import audit
from sitescim.services import user_rules as rules
from sitescim.services.events import NewEvent, emit
from sitescim.services.runtime import Runtime
from sitescim.services.tokens import AuthenticatedToken


class UserState:
    """A user's columns, as a change reads and rewrites them: a plain object.

    The rules (user_rules) and the mapping read and set its attributes as they
    would an ORM ``User``; building one of those (instrumented state, events)
    cost more than the statements of a PATCH.
    """

    def __init__(self, columns: dict[str, Any]) -> None:
        self.__dict__.update(columns)

    def __getattr__(self, name: str) -> Any:  # every column is set: only a typo gets here
        raise AttributeError(name)

    if TYPE_CHECKING:  # columns are set as plain attributes; this tells mypy they may be

        def __setattr__(self, name: str, value: Any) -> None: ...


@dataclass(frozen=True, slots=True)
class Stored:
    """A user as stored before a change: read once, for the resource a PUT or
    PATCH works on, for the audit's comparison and for the values' rewrite."""

    values: Sequence[Any]
    groups: Sequence[Any]
    document: dict[str, Any]
    columns: dict[str, Any]  # the users row as read: a save writes what differs from it

    def resource(self, token: AuthenticatedToken) -> ScimUser:
        """The stored user as a resource, for the general PUT and PATCH.

        Validated from the document, which costs a third of building it from
        rows (mapping.user_to_scim); the everyday PATCH never needs it.
        """
        return rules.model_for(token).model_validate(self.document)


def open_for_change(
    session: Session,
    token: AuthenticatedToken,
    user_id: str,
    *,
    if_match: str | None,
    base_url: str,
) -> tuple[UserState, Stored]:
    """The frame PUT, PATCH and DELETE share: the user (If-Match checked) and its state.

    The site is the token's (T10): its policy came with the token check. The
    row, its values and its groups are one read (db.repositories.users.read_for_change,
    locked on PostgreSQL); the save then updates only the columns that changed,
    in one statement.
    """
    found = users_repo.read_for_change(session, token.site_id, user_id)
    if found is None:
        raise NotFoundError(f"No user with id {user_id!r}.")
    user = UserState(dict(found.columns))
    check_if_match(user, if_match)
    document = user_documents.user_document(user, found.values, found.groups, base_url)
    stored = Stored(
        values=found.values, groups=found.groups, document=document, columns=found.columns
    )
    return user, stored


def check_if_match(user: UserState, if_match: str | None) -> None:
    etags.check_if_match(
        if_match,
        etags.make_etag(user.id, user.version),
        detail="The resource has changed since you read it (If-Match does not match).",
    )


def comparable(document: dict[str, Any]) -> dict[str, Any]:
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


def _update(
    session: Session, user: UserState, stored: dict[str, Any], document: dict[str, Any]
) -> None:
    """One UPDATE of the columns that differ from the stored row, and of the stored
    document (the page's copy of ``document``, for the new version)."""
    changes = {name: value for name in stored if (value := getattr(user, name)) != stored[name]}
    changes["document"] = stored_documents.stored_document(document)
    changes["document_version"] = user.version
    with rules.unique_name(user):
        users_repo.update_columns(session, user.id, changes)


def save(
    session: Session,
    runtime: Runtime,
    token: AuthenticatedToken,
    user: UserState,
    *,
    before: Stored,
    after: ScimUser,
    action: Action,
    base_url: str,
    address: str | None,
    hashed: rules.HashedPassword | None = None,
) -> dict[str, Any]:
    """Write ``after`` onto the stored user, under every rule of section 2.

    Returns the user's document. Before and after are compared as documents
    built from rows (what a GET would show), which is how the audit names the
    changed attributes; value rows are rewritten only when they changed.
    """
    values = mapping.user_from_scim(after, cast(UserRow, user))  # sets columns by name
    requested = mapping.requested_privilege(after)
    if requested is not None and not token.may_set_promaster:
        raise MutabilityException(detail="'privilege' is read-only in this site")
    user.privilege = rules.privilege_named(requested, before.columns["privilege"])
    return store(
        session,
        runtime,
        token,
        user,
        before=before,
        values=values,
        password=None if hashed is not None else after.password,
        action=action,
        base_url=base_url,
        address=address,
        hashed=hashed,
    )


def store(
    session: Session,
    runtime: Runtime,
    token: AuthenticatedToken,
    user: UserState,
    *,
    before: Stored,
    values: Sequence[Any],
    password: str | None,
    action: Action,
    base_url: str,
    address: str | None,
    hashed: rules.HashedPassword | None = None,
) -> dict[str, Any]:
    """Check the rules of section 2 on the changed ``user``, then write what differs
    from the row as read and audit the names of the changed attributes.

    ``hashed`` is ``password`` hashed before the transaction began (argon2 is
    slow on purpose: not while holding SQLite's write lock); its policy error,
    if any, is raised here, in the order the checks always had. The document
    is built once: what the change makes of it is its version and lastModified.
    """
    groups, prior = before.groups, before.columns
    was_active = prior["active"]
    if (
        was_active
        and prior["privilege"] == Privilege.PROMASTER
        and (not user.active or user.privilege != Privilege.PROMASTER)
    ):
        rules.keep_a_promaster(session, runtime, token, user, action=action, address=address)
    if user.user_name_key != prior["user_name_key"]:
        rules.ensure_unique_name(session, user)
    rules.resolve_manager(session, user, was=prior["manager_id"])
    if hashed is not None:
        user.password_hash = hashed.value()
    elif password is not None:
        user.password_hash = rules.hash_password(runtime, token, password)

    updated = user_documents.user_document(user, values, groups, base_url)
    names = _changed_names(comparable(before.document), comparable(updated))
    if password is not None or hashed is not None:
        names.append("password")
    if not names:
        return updated
    now = runtime.clock()
    user.version += 1
    user.updated_at = now
    meta = updated["meta"]
    meta["lastModified"] = user_documents.scim_datetime(now)
    meta["version"] = etags.make_etag(user.id, user.version)
    _update(session, user, before.columns, updated)
    if _value_tuples(values) != _value_tuples(before.values):
        users_repo.rewrite_values(session, user.id, values)
    if was_active and not user.active:
        action = Action.SCIM_USER_DEACTIVATE
    audit.record(
        session,
        now=now,
        site_id=token.site_id,
        action=action,
        who=token.who,
        target=("user", user.id),
        address=address,
        detail={"attributes": names},
    )
    emit(session, *user_events(token, updated, now, names, was_active=was_active))
    return updated


def user_events(
    token: AuthenticatedToken,
    document: dict[str, Any],
    now: datetime,
    names: Sequence[str],
    *,
    was_active: bool,
) -> list[NewEvent]:
    """The events of a change to a user that changed ``names``.

    ``active`` going false is ``user.deactivated``, going true
    ``user.reactivated`` (``changes.attributes`` ``["active"]``); every other
    changed attribute is named by one ``user.updated``, written before it. So a
    request that deactivates a user and changes its e-mail writes
    ``user.updated`` (``emails``) then ``user.deactivated``, both with the user
    as it now is: a consumer that follows only ``user.updated`` still sees every
    attribute change, one that follows only ``user.deactivated`` every departure.
    """
    others = [name for name in names if name != "active"]
    made: list[NewEvent] = []
    if others:
        made.append(_user_event(EventType.USER_UPDATED, token, document, now, others))
    if "active" in names:
        status = EventType.USER_DEACTIVATED if was_active else EventType.USER_REACTIVATED
        made.append(_user_event(status, token, document, now, ["active"]))
    return made


def _user_event(
    kind: EventType,
    token: AuthenticatedToken,
    document: dict[str, Any],
    now: datetime,
    names: list[str],
) -> NewEvent:
    changes = {"attributes": names}
    return NewEvent(kind, token.site_id, document["id"], document, token.who, now, changes)
