"""Site-scoped queries. They take a Session and never commit (the caller owns it)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    Select,
    Table,
    and_,
    bindparam,
    delete,
    func,
    literal,
    or_,
    select,
    union_all,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased, joinedload

from sitescim.db.models import (
    AccessToken,
    AuditEvent,
    Group,
    Membership,
    Site,
    User,
    UserValue,
)
from sitescim.domain.errors import ActiveTokenExistsError, AlreadyExistsError

ACTIVE_HOLDER_CONSTRAINT = "active_holder_id"


# Sites


def get_site_by_slug(session: Session, slug: str) -> Site | None:
    return session.scalar(select(Site).where(Site.slug == slug))


def get_site(session: Session, site_id: str) -> Site | None:
    return session.get(Site, site_id)


def add_site(session: Session, site: Site) -> Site:
    try:
        with session.begin_nested():
            session.add(site)
    except IntegrityError:
        raise AlreadyExistsError(f"A site with slug {site.slug!r} already exists.") from None
    return site


def list_sites(session: Session) -> Sequence[Site]:
    return session.scalars(select(Site).order_by(Site.slug)).all()


# Users


def get_user(session: Session, site_id: str, user_id: str) -> User | None:
    return session.scalar(select(User).where(User.site_id == site_id, User.id == user_id))


def find_user_by_user_name(session: Session, site_id: str, user_name: str) -> User | None:
    return session.scalar(
        select(User).where(User.site_id == site_id, User.user_name_key == user_name.casefold())
    )


def add_user(session: Session, user: User) -> User:
    try:
        with session.begin_nested():
            session.add(user)
    except IntegrityError:
        raise AlreadyExistsError(f"A user named {user.user_name!r} already exists.") from None
    return user


# Tokens


def _tokens_with_creator() -> Select[AccessToken]:
    return select(AccessToken).options(joinedload(AccessToken.creator))


def list_tokens(session: Session, site_id: str) -> Sequence[AccessToken]:
    query = (
        _tokens_with_creator()
        .where(AccessToken.site_id == site_id)
        .order_by(AccessToken.created_at.desc(), AccessToken.id)
    )
    return session.scalars(query).all()


def get_token(session: Session, site_id: str, token_id: str) -> AccessToken | None:
    query = _tokens_with_creator().where(AccessToken.site_id == site_id, AccessToken.id == token_id)
    return session.scalar(query)


_CREDENTIALS = (
    select(
        AccessToken.id,
        AccessToken.site_id,
        Site.slug.label("site_slug"),
        AccessToken.token_hash,
        AccessToken.scope,
        AccessToken.description,
        AccessToken.expires_at,
        AccessToken.revoked_at,
        AccessToken.last_used_at,
    )
    .join(Site, Site.id == AccessToken.site_id)
    .where(AccessToken.token_hash == bindparam("token_hash"))
)


@dataclass(frozen=True, slots=True)
class TokenCredentials:
    id: str
    site_id: str
    site_slug: str
    token_hash: str
    scope: str
    description: str
    expires_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None


def find_token_credentials(connection: Connection, token_hash: str) -> TokenCredentials | None:
    """The hot path of every SCIM request: one indexed read, no ORM objects."""
    row = connection.execute(_CREDENTIALS, {"token_hash": token_hash}).first()
    return None if row is None else TokenCredentials(*row)


def find_active_token_held_by(session: Session, holder_id: str) -> AccessToken | None:
    return session.scalar(select(AccessToken).where(AccessToken.active_holder_id == holder_id))


def retire_expired_tokens_held_by(session: Session, holder_id: str, now: datetime) -> None:
    """An expired token no longer counts towards its holder's one active token (T3, T6)."""
    session.execute(
        update(AccessToken)
        .where(AccessToken.active_holder_id == holder_id, AccessToken.expires_at <= now)
        .values(active_holder_id=None)
    )


def add_token(session: Session, token: AccessToken) -> AccessToken:
    """Insert; the unique active-holder index turns a lost race into a clean conflict."""
    try:
        with session.begin_nested():
            session.add(token)
    except IntegrityError as error:
        if ACTIVE_HOLDER_CONSTRAINT in str(error.orig):
            raise ActiveTokenExistsError() from None
        raise
    return token


def touch_token_use(
    session: Session, token_id: str, *, now: datetime, address: str | None, stale_before: datetime
) -> None:
    """Conditional, so concurrent instances write last use at most once per resolution."""
    session.execute(
        update(AccessToken)
        .where(
            AccessToken.id == token_id,
            or_(AccessToken.last_used_at.is_(None), AccessToken.last_used_at < stale_before),
        )
        .values(last_used_at=now, last_used_from=address)
    )


def tokens_expiring_between(
    session: Session, start: datetime, end: datetime
) -> Sequence[AccessToken]:
    return session.scalars(
        select(AccessToken)
        .options(joinedload(AccessToken.site))
        .where(
            AccessToken.revoked_at.is_(None),
            AccessToken.expires_at > start,
            AccessToken.expires_at <= end,
        )
        .order_by(AccessToken.expires_at)
    ).all()


