"""The PostgreSQL hot reader's point reads on asyncpg (db.asyncpg_reads): which reader
serves which URL, a connection that died in the pool, and an unreachable server.

The outage test (test_outages.py) drives the same through a server under load;
these pin each behaviour down on its own.
"""

from __future__ import annotations

import asyncio
import socket

import psycopg
import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url

from sitescim.db.asyncpg_reads import AsyncpgReads
from sitescim.db.engine import make_engine
from sitescim.db.outages import Outage, describe, outage_of
from sitescim.db.reads import PostgresReads, open_reads
from tests.databases import truncate_all

pytestmark = pytest.mark.postgresql_only


def _reader_for(url: str) -> PostgresReads:
    async def opened() -> PostgresReads:
        engine = make_engine(url)
        try:
            reads = await open_reads(engine)
            await reads.close()
            assert isinstance(reads, PostgresReads)
            return reads
        finally:
            engine.dispose()

    return asyncio.run(opened())


def test_asyncpg_serves_point_reads_unless_statements_may_not_be_prepared(
    postgres_url: str,
) -> None:
    assert isinstance(_reader_for(postgres_url), AsyncpgReads)
    bounced = make_url(postgres_url).update_query_dict({"prepare_threshold": "none"})
    behind_pgbouncer = _reader_for(bounced.render_as_string(hide_password=False))
    assert type(behind_pgbouncer) is PostgresReads


def _plain(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def test_a_connection_killed_in_the_pool_is_replaced_and_the_read_succeeds(
    postgres_url: str,
) -> None:
    truncate_all(postgres_url)

    async def scenario() -> None:
        engine = make_engine(postgres_url)
        reads = await open_reads(engine)
        try:
            assert isinstance(reads, AsyncpgReads)
            assert await reads.token("0" * 64) is None  # one pooled connection now
            with psycopg.connect(_plain(postgres_url), autocommit=True) as admin:
                admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                    " AND application_name = ''"
                )
            for _ in range(3):
                assert await reads.token("0" * 64) is None
                assert await reads.users_where("no-site", "id", "x", limit=2) == []
        finally:
            await reads.close()
            engine.dispose()

    asyncio.run(scenario())


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_an_unreachable_server_is_an_outage_without_the_token_hash(postgres_url: str) -> None:
    nowhere = make_url(postgres_url).set(host="127.0.0.1", port=_closed_port())

    async def scenario() -> BaseException:
        engine = make_engine(nowhere.render_as_string(hide_password=False))
        reads = await open_reads(engine)
        try:
            with pytest.raises(sa_exc.DBAPIError) as raised:
                await reads.token("f" * 64)
            return raised.value
        finally:
            await reads.close()
            engine.dispose()

    error = asyncio.run(scenario())
    assert outage_of(error) is Outage.CONNECTION
    assert "f" * 64 not in str(error)
    assert "refused" in describe(error).lower()
