"""Site-scoped queries. They take a Session and never commit (the caller owns it)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    Connection,
    Row,
    Select,
    Table,
    and_,
    bindparam,
    case,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    text,
    union,
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
    SignInFailure,
    Site,
    User,
    UserValue,
    WebSession,
)
from sitescim.db.reads import TokenRecord
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


_USER_TABLE = cast(Table, User.__table__)
_AUDIT_TABLE = cast(Table, AuditEvent.__table__)
_VALUE_TABLE = cast(Table, UserValue.__table__)


_USER_ID_NAMED = select(_USER_TABLE.c.id).where(
    _USER_TABLE.c.site_id == bindparam("site_id"), _USER_TABLE.c.user_name_key == bindparam("key")
)
_INSERT_USER = insert(_USER_TABLE)
_INSERT_VALUES = insert(_VALUE_TABLE)
_INSERT_EVENT = insert(_AUDIT_TABLE)


def user_id_named(session: Session, site_id: str, user_name: str) -> str | None:
    """The id of the site's user with this userName (compared case-insensitively).

    The write path's statements run on the session's connection: the ORM's
    execution layer costs more than the statement, and there is no object to load.
    """
    found = session.connection().execute(
        _USER_ID_NAMED, {"site_id": site_id, "key": user_name.casefold()}
    )
    return found.scalar()


def insert_users(session: Session, users: Sequence[tuple[User, Sequence[UserValue]]]) -> None:
    """New users and their value rows, as two INSERTs however many (no unit of work)."""
    connection = session.connection()
    connection.execute(_INSERT_USER, [_columns(user) for user, _ in users])
    values = [_columns(row) for _, rows in users for row in rows]
    if values:
        connection.execute(_INSERT_VALUES, values)


def user_name_keys_taken(session: Session, site_id: str, keys: Sequence[str]) -> set[str]:
    """Which of these folded userNames the site's users already have; one query per chunk."""
    taken: set[str] = set()
    connection = session.connection()
    for chunk in _chunks(list(keys)):
        found = connection.execute(
            select(_USER_TABLE.c.user_name_key).where(
                _USER_TABLE.c.site_id == site_id, _USER_TABLE.c.user_name_key.in_(chunk)
            )
        )
        taken.update(found.scalars())
    return taken


def _columns(row: Any) -> dict[str, Any]:
    """The column values set on a not yet persisted ORM object."""
    state = row.__dict__
    return {
        column.key: state[column.key] for column in row.__table__.columns if column.key in state
    }


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
        Site.scim_may_set_promaster,
        Site.password_min_length,
        Site.scim_rate_limit,
    )
    .join(Site, Site.id == AccessToken.site_id)
    .where(AccessToken.token_hash == bindparam("token_hash"))
)


def find_token_credentials(connection: Connection, token_hash: str) -> TokenRecord | None:
    """The token and its site through SQLAlchemy, for callers without the hot reader."""
    row = connection.execute(_CREDENTIALS, {"token_hash": token_hash}).first()
    return None if row is None else TokenRecord._make(row)


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


def add_events(session: Session, events: Sequence[AuditEvent]) -> None:
    """INSERT now, rather than a unit of work at the next flush: every change writes one."""
    if events:
        session.connection().execute(_INSERT_EVENT, [_columns(event) for event in events])


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
    actions: Sequence[str] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    actor: tuple[str, str] | None = None,
    target_type: str | None = None,
    target_id: str | None = None,
) -> Sequence[AuditEvent]:
    """Newest first; every argument but ``limit`` narrows, None means any.

    Only (site_id, occurred_at) is indexed: the other filters walk the site's
    events from the newest down, cheap while matches are common, slow for a
    rare token or resource in a long log (an index would need a migration).
    """
    conditions = [AuditEvent.site_id == site_id]
    if before_id is not None:
        conditions.append(AuditEvent.id < before_id)
    if actions is not None:
        conditions.append(AuditEvent.action.in_(actions))
    if since is not None:
        conditions.append(AuditEvent.occurred_at >= since)
    if until is not None:
        conditions.append(AuditEvent.occurred_at < until)
    if actor is not None:
        conditions += [AuditEvent.actor_type == actor[0], AuditEvent.actor_id == actor[1]]
    if target_type is not None:
        conditions.append(AuditEvent.target_type == target_type)
    if target_id is not None:
        conditions.append(AuditEvent.target_id == target_id)
    query = select(AuditEvent).where(and_(*conditions)).order_by(AuditEvent.id.desc()).limit(limit)
    return session.scalars(query).all()