def claim_expiry_warning(session: Session, token_id: str, today: Any) -> bool:
    """True for exactly one instance per token per day, so the warning is logged once."""
    result = session.execute(
        update(AccessToken)
        .where(
            AccessToken.id == token_id,
            or_(AccessToken.expiry_warned_on.is_(None), AccessToken.expiry_warned_on < today),
        )
        .values(expiry_warned_on=today)
    )
    return bool(getattr(result, "rowcount", 0))


# Audit


def add_event(session: Session, event: AuditEvent) -> None:
    session.add(event)


def add_or_count_event(session: Session, values: dict[str, Any], *, repeats: int) -> None:
    """Insert the event, or count it on the row that already has its dedup key."""
    table = AuditEvent.__table__
    assert isinstance(table, Table)
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = insert(table).values(**values, repeat_count=repeats)
    statement = statement.on_conflict_do_update(
        index_elements=[table.c.dedup_key],
        set_={"repeat_count": table.c.repeat_count + repeats},
    )
    session.execute(statement)


def list_events(
    session: Session,
    site_id: str,
    *,
    limit: int,
    before_id: int | None = None,
    action_prefix: str | None = None,
) -> Sequence[AuditEvent]:
    conditions = [AuditEvent.site_id == site_id]
    if before_id is not None:
        conditions.append(AuditEvent.id < before_id)
    if action_prefix:
        conditions.append(AuditEvent.action.startswith(action_prefix, autoescape=True))
    query = select(AuditEvent).where(and_(*conditions)).order_by(AuditEvent.id.desc()).limit(limit)
    return session.scalars(query).all()


def count_events(session: Session, site_id: str | None, action: str) -> int:
    query = select(func.coalesce(func.sum(AuditEvent.repeat_count), 0)).where(
        AuditEvent.action == action,
        AuditEvent.site_id.is_(None) if site_id is None else AuditEvent.site_id == site_id,
    )
    return int(session.scalar(query) or 0)


# SCIM Users (services/users.py). Added for the /Users resource; the filtered
# listing lives in scim/listing.py.


def list_user_values(session: Session, user_ids: Sequence[str]) -> Sequence[UserValue]:
    """The multi-valued attributes of a page of users in one query, not one per user."""
    if not user_ids:
        return []
    query = (
        select(UserValue)
        .where(UserValue.user_id.in_(user_ids))
        .order_by(UserValue.user_id, UserValue.attribute, UserValue.position, UserValue.id)
    )
    return session.scalars(query).all()


def list_user_groups(
    session: Session, site_id: str, user_ids: Sequence[str]
) -> Sequence[tuple[str, str, str]]:
    """(user id, group id, group display name) of the direct groups of some users."""
    if not user_ids:
        return []
    query = (
        select(Membership.user_id, Group.id, Group.display_name)
        .join(Group, Group.id == Membership.group_id)
        .where(Membership.site_id == site_id, Membership.user_id.in_(user_ids))
        .order_by(Membership.user_id, Group.display_name_key, Group.id)
    )
    return [(str(user_id), group_id, name) for user_id, group_id, name in session.execute(query)]


def replace_user_values(session: Session, user_id: str, rows: Sequence[UserValue]) -> None:
    session.execute(delete(UserValue).where(UserValue.user_id == user_id))
    session.add_all(rows)


def lock_site(session: Session, site_id: str) -> Site | None:
    """Serialise changes that must see each other (the last Promaster rule).

    SQLite write transactions are already serialised (BEGIN IMMEDIATE); on
    PostgreSQL the row lock makes a concurrent change wait and then re-read.
    """
    return session.scalar(select(Site).where(Site.id == site_id).with_for_update())


def count_active_promasters(session: Session, site_id: str, *, excluding: str) -> int:
    query = select(func.count()).where(
        User.site_id == site_id,
        User.privilege == "promaster",
        User.active.is_(True),
        User.id != excluding,
    )
    return int(session.scalar(query) or 0)


def delete_user(session: Session, user: User) -> None:
    session.execute(delete(User).where(User.id == user.id, User.site_id == user.site_id))


def count_users(session: Session, site_id: str) -> int:
    return int(session.scalar(select(func.count()).where(User.site_id == site_id)) or 0)


def list_users_page(session: Session, site_id: str, *, offset: int, limit: int) -> Sequence[User]:
    """A page of a site's users in a stable order (creation, then id)."""
    query = (
        select(User)
        .where(User.site_id == site_id)
        .order_by(User.created_at, User.id)
        .offset(offset)
        .limit(limit)
    )
    return session.scalars(query).all()


# SCIM Groups (services/groups.py). Membership is one row per member, so these
# functions take the ids they touch and never read a whole group to change it.

_ID_CHUNK = 500  # keeps IN lists within every driver's parameter limit


