"""SQLite: short writes on the event loop, on a connection of their own, when the lock is free.

A single-user PATCH spent more around its statements than in them: a worker
thread hop (about 65 µs), a pooled connection and an ORM Session begun and
committed through SQLAlchemy (about 190 µs), against 10 µs for a plain
``BEGIN IMMEDIATE`` … ``COMMIT``. A short write (a few indexed statements,
nothing slow such as hashing a password) runs here instead: on a connection
kept open by the event loop's thread, with its statements on the DB-API
connection (``db.driver``).

The event loop never waits for the lock: this connection's busy timeout is
zero, and this process's other writers' turn (``db.engine``) is only tried.
When either is taken, ``begin`` answers False and the caller takes the long
way (a worker thread that waits its turn). Checkpoints are not run here (they
call fsync): automatic checkpoints are off on this connection, and every
``CHECKPOINT_EVERY`` commits a PASSIVE one runs in a thread of its own.

The Session the use case takes is bound to this same connection and begins
only if a rare path (the last-Promaster rule, a changed manager) asks it for
one; SQLAlchemy then begins nothing (the driver is in autocommit mode, so its
BEGIN is ours) and its commit or rollback ends this transaction.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.orm import Session
from sqlalchemy.pool import StaticPool

from sitescim.db.driver import POSTGRESQL, SQLITE, Driver, seed_driver
from sitescim.db.engine import AFTER_TRANSACTION, BEFORE_COMMIT, SQLITE_READ_PRAGMAS

CHECKPOINT_EVERY = 200
"""Commits between two checkpoints of the WAL (SQLite's own default is every
1,000 pages; a single-user write adds a few)."""


class ShortWrites:
    """One connection for short writes, used by one thread (an event loop's) only."""

    def __init__(self, path: str, main: Engine, turn: threading.Lock) -> None:
        self._path = path
        self._main = main
        self._turn = turn
        raw = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=0)
        for pragma in (
            "PRAGMA foreign_keys=ON",
            "PRAGMA synchronous=NORMAL",
            "PRAGMA busy_timeout=0",
            "PRAGMA wal_autocheckpoint=0",
            *SQLITE_READ_PRAGMAS,
        ):
            raw.execute(pragma)
        self._raw = raw
        self._engine = create_engine(
            "sqlite://", creator=lambda: raw, poolclass=StaticPool, pool_reset_on_return=None
        )

        with self._engine.connect():  # SQLAlchemy's first connect rolls back: not in a write
            pass

        @event.listens_for(self._engine, "before_cursor_execute")
        def _forward(*args: Any) -> None:
            for listener in list(main.dispatch.before_cursor_execute.listeners):
                listener(*args)

        self._session = Session(bind=self._engine, expire_on_commit=False)
        self._commits = 0
        self._checkpointing = threading.Lock()

    def begin(self) -> bool:
        """Take the write lock if it is free at once (True), else leave it (False)."""
        if not self._turn.acquire(blocking=False):
            return False
        try:
            self._raw.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError:  # another process writes: the long way waits for it
            self._turn.release()
            return False
        return True

    @contextmanager
    def transaction(self, after: list[Callable[[], None]]) -> Iterator[Session]:
        """The transaction ``begin`` opened: committed on success, rolled back on any error.

        As ``Database.transaction``: ``before_commit`` hooks run last inside it;
        the ``after_transaction`` hooks are appended to ``after`` for the caller
        to run off the event loop (they may write, and wait for the lock).
        """
        raw = self._raw
        session = self._session  # kept: a new one for each write cost more than its statements
        session.info.clear()
        main = self._main
        seed_driver(session, Driver(raw, SQLITE, main, bool(main.dispatch.before_cursor_execute)))
        try:
            yield session
            for commit_hook in session.info.pop(BEFORE_COMMIT, []):
                commit_hook(session)
            if session.in_transaction():
                session.commit()  # its connection is ours: this ends our transaction
            if raw.in_transaction:
                raw.execute("COMMIT")
        except BaseException:
            with suppress(Exception):
                if session.in_transaction():
                    session.rollback()
            if raw.in_transaction:
                raw.execute("ROLLBACK")
            raise
        else:
            self._committed()
        finally:
            after.extend(session.info.pop(AFTER_TRANSACTION, []))
            if session.in_transaction() or len(session.identity_map) or session.new:
                session.close()  # a rare path used it: nothing of it is kept
            self._turn.release()

    def _committed(self) -> None:
        self._commits += 1
        if self._commits >= CHECKPOINT_EVERY and not self._checkpointing.locked():
            self._commits = 0
            threading.Thread(
                target=self._checkpoint, name="sitescim-checkpoint", daemon=True
            ).start()

    def _checkpoint(self) -> None:
        with self._checkpointing:
            connection = sqlite3.connect(self._path, timeout=0)
            try:
                connection.execute("PRAGMA wal_checkpoint(PASSIVE)")
            except sqlite3.Error:  # busy or gone: the next one, or another writer, does it
                pass
            finally:
                connection.close()

    def close(self) -> None:
        self._engine.dispose()
        self._raw.close()


class _JoinedSession(Session):
    """A Session whose connection, if a rare path asks for one, is the pooled DB-API
    connection the transaction already runs on (never a second one from the pool)."""

    def __init__(self, engine: Engine, pooled: Any) -> None:
        super().__init__(bind=engine, expire_on_commit=False)
        self._engine = engine
        self._pooled = pooled
        self._joined: Connection | None = None

    def get_bind(self, *args: Any, **kwargs: Any) -> Connection:
        if self._joined is None:
            self._joined = Connection(self._engine, connection=self._pooled)
        return self._joined


@contextmanager
def pooled_transaction(engine: Engine, after: list[Callable[[], None]]) -> Iterator[Session]:
    """PostgreSQL: a short write's transaction on a pooled connection, in a worker thread.

    As ``Database.transaction``, without building SQLAlchemy's Connection and
    Session transaction around it (half the CPU of a single-user write's frame):
    the statements go to the DB-API connection (db.driver), which begins the
    transaction itself, and it is committed there. The ``after_transaction``
    hooks are appended to ``after`` for the caller to run.
    """
    pooled = engine.raw_connection()  # pre-pinged: a connection a restart killed is replaced
    raw: Any = pooled.driver_connection
    session = _JoinedSession(engine, pooled)
    watched = bool(engine.dispatch.before_cursor_execute)
    dialect = engine.dialect.name
    seeded = Driver(raw, dialect, engine, watched, [] if dialect == POSTGRESQL else None)
    seed_driver(session, seeded)
    try:
        yield session
        for commit_hook in session.info.pop(BEFORE_COMMIT, []):
            commit_hook(session)
        if session.in_transaction():
            seeded.send_deferred()
            session.commit()  # its connection is ours: this ends our transaction
        elif dialect == POSTGRESQL:
            seeded.send_deferred(commit=True)  # with the deferred statements: one round trip
        raw.commit()
    except BaseException:
        with suppress(Exception):
            if session.in_transaction():
                session.rollback()
        try:
            raw.rollback()
        except Exception:  # a lost connection: the pool must not hand it out again
            pooled.invalidate()
        raise
    finally:
        after.extend(session.info.pop(AFTER_TRANSACTION, []))
        session.close()
        pooled.close()