# SCIM Users (services/users.py). Added for the /Users resource; the filtered
# listing lives in scim/listing.py.


# Reads of whole rows for rendering go through Core: rows, not ORM objects, are
# all mapping.user_document needs, and skipping the identity map halves the cost.
USER_ROWS = User.__table__
VALUE_ROWS = UserValue.__table__


_USER_BY_ID = select(USER_ROWS).where(
    USER_ROWS.c.site_id == bindparam("site_id"), USER_ROWS.c.id == bindparam("user_id")
)
_VALUES_OF_USERS = (
    select(VALUE_ROWS)
    .where(VALUE_ROWS.c.user_id.in_(bindparam("user_ids", expanding=True)))
    .order_by(VALUE_ROWS.c.user_id, VALUE_ROWS.c.attribute, VALUE_ROWS.c.position, VALUE_ROWS.c.id)
)
_GROUPS_OF_USERS = (
    select(Membership.user_id, Group.id, Group.display_name)
    .join(Group, Group.id == Membership.group_id)
    .where(
        Membership.site_id == bindparam("site_id"),
        Membership.user_id.in_(bindparam("user_ids", expanding=True)),
    )
    .order_by(Membership.user_id, Group.display_name_key, Group.id)
)


def read_user(executor: Session | Connection, site_id: str, user_id: str) -> Row[Any] | None:
    """A user's row, for reading only (T10: the site's, or nothing)."""
    return executor.execute(_USER_BY_ID, {"site_id": site_id, "user_id": user_id}).first()


def read_user_for_change(session: Session, site_id: str, user_id: str) -> Row[Any] | None:
    """A user's row, locked until the transaction ends (PostgreSQL; SQLite's writer
    already holds the file), so two concurrent changes of one user never both
    start from the same version."""
    return (
        session.connection()
        .execute(_USER_BY_ID.with_for_update(), {"site_id": site_id, "user_id": user_id})
        .first()
    )


def update_user(session: Session, user_id: str, changes: dict[str, Any]) -> None:
    """Write the columns that changed, and only those, in one statement."""
    statement = update(_USER_TABLE).where(_USER_TABLE.c.id == user_id).values(**changes)
    session.connection().execute(statement)


def list_user_values(executor: Session | Connection, user_ids: Sequence[str]) -> Sequence[Row[Any]]:
    """The multi-valued attributes of a page of users in one query, not one per user."""
    if not user_ids:
        return []
    return executor.execute(_VALUES_OF_USERS, {"user_ids": list(user_ids)}).all()


def list_user_groups(
    executor: Session | Connection, site_id: str, user_ids: Sequence[str]
) -> Sequence[tuple[str, str, str]]:
    """(user id, group id, group display name) of the direct groups of some users."""
    if not user_ids:
        return []
    rows = executor.execute(_GROUPS_OF_USERS, {"site_id": site_id, "user_ids": list(user_ids)})
    return [(str(user_id), group_id, name) for user_id, group_id, name in rows]


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


