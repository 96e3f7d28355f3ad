"""Token-expiry notices: one event per threshold, and one e-mail per active Promaster
of the site per threshold, received by a real SMTP server; none for anyone else."""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from sitescim.db.application_tables import EmailMessage, TokenNotice
from sitescim.db.engine import Database
from sitescim.domain.events import EventType
from sitescim.domain.tokens import LIFETIME, PREFIX
from sitescim.services import events, notices, sites, users
from sitescim.services import tokens as token_service
from sitescim.services.runtime import Runtime
from sitescim.settings import Settings
from sitescim.web.app import create_app
from tests.factories import make_token, make_user
from tests.integration.notices.conftest import BASE_URL, SENDER
from tests.integration.notices.inbox import Inbox
from tests.integration.statements import recorded_statements
from tests.world import START, FakeClock, World

EXPIRY = START + LIFETIME
TOKEN_EVENTS = frozenset({EventType.TOKEN_EXPIRING, EventType.TOKEN_EXPIRED})


def token_events(runtime: Runtime) -> list[dict[str, Any]]:
    query = events.FeedQuery(limit=events.MAX_PAGE, types=TOKEN_EVENTS)
    return events.read_feed(runtime, query).events


def count(runtime: Runtime, model: type[Any]) -> int:
    with runtime.db.transaction(write=False) as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def deactivate(runtime: Runtime, token_value: str, site: str, email: str) -> None:
    """Through the SCIM service, as an identity provider would."""
    token = token_service.authenticate(runtime, token_value)
    with runtime.db.transaction(write=True) as session:
        user_id = sites.actor_by_email(session, site_slug=site, email=email).user_id
        users.deactivate_user(session, runtime, token, user_id, base_url="http://testserver")


