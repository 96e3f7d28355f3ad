"""Fixtures of the events tests: the command line bound to the test database."""

from __future__ import annotations

from typing import Any

import pytest

from sitescim.settings import Settings
from tests.integration.cli.calls import make_cli


@pytest.fixture
def cli(settings: Settings) -> Any:
    """The CLI on the test database (SQLite or PostgreSQL), with the test pepper."""
    return make_cli(
        database_url=settings.database_url,
        pepper=settings.token_pepper.get_secret_value(),
        session_secret=settings.session_secret.get_secret_value(),
    )
