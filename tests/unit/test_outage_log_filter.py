"""The outage filter drops what an outage makes the drivers repeat, and nothing else."""

from __future__ import annotations

import logging

import psycopg

from sitescim.db.outages import OutageLogFilter


def _record(name: str, level: int, message: str, *args: object) -> logging.LogRecord:
    return logging.getLogger(name).makeRecord(name, level, __file__, 1, message, args, None)


def test_psycopgs_second_lost_connection_on_closing_a_pipeline_is_dropped() -> None:
    lost = psycopg.OperationalError("the connection is lost")
    record = _record(
        "psycopg", logging.WARNING, "error ignored terminating %r: %s", "<Pipeline>", lost
    )
    assert OutageLogFilter().filter(record) is False


def test_psycopgs_ignored_error_that_is_no_outage_is_kept() -> None:
    duplicate = psycopg.errors.UniqueViolation("duplicate key")
    record = _record(
        "psycopg", logging.WARNING, "error ignored in rollback on %s: %s", "<conn>", duplicate
    )
    assert OutageLogFilter().filter(record) is True


def test_psycopg_pool_warnings_are_dropped_and_its_errors_kept() -> None:
    assert OutageLogFilter().filter(_record("psycopg.pool", logging.WARNING, "discarding")) is False
    assert OutageLogFilter().filter(_record("psycopg.pool", logging.ERROR, "failed")) is True


def test_other_loggers_warnings_with_outage_arguments_are_kept() -> None:
    lost = psycopg.OperationalError("the connection is lost")
    record = _record("sitescim.app", logging.WARNING, "odd: %s", lost)
    assert OutageLogFilter().filter(record) is True