# The (group, member) pairs come as one parameter: a JSON array of pairs (SQLite)
# or two text[] (PostgreSQL). Rows go in in the order of the pairs (a group's
# members are listed in the order they were added); SQLite's LEFT JOINs keep the
# pairs outermost, each member looked up by primary key.
_ADD_SITE_MEMBERS = {
    "sqlite": text(
        "INSERT INTO group_members (site_id, group_id, user_id, member_group_id)"
        " SELECT coalesce(u.site_id, g.site_id), json_extract(p.value, '$[0]'), u.id, g.id"
        " FROM json_each(:pairs) p"
        " LEFT JOIN users u ON u.site_id = :site_id AND u.id = json_extract(p.value, '$[1]')"
        " LEFT JOIN groups g ON u.id IS NULL AND g.site_id = :site_id"
        "  AND g.id = json_extract(p.value, '$[1]')"
        " WHERE u.id IS NOT NULL OR g.id IS NOT NULL ORDER BY p.key"
    ),
    "postgresql": text(
        "INSERT INTO group_members (site_id, group_id, user_id, member_group_id)"
        " SELECT coalesce(u.site_id, g.site_id), p.group_id, u.id, g.id"
        " FROM unnest(CAST(:groups AS text[]), CAST(:members AS text[]))"
        "  WITH ORDINALITY AS p(group_id, member, n)"
        " LEFT JOIN users u ON u.site_id = :site_id AND u.id = p.member"
        " LEFT JOIN groups g ON u.id IS NULL AND g.site_id = :site_id AND g.id = p.member"
        " WHERE u.id IS NOT NULL OR g.id IS NOT NULL ORDER BY p.n"
    ),
}


def insert_groups(session: Session, groups: Sequence[Group]) -> None:
    """New groups in one INSERT (no unit of work): a Bulk request's batch."""
    table = cast(Table, Group.__table__)
    session.connection().execute(insert(table), [_columns(group) for group in groups])


def add_site_members(session: Session, site_id: str, pairs: Sequence[tuple[str, str]]) -> int:
    """Make the ids that are the site's users or groups members of new groups.

    (group id, member id) pairs, one statement whatever their number, no row
    built in Python; returns how many went in, so the caller can tell that some
    id is no user or group of the site (T10: another site's ids are not found).
    """
    if not pairs:
        return 0
    connection = session.connection()
    dialect = connection.dialect.name
    parameters: dict[str, Any] = {"site_id": site_id}
    if dialect == "sqlite":
        parameters["pairs"] = json.dumps(pairs)
    else:
        parameters["groups"] = [group for group, _ in pairs]
        parameters["members"] = [member for _, member in pairs]
    return int(connection.execute(_ADD_SITE_MEMBERS[dialect], parameters).rowcount)


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
    """Delete only the named members' rows, by the (group, member) unique indexes.

    One statement per member column: with ``user_id IN (...) OR member_group_id
    IN (...)`` SQLite, once ANALYZE has seen a large group, walks every row of
    the group by its ``group_id`` prefix instead of probing the two indexes.
    """
    for chunk in _chunks(list(ids)):
        for column in (Membership.user_id, Membership.member_group_id):
            session.execute(
                delete(Membership).where(Membership.group_id == group_id, column.in_(chunk))
            )


