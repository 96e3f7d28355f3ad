"""Which driver errors mean "the database is not there right now", and their log.

A PostgreSQL restart or stop, PgBouncer dropping its servers, a pool with no
free connection, SQLite's write lock held past the busy timeout: the request
was fine and will succeed a little later, so clients get 503 with
``Retry-After`` (web/errors.py) and the log is not a bug report. Hundreds of
requests fail the same way each second of an outage, so the log gets one short
line a second at most, counting the failures by kind, and never a traceback
(which held nothing but the driver's stack, 11 KB a failure).
"""

from __future__ import annotations

import enum
import logging
import sqlite3
import threading
import time

import asyncpg
import psycopg
import psycopg_pool
from sqlalchemy import exc as sa_exc

log = logging.getLogger(__name__)

LOG_INTERVAL_SECONDS = 1.0
_MESSAGE_CHARS = 160


class Outage(enum.StrEnum):
    """Why the database could not serve a request; each kind has its own Retry-After."""

    CONNECTION = "connection"  # refused, lost, shutting down, starting up
    POOL = "pool"  # no free connection in time: the database is slow or overloaded
    LOCKED = "locked"  # SQLite: another writer held the lock past the busy timeout

    @property
    def retry_after_seconds(self) -> int:
        return 5 if self is Outage.CONNECTION else 2


_CONNECTION_CLASSES = ("08", "53", "57P")  # connection exception, resources, shutdown
_SQLITE_BUSY = ("database is locked", "database table is locked", "database is busy")


def outage_of(error: BaseException) -> Outage | None:
    """The outage ``error`` (or an error it was raised from) stands for, if any."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        found = _outage_of_one(current)
        if found is not None:
            return found
        current = current.__cause__ or current.__context__
    return None


def _outage_of_one(error: BaseException) -> Outage | None:
    if isinstance(error, sa_exc.TimeoutError | psycopg_pool.PoolTimeout):
        return Outage.POOL
    if isinstance(error, sa_exc.DBAPIError):
        if error.connection_invalidated:
            return Outage.CONNECTION
        return _outage_of_one(error.orig) if error.orig is not None else None
    if isinstance(error, psycopg.OperationalError):
        state = error.sqlstate
        if state is None or state.startswith(_CONNECTION_CLASSES):
            return Outage.CONNECTION
        return None
    if isinstance(error, asyncpg.PostgresError):  # the hot reader's (db.asyncpg_reads)
        code = error.sqlstate
        return Outage.CONNECTION if code and code.startswith(_CONNECTION_CLASSES) else None
    if isinstance(error, sqlite3.OperationalError):
        message = str(error).lower()
        return Outage.LOCKED if message.startswith(_SQLITE_BUSY) else None
    return None


def describe(error: BaseException | None) -> str:
    """The driver's own first line (``connection refused``), never SQL or parameters:
    SQLAlchemy's wrapper is skipped for its ``orig``, which carries neither."""
    if isinstance(error, sa_exc.DBAPIError) and error.orig is not None:
        error = error.orig
    if error is None:
        return ""
    first = str(error).strip().splitlines()
    text = first[0] if first else ""
    return f"{type(error).__name__}: {text[:_MESSAGE_CHARS]}".rstrip(": ")


class OutageLog:
    """One line a second at most, whatever the number of failures and their kinds."""

    def __init__(self, interval_seconds: float = LOG_INTERVAL_SECONDS) -> None:
        self.interval = interval_seconds
        self._lock = threading.Lock()
        self._counts: dict[Outage, int] = {}
        self._last_line = -interval_seconds

    def note(self, outage: Outage, error: BaseException | None = None) -> None:
        now = time.monotonic()
        with self._lock:
            self._counts[outage] = self._counts.get(outage, 0) + 1
            if now - self._last_line < self.interval:
                return
            counts, self._counts = self._counts, {}
            self._last_line = now
        log.error(
            "database unavailable",
            extra={
                "failures": sum(counts.values()),
                "kinds": ",".join(f"{kind.value}:{n}" for kind, n in sorted(counts.items())),
                "last_error": describe(error),
            },
        )


outages = OutageLog()
"""The process's one log of outages: the request path and the logging filter share it."""


class OutageLogFilter(logging.Filter):
    """What anything logs with an outage's exception (SQLAlchemy's pool when it
    cannot roll back a lost connection, the readiness probe, the upkeep jobs) is
    counted in ``outages`` instead of printed with its traceback; psycopg's pool
    warns once per dead connection or failed attempt, which the failed requests
    already tell, so those warnings are dropped; so are psycopg's "error ignored"
    warnings whose second error is the same lost connection, met again while a
    pipeline, COPY or transaction is closed after the first."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if error is not None:
            outage = outage_of(error)
            if outage is not None:
                outages.note(outage, error)
                return False
        if not record.name.startswith("psycopg") or record.levelno != logging.WARNING:
            return True
        if record.name.startswith("psycopg.pool"):
            return False
        return not _secondary_outage(record)


def _secondary_outage(record: logging.LogRecord) -> bool:
    args = record.args if isinstance(record.args, tuple) else ()
    return any(isinstance(arg, BaseException) and outage_of(arg) is not None for arg in args)


def quiet_driver_outage_logs(handler: logging.Handler) -> None:
    handler.addFilter(OutageLogFilter())
