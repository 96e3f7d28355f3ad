"""Fixtures of the notice tests: a real SMTP server's inbox and settings that send to it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sitescim.settings import Settings
from tests.factories import make_settings
from tests.integration.notices.inbox import Inbox, smtp_server
from tests.integration.servers import free_ports

SENDER = "sitescim@scim.example.test"
BASE_URL = "https://scim.example.test"


@pytest.fixture
def smtp_port() -> int:
    return free_ports(1)[0]


@pytest.fixture
def mail_settings(db_url: str, smtp_port: int) -> Settings:
    return make_settings(
        db_url,
        smtp_url=f"smtp://127.0.0.1:{smtp_port}",
        smtp_from=SENDER,
        smtp_timeout_seconds=5,
        public_base_url=BASE_URL,
    )


@pytest.fixture
def inbox(smtp_port: int) -> Iterator[Inbox]:
    """The SMTP server, up for the whole test."""
    received = Inbox()
    with smtp_server(received, smtp_port):
        yield received
