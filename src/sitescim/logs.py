"""Structured logs with the request id of whatever request is being served.

JSON lines are for machines (log shippers parse them); a person reading a
terminal gets one readable line per record instead. ``auto`` picks by whether
stderr is a terminal, so ``make serve`` is readable and a service unit is not.
"""

from __future__ import annotations

import logging
import math
import sys
import time
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, Literal, TextIO

import orjson

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)

ACCESS_LOGGER = "sitescim.access"
access_log = logging.getLogger(ACCESS_LOGGER)

_STANDARD = frozenset(vars(logging.makeLogRecord({})).keys()) | {
    "message",
    "asctime",
    "color_message",
}


class JsonFormatter(logging.Formatter):
    """One JSON object a line. Every request writes one (the access log), so it is
    encoded with orjson: the stdlib encoder cost more than a GET's database work."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        rid = request_id.get()
        if rid:
            entry["request_id"] = rid
        for key, value in vars(record).items():
            if key not in _STANDARD:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


LogFormat = Literal["auto", "json", "console"]
_REQUEST_ID_SHOWN = 8


class ConsoleFormatter(logging.Formatter):
    """``12:04:05.123 WARNING sitescim.access  request status=503 path=/x [3f9a1c2e]``:
    the local time a person compares with their clock, then the fields as key=value."""

    def format(self, record: logging.LogRecord) -> str:
        moment = datetime.fromtimestamp(record.created).strftime("%H:%M:%S.%f")[:-3]
        fields = " ".join(
            f"{key}={_console_value(value)}"
            for key, value in vars(record).items()
            if key not in _STANDARD
        )
        rid = request_id.get()
        line = f"{moment} {record.levelname:<7} {record.name}  {record.getMessage()}"
        if fields:
            line += " " + fields
        if rid:
            line += f" [{rid[:_REQUEST_ID_SHOWN]}]"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def _console_value(value: object) -> str:
    text = str(value)
    return repr(text) if (not text or " " in text) else text


def resolve_format(wanted: LogFormat, stream: TextIO) -> Literal["json", "console"]:
    if wanted != "auto":
        return wanted
    isatty = getattr(stream, "isatty", None)
    return "console" if isatty is not None and isatty() else "json"


def configure_logging(level: str = "INFO", *, log_format: LogFormat = "auto") -> None:
    # Records skip what no line of ours shows: the caller's frame, thread and
    # process names (the logging HOWTO's "Optimization"); a third of a record's cost.
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    from sitescim.db.outages import quiet_driver_outage_logs

    handler = logging.StreamHandler(sys.stderr)
    quiet_driver_outage_logs(handler)
    chosen = resolve_format(log_format, sys.stderr)
    handler.setFormatter(JsonFormatter() if chosen == "json" else ConsoleFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    _direct.handler = handler if chosen == "json" else None
    _direct.filters = list(handler.filters)
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").disabled = True  # our middleware logs each request


class _DirectLine:
    """The handler ``configure_logging`` installed for JSON lines, which the access
    log may write to directly, and the filters it had then (the outage filter,
    which lets every access record through)."""

    def __init__(self) -> None:
        self.handler: logging.StreamHandler[TextIO] | None = None
        self.filters: list[Any] = []


_direct = _DirectLine()


def _direct_handler() -> logging.StreamHandler[TextIO] | None:
    """The JSON handler, when a record of ``sitescim.access`` would reach it and no
    other: nothing configured since (a test's caplog, an operator's dictConfig, a
    filter) may be bypassed, so any change falls back to ``logging``."""
    handler = _direct.handler
    if handler is None or access_log.disabled or access_log.filters:
        return None
    logger: logging.Logger | None = access_log
    while logger is not None:
        if logger.handlers:
            root_only = logger is logging.root and logger.handlers == [handler]
            if not root_only:
                return None
            break
        if not logger.propagate:
            return None
        logger = logger.parent
    if logger is None or handler.level > logging.INFO or handler.filters != _direct.filters:
        return None
    return handler


_second: tuple[int, str] = (-1, "")  # the second last formatted, and its text


def utc_timestamp(moment: float) -> str:
    """``datetime.fromtimestamp(moment, UTC).isoformat()``, the date and time of day
    formatted once a second: formatting the whole datetime cost as much as the rest
    of the access line. Microseconds round half to even, as ``fromtimestamp`` does,
    and are left out when zero, as ``isoformat`` does."""
    whole = math.floor(moment)
    micro = round((moment - whole) * 1e6)
    if micro >= 1_000_000:
        whole += 1
        micro -= 1_000_000
    global _second
    if _second[0] != whole:  # one tuple, replaced whole: safe from any thread
        _second = (whole, datetime.fromtimestamp(whole, UTC).isoformat()[:-6])
    prefix = _second[1]
    if micro:  # six digits, zero-padded: cheaper than a format spec
        return f"{prefix}.{str(micro + 1_000_000)[1:]}+00:00"
    return prefix + "+00:00"


def log_request(
    method: str, path: str, status: int, duration_ms: float, client: str | None
) -> None:
    """One access line a request, at INFO on ``sitescim.access``.

    Under ``configure_logging``'s JSON handler the line is built here and written
    to its stream: the same keys in the same order as ``JsonFormatter`` writes for
    the record ``logging`` would make, without making it. A ``LogRecord``, the
    handler chain and the formatter cost more than a GET's database work (issue 9).
    Anything else (the console format, another handler, a filter) gets a record.
    """
    if not access_log.isEnabledFor(logging.INFO):
        return
    handler = _direct_handler()
    if handler is None:
        access_log.info(
            "request",
            extra={
                "method": method,
                "path": path,
                "status": status,
                "duration_ms": duration_ms,
                "client": client,
            },
        )
        return
    entry: dict[str, Any] = {
        "time": utc_timestamp(time.time()),
        "level": "info",
        "logger": ACCESS_LOGGER,
        "message": "request",
    }
    rid = request_id.get()
    if rid:
        entry["request_id"] = rid
    entry["method"] = method
    entry["path"] = path
    entry["status"] = status
    entry["duration_ms"] = duration_ms
    entry["client"] = client
    line = orjson.dumps(entry, default=str).decode() + handler.terminator
    handler.acquire()
    try:
        handler.stream.write(line)
        handler.stream.flush()
    except Exception:  # as StreamHandler.emit does: a broken stream never fails a request
        record = access_log.makeRecord(ACCESS_LOGGER, logging.INFO, "", 0, "request", (), None)
        handler.handleError(record)
    finally:
        handler.release()
