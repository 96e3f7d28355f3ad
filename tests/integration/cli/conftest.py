"""Fixtures of the command-line tests: the CLI bound to the test database, a fresh SQLite file."""

from __future__ import annotations

import pytest

from tests.integration.cli.calls import FRESH_PEPPER, FRESH_SESSION_SECRET, make_cli


@pytest.fixture
def cli(settings):
    """The CLI on the test database (SQLite or PostgreSQL), with the test pepper."""
    return make_cli(
        database_url=settings.database_url,
        pepper=settings.token_pepper.get_secret_value(),
        session_secret=settings.session_secret.get_secret_value(),
    )


@pytest.fixture
def fresh_file(tmp_path):
    """The CLI on a SQLite file that does not exist yet."""
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    return url, make_cli(database_url=url, pepper=FRESH_PEPPER, session_secret=FRESH_SESSION_SECRET)
