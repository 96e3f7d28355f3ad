"""Engines and transactions for SQLite (the embedded default) and PostgreSQL.

SQLite runs in WAL mode with foreign keys on. Its deferred transactions fail at
once with SQLITE_BUSY when a reader later tries to write after another writer
committed, so transactions that mean to write start with ``BEGIN IMMEDIATE`` and
wait their turn (busy timeout) instead; reads stay deferred and never block.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

if TYPE_CHECKING:
    from sitescim.db.short_writes import ShortWrites

SQLITE_BUSY_TIMEOUT_MS = 30_000
SQLITE_READ_PRAGMAS = (
    "PRAGMA mmap_size=268435456",
    "PRAGMA cache_size=-32768",
    "PRAGMA temp_store=MEMORY",
)
"""Reads come from a memory map of the file (no read() call per page) through a 32 MiB
page cache: with the default 2 MiB, a lookup at 10,000 users read pages the one at
1,000 users found cached, and took 1.6 times as long. Temporary tables and indexes
(an ORDER BY's b-tree, a statement's journal) stay in memory: in a file, two POSTs
in three created, wrote and deleted one in /var/tmp, six system calls or more each."""
AFTER_TRANSACTION = "sitescim.after_transaction"
BEFORE_COMMIT = "sitescim.before_commit"
READER_POOL_SIZE = 4
_WRITE_TURN = "sitescim.write_turn"
"""SQLite has one write lock per file. A writing transaction of this process first
takes its engine's turn (a lock), held until its connection is back in the pool:
writers queue in order instead of polling the file lock through busy_timeout's
sleeps (1, 2, 5, ... ms), which left the lock idle while they slept. Other
processes still wait through busy_timeout; after it a writer goes on regardless."""


_WRITE_TURNS: weakref.WeakKeyDictionary[Engine, threading.Lock] = weakref.WeakKeyDictionary()
"""Each SQLite engine's write turn (``_WRITE_TURN``), which short writes take too."""


