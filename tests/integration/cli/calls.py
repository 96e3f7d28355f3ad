"""Running the command line as scripts do, and reading its answers.

SPEC section 5, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import os

from sqlalchemy import func, select
from typer.testing import CliRunner

from sitescim.cli import app

TOKEN_LIST_KEYS = {
    "id",
    "description",
    "scope",
    "created_by",
    "created_at",
    "expires_at",
    "last_used_at",
    "status",
}


FRESH_PEPPER = "fresh-pepper-" + "f" * 40
FRESH_SESSION_SECRET = "fresh-session-" + "f" * 40


def make_cli(*, database_url: str, pepper: str, session_secret: str):
    """Run the Typer app in-process with only our SITESCIM_* variables set."""
    runner = CliRunner()
    env: dict[str, str | None] = {name: None for name in os.environ if name.startswith("SITESCIM_")}
    env.update(
        {
            "SITESCIM_DATABASE_URL": database_url,
            "SITESCIM_TOKEN_PEPPER": pepper,
            "SITESCIM_SESSION_SECRET": session_secret,
            "SITESCIM_ARGON2_TIME_COST": "1",
            "SITESCIM_ARGON2_MEMORY_KIB": "1024",
        }
    )

    def invoke(*args: str):
        return runner.invoke(app, list(args), env=env)

    return invoke


def ok(result) -> str:
    assert result.exception is None, (result.exception, result.output)
    assert result.exit_code == 0, result.output
    return result.stdout


def ok_json(result) -> dict:
    return json.loads(ok(result))


def refused(result) -> str:
    """A refusal: non-zero exit, nothing on stdout, exactly one ``error:`` line on stderr."""
    assert result.exit_code != 0, result.output
    assert isinstance(result.exception, SystemExit), result.exception  # not a crash
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in result.stderr
    assert "sscim_" not in result.stderr
    return lines[0]


def count(database, model) -> int:
    with database.transaction(write=False) as session:
        return session.scalar(select(func.count()).select_from(model))


def create_token(cli, *, site="site-a", who="ada@a.test", description="Entra ID") -> dict:
    return ok_json(
        cli("token", "create", "--site", site, "--as", who, "--description", description, "--json")
    )