def _chunks(values: Sequence[str]) -> list[Sequence[str]]:
    return [values[start : start + _ID_CHUNK] for start in range(0, len(values), _ID_CHUNK)]


def get_group(session: Session, site_id: str, group_id: str, *, lock: bool = False) -> Group | None:
    """A site's group; ``lock`` holds its row so concurrent writes bump versions in turn."""
    query = select(Group).where(Group.site_id == site_id, Group.id == group_id)
    if lock:
        query = query.with_for_update()
    return session.scalar(query)


def add_group(session: Session, group: Group) -> Group:
    session.add(group)
    session.flush()
    return group


def delete_group(session: Session, group: Group) -> None:
    session.execute(delete(Group).where(Group.id == group.id, Group.site_id == group.site_id))


def find_member_kinds(session: Session, site_id: str, ids: Sequence[str]) -> dict[str, str]:
    """Which of these ids are the site's users ("User") or groups ("Group"); one query per chunk.

    Ids of another site are simply not found (T10).
    """
    kinds: dict[str, str] = {}
    for chunk in _chunks(list(ids)):
        users = select(User.id, literal("User").label("kind")).where(
            User.site_id == site_id, User.id.in_(chunk)
        )
        groups = select(Group.id, literal("Group").label("kind")).where(
            Group.site_id == site_id, Group.id.in_(chunk)
        )
        for member_id, kind in session.execute(union_all(users, groups)):
            kinds[member_id] = kind
    return kinds


def add_memberships(
    session: Session, site_id: str, group_id: str, members: Sequence[tuple[str, str]]
) -> None:
    """Insert (id, kind) members; ones already there are left alone (unique constraints)."""
    if not members:
        return
    table = Membership.__table__
    assert isinstance(table, Table)
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    rows = [
        {
            "site_id": site_id,
            "group_id": group_id,
            "user_id": member_id if kind == "User" else None,
            "member_group_id": member_id if kind == "Group" else None,
        }
        for member_id, kind in members
    ]
    session.execute(insert(table).on_conflict_do_nothing(), rows)


def remove_memberships(session: Session, group_id: str, ids: Sequence[str]) -> None:
    """Delete only the named members' rows, by the (group, member) unique indexes."""
    for chunk in _chunks(list(ids)):
        session.execute(
            delete(Membership).where(
                Membership.group_id == group_id,
                or_(Membership.user_id.in_(chunk), Membership.member_group_id.in_(chunk)),
            )
        )


def clear_memberships(session: Session, group_id: str) -> None:
    """Every member goes: only a whole replacement of members asks for this."""
    session.execute(delete(Membership).where(Membership.group_id == group_id))


def list_group_members(
    session: Session, site_id: str, group_ids: Sequence[str]
) -> Sequence[tuple[str, str, str, str | None]]:
    """(group id, member id, kind, display) of the members of some groups, in insertion order."""
    if not group_ids:
        return []
    member_group = aliased(Group)
    query = (
        select(
            Membership.group_id,
            Membership.user_id,
            Membership.member_group_id,
            func.coalesce(User.display_name, User.user_name),
            member_group.display_name,
        )
        .outerjoin(User, User.id == Membership.user_id)
        .outerjoin(member_group, member_group.id == Membership.member_group_id)
        .where(Membership.site_id == site_id, Membership.group_id.in_(group_ids))
        .order_by(Membership.group_id, Membership.id)
    )
    return [
        (group_id, user_id, "User", user_display)
        if user_id is not None
        else (group_id, str(member_group_id), "Group", group_display)
        for group_id, user_id, member_group_id, user_display, group_display in session.execute(
            query
        )
    ]


def find_ancestor_among(
    session: Session, group_id: str, candidate_ids: Sequence[str]
) -> str | None:
    """One of the candidates that already contains ``group_id``, directly or nested.

    Adding such a candidate as a member would close a cycle. The walk goes up
    from the group through group-in-group rows only (indexed by member), never
    through the group's own user members.
    """
    if not candidate_ids:
        return None
    ancestors = (
        select(Membership.group_id)
        .where(Membership.member_group_id == group_id)
        .cte("ancestors", recursive=True)
    )
    ancestors = ancestors.union(
        select(Membership.group_id).join(
            ancestors, Membership.member_group_id == ancestors.c.group_id
        )
    )
    query = select(ancestors.c.group_id).where(ancestors.c.group_id.in_(candidate_ids)).limit(1)
    found = session.scalar(query)
    return None if found is None else str(found)


def count_groups(session: Session, site_id: str) -> int:
    return int(session.scalar(select(func.count()).where(Group.site_id == site_id)) or 0)


def list_groups_page(session: Session, site_id: str, *, offset: int, limit: int) -> Sequence[Group]:
    """A page of a site's groups in a stable order (creation, then id)."""
    query = (
        select(Group)
        .where(Group.site_id == site_id)
        .order_by(Group.created_at, Group.id)
        .offset(offset)
        .limit(limit)
    )
    return session.scalars(query).all()
