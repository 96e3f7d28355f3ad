"""Single-statement reads on plain DB-API connections: the SCIM hot path.

A GET by id is two statements: the token with its site, then the resource
with its multi-valued rows and groups aggregated as JSON. One statement is one
snapshot, so a concurrent PUT can never pair an old ETag with new e-mails.

Through SQLAlchemy each statement cost more than the database work itself
(compiling, result metadata, pool checkout), so these go to the driver:

- SQLite: one connection per thread, in autocommit, with the driver's statement
  cache. It runs inline on the event loop; a WAL read never waits on a writer.
- PostgreSQL: psycopg's async pool, so the loop never blocks on the network;
  psycopg prepares a statement once it has been run a few times. The point
  reads (token, users and groups by an indexed column) go through asyncpg
  instead (``db.asyncpg_reads``) unless statements may not be prepared.

Rows come back as plain tuples in the column order of each statement;
``db.records`` gives them names and Python types.
"""

from __future__ import annotations

import functools
import sqlite3
import threading
from collections.abc import Mapping
from typing import Any, NamedTuple, Protocol

from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from sitescim.db.engine import (
    CONNECT_TIMEOUT_SECONDS,
    PREPARE_THRESHOLD_OPTION,
    SQLITE_BUSY_TIMEOUT_MS,
    SQLITE_READ_PRAGMAS,
    prepare_threshold,
)
from sitescim.db.records import (
    USER_COLUMNS,
    GroupRecord,
    TokenRecord,
    UserSnapshot,
    group_record,
    token_and_user,
    token_and_users,
    token_record,
    user_snapshot,
)

# The SQL below interpolates only our own column names, never a value.
_TOKEN_COLUMNS_SQL = (
    "t.id, t.site_id, s.slug, t.token_hash, t.scope, t.description, t.expires_at,"
    " t.revoked_at, t.last_used_at, s.scim_may_set_promaster, s.password_min_length,"
    " s.scim_rate_limit"
)
_TOKEN_FROM_SQL = "access_tokens t JOIN sites s ON s.id = t.site_id"
_USER_COLUMNS_SQL = ", ".join(f'u."{name}"' for name in USER_COLUMNS)
TOKEN_SQL = f"SELECT {_TOKEN_COLUMNS_SQL} FROM {_TOKEN_FROM_SQL} WHERE t.token_hash = {{p}}"
_VALUE_FIELDS = 'v.attribute, v.position, v.value, v.type, v."primary", v.display, v.extra, v.id'

