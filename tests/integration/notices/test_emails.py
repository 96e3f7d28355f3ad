"""The e-mail outbox against a real SMTP server: kept while the server is down, sent
when it is back, retried with growing delays, never carrying the SMTP password."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from sitescim.db.application_tables import EmailMessage
from sitescim.db.repositories import emails as emails_repo
from sitescim.domain.clock import as_utc
from sitescim.domain.emails import MAX_ATTEMPTS, SEND_LEASE, retry_delay
from sitescim.services import notices
from sitescim.services.emails import send_emails
from sitescim.services.runtime import Runtime
from sitescim.settings import Settings
from tests.factories import make_settings, make_token
from tests.integration.notices.conftest import SENDER
from tests.integration.notices.inbox import Credentials, Inbox, smtp_server
from tests.integration.notices.test_notices import EXPIRY, token_events
from tests.world import FakeClock, World

USER = "notifier"
PASSWORD = "smtp-password-Zq8v"


@pytest.fixture
def auth_settings(db_url: str, smtp_port: int) -> Settings:
    return make_settings(
        db_url,
        smtp_url=f"smtp://{USER}:{PASSWORD}@127.0.0.1:{smtp_port}",
        smtp_from=SENDER,
        smtp_timeout_seconds=5,
    )


def messages(runtime: Runtime) -> list[EmailMessage]:
    with runtime.db.transaction(write=False) as session:
        return list(session.scalars(select(EmailMessage).order_by(EmailMessage.id)))


def stamp(moment: datetime | None) -> datetime | None:
    return None if moment is None else as_utc(moment)


@pytest.fixture
def noticed(world: World, clock: FakeClock) -> World:
    """A token six days from expiry: its 7-day notice owes Ada and Alan an e-mail."""
    make_token(world.runtime, "site-a", world.promaster_a, "Okta")
    clock.now = EXPIRY - timedelta(days=6)
    return world


def test_mail_waits_while_the_server_is_down_and_goes_out_when_it_is_back(
    noticed: World,
    clock: FakeClock,
    auth_settings: Settings,
    smtp_port: int,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    runtime = noticed.runtime
    assert notices.run_notices(runtime, auth_settings) == notices.NoticeRun(1, 0)
    first_try = clock.now
    rows = messages(runtime)
    assert len(rows) == 2
    for row in rows:
        assert (row.status, row.attempts) == ("pending", 1)
        assert row.error is not None
        assert "ConnectionRefusedError" in row.error
        assert stamp(row.next_attempt_at) == first_try + retry_delay(1)

    assert send_emails(runtime, auth_settings) == 0  # not due yet: no second try
    assert {row.attempts for row in messages(runtime)} == {1}
    clock.now = first_try + retry_delay(1)
    assert send_emails(runtime, auth_settings) == 0  # due, and still down
    assert {row.attempts for row in messages(runtime)} == {2}
    assert retry_delay(2) > retry_delay(1)

    inbox = Inbox()
    with smtp_server(inbox, smtp_port, credentials=Credentials(USER, PASSWORD)):
        clock.now += retry_delay(2)
        assert send_emails(runtime, auth_settings) == 2
        assert send_emails(runtime, auth_settings) == 0
    assert sorted(r for item in inbox.snapshot() for r in item.recipients) == [
        noticed.promaster_a,
        noticed.promaster_a2,
    ]
    for row in messages(runtime):
        assert (row.status, row.attempts, row.error) == ("sent", 3, None)
        assert stamp(row.sent_at) == clock.now

    assert PASSWORD not in caplog.text
    assert all(PASSWORD not in repr(vars(record)) for record in caplog.records)
    assert all(PASSWORD not in str(event) for event in token_events(runtime))
    assert PASSWORD not in repr(auth_settings)


def test_a_refused_login_is_recorded_without_the_password_and_retried_until_given_up(
    noticed: World, clock: FakeClock, auth_settings: Settings, smtp_port: int
) -> None:
    runtime = noticed.runtime
    inbox = Inbox()
    with smtp_server(inbox, smtp_port, credentials=Credentials(USER, "another-password")):
        assert notices.run_notices(runtime, auth_settings) == notices.NoticeRun(1, 0)
        for attempt in range(1, MAX_ATTEMPTS):
            for row in messages(runtime):
                assert (row.status, row.attempts) == ("pending", attempt)
                assert row.error is not None
                assert "SMTPAuthenticationError" in row.error
                assert PASSWORD not in row.error
            clock.now += retry_delay(attempt)
            assert send_emails(runtime, auth_settings) == 0
    assert [(row.status, row.attempts) for row in messages(runtime)] == [
        ("failed", MAX_ATTEMPTS),
        ("failed", MAX_ATTEMPTS),
    ]
    assert inbox.snapshot() == []


def test_a_claim_left_by_a_dead_sender_is_sent_once_its_lease_ends(
    noticed: World, clock: FakeClock, mail_settings: Settings, inbox: Inbox
) -> None:
    runtime = noticed.runtime
    assert notices.give_notices(runtime, email=True) == 1
    with runtime.db.transaction(write=True) as session:  # claimed, then the sender died
        claimed = emails_repo.claim(
            session, now=clock.now, lease_until=clock.now + SEND_LEASE, limit=10
        )
        assert len(claimed) == 2

    assert send_emails(runtime, mail_settings) == 0
    clock.now += SEND_LEASE
    assert send_emails(runtime, mail_settings) == 2
    assert len(inbox.snapshot()) == 2
    assert [(row.status, row.attempts) for row in messages(runtime)] == [("sent", 2)] * 2
