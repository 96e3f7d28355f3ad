"""Tables. Every row but a site's belongs to exactly one site (T10)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    column,
    func,
    table,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from sitescim.db.base import Base
from sitescim.domain import passwords


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in and out, on SQLite (which keeps them naive) too."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; sitescim stores UTC only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def new_id() -> str:
    return str(uuid.uuid4())


BigIntId = BigInteger().with_variant(Integer(), "sqlite")
MAX_ROW_ID = 2**63 - 1
"""The largest BigIntId either database holds: a larger number in a query is refused."""


class Site(Base):
    __tablename__ = "sites"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    slug: Mapped[str] = mapped_column(String(63), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    scim_may_set_promaster: Mapped[bool] = mapped_column(Boolean, default=False)
    password_min_length: Mapped[int] = mapped_column(Integer, default=passwords.MIN_LENGTH)
    # The site's SCIM rate limit per token ("50/second"); None: the service's default.
    scim_rate_limit: Mapped[str | None] = mapped_column(String(100), nullable=True)


def TRIGRAM_INDEX(  # noqa: N802 - reads as a constructor
    name: str, column: Any, *, fastupdate: bool = True
) -> Index:
    """A PostgreSQL trigram index, so ``co``/``sw``/``ew`` filters need no scan.

    ``column`` is a column name, or the labelled expression a filter compares
    (the index serves only a LIKE on exactly that expression). SQLite has no
    such index and skips it; there the FTS5 trigram tables below serve instead.
    Without ``fastupdate`` new entries go straight into the index rather than
    into GIN's pending list, which every search reads until a VACUUM empties it.
    """
    key = column if isinstance(column, str) else column.name
    index = Index(
        name,
        column,
        postgresql_using="gin",
        postgresql_ops={key: "gin_trgm_ops"},
        postgresql_with={} if fastupdate else {"fastupdate": "off"},
    )
    return index.ddl_if(dialect="postgresql")


class User(Base):
    """A person of a site: signed in locally, or provisioned over SCIM.

    ``*_key`` columns hold case-folded copies of attributes that SCIM compares
    case-insensitively (``caseExact: false``), so equality filters and the
    per-site uniqueness of ``userName`` (RFC 7643 §4.1.1) use plain indexes on
    every database. Multi-valued complex attributes live in ``user_values``.
    """

    __tablename__ = "users"
    __table_args__ = (
        UniqueConstraint("site_id", "user_name_key"),
        Index("ix_users_site_id_external_id", "site_id", "external_id"),
        Index("ix_users_site_id_display_name_key", "site_id", "display_name_key"),
        Index("ix_users_site_id_updated_at", "site_id", "updated_at"),
        Index("ix_users_site_id_created_at_id", "site_id", "created_at", "id"),
        TRIGRAM_INDEX("ix_users_user_name_key_trgm", "user_name_key", fastupdate=False),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    user_name: Mapped[str] = mapped_column(String(256))
    user_name_key: Mapped[str] = mapped_column(String(256))
    email: Mapped[str | None] = mapped_column(String(320))
    display_name: Mapped[str | None] = mapped_column(String(256))
    display_name_key: Mapped[str | None] = mapped_column(String(256))
    external_id: Mapped[str | None] = mapped_column(String(256))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    privilege: Mapped[str] = mapped_column(String(32), default="user")
    password_hash: Mapped[str | None] = mapped_column(String(256))
    name_formatted: Mapped[str | None] = mapped_column(String(512))
    name_family: Mapped[str | None] = mapped_column(String(256))
    name_given: Mapped[str | None] = mapped_column(String(256))
    name_middle: Mapped[str | None] = mapped_column(String(256))
    name_prefix: Mapped[str | None] = mapped_column(String(64))
    name_suffix: Mapped[str | None] = mapped_column(String(64))
    nick_name: Mapped[str | None] = mapped_column(String(256))
    profile_url: Mapped[str | None] = mapped_column(String(1024))
    title: Mapped[str | None] = mapped_column(String(256))
    user_type: Mapped[str | None] = mapped_column(String(64))
    preferred_language: Mapped[str | None] = mapped_column(String(64))
    locale: Mapped[str | None] = mapped_column(String(64))
    timezone: Mapped[str | None] = mapped_column(String(64))
    employee_number: Mapped[str | None] = mapped_column(String(256))
    cost_center: Mapped[str | None] = mapped_column(String(256))
    organization: Mapped[str | None] = mapped_column(String(256))
    division: Mapped[str | None] = mapped_column(String(256))
    department: Mapped[str | None] = mapped_column(String(256))
    manager_id: Mapped[str | None] = mapped_column(String(256))
    manager_display_name: Mapped[str | None] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    version: Mapped[int] = mapped_column(Integer, default=1)
    # The page's document of this user (scim.stored_documents), good only while
    # document_version equals version; NULL until a write or the upkeep stores it.
    document: Mapped[str | None] = mapped_column(Text)
    document_version: Mapped[int | None] = mapped_column(Integer)


STORED_DOCUMENT_COLUMNS = frozenset({"document", "document_version"})
"""``users`` columns that only list pages read: left out of the rows other reads take."""


class UserValue(Base):
    """One entry of a multi-valued complex attribute of a user (emails, roles, ...).

    ``attribute`` names it in SCIM spelling; ``value_key`` is the case-folded
    value, indexed so ``emails.value eq`` is a lookup. Sub-attributes beyond
    value/type/primary/display (an address's parts) are kept in ``extra``.
    """

    __tablename__ = "user_values"
    __table_args__ = (
        Index("ix_user_values_site_id_attribute_value_key", "site_id", "attribute", "value_key"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    attribute: Mapped[str] = mapped_column(String(32))
    position: Mapped[int] = mapped_column(Integer, default=0)
    value: Mapped[str | None] = mapped_column(Text)
    value_key: Mapped[str | None] = mapped_column(String(512))
    type: Mapped[str | None] = mapped_column(String(64))
    primary: Mapped[bool | None] = mapped_column(Boolean)  # None: the client sent none
    display: Mapped[str | None] = mapped_column(String(256))
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


FOLDED_VALUE = func.coalesce(UserValue.value_key, func.lower(UserValue.value))
"""What ``co``/``sw``/``ew`` filters compare a value with: its key, or for a value
too long to have one (see scim.schemas.VALUE_KEY_LIMIT), the value in lower case."""

TRIGRAM_INDEX(
    "ix_user_values_folded_value_trgm", FOLDED_VALUE.label("folded_value"), fastupdate=False
)


# SQLite's substring search: FTS5 tables with the trigram tokenizer, created and
# kept in step by triggers in migration 0006. They are not in the metadata:
# PostgreSQL has none (its trigram indexes serve), and Alembic cannot describe
# a virtual table. Filters reach them through these lightweight table clauses.

USER_VALUE_TRIGRAMS = table("user_value_trigrams", column("rowid"), column("folded_value"))
"""FOLDED_VALUE of each ``user_values`` row that has a value (not certificates), by row id."""

USER_NAME_TRIGRAMS = table("user_name_trigrams", column("rowid"), column("user_name_key"))
"""Each user's ``user_name_key``, under the rowid that USER_NAME_TRIGRAM_ROWS gives the user."""

USER_NAME_TRIGRAM_ROWS = table("user_name_trigram_rows", column("id"), column("user_id"))
"""A stable integer per user for USER_NAME_TRIGRAMS (a users rowid may change on VACUUM)."""

SQLITE_SEARCH_TABLES = ("user_value_trigrams", "user_name_trigrams", "user_name_trigram_rows")
FTS5_SHADOW_SUFFIXES = ("_data", "_idx", "_content", "_docsize", "_config")
"""The tables FTS5 keeps behind each virtual table (``user_value_trigrams_data``, ...)."""


def sqlite_search_tables() -> set[str]:
    """Every table migration 0006 adds on SQLite, FTS5's own included."""
    fts = (USER_VALUE_TRIGRAMS.name, USER_NAME_TRIGRAMS.name)
    return set(SQLITE_SEARCH_TABLES) | {
        name + suffix for name in fts for suffix in FTS5_SHADOW_SUFFIXES
    }


class Group(Base):
    __tablename__ = "groups"
    __table_args__ = (
        Index("ix_groups_site_id_display_name_key", "site_id", "display_name_key"),
        Index("ix_groups_site_id_external_id", "site_id", "external_id"),
        Index("ix_groups_site_id_updated_at", "site_id", "updated_at"),
        Index("ix_groups_site_id_created_at_id", "site_id", "created_at", "id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    display_name: Mapped[str] = mapped_column(String(256))
    display_name_key: Mapped[str] = mapped_column(String(256))
    external_id: Mapped[str | None] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    version: Mapped[int] = mapped_column(Integer, default=1)


class ResourceCount(Base):
    """How many users (or groups) a site has: ``totalResults`` of an unfiltered list.

    ``COUNT(*)`` walks the site's whole index: at 10,000 users it was a quarter
    of a page of 100, and it grows with the site. Triggers of migration 0010
    keep this row in step with every INSERT and DELETE in the same transaction,
    whatever writes them (SCIM, Bulk, the UI, the CLI, a cascade), so a page
    reads it in the same snapshot as its rows. On PostgreSQL the row is locked
    from a site's first insert or delete in a transaction until its commit:
    creations and deletions of one site queue there (updates do not).
    """

    __tablename__ = "resource_counts"

    site_id: Mapped[str] = mapped_column(
        ForeignKey("sites.id", ondelete="CASCADE"), primary_key=True
    )
    resource: Mapped[str] = mapped_column(String(16), primary_key=True)
    total: Mapped[int] = mapped_column(BigInteger)


class Membership(Base):
    """One member of one group: a user or a group, never both.

    A row per member, so adding or removing one member of a 100,000-member
    group touches one row. Deleting a user or group removes its rows (cascade).
    """

    __tablename__ = "group_members"
    __table_args__ = (
        UniqueConstraint("group_id", "user_id"),
        UniqueConstraint("group_id", "member_group_id"),
        Index("ix_group_members_site_id_user_id", "site_id", "user_id"),
        Index("ix_group_members_site_id_member_group_id", "site_id", "member_group_id"),
        CheckConstraint("(user_id IS NULL) != (member_group_id IS NULL)", name="one_member_kind"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    group_id: Mapped[str] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"))
    user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    member_group_id: Mapped[str | None] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"))


class AccessToken(Base):
    """A site SCIM access token. Only the keyed hash of its value is stored (T5).

    ``active_holder_id`` carries the creator's id while the token is active and
    is cleared on revocation (or when an expired token is retired). Its unique
    index is how the database itself keeps T3 — one active token per Promaster —
    even when two creates race on two connections: NULLs never collide.
    ``created_by_id`` is set to NULL if the creator is deleted; the token stays
    the site's (T11) and ``created_by_label`` keeps who it was.
    """

    __tablename__ = "access_tokens"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    description: Mapped[str] = mapped_column(String(100))
    scope: Mapped[str] = mapped_column(String(32))
    created_by_id: Mapped[str | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    created_by_label: Mapped[str] = mapped_column(String(320))
    active_holder_id: Mapped[str | None] = mapped_column(String(36), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_by_id: Mapped[str | None] = mapped_column(String(36))
    revoked_by_label: Mapped[str | None] = mapped_column(String(320))
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_used_from: Mapped[str | None] = mapped_column(String(64))
    expiry_warned_on: Mapped[date | None] = mapped_column(Date)

    creator: Mapped[User | None] = relationship(lazy="raise")
    site: Mapped[Site] = relationship(lazy="raise")


class AuditEvent(Base):
    """Who or which token did what, when, from where. Never a secret.

    Repeated events of one kind from one address within one window share a row
    (``dedup_key`` unique, ``repeat_count`` counting), so a flood of failed
    authentications cannot fill the disk.
    """

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_site_id_occurred_at", "site_id", "occurred_at"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    site_id: Mapped[str | None] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    action: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(16))
    actor_type: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[str | None] = mapped_column(String(36))
    actor_label: Mapped[str | None] = mapped_column(String(320))
    target_type: Mapped[str | None] = mapped_column(String(32))
    target_id: Mapped[str | None] = mapped_column(String(36))
    client_address: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    message: Mapped[str | None] = mapped_column(Text)
    dedup_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    repeat_count: Mapped[int] = mapped_column(Integer, default=1)


class WebSession(Base):
    """A signed-in browser (or API client). Only a hash of the cookie's value is kept.

    Signing out deletes the row, so a copied cookie stops working at once on
    every instance; deleting the user removes their sessions (cascade).
    """

    __tablename__ = "web_sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_from: Mapped[str | None] = mapped_column(String(64))


class SignInFailure(Base):
    """Failed sign-ins per account or per address in the current window.

    Kept in the database, not in process memory, so every instance behind a
    load balancer applies the same brake. ``key`` is a hash: no typed e-mail
    (which may be a mistyped password) is stored.
    """

    __tablename__ = "sign_in_failures"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    window_started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    failures: Mapped[int] = mapped_column(Integer)


from sitescim.db import application_tables as _application_tables  # noqa: E402, F401 (registers them)
