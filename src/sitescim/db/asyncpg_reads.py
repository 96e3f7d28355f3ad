"""PostgreSQL's point reads on asyncpg: the token, users and groups by an indexed column.

These are the statements of every GET by id and every ``eq`` lookup. Through
psycopg's async connection each one waited on the event loop three times (a
reader added and removed per wait) and built a cursor, a transformer and its
loaders per call: about 690,000 instructions of this process for the token and
user reads of one GET. asyncpg is a protocol on the loop with binary rows and
statements prepared once per connection: about 375,000 for the same two reads
(callgrind, in process, 400 rounds).

Page statements (``rows``) stay on psycopg's pool (``PostgresReads``):
SQLAlchemy compiles them for psycopg's placeholders and parameter adaptation,
and a page's own work dwarfs the driver's. Behind PgBouncer (``prepare_threshold=
none``) this reader is not used at all: asyncpg sends an unnamed statement's
Parse and its Bind in two exchanges, which transaction pooling may hand to two
server connections.

Failures are raised as SQLAlchemy's exceptions, the vocabulary the web layer
and ``db.outages`` already answer with 503: an empty pool past its wait as
``sqlalchemy.exc.TimeoutError``, a driver or socket error wrapped in
``DBAPIError`` (marked invalidated when the connection is gone), never with the
statement's parameters (a token's keyed hash is one).
"""

from __future__ import annotations

from typing import Any

import asyncpg
from sqlalchemy import exc as sa_exc

from sitescim.db.reads import (
    ACQUIRE_TIMEOUT_SECONDS,
    LOOKUP_COLUMNS,
    ORDERED,
    POSTGRES_TOKEN_AND_USER_SQL,
    POSTGRES_USERS_SQL,
    TOKEN_SQL,
    PostgresReads,
    UsersWhere,
    groups_sql,
    postgres_token_and_users_sql,
)
from sitescim.db.records import (
    GroupRecord,
    TokenRecord,
    UserSnapshot,
    group_record,
    token_and_user,
    token_and_users,
    token_record,
    user_snapshot,
)

_TOKEN = TOKEN_SQL.format(p="$1")
_TOKEN_AND_USER = POSTGRES_TOKEN_AND_USER_SQL.format(digest="$1", user="$2")
_USERS_BY = {
    column: POSTGRES_USERS_SQL.format(column=column, site="$1", value="$2")
    for column in LOOKUP_COLUMNS
}
_DRIVER_ERRORS = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError)
GENERIC_PLANS = {"plan_cache_mode": "force_generic_plan"}
"""One plan per statement whatever its values, as ``PostgresReads`` sets it: the
lookups are shaped so that one plan fits, and it never waits on statistics."""


async def _keep(connection: asyncpg.Connection) -> None:
    """Nothing to undo when a connection goes back to the pool: every read here is a
    single statement in autocommit. asyncpg's default reset (``RESET ALL``, ``UNLISTEN
    *``, ...) cost a round trip per release."""


class AsyncpgReads(PostgresReads):
    """``PostgresReads`` with its point reads on an asyncpg pool of their own.

    A statement that fails because its connection is gone (PostgreSQL restarted
    since it was pooled) is run once more, after the pool has been told to replace
    its other connections as they come back.
    """

    def __init__(
        self,
        conninfo: str,
        *,
        dsn: str,
        max_size: int,
        connect_timeout: float,
    ) -> None:
        super().__init__(conninfo, max_size=max_size, prepare_threshold=5)
        # min_size 0: an outage at start-up fails requests (503), not the start.
        self._point = asyncpg.create_pool(
            dsn,
            min_size=0,
            max_size=max_size,
            reset=_keep,
            timeout=connect_timeout,
            server_settings=GENERIC_PLANS,
        )

    async def open(self) -> None:
        await super().open()
        await self._point

    async def _fetch(self, sql: str, args: tuple[Any, ...], *, many: bool) -> Any:
        for attempt in (1, 2):
            try:
                connection = await self._point.acquire(timeout=ACQUIRE_TIMEOUT_SECONDS)
            except TimeoutError as error:
                raise sa_exc.TimeoutError("no hot-read connection in time") from error
            except _DRIVER_ERRORS as error:
                raise _wrapped(error, gone=True) from error
            try:
                if many:
                    return await connection.fetch(sql, *args)
                return await connection.fetchrow(sql, *args)
            except _DRIVER_ERRORS as error:
                gone = _gone(connection)
                if attempt == 2 or not gone:
                    raise _wrapped(error, gone=gone) from error
            finally:
                await self._point.release(connection)
            await self._point.expire_connections()
        raise AssertionError("unreachable")

    async def token(self, token_hash: str) -> TokenRecord | None:
        row = await self._fetch(_TOKEN, (token_hash,), many=False)
        return None if row is None else token_record(row)

    async def user(self, site_id: str, user_id: str) -> UserSnapshot | None:
        row = await self._fetch(_USERS_BY["id"], (site_id, user_id), many=False)
        return None if row is None else user_snapshot(tuple(row))

    async def users_where(
        self, site_id: str, column: str, value: str, *, limit: int
    ) -> list[UserSnapshot]:
        sql = _USERS_BY[column] + ORDERED.format(limit=int(limit))
        rows = await self._fetch(sql, (site_id, value), many=True)
        return [user_snapshot(tuple(row)) for row in rows]

    async def token_and_user(
        self, token_hash: str, user_id: str
    ) -> tuple[TokenRecord | None, UserSnapshot | None]:
        row = await self._fetch(_TOKEN_AND_USER, (token_hash, user_id), many=False)
        return token_and_user(None if row is None else tuple(row))

    async def token_and_users_where(
        self, token_hash: str, where: UsersWhere
    ) -> tuple[TokenRecord | None, list[UserSnapshot]]:
        sql = postgres_token_and_users_sql(where.column, where.limit, digest="$1", value="$2")
        rows = await self._fetch(sql, (token_hash, where.value), many=True)
        return token_and_users([tuple(row) for row in rows])

    async def groups_where(
        self, site_id: str, column: str, value: str, *, limit: int
    ) -> list[GroupRecord]:
        sql = groups_sql(column, limit, site="$1", value="$2")
        return [group_record(row) for row in await self._fetch(sql, (site_id, value), many=True)]

    async def close(self) -> None:
        await self._point.close()
        await super().close()

    def pool_use(self) -> tuple[int, int] | None:
        used, idle = super().pool_use() or (0, 0)
        size, point_idle = self._point.get_size(), self._point.get_idle_size()
        return used + size - point_idle, idle + point_idle


def _gone(connection: Any) -> bool:
    """Closed, or detached: the pool takes back a connection it has seen close."""
    try:
        return bool(connection.is_closed())
    except asyncpg.InterfaceError:
        return True


def _wrapped(error: Exception, *, gone: bool) -> sa_exc.DBAPIError:
    """The driver's error as SQLAlchemy's, without the statement or its parameters."""
    kind = sa_exc.OperationalError if gone else sa_exc.DBAPIError
    return kind(None, None, error, connection_invalidated=gone)