def test_each_threshold_mails_each_active_promaster_once_and_emits_one_event(
    world: World,
    clock: FakeClock,
    mail_settings: Settings,
    inbox: Inbox,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    runtime = world.runtime
    make_user(runtime, "site-a", "dee@a.test", "promaster", world.password)
    issued = make_token(runtime, "site-a", world.promaster_a, "Okta")
    deactivate(runtime, issued.value, "site-a", "dee@a.test")
    clock.now = START + timedelta(days=100)  # another site's token, far from expiry throughout
    make_token(runtime, "site-b", world.promaster_b, "Entra ID")

    clock.now = EXPIRY - timedelta(days=30, hours=1)
    assert notices.run_notices(runtime, mail_settings) == notices.NoticeRun(0, 0)
    assert inbox.snapshot() == []

    promasters = sorted([world.promaster_a, world.promaster_a2])
    steps = [
        (EXPIRY - timedelta(days=30) + timedelta(hours=1), "30d", 30),
        (EXPIRY - timedelta(days=7) + timedelta(hours=1), "7d", 7),
        (EXPIRY - timedelta(days=1) + timedelta(hours=1), "1d", 1),
        (EXPIRY + timedelta(hours=1), "expired", 0),
    ]
    for number, (moment, threshold, days_left) in enumerate(steps, start=1):
        clock.now = moment
        assert notices.run_notices(runtime, mail_settings) == notices.NoticeRun(1, 2)
        clock.advance(minutes=5)
        assert notices.run_notices(runtime, mail_settings) == notices.NoticeRun(0, 0)

        received = inbox.snapshot()
        assert len(received) == 2 * number
        latest = received[-2:]
        assert sorted(r for item in latest for r in item.recipients) == promasters
        for item in latest:
            assert item.sender == SENDER
            assert item.message["From"] == SENDER
            assert "Okta" in item.subject
            assert "Site A" in item.subject
            assert "Created by: ada@a.test" in item.body
            assert "2027-03-01 12:00 UTC" in item.body
            assert f"{BASE_URL}/profile#tokens" in item.body
            if threshold == "expired":
                assert "has expired" in item.subject
            else:
                assert item.subject.endswith(f"expires in {days_left} day{'s' * (days_left > 1)}")

        shown = token_events(runtime)
        assert len(shown) == number
        event = shown[-1]
        assert event["site"]["slug"] == "site-a"
        assert event["actor"]["type"] == "system"
        assert event["data"]["id"] == issued.id
        assert event["data"]["description"] == "Okta"
        assert event["data"]["created_by"]["label"] == world.promaster_a
        if threshold == "expired":
            assert event["type"] == "token.expired"
            assert event["data"]["status"] == "expired"
            assert "changes" not in event
        else:
            assert event["type"] == "token.expiring"
            assert event["changes"] == {"threshold": threshold, "days_left": days_left}

    # Nothing for plain users, analysts, the deactivated Promaster or site-b's Promaster.
    everyone = {r for item in inbox.snapshot() for r in item.recipients}
    assert everyone == set(promasters)
    assert count(runtime, TokenNotice) == 4
    # Later runs find nothing more to say about the expired token.
    clock.advance(days=3)
    assert notices.run_notices(runtime, mail_settings) == notices.NoticeRun(0, 0)

    secret = issued.value[len(PREFIX) :]
    for item in inbox.snapshot():
        assert secret not in item.message.as_string()
    assert all(secret not in str(event) for event in token_events(runtime))
    assert secret not in caplog.text
    assert all(secret not in repr(vars(record)) for record in caplog.records)


def test_a_first_run_past_several_thresholds_gives_only_the_most_urgent(
    world: World, clock: FakeClock, mail_settings: Settings, inbox: Inbox
) -> None:
    runtime = world.runtime
    issued = make_token(runtime, "site-a", world.promaster_a, "Okta")

    clock.now = EXPIRY - timedelta(days=5)
    assert notices.run_notices(runtime, mail_settings) == notices.NoticeRun(1, 2)
    clock.now = EXPIRY - timedelta(days=3)
    assert notices.run_notices(runtime, mail_settings) == notices.NoticeRun(0, 0)
    clock.now = EXPIRY - timedelta(hours=2)
    assert notices.run_notices(runtime, mail_settings) == notices.NoticeRun(1, 2)

    shown = token_events(runtime)
    assert [e["changes"]["threshold"] for e in shown] == ["7d", "1d"]
    assert {e["data"]["id"] for e in shown} == {issued.id}
    assert [item.subject.rsplit(" ", 2)[-2:] for item in inbox.snapshot()] == [
        ["5", "days"],
        ["5", "days"],
        ["1", "day"],
        ["1", "day"],
    ]


def test_revoked_and_retired_tokens_get_no_notice(
    world: World, clock: FakeClock, mail_settings: Settings, inbox: Inbox
) -> None:
    runtime = world.runtime
    revoked = make_token(runtime, "site-a", world.promaster_a, "Okta")
    make_token(runtime, "site-a", world.promaster_a2, "Entra ID")
    with runtime.db.transaction(write=True) as session:
        actor = sites.actor_by_email(session, site_slug="site-a", email=world.promaster_a)
        token_service.revoke_token(session, runtime, actor, revoked.id)

    clock.now = EXPIRY + timedelta(hours=1)
    # Alan's token expired, and he has replaced it since: it is retired, not news.
    replacement = make_token(runtime, "site-a", world.promaster_a2, "Entra ID 2")
    assert notices.run_notices(runtime, mail_settings) == notices.NoticeRun(0, 0)
    assert token_events(runtime) == []
    assert inbox.snapshot() == []
    assert replacement.id


def test_an_expired_token_still_held_gets_its_notice_but_not_once_it_is_old_news(
    world: World, clock: FakeClock, mail_settings: Settings, inbox: Inbox
) -> None:
    runtime = world.runtime
    make_token(runtime, "site-a", world.promaster_a, "Okta")
    clock.now = EXPIRY + timedelta(days=31)
    assert notices.run_notices(runtime, mail_settings) == notices.NoticeRun(0, 0)
    clock.now = EXPIRY + timedelta(days=29)
    assert notices.run_notices(runtime, mail_settings) == notices.NoticeRun(1, 2)
    assert [e["type"] for e in token_events(runtime)] == ["token.expired"]


def test_without_smtp_the_events_are_given_and_no_email_is_written(
    world: World, clock: FakeClock, settings: Settings
) -> None:
    runtime = world.runtime
    make_token(runtime, "site-a", world.promaster_a, "Okta")
    clock.now = EXPIRY - timedelta(days=6)
    assert settings.smtp_url is None
    assert notices.run_notices(runtime, settings) == notices.NoticeRun(1, 0)
    assert [e["type"] for e in token_events(runtime)] == ["token.expiring"]
    assert count(runtime, EmailMessage) == 0
    assert count(runtime, TokenNotice) == 1


def test_a_run_with_nothing_due_only_reads(
    world: World, clock: FakeClock, mail_settings: Settings, inbox: Inbox
) -> None:
    runtime = world.runtime
    make_token(runtime, "site-a", world.promaster_a, "Okta")
    clock.now = EXPIRY - timedelta(days=6)
    assert notices.run_notices(runtime, mail_settings) == notices.NoticeRun(1, 2)

    clock.advance(minutes=1)
    with recorded_statements() as sent:
        assert notices.run_notices(runtime, mail_settings) == notices.NoticeRun(0, 0)
    statements = [s.sql.lstrip().split()[0].upper() for s in sent]
    assert statements.count("SELECT") == 3  # tokens near expiry, their notices, e-mail due
    assert not {"INSERT", "UPDATE", "DELETE"} & set(statements)
    assert not any("IMMEDIATE" in s.sql.upper() for s in sent)  # no SQLite write lock


def test_serves_worker_gives_the_notices_and_sends_their_mail_by_itself(
    world: World, clock: FakeClock, mail_settings: Settings, inbox: Inbox, database: Database
) -> None:
    make_token(world.runtime, "site-a", world.promaster_a, "Okta")
    clock.now = EXPIRY - timedelta(days=6)
    serving = mail_settings.model_copy(update={"worker": True})
    app = create_app(serving, clock=clock, database=database)
    with TestClient(app):  # its worker runs the job at start, then every minute
        deadline = time.monotonic() + 30
        while len(inbox.snapshot()) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
    assert sorted(r for item in inbox.snapshot() for r in item.recipients) == [
        world.promaster_a,
        world.promaster_a2,
    ]
    assert [e["changes"]["threshold"] for e in token_events(world.runtime)] == ["7d"]