_SQLITE_USER_FIELDS = (
    f"{_USER_COLUMNS_SQL},"
    ' (SELECT json_group_array(json_array(attribute, position, value, type, "primary",'
    "   display, extra, id)) FROM (SELECT v.* FROM user_values v WHERE v.user_id = u.id"
    "   ORDER BY v.attribute, v.position, v.id)),"
    " (SELECT json_group_array(json_array(id, display_name)) FROM (SELECT g.id, g.display_name"
    "   FROM group_members m JOIN groups g ON g.id = m.group_id"
    "   WHERE m.site_id = u.site_id AND m.user_id = u.id ORDER BY g.display_name_key, g.id))"
)
_SQLITE_USERS_SQL = (
    f"SELECT {_SQLITE_USER_FIELDS} FROM users u WHERE u.site_id = ? AND u.{{column}} = ?"
)
_POSTGRES_USER_FIELDS = (
    f"{_USER_COLUMNS_SQL},"
    f" (SELECT coalesce(json_agg(json_build_array({_VALUE_FIELDS})"
    "   ORDER BY v.attribute, v.position, v.id), '[]') FROM user_values v"
    "   WHERE v.user_id = u.id),"
    " (SELECT coalesce(json_agg(json_build_array(g.id, g.display_name)"
    "   ORDER BY g.display_name_key, g.id), '[]')"
    "   FROM group_members m JOIN groups g ON g.id = m.group_id"
    "   WHERE m.site_id = u.site_id AND m.user_id = u.id)"
)
POSTGRES_USERS_SQL = (
    f"SELECT {_POSTGRES_USER_FIELDS}"
    " FROM users u WHERE u.site_id = {site} AND u.{column} = {value}"
)
"""The user read on PostgreSQL, with the placeholders of its driver for ``site`` and ``value``."""
SQLITE_TOKEN_AND_USER_SQL = (
    f"SELECT {_TOKEN_COLUMNS_SQL}, {_SQLITE_USER_FIELDS} FROM {_TOKEN_FROM_SQL}"
    " LEFT JOIN users u ON u.id = ?2 AND u.site_id = t.site_id WHERE t.token_hash = ?1"
)
POSTGRES_TOKEN_AND_USER_SQL = (
    f"SELECT {_TOKEN_COLUMNS_SQL}, {_POSTGRES_USER_FIELDS} FROM {_TOKEN_FROM_SQL}"
    " LEFT JOIN (SELECT * FROM users WHERE id = {user} OFFSET 0) u ON u.site_id = t.site_id"
    " WHERE t.token_hash = {digest}"
)
"""A token with its site, and the user of that site with a given id, in one statement:
on PostgreSQL one round trip instead of two. The token's row comes back even when no
such user exists (the user's columns are then null).

On PostgreSQL the user is looked up by its key alone, behind ``OFFSET 0`` (which keeps
the planner from merging the subquery): joined on the site as well, a plan made before
any statistics (10,000 users just loaded) walked every user of the site, as the
site-and-id read does; this one took the key. Statistics taken of an empty table
still leave the planner a tie with the (site_id, created_at, id) index."""
SQLITE_TOKEN_AND_USERS_SQL = (
    f"SELECT {_TOKEN_COLUMNS_SQL}, {_SQLITE_USER_FIELDS} FROM {_TOKEN_FROM_SQL}"
    " LEFT JOIN users u ON u.site_id = t.site_id AND u.{column} = ?2 WHERE t.token_hash = ?1"
)
POSTGRES_TOKEN_AND_USERS_SQL = (
    f"SELECT {_TOKEN_COLUMNS_SQL}, u.* FROM {_TOKEN_FROM_SQL}"
    " LEFT JOIN LATERAL (SELECT {user_fields} FROM users u"
    "   WHERE u.site_id = t.site_id AND u.{column} = {value}{ordered}) u ON true"
    " WHERE t.token_hash = {digest}"
)
"""A token with its site, and the users of that site whose indexed ``column`` equals a
value (an ``eq`` lookup), in one statement: one row a user, each with the token's
columns; a single row with null user columns when none matches."""
LOOKUP_COLUMNS = ("id", "user_name_key", "external_id")
"""Indexed columns a user is looked up by: GET by id, and the ``eq`` filters identity
providers send before every create (``userName``, ``externalId``)."""
ORDERED = " ORDER BY u.created_at, u.id LIMIT {limit}"
SQLITE_ORDERED = " ORDER BY +u.created_at, +u.id LIMIT {limit}"
"""A lookup's few matches in creation order. On SQLite the unary ``+`` keeps the
order from choosing the index: without statistics, SQLite read the site's users in
order through (site_id, created_at, id) to spare sorting one row, and an
``externalId eq`` took 2.3 ms at 10,000 users instead of 20 µs by its own index."""
GROUP_LOOKUP_COLUMNS = ("id", "display_name_key", "external_id")
"""Indexed columns a group is looked up by (``displayName eq`` and ``externalId eq``
are how Entra ID and Okta find a group before pushing it)."""
_GROUPS_SQL = (
    "SELECT g.id, g.display_name, g.external_id, g.created_at, g.updated_at, g.version"
    " FROM groups g WHERE g.site_id = {site} AND g.{column} = {value}"
    " ORDER BY {order} LIMIT {limit}"
)
_SQLITE_BY = {column: _SQLITE_USERS_SQL.format(column=column) for column in LOOKUP_COLUMNS}
_POSTGRES_BY = {
    column: POSTGRES_USERS_SQL.format(column=column, site="%s", value="%s")
    for column in LOOKUP_COLUMNS
}


class UsersWhere(NamedTuple):
    """An ``eq`` lookup read with the token: the users of the token's site whose indexed
    ``column`` (LOOKUP_COLUMNS) equals ``value``, ``limit`` of them at most."""

    column: str
    value: str
    limit: int


