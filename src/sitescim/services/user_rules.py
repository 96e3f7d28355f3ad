"""The rules of spec section 2 that every change of a user keeps, whatever route it takes.

- users created through SCIM start as ``user``; the privilege is read-only to
  SCIM unless the site lets SCIM set it (``Site.scim_may_set_promaster``);
- the last active Promaster of a site is never deactivated, demoted or
  deleted through SCIM (409);
- a ``password`` is checked against the site's policy, stored as an argon2
  hash, and never returned nor written to the audit log;
- a manager is a user of the same site (T10), a userName is the site's only once.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from scim2_models import (
    ConflictException,
    InvalidValueException,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from sitescim.db.repositories import sites as sites_repo
from sitescim.db.repositories import users as users_repo
from sitescim.domain import passwords
from sitescim.domain.actions import Action
from sitescim.domain.errors import AlreadyExistsError, InvalidInputError
from sitescim.domain.privileges import Privilege
from sitescim.scim import mapping
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


ChangedUser = Any
"""A user the rules check: an ORM ``User`` being created, or the columns of a stored
user being changed (services.user_changes.UserState); the rules read and set the
same attributes on either."""


def model_for(token: AuthenticatedToken) -> type[ScimUser]:
    """The site's User schema: ``privilege`` is writable only where the site allows it."""
    return mapping.user_model(privilege_writable=token.may_set_promaster)


def _refuse(
    session: Session,
    runtime: Runtime,
    token: AuthenticatedToken,
    *,
    action: Action,
    user_id: str,
    address: str | None,
    message: str,
) -> None:
    audit.record_refusal(
        session,
        runtime,
        site_id=token.site_id,
        action=action,
        who=token.who,
        target=("user", user_id),
        address=address,
        message=message,
    )


def keep_a_promaster(
    session: Session,
    runtime: Runtime,
    token: AuthenticatedToken,
    user: ChangedUser,
    *,
    action: Action,
    address: str | None,
) -> None:
    """Refuse (409) to leave the site without an active Promaster."""
    sites_repo.lock_site(session, user.site_id)
    if users_repo.count_active_promasters(session, user.site_id, excluding=user.id) == 0:
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


def privilege_named(value: str | None, current: str) -> str:
    if value is None:
        return current
    try:
        return Privilege(value).value
    except ValueError:
        allowed = ", ".join(p.value for p in Privilege)
        raise InvalidValueException(detail=f"'privilege' must be one of {allowed}") from None


def hash_password(runtime: Runtime, token: AuthenticatedToken, password: str) -> str:
    try:
        passwords.check_policy(password, min_length=token.password_min_length)
    except InvalidInputError as error:
        raise InvalidValueException(detail=f"'password' {error.message}") from None
    return runtime.passwords.hash(password)


@dataclass(frozen=True, slots=True)
class HashedPassword:
    """A password checked and hashed before its write began, or why it was refused.

    The refusal is raised when the change reaches the password, after the checks
    that come first (404, If-Match), as it was when hashing happened there.
    """

    hashed: str | None
    error: Exception | None = None

    def value(self) -> str:
        if self.error is not None:
            raise self.error
        assert self.hashed is not None
        return self.hashed


def hash_ahead(runtime: Runtime, token: AuthenticatedToken, password: str) -> HashedPassword:
    try:
        return HashedPassword(hash_password(runtime, token, password))
    except InvalidValueException as error:
        return HashedPassword(None, error)


def ensure_unique_name(session: Session, user: ChangedUser) -> None:
    other = users_repo.user_id_named(session, user.site_id, user.user_name)
    if other is not None and other != user.id:
        raise AlreadyExistsError(f"A user named {user.user_name!r} already exists.")


def resolve_manager(session: Session, user: ChangedUser, *, was: str | None = None) -> None:
    """The manager is a user of this site; its display name is read-only, taken from it.

    ``was`` is the manager before a change: an unchanged manager is not read again.
    """
    if user.manager_id is not None and user.manager_id == was:
        return
    if user.manager_id is None:
        user.manager_display_name = None
        return
    manager = users_repo.get_user(session, user.site_id, user.manager_id)
    if manager is None:  # absent, or another site's: never a dangling reference (T10)
        raise InvalidValueException(detail="manager.value names no user of this site.")
    user.manager_display_name = manager.display_name or manager.user_name


@contextmanager
def unique_name(user: ChangedUser) -> Iterator[None]:
    """A userName the unique index refuses (taken, or taken by a concurrent writer
    after a check passed) becomes a SCIM 409; the request's transaction (or a Bulk
    operation's savepoint) then rolls back, so no savepoint is needed here."""
    try:
        yield
    except IntegrityError:
        raise AlreadyExistsError(f"A user named {user.user_name!r} already exists.") from None