def remove_memberships_among(session: Session, group_id: str, rows: Select[Any]) -> None:
    """Delete the group's membership rows whose ids ``rows`` selects (a filter's match)."""
    session.execute(
        delete(Membership).where(Membership.group_id == group_id, Membership.id.in_(rows))
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
    session: Session, site_id: str, group_id: str, candidate_ids: Sequence[str]
) -> str | None:
    """One of the candidates that already contains ``group_id``, directly or nested.

    Adding such a candidate as a member would close a cycle. The walk goes up
    from the group through group-in-group rows only, by the (site, member
    group) index, never through any group's user members.
    """
    if not candidate_ids:
        return None
    ancestors = (
        select(Membership.group_id)
        .where(Membership.site_id == site_id, Membership.member_group_id == group_id)
        .cte("ancestors", recursive=True)
    )
    ancestors = ancestors.union(
        select(Membership.group_id).join(
            ancestors,
            and_(
                Membership.site_id == site_id,
                Membership.member_group_id == ancestors.c.group_id,
            ),
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


# Web sessions (services/sessions.py). Looked up by the hash of the cookie's
# value through the primary key; the user comes in the same query.


def add_web_session(session: Session, row: WebSession) -> None:
    session.add(row)
    session.flush()


def find_session_user(
    session: Session, id_hash: str, now: datetime
) -> tuple[WebSession, User] | None:
    """The live session with this hash and its active user of the same site, in one query."""
    query = (
        select(WebSession, User)
        .join(User, and_(User.id == WebSession.user_id, User.site_id == WebSession.site_id))
        .where(WebSession.id_hash == id_hash, WebSession.expires_at > now, User.active.is_(True))
    )
    row = session.execute(query).first()
    return None if row is None else (row[0], row[1])


def delete_web_session(session: Session, id_hash: str) -> None:
    session.execute(delete(WebSession).where(WebSession.id_hash == id_hash))


def delete_expired_sessions(session: Session, now: datetime, *, user_id: str | None = None) -> int:
    query = delete(WebSession).where(WebSession.expires_at <= now)
    if user_id is not None:
        query = query.where(WebSession.user_id == user_id)
    return int(getattr(session.execute(query), "rowcount", 0) or 0)


def touch_web_session(
    session: Session, id_hash: str, *, now: datetime, stale_before: datetime
) -> None:
    """Conditional, so concurrent requests write last-seen at most once per resolution."""
    session.execute(
        update(WebSession)
        .where(WebSession.id_hash == id_hash, WebSession.last_seen_at < stale_before)
        .values(last_seen_at=now)
    )


# Sign-in attempts (services/sessions.py): a fixed window per key, claimed before
# the password is checked.


def read_sign_in_failures(session: Session, keys: Sequence[str]) -> Sequence[SignInFailure]:
    return session.scalars(select(SignInFailure).where(SignInFailure.key.in_(keys))).all()


def claim_sign_in_attempt(
    session: Session, key: str, *, limit: int, now: datetime, window_start: datetime
) -> bool:
    """Count one attempt unless ``key`` is at ``limit`` in its window; False when it is.

    One conditional upsert: the row lock (PostgreSQL) or the write lock (SQLite)
    makes concurrent claims see each other's counts, so no more than ``limit``
    succeed. A window that began before ``window_start`` starts afresh at ``now``.
    """
    table = SignInFailure.__table__
    assert isinstance(table, Table)
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    stale = table.c.window_started_at < window_start
    statement = insert(table).values(key=key, window_started_at=now, failures=1)
    statement = statement.on_conflict_do_update(
        index_elements=[table.c.key],
        set_={
            "failures": case((stale, 1), else_=table.c.failures + 1),
            "window_started_at": case((stale, now), else_=table.c.window_started_at),
        },
        where=or_(stale, table.c.failures < limit),
    )
    return session.execute(statement.returning(table.c.failures)).first() is not None


def refund_sign_in_attempt(session: Session, keys: Sequence[str]) -> None:
    """Take back one claimed attempt (it succeeded, so it was no failure)."""
    session.execute(
        update(SignInFailure)
        .where(SignInFailure.key.in_(keys), SignInFailure.failures > 0)
        .values(failures=SignInFailure.failures - 1)
    )


def clear_sign_in_failures(session: Session, key: str) -> None:
    session.execute(delete(SignInFailure).where(SignInFailure.key == key))


def purge_sign_in_failures(session: Session, window_start: datetime) -> int:
    query = delete(SignInFailure).where(SignInFailure.window_started_at < window_start)
    return int(getattr(session.execute(query), "rowcount", 0) or 0)


# The read-only directory of the web UI (services/directory.py): keyset pages
# in the order of an indexed key, and prefix search on indexed keys only.


def _starts_with(session: Session, column: Any, prefix: str) -> Any:
    """A prefix match an index can answer: GLOB on SQLite, LIKE on PostgreSQL.

    SQLite's LIKE ignores ASCII case and so cannot use a binary index; the keys
    searched here are case-folded already, so both are exact.
    """
    if session.get_bind().dialect.name == "postgresql":
        escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        return column.like(escaped + "%", escape="\\")
    escaped = "".join(f"[{char}]" if char in "*?[" else char for char in prefix)
    return column.op("GLOB", is_comparison=True)(escaped + "*")


def _by_user_name(session: Session, site_id: str, prefix: str) -> Any:
    return and_(User.site_id == site_id, _starts_with(session, User.user_name_key, prefix))


def _email_values(session: Session, site_id: str, prefix: str) -> Any:
    return select(UserValue.user_id).where(
        UserValue.site_id == site_id,
        UserValue.attribute == "emails",
        _starts_with(session, UserValue.value_key, prefix),
    )


@dataclass(frozen=True, slots=True)
class PeopleCount:
    total: int  # at most cap + 1
    many_emails_match: bool  # more than cap e-mails match: page by walking users in order


def count_people(session: Session, site_id: str, *, prefix: str | None, cap: int) -> PeopleCount:
    """How many people match, counting no further than ``cap + 1`` (a broad prefix stays cheap).

    A search has two conditions, userName and e-mail, kept apart and never
    OR-ed, so each is answered by its own index: the (site, key) b-trees on
    SQLite, the trigram indexes on PostgreSQL (where a b-tree answers LIKE only
    under the C collation).
    """
    if not prefix:
        total = int(session.scalar(select(func.count()).where(User.site_id == site_id)) or 0)
        return PeopleCount(total=total, many_emails_match=False)
    by_name = select(User.id.label("id")).where(_by_user_name(session, site_id, prefix))
    by_email = _email_values(session, site_id, prefix)
    branches = [branch.limit(cap + 1).subquery() for branch in (by_name, by_email)]
    names, emails = (
        int(session.scalar(select(func.count()).select_from(branch)) or 0) for branch in branches
    )
    if max(names, emails) > cap:
        return PeopleCount(total=cap + 1, many_emails_match=emails > cap)
    found = union(*(select(branch) for branch in branches)).subquery()
    total = int(session.scalar(select(func.count()).select_from(found)) or 0)
    return PeopleCount(total=total, many_emails_match=False)


def list_people(
    session: Session,
    site_id: str,
    *,
    prefix: str | None,
    after: str | None = None,
    before: str | None = None,
    limit: int,
    many_emails_match: bool = False,
) -> Sequence[User]:
    """A page in ``userName`` order (its case-folded key is unique per site).

    ``after``/``before`` are the key of the last/first row of the page seen;
    a page before one is read backwards and returned in order. A search reads
    a page under each of its two conditions, then merges them in the database's
    order (so paging agrees with the database's collation). The e-mail
    condition starts from the matching e-mails when they are few, and walks the
    users in order, checking each, when they are many.
    """
    key = User.user_name_key

    def page_of(condition: Any) -> Any:
        query = select(User.id, key).where(condition)
        if before is not None:
            return query.where(key < before).order_by(key.desc()).limit(limit)
        query = query.where(key > after) if after is not None else query
        return query.order_by(key).limit(limit)

    if not prefix:
        conditions: tuple[Any, ...] = (User.site_id == site_id,)
    else:
        emails = _email_values(session, site_id, prefix)
        by_email = (
            emails.where(UserValue.user_id == User.id).exists()
            if many_emails_match
            else User.id.in_(emails)
        )
        conditions = (
            _by_user_name(session, site_id, prefix),
            and_(User.site_id == site_id, by_email),
        )
    pages = [select(page_of(condition).subquery()) for condition in conditions]
    found = (union(*pages) if len(pages) > 1 else pages[0]).subquery("found")
    order = found.c.user_name_key.desc() if before is not None else found.c.user_name_key
    query = select(User).join(found, found.c.id == User.id).order_by(order).limit(limit)
    rows = session.scalars(query).all()
    return list(reversed(rows)) if before is not None else rows


def _groups_condition(session: Session, site_id: str, prefix: str | None) -> Any:
    condition = Group.site_id == site_id
    if not prefix:
        return condition
    return and_(condition, _starts_with(session, Group.display_name_key, prefix))


def count_groups_matching(session: Session, site_id: str, *, prefix: str | None) -> int:
    query = (
        select(func.count()).select_from(Group).where(_groups_condition(session, site_id, prefix))
    )
    return int(session.scalar(query) or 0)


def list_groups_by_name(
    session: Session,
    site_id: str,
    *,
    prefix: str | None,
    after: tuple[str, str] | None = None,
    before: tuple[str, str] | None = None,
    limit: int,
) -> Sequence[Group]:
    """A page in display-name order; names repeat, so the id breaks ties."""
    query = select(Group).where(_groups_condition(session, site_id, prefix))
    key, gid = Group.display_name_key, Group.id
    if before is not None:
        query = query.where(or_(key < before[0], and_(key == before[0], gid < before[1])))
        query = query.order_by(key.desc(), gid.desc()).limit(limit)
        return list(reversed(session.scalars(query).all()))
    if after is not None:
        query = query.where(or_(key > after[0], and_(key == after[0], gid > after[1])))
    return session.scalars(query.order_by(key, gid).limit(limit)).all()


def count_members(session: Session, site_id: str, group_ids: Sequence[str]) -> dict[str, int]:
    """Direct members (users and groups) of each of some groups, in one grouped query."""
    if not group_ids:
        return {}
    query = (
        select(Membership.group_id, func.count())
        .where(Membership.site_id == site_id, Membership.group_id.in_(group_ids))
        .group_by(Membership.group_id)
    )
    return {group_id: int(count) for group_id, count in session.execute(query)}


def list_group_members_page(
    session: Session, site_id: str, group_id: str, *, after_id: int | None, limit: int
) -> Sequence[tuple[int, str, str, str]]:
    """(row id, member id, kind, display) of a page of one group's members, in insertion order."""
    member_group = aliased(Group)
    query = (
        select(
            Membership.id,
            Membership.user_id,
            Membership.member_group_id,
            func.coalesce(User.display_name, User.user_name),
            member_group.display_name,
        )
        .outerjoin(User, User.id == Membership.user_id)
        .outerjoin(member_group, member_group.id == Membership.member_group_id)
        .where(Membership.site_id == site_id, Membership.group_id == group_id)
        .order_by(Membership.id)
        .limit(limit)
    )
    if after_id is not None:
        query = query.where(Membership.id > after_id)
    return [
        (int(row_id), user_id, "User", str(user_display))
        if user_id is not None
        else (int(row_id), str(member_group_id), "Group", str(group_display))
        for row_id, user_id, member_group_id, user_display, group_display in session.execute(query)
    ]


@dataclass(frozen=True, slots=True)
class ContactValue:
    user_id: str
    attribute: str
    value: str
    type: str | None
    primary: bool


def list_contact_values(
    session: Session, site_id: str, user_ids: Sequence[str], attributes: Sequence[str]
) -> Sequence[ContactValue]:
    """Some multi-valued attributes (e-mails, phone numbers) of a page of users, in one query."""
    if not user_ids:
        return []
    query = (
        select(
            UserValue.user_id,
            UserValue.attribute,
            UserValue.value,
            UserValue.type,
            UserValue.primary,
        )
        .where(
            UserValue.site_id == site_id,
            UserValue.user_id.in_(user_ids),
            UserValue.attribute.in_(attributes),
            UserValue.value.is_not(None),
        )
        .order_by(UserValue.user_id, UserValue.attribute, UserValue.position, UserValue.id)
    )
    return [
        ContactValue(str(user_id), attribute, str(value), kind, bool(primary))
        for user_id, attribute, value, kind, primary in session.execute(query)
    ]