_SQLITE_TOKEN_AND_BY = {
    column: SQLITE_TOKEN_AND_USERS_SQL.format(column=column) for column in LOOKUP_COLUMNS
}


@functools.lru_cache(maxsize=64)
def postgres_token_and_users_sql(column: str, limit: int, *, digest: str, value: str) -> str:
    """POSTGRES_TOKEN_AND_USERS_SQL for a lookup by ``column`` of ``limit`` users at most,
    with the driver's placeholders; kept, as a lookup's few shapes recur every request."""
    if column not in LOOKUP_COLUMNS:
        raise ValueError(f"users are not looked up by {column!r}")
    return (
        POSTGRES_TOKEN_AND_USERS_SQL.format(
            user_fields=_POSTGRES_USER_FIELDS,
            column=column,
            value=value,
            ordered=ORDERED.format(limit=int(limit)),
            digest=digest,
        )
        + " ORDER BY u.created_at, u.id"
    )


def groups_sql(column: str, limit: int, *, site: str, value: str, sqlite: bool = False) -> str:
    """The groups lookup by ``column``, with the driver's placeholders for ``site`` and
    ``value``, ordered as ORDERED and SQLITE_ORDERED order users."""
    if column not in GROUP_LOOKUP_COLUMNS:
        raise ValueError(f"groups are not looked up by {column!r}")
    order = "+g.created_at, +g.id" if sqlite else "g.created_at, g.id"
    return _GROUPS_SQL.format(site=site, value=value, column=column, limit=int(limit), order=order)


