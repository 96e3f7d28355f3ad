"""Log format: JSON lines for machines, one readable line on a terminal.

Each case runs a fresh interpreter whose stderr is a real pipe or a real
pseudo-terminal, configured from the environment as ``sitescim serve`` is.
"""

from __future__ import annotations

import json
import os
import pty
import random
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest

from sitescim.logs import utc_timestamp

SCRIPT = """
import logging
from sitescim.logs import configure_logging, request_id
from sitescim.settings import Settings

settings = Settings()
configure_logging("INFO", log_format=settings.log_format)
request_id.set("0123456789abcdef")
logging.getLogger("sitescim.access").info(
    "request", extra={"method": "GET", "path": "/scim/v2/Users", "status": 503}
)
"""


def _environment(log_format: str | None) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("SITESCIM_")}
    if log_format is not None:
        env["SITESCIM_LOG_FORMAT"] = log_format
    return env


def _run_script(log_format: str | None, *, check: bool) -> subprocess.CompletedProcess[str]:
    """SCRIPT in a fresh interpreter, its stderr a pipe as under a process manager."""
    return subprocess.run(
        [sys.executable, "-c", SCRIPT],
        env=_environment(log_format),
        capture_output=True,
        text=True,
        timeout=60,
        check=check,
    )


def _stderr_through_pipe(log_format: str | None) -> str:
    return _run_script(log_format, check=True).stderr


def _stderr_through_terminal(log_format: str | None) -> str:
    leader, follower = pty.openpty()
    try:
        process = subprocess.Popen(
            [sys.executable, "-c", SCRIPT],
            env=_environment(log_format),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=follower,
        )
        os.close(follower)
        chunks: list[bytes] = []
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            chunks.append(chunk)
        assert process.wait(60) == 0
    finally:
        os.close(leader)
    return b"".join(chunks).decode().replace("\r\n", "\n")


def _assert_console_line(output: str) -> None:
    (line,) = output.strip().splitlines()
    assert not line.startswith("{")
    assert "INFO" in line
    assert "sitescim.access  request method=GET path=/scim/v2/Users status=503" in line
    assert line.endswith("[01234567]")


def _assert_json_line(output: str) -> None:
    (line,) = output.strip().splitlines()
    entry = json.loads(line)
    assert entry["message"] == "request"
    assert entry["status"] == 503
    assert entry["request_id"] == "0123456789abcdef"


def test_a_terminal_gets_readable_lines_by_default() -> None:
    _assert_console_line(_stderr_through_terminal(None))


def test_a_pipe_gets_json_lines_by_default() -> None:
    _assert_json_line(_stderr_through_pipe(None))


def test_console_format_is_chosen_by_setting_on_a_pipe() -> None:
    _assert_console_line(_stderr_through_pipe("console"))


def test_json_format_is_kept_on_a_terminal_when_asked_for() -> None:
    _assert_json_line(_stderr_through_terminal("json"))


@pytest.mark.parametrize("log_format", ["yaml", "JSON lines"])
def test_unknown_log_format_is_refused_at_start(log_format: str) -> None:
    done = _run_script(log_format, check=False)
    assert done.returncode != 0
    assert "log_format" in done.stderr


ACCESS_SCRIPT = """
import io, logging
from sitescim.logs import configure_logging, log_request, request_id

configure_logging("INFO", log_format="json")
request_id.set("0123456789abcdef")
access = logging.getLogger("sitescim.access")
made = access.makeRecord

def no_record(*args, **kwargs):
    raise AssertionError("the direct line made a LogRecord")

access.makeRecord = no_record
log_request("GET", "/scim/v2/Users/\\u00e9t\\u00e9", 200, 1.25, "127.0.0.1")
log_request("POST", "/scim/v2/Bulk", 413, 0.5, None)
access.makeRecord = made
for status, client in ((200, "127.0.0.1"), (413, None)):
    method, path = ("GET", "/scim/v2/Users/\\u00e9t\\u00e9") if status == 200 else ("POST", "/scim/v2/Bulk")
    access.info(
        "request",
        extra={"method": method, "path": path, "status": status,
               "duration_ms": 1.25 if status == 200 else 0.5, "client": client},
    )
# Another handler (a test's caplog, an operator's): every line goes through logging again.
sink = io.StringIO()
logging.getLogger().addHandler(logging.StreamHandler(sink))
log_request("GET", "/scim/v2/Groups", 404, 2.0, "::1")
assert sink.getvalue() == "request\\n", sink.getvalue()
"""


def test_the_access_line_written_directly_is_the_formatters_line() -> None:
    """The lean access line (logs.log_request) carries what JsonFormatter writes for
    the same record, key for key and in the same order; only the time differs."""
    done = subprocess.run(
        [sys.executable, "-c", ACCESS_SCRIPT],
        env=_environment("json"),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    lines = [json.loads(line) for line in done.stderr.strip().splitlines()]
    assert len(lines) == 5
    direct, formatted = lines[:2], lines[2:4]
    for mine, theirs in zip(direct, formatted, strict=True):
        assert datetime.fromisoformat(mine.pop("time")).utcoffset() == timedelta(0)
        theirs.pop("time")
        assert list(mine.items()) == list(theirs.items())
    assert direct[0]["path"] == "/scim/v2/Users/été"
    assert direct[1]["client"] is None
    assert lines[4]["status"] == 404


def test_the_access_lines_time_is_what_isoformat_writes() -> None:
    """utc_timestamp formats a second once; every moment still reads as
    ``datetime.fromtimestamp(moment, UTC).isoformat()`` (rounding, no zero microseconds)."""
    rng = random.Random(9)  # noqa: S311  # reproducible moments, nothing secret
    start = 1_790_000_000.0
    moments = [start + rng.uniform(0, 5) for _ in range(5_000)]
    moments += [start + rng.uniform(-1e8, 1e8) for _ in range(5_000)]
    moments += [start, start + 0.9999996, start + 0.0000005, start + 0.0000015, start + 0.5]
    for moment in moments:
        assert utc_timestamp(moment) == datetime.fromtimestamp(moment, UTC).isoformat(), moment
