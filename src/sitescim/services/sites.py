"""Sites, their local users, and who is acting.

A local user (``sitescim user create``, the demo site's first Promaster) is
announced by ``user.created`` like one provisioned by SCIM, with
``audit.SYSTEM`` as actor: the command line has no person of the site.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from limits import parse_many
from sqlalchemy.orm import Session

from sitescim.db.models import Site, User
from sitescim.db.repositories import sites as sites_repo
from sitescim.db.repositories import users as users_repo
from sitescim.domain import passwords
from sitescim.domain.errors import AuthenticationError, InvalidInputError, NotFoundError
from sitescim.domain.events import EventType
from sitescim.domain.privileges import Actor, Privilege, parse_privilege
from sitescim.scim.user_documents import user_document
from sitescim.services.audit import SYSTEM
from sitescim.services.events import NewEvent, emit
from sitescim.services.runtime import Runtime

SLUG_PATTERN = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
EMAIL_PATTERN = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}$")
USER_NAME_MAX = 256


@dataclass(frozen=True, slots=True)
class SiteView:
    id: str
    slug: str
    name: str


@dataclass(frozen=True, slots=True)
class UserView:
    id: str
    email: str | None
    user_name: str
    privilege: Privilege
    active: bool


def slugify(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.casefold()).strip("-")
    return slug[:63].strip("-") or "site"


def create_site(
    session: Session,
    runtime: Runtime,
    name: str,
    *,
    slug: str | None = None,
    password_min_length: int = passwords.MIN_LENGTH,
) -> SiteView:
    """``password_min_length`` may raise the default policy, never lower it."""
    name = name.strip()
    if not name or len(name) > 200:
        raise InvalidInputError("name", "is required and must be at most 200 characters")
    slug = slug.strip().lower() if slug is not None else slugify(name)
    if not SLUG_PATTERN.match(slug):
        raise InvalidInputError(
            "slug", "must be 1-63 lowercase letters, digits or hyphens, not starting with a hyphen"
        )
    if not passwords.MIN_LENGTH <= password_min_length <= passwords.MAX_LENGTH:
        raise InvalidInputError(
            "password_min_length",
            f"must be from {passwords.MIN_LENGTH} to {passwords.MAX_LENGTH} characters",
        )
    site = sites_repo.add_site(
        session,
        Site(
            slug=slug,
            name=name,
            created_at=runtime.clock(),
            password_min_length=password_min_length,
        ),
    )
    return SiteView(id=site.id, slug=site.slug, name=site.name)


def set_scim_rate_limit(session: Session, slug: str, limit: str | None) -> str | None:
    """A site's own SCIM limit per token, in the ``limits`` notation; None: the default."""
    site = require_site(session, slug)
    if limit is not None:
        limit = limit.strip()
        try:
            parse_many(limit)
        except ValueError:
            raise InvalidInputError(
                "scim_rate_limit", 'must read like "50/second" or "50/second;2000/minute"'
            ) from None
        if len(limit) > 100:
            raise InvalidInputError("scim_rate_limit", "must be at most 100 characters")
    site.scim_rate_limit = limit
    return limit


def require_site(session: Session, slug: str) -> Site:
    site = sites_repo.get_site_by_slug(session, slug)
    if site is None:
        raise NotFoundError(f"No site with slug {slug!r}.")
    return site


def create_user(
    session: Session,
    runtime: Runtime,
    *,
    site_slug: str,
    email: str,
    privilege: str = Privilege.USER,
    password: str | None = None,
) -> UserView:
    site = require_site(session, site_slug)
    email = email.strip()
    if not EMAIL_PATTERN.match(email):
        raise InvalidInputError("email", "must be an e-mail address")
    if len(email) > USER_NAME_MAX:  # it is the user's userName too
        raise InvalidInputError("email", f"must be at most {USER_NAME_MAX} characters")
    level = parse_privilege(privilege)
    password_hash = None
    if password is not None:
        passwords.check_policy(password, min_length=site.password_min_length)
        password_hash = runtime.passwords.hash(password)
    now = runtime.clock()
    user = users_repo.add_user(
        session,
        User(
            site_id=site.id,
            user_name=email,
            user_name_key=email.casefold(),
            email=email,
            privilege=level.value,
            password_hash=password_hash,
            active=True,
            created_at=now,
            updated_at=now,
            version=1,
        ),
    )
    data = user_document(user, [], [], runtime.scim_base_url)
    emit(session, NewEvent(EventType.USER_CREATED, site.id, user.id, data, SYSTEM, now))
    return UserView(
        id=user.id, email=user.email, user_name=user.user_name, privilege=level, active=True
    )


def actor_of(user: User) -> Actor:
    return Actor(
        user_id=user.id,
        site_id=user.site_id,
        label=user.email or user.user_name,
        privilege=parse_privilege(user.privilege),
        active=user.active,
    )


def load_actor(session: Session, *, site_id: str, user_id: str) -> Actor:
    """Read afresh on every request, so a demotion or deactivation counts at once."""
    user = users_repo.get_user(session, site_id, user_id)
    if user is None or not user.active:
        raise AuthenticationError("Your session has ended. Sign in again.")
    return actor_of(user)


def actor_by_email(session: Session, *, site_slug: str, email: str) -> Actor:
    site = require_site(session, site_slug)
    user = users_repo.find_user_by_user_name(session, site.id, email)
    if user is None:
        raise NotFoundError(f"No user {email!r} in site {site_slug!r}.")
    return actor_of(user)


@dataclass(frozen=True, slots=True)
class PasswordHolder:
    """Who a sign-in names, read in one transaction and checked outside any (argon2 is slow)."""

    actor: Actor | None
    stored_hash: str | None


def find_password_holder(session: Session, *, site_slug: str, email: str) -> PasswordHolder:
    site = sites_repo.get_site_by_slug(session, site_slug)
    user = users_repo.find_user_by_user_name(session, site.id, email) if site is not None else None
    stored = user.password_hash if user is not None and user.active else None
    return PasswordHolder(actor=actor_of(user) if user is not None else None, stored_hash=stored)


def check_password(runtime: Runtime, holder: PasswordHolder, password: str) -> Actor:
    """The same work whether or not the account exists (habit 9)."""
    if not runtime.passwords.verify(password, holder.stored_hash) or holder.actor is None:
        raise AuthenticationError("The site, e-mail or password is not correct.")
    return holder.actor