class Reads(Protocol):
    """What the hot path reads; one implementation per database."""

    dialect: str
    """``sqlite`` or ``postgresql``: which SQL ``rows`` takes (named parameters)."""

    async def token(self, token_hash: str) -> TokenRecord | None: ...

    async def user(self, site_id: str, user_id: str) -> UserSnapshot | None: ...

    async def users_where(
        self, site_id: str, column: str, value: str, *, limit: int
    ) -> list[UserSnapshot]: ...

    async def token_and_user(
        self, token_hash: str, user_id: str
    ) -> tuple[TokenRecord | None, UserSnapshot | None]:
        """``token``, and ``user`` of the token's site, in one statement."""
        ...

    async def token_and_users_where(
        self, token_hash: str, where: UsersWhere
    ) -> tuple[TokenRecord | None, list[UserSnapshot]]:
        """``token``, and the users of the token's site ``where`` finds, in one statement."""
        ...

    async def groups_where(
        self, site_id: str, column: str, value: str, *, limit: int
    ) -> list[GroupRecord]: ...

    async def rows(self, sql: str, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """Every row of one statement built for this dialect (scim.pages), as tuples."""
        ...

    async def close(self) -> None: ...

    def pool_use(self) -> tuple[int, int] | None:
        """Connections (in use, idle) of a pool, for the metrics; None without one."""


class SQLiteReads:
    """A connection per thread, used inline: SQLite reads cost microseconds."""

    dialect = "sqlite"

    def __init__(self, path: str) -> None:
        self._path = path
        self._local = threading.local()
        self._opened: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

    def _connection(self) -> sqlite3.Connection:
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            connection = sqlite3.connect(
                self._path,
                isolation_level=None,
                check_same_thread=False,
                cached_statements=64,
                timeout=SQLITE_BUSY_TIMEOUT_MS / 1000,
            )
            connection.execute("PRAGMA query_only=ON")
            for pragma in SQLITE_READ_PRAGMAS:
                connection.execute(pragma)
            self._local.connection = connection
            with self._lock:
                self._opened.append(connection)
        return connection

    async def token(self, token_hash: str) -> TokenRecord | None:
        sql = TOKEN_SQL.format(p="?")
        row = self._connection().execute(sql, (token_hash,)).fetchone()
        return None if row is None else token_record(row)

    async def user(self, site_id: str, user_id: str) -> UserSnapshot | None:
        row = self._connection().execute(_SQLITE_BY["id"], (site_id, user_id)).fetchone()
        return None if row is None else user_snapshot(row)

    async def users_where(
        self, site_id: str, column: str, value: str, *, limit: int
    ) -> list[UserSnapshot]:
        sql = _SQLITE_BY[column] + SQLITE_ORDERED.format(limit=int(limit))
        return [user_snapshot(row) for row in self._connection().execute(sql, (site_id, value))]

    async def token_and_user(
        self, token_hash: str, user_id: str
    ) -> tuple[TokenRecord | None, UserSnapshot | None]:
        row = self._connection().execute(SQLITE_TOKEN_AND_USER_SQL, (token_hash, user_id))
        return token_and_user(row.fetchone())

    async def token_and_users_where(
        self, token_hash: str, where: UsersWhere
    ) -> tuple[TokenRecord | None, list[UserSnapshot]]:
        sql = _SQLITE_TOKEN_AND_BY[where.column] + SQLITE_ORDERED.format(limit=int(where.limit))
        return token_and_users(
            self._connection().execute(sql, (token_hash, where.value)).fetchall()
        )

    async def groups_where(
        self, site_id: str, column: str, value: str, *, limit: int
    ) -> list[GroupRecord]:
        rows = self._connection().execute(
            groups_sql(column, limit, site="?", value="?", sqlite=True), (site_id, value)
        )
        return [group_record(row) for row in rows]

    async def rows(self, sql: str, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        return self._connection().execute(sql, params).fetchall()

    async def close(self) -> None:
        with self._lock:
            opened, self._opened = self._opened, []
        for connection in opened:
            connection.close()

    def pool_use(self) -> tuple[int, int] | None:
        return None


ACQUIRE_TIMEOUT_SECONDS = 3.0
"""How long a read waits for a pooled connection before answering 503: psycopg's
30 s default held every request of an outage that long."""
RECONNECT_WINDOW_SECONDS = 0.05
"""psycopg's pool retries a failed connection after 1, 2, 4... s, which delayed
recovery by up to half the outage; within this window it gives up instead, and
the next request that needs a connection starts a fresh attempt at once."""


_STALE_STATES = (None, "57P01")
"""A connection found closed (no SQLSTATE) or ended by a server shutdown while it sat
in the pool: worth one more try. An error the server (or PgBouncer) answered with
now, such as ``query_wait_timeout``, would only be answered again."""


def _found_dead(connection: Any, error: Exception) -> bool:
    return bool(connection.broken) and getattr(error, "sqlstate", None) in _STALE_STATES


def _connection_options(prepare_threshold: int | None) -> dict[str, Any]:
    """Autocommit; with prepared statements, generic plans: a list page's statement
    is long to plan (milliseconds), and PostgreSQL kept re-planning it for each
    value of its LIMIT. The hot path's statements are shaped so one plan fits
    every value. Without prepared statements (behind PgBouncer, which also refuses
    the ``options`` startup parameter) there is no plan to keep."""
    options: dict[str, Any] = {"autocommit": True, "prepare_threshold": prepare_threshold}
    if prepare_threshold is not None:
        options["options"] = "-c plan_cache_mode=force_generic_plan"
    return options


class PostgresReads:
    """psycopg's async pool: the event loop never waits on the network.

    Every statement here is one read in autocommit, so one found on a dead
    connection (PostgreSQL restarted since it was pooled) is run again once,
    after the pool has dropped its other dead connections.
    """

    dialect = "postgresql"

    def __init__(self, conninfo: str, *, max_size: int, prepare_threshold: int | None) -> None:
        from psycopg_pool import AsyncConnectionPool

        self._pool = AsyncConnectionPool(
            conninfo,
            min_size=1,
            max_size=max_size,
            kwargs=_connection_options(prepare_threshold),
            timeout=ACQUIRE_TIMEOUT_SECONDS,
            reconnect_timeout=RECONNECT_WINDOW_SECONDS,
            open=False,
        )
        self._checking = False

    async def open(self) -> None:
        await self._pool.open()

    async def _run(
        self, sql: str, params: tuple[Any, ...] | Mapping[str, Any], *, many: bool
    ) -> list[tuple[Any, ...]] | tuple[Any, ...] | None:
        import psycopg

        for attempt in (1, 2):
            async with self._pool.connection() as connection:
                try:
                    cursor = await connection.execute(sql, params)
                    return await cursor.fetchall() if many else await cursor.fetchone()
                except psycopg.OperationalError as error:
                    if attempt == 2 or not _found_dead(connection, error):
                        raise
            await self._drop_dead_connections()
        raise AssertionError("unreachable")

    async def _drop_dead_connections(self) -> None:
        if self._checking:
            return
        self._checking = True
        try:
            await self._pool.check()
        finally:
            self._checking = False

    async def _one(self, sql: str, params: tuple[Any, ...]) -> tuple[Any, ...] | None:
        row = await self._run(sql, params, many=False)
        assert not isinstance(row, list)
        return row

    async def _all(
        self, sql: str, params: tuple[Any, ...] | Mapping[str, Any]
    ) -> list[tuple[Any, ...]]:
        rows = await self._run(sql, params, many=True)
        assert isinstance(rows, list)
        return rows

    async def token(self, token_hash: str) -> TokenRecord | None:
        row = await self._one(TOKEN_SQL.format(p="%s"), (token_hash,))
        return None if row is None else token_record(row)

    async def user(self, site_id: str, user_id: str) -> UserSnapshot | None:
        row = await self._one(_POSTGRES_BY["id"], (site_id, user_id))
        return None if row is None else user_snapshot(row)

    async def users_where(
        self, site_id: str, column: str, value: str, *, limit: int
    ) -> list[UserSnapshot]:
        sql = _POSTGRES_BY[column] + ORDERED.format(limit=int(limit))
        return [user_snapshot(row) for row in await self._all(sql, (site_id, value))]

    async def token_and_user(
        self, token_hash: str, user_id: str
    ) -> tuple[TokenRecord | None, UserSnapshot | None]:
        sql = POSTGRES_TOKEN_AND_USER_SQL.format(user="%s", digest="%s")
        return token_and_user(await self._one(sql, (user_id, token_hash)))

    async def token_and_users_where(
        self, token_hash: str, where: UsersWhere
    ) -> tuple[TokenRecord | None, list[UserSnapshot]]:
        sql = postgres_token_and_users_sql(where.column, where.limit, value="%s", digest="%s")
        return token_and_users(await self._all(sql, (where.value, token_hash)))

    async def groups_where(
        self, site_id: str, column: str, value: str, *, limit: int
    ) -> list[GroupRecord]:
        rows = await self._all(groups_sql(column, limit, site="%s", value="%s"), (site_id, value))
        return [group_record(row) for row in rows]

    async def rows(self, sql: str, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        return await self._all(sql, params)

    async def close(self) -> None:
        await self._pool.close()

    def pool_use(self) -> tuple[int, int] | None:
        stats = self._pool.get_stats()
        size, idle = stats.get("pool_size", 0), stats.get("pool_available", 0)
        return size - idle, idle


async def open_reads(engine: Engine, *, max_size: int = 10) -> Reads:
    """The hot-path reader for the engine's database (called on the running loop)."""
    url = engine.url
    if url.get_backend_name() == "sqlite":
        database = url.database or ""
        if database in ("", ":memory:"):
            raise ValueError("the SCIM hot path needs a SQLite file, not an in-memory database")
        return SQLiteReads(database)
    plain = make_url(url).set(drivername="postgresql")
    threshold = prepare_threshold(plain.render_as_string(hide_password=False))
    plain = plain.difference_update_query([PREPARE_THRESHOLD_OPTION])  # not a libpq keyword
    if "connect_timeout" not in plain.query:
        plain = plain.update_query_dict({"connect_timeout": str(CONNECT_TIMEOUT_SECONDS)})
    conninfo = plain.render_as_string(hide_password=False)
    reads: PostgresReads
    if threshold is None:  # behind PgBouncer: nothing prepared, psycopg alone
        reads = PostgresReads(conninfo, max_size=max_size, prepare_threshold=None)
    else:
        from sitescim.db.asyncpg_reads import AsyncpgReads

        timeout = float(plain.query.get("connect_timeout", CONNECT_TIMEOUT_SECONDS))  # type: ignore[arg-type]
        dsn = plain.difference_update_query(["connect_timeout"])  # asyncpg takes it apart
        reads = AsyncpgReads(
            conninfo,
            dsn=dsn.render_as_string(hide_password=False),
            max_size=max_size,
            connect_timeout=timeout,
        )
    await reads.open()
    return reads
