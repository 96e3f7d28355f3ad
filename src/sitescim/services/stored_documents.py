"""The upkeep that stores the documents of users written without one.

Every write of a user through SCIM stores its document (scim.stored_documents);
users written otherwise (before migration 0011, by the CLI or the UI, by a
loader straight into the tables) have none, or one of an older version, and a
page builds theirs in SQL each time. This stores theirs with the SQL builder
itself (``sql_documents.user_document_sql(stored=True)``), a thousand users a
transaction so that SQLite's write lock is never held long, walking the users
by id so that a large table is read once. The service runs it at start and
every few minutes; when nothing is missing it costs one read of the ``users``
ids.

On PostgreSQL each batch runs in REPEATABLE READ and locks its rows, skipping
those a writer holds (it stores their documents itself): a user changed since
the batch's snapshot fails the batch (left to a later round) instead of pairing
the new row's version with values from an older snapshot.
"""

from __future__ import annotations

import logging
from functools import cache

import orjson
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from sitescim.scim.sql_documents import JsonSql, user_document_sql
from sitescim.services.runtime import Runtime

log = logging.getLogger(__name__)

BATCH = 1000
"""Users stored per transaction."""

_MISSING = "(document_version IS NULL OR document_version <> version)"


@cache
def _batch_sql(dialect: str) -> str:
    """The next batch of users missing their document, after an id (locked on PostgreSQL)."""
    if dialect == "postgresql":
        after, limit, lock = "%(after)s", "%(limit)s", " FOR UPDATE SKIP LOCKED"
    else:
        after, limit, lock = ":after", ":limit", ""
    return (
        f"SELECT id FROM users WHERE id > {after} AND {_MISSING}"  # noqa: S608 (our own text)
        f" ORDER BY id LIMIT {limit}{lock}"
    )


@cache
def _store_sql(dialect: str) -> str:
    """The UPDATE that stores the documents of a batch, found by their keys.

    A statement of its own, not a subquery of the UPDATE: with statistics taken
    while the table was empty (a restore, or a loader straight into the tables,
    then a start before the statistics upkeep has run), PostgreSQL joined every
    user to the batch's subquery and ran it again for each, so one batch of 1,000
    at 100,000 users took minutes while it held the batch's rows locked. A list
    of keys has one plan, whatever the statistics say."""
    document = user_document_sql(JsonSql(dialect), stored=True)
    if dialect == "postgresql":
        batch = "= ANY(%(ids)s)"
    else:
        batch = "IN (SELECT value FROM json_each(:ids))"
    # Only our own SQL text: the builder interpolates no value.
    return (
        f"UPDATE users AS u SET document = {document}, document_version = u.version"  # noqa: S608
        f" WHERE u.id {batch} AND {_MISSING.replace('document', 'u.document')} RETURNING id"
    )


def store_missing_documents(engine: Engine, *, batch: int = BATCH) -> int:
    """Store the document of every user that has none for its version; return how many."""
    dialect = engine.dialect.name
    find, store = _batch_sql(dialect), _store_sql(dialect)
    options = (
        {"isolation_level": "REPEATABLE READ"}
        if dialect == "postgresql"
        else {"sqlite_begin": "IMMEDIATE"}  # a writer from the start (db.statistics says why)
    )
    stored = 0
    after = ""
    while True:
        try:
            with engine.connect().execution_options(**options) as connection:
                found = connection.exec_driver_sql(find, {"after": after, "limit": batch})
                ids = list(found.scalars())
                if ids:
                    keys = ids if dialect == "postgresql" else orjson.dumps(ids).decode()
                    stored += len(connection.exec_driver_sql(store, {"ids": keys}).all())
                connection.commit()
        except OperationalError:
            # A concurrent change of one of the batch's users (PostgreSQL): the next round.
            log.info("stored documents: a batch met a concurrent change", exc_info=True)
            return stored
        if len(ids) < batch:
            return stored
        after = max(ids)


def store_documents(runtime: Runtime) -> int:
    """``store_missing_documents`` on the service's database (its upkeep)."""
    return store_missing_documents(runtime.db.engine)