def normalise_url(url: str) -> str:
    """Accept plain ``postgresql://`` URLs and use psycopg 3 for them."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


PREPARE_THRESHOLD_OPTION = "prepare_threshold"
"""A URL option (``?prepare_threshold=none``) for psycopg's automatic prepared
statements: PgBouncer before 1.21 (Debian 12 ships 1.18) cannot keep them in
transaction pooling, so behind it they must be off. A number sets the threshold."""
CONNECT_TIMEOUT_SECONDS = 5
"""An unreachable host fails a request in seconds (503) instead of after the
kernel's TCP timeout; a URL's own ``connect_timeout`` wins."""


def prepare_threshold(url: str) -> int | None:
    """psycopg's ``prepare_threshold`` for a database URL: its option, else psycopg's 5."""
    value = make_url(url).query.get(PREPARE_THRESHOLD_OPTION)
    if isinstance(value, tuple):
        value = value[-1]
    if value is None:
        return 5
    if value.strip().lower() in ("none", "null", "off", ""):
        return None
    return int(value)


def _postgres_connect_args(url: str) -> dict[str, Any]:
    args: dict[str, Any] = {PREPARE_THRESHOLD_OPTION: prepare_threshold(url)}
    if "connect_timeout" not in make_url(url).query:
        args["connect_timeout"] = CONNECT_TIMEOUT_SECONDS
    return args


POOL_SIZE = 20
"""Connections kept open. Under it, a burst beyond the pool would open and close
a connection per request (overflow connections are not kept), which costs a
PostgreSQL backend start each time; 20 covers the worker threads busy at once
under 16 concurrent clients."""


def make_engine(
    url: str, *, pool_size: int = POOL_SIZE, echo: bool = False, autocommit: bool = False
) -> Engine:
    """``autocommit`` engines serve single-statement reads only: each connection is
    put in autocommit once, when it opens, and nothing is reset when it is returned
    (switching the isolation level at every checkout cost a statement each way)."""
    url = normalise_url(url)
    if url.startswith("sqlite"):
        return _make_sqlite_engine(url, pool_size=pool_size, echo=echo, autocommit=autocommit)
    options: dict[str, Any] = (
        {"isolation_level": "AUTOCOMMIT", "pool_reset_on_return": None} if autocommit else {}
    )
    # pre_ping: after a database restart the pooled connections are dead; each is
    # found so at checkout (one round trip) and replaced, instead of failing a request.
    return create_engine(
        url,
        echo=echo,
        pool_size=pool_size,
        max_overflow=pool_size * 2,
        pool_recycle=1800,
        pool_pre_ping=True,
        connect_args=_postgres_connect_args(url),
        **options,
    )


def _make_sqlite_engine(url: str, *, pool_size: int, echo: bool, autocommit: bool) -> Engine:
    memory = ":memory:" in url or url.rstrip("/") == "sqlite:"
    options: dict[str, Any] = (
        {"poolclass": StaticPool}
        if memory
        else {"pool_size": pool_size, "max_overflow": pool_size * 2}
    )
    if autocommit and not memory:
        options["pool_reset_on_return"] = None
    engine = create_engine(
        url,
        echo=echo,
        connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
        **options,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
        cursor = dbapi_connection.cursor()
        if not memory:
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        if not memory:
            for pragma in SQLITE_READ_PRAGMAS:
                cursor.execute(pragma)
        cursor.close()

    if autocommit and not memory:
        return engine  # the driver is in autocommit (isolation_level None): no BEGIN

    turn = threading.Lock()
    _WRITE_TURNS[engine] = turn

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        options = connection.get_execution_options()
        if options.get("isolation_level") == "AUTOCOMMIT":
            return
        begin = options.get("sqlite_begin", "")
        if begin == "IMMEDIATE" and turn.acquire(timeout=SQLITE_BUSY_TIMEOUT_MS / 1000):
            connection.info[_WRITE_TURN] = True
        connection.exec_driver_sql(f"BEGIN {begin}".strip())

    @event.listens_for(engine.pool, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        if record.info.pop(_WRITE_TURN, False):
            turn.release()

    return engine


def before_commit(session: Session) -> list[Callable[[Session], None]]:
    """Callables run in the transaction just before it commits (not when it rolls back)."""
    hooks: list[Callable[[Session], None]] = session.info.setdefault(BEFORE_COMMIT, [])
    return hooks


def after_transaction(session: Session) -> list[Callable[[], None]]:
    hooks: list[Callable[[], None]] = session.info.setdefault(AFTER_TRANSACTION, [])
    return hooks


class Database:
    """The engine, the two kinds of transaction, and a small autocommit pool for
    single-statement reads outside a transaction (``reading()``).

    The SCIM hot path does not use it: it reads through db.reads on the driver.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._reads = sessionmaker(bind=engine, expire_on_commit=False)
        writer = engine.execution_options(sqlite_begin="IMMEDIATE")
        self._writes = sessionmaker(bind=writer, expire_on_commit=False)
        shared = isinstance(engine.pool, StaticPool)  # an in-memory SQLite has one connection
        url = engine.url.render_as_string(hide_password=False)
        self._single_reads: Engine
        if shared:
            self._reader = engine
            self._single_reads = engine.execution_options(isolation_level="AUTOCOMMIT")
        else:
            self._reader = make_engine(url, pool_size=READER_POOL_SIZE, autocommit=True)
            self._single_reads = self._reader
        self._short_writes: dict[int, ShortWrites] = {}

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def transaction(self, *, write: bool) -> Iterator[Session]:
        """Commit on success, roll back on any exception; callers never commit.

        Callables appended to ``before_commit(session)`` run last inside the
        transaction (the event outbox numbers its rows there). Callables appended
        to ``after_transaction(session)`` run once the
        transaction has ended either way: the audit log uses them to record a
        refusal whose own transaction is being rolled back, without waiting on
        the write lock that transaction still holds.
        """
        factory = self._writes if write else self._reads
        session = factory()
        try:
            with session.begin():
                yield session
                for commit_hook in session.info.pop(BEFORE_COMMIT, []):
                    commit_hook(session)
        finally:
            hooks = session.info.pop(AFTER_TRANSACTION, [])
            session.close()
            for hook in hooks:
                hook()

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        """A bare autocommit connection for a single read statement (the synchronous
        token check, ``tokens.check_token_sync``).

        One statement needs no transaction around it, and skipping BEGIN and
        ROLLBACK saves two round trips to PostgreSQL.
        """
        with self._single_reads.connect() as connection:
            yield connection

    def short_writes(self) -> ShortWrites | None:
        """SQLite (a file): the calling thread's connection for short writes, to be
        called on an event loop (db.short_writes); None on PostgreSQL or in memory."""
        thread = threading.get_ident()
        found = self._short_writes.get(thread)
        if found is None:
            turn = _WRITE_TURNS.get(self.engine)
            path = self.engine.url.database
            if turn is None or not path or isinstance(self.engine.pool, StaticPool):
                return None
            from sitescim.db.short_writes import ShortWrites  # it builds on this module

            found = self._short_writes[thread] = ShortWrites(path, self.engine, turn)
        return found

    def pooled_transaction(
        self, after: list[Callable[[], None]]
    ) -> AbstractContextManager[Session]:
        """A short write's lighter transaction on a pooled connection (PostgreSQL):
        ``db.short_writes.pooled_transaction``."""
        from sitescim.db.short_writes import pooled_transaction  # it builds on this module

        return pooled_transaction(self.engine, after)

    @property
    def engines(self) -> tuple[Engine, ...]:
        return (self.engine,) if self._reader is self.engine else (self.engine, self._reader)

    def refresh_statistics(self) -> list[str]:
        """ANALYZE the tables whose planner statistics are missing or stale; return them.

        Cheap when nothing changed (one catalogue query on PostgreSQL, a sampled
        ANALYZE on SQLite): call it after migrations and large imports, and every
        few minutes. See ``sitescim.db.statistics``.
        """
        from sitescim.db.statistics import refresh_statistics

        return refresh_statistics(self.engine)

    def dispose(self) -> None:
        for short in self._short_writes.values():
            short.close()
        self._short_writes.clear()
        self.engine.dispose()
        if self._reader is not self.engine:
            self._reader.dispose()
