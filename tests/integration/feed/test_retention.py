"""Events are kept ``events_retention_days`` (30 by default), then the daily upkeep
of a running app prunes them; on SQLite and PostgreSQL."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from sitescim.db.engine import Database
from sitescim.services import events
from sitescim.settings import Settings
from sitescim.web.app import create_app
from tests.factories import make_settings
from tests.integration.feed.calls import emit, names, operator
from tests.world import FakeClock, World


def test_the_retention_is_30_days_unless_the_environment_says(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SITESCIM_EVENTS_RETENTION_DAYS", raising=False)
    assert make_settings("sqlite://").events_retention_days == 30
    monkeypatch.setenv("SITESCIM_EVENTS_RETENTION_DAYS", "7")
    assert make_settings("sqlite://").events_retention_days == 7
    monkeypatch.setenv("SITESCIM_EVENTS_RETENTION_DAYS", "0")
    with pytest.raises(ValueError, match="events_retention_days"):
        make_settings("sqlite://")


def _feed_after_upkeep(
    settings: Settings, database: Database, clock: FakeClock, world: World, days: int
) -> list[str]:
    """Start the app (its upkeep runs once at start) and read the feed once pruning ran."""
    _, headers = operator(world)
    app = create_app(
        make_settings(settings.database_url, events_retention_days=days),
        clock=clock,
        database=database,
    )
    with TestClient(app) as client:
        deadline = time.monotonic() + 10
        while True:
            shown = names(client.get("/api/v1/events", headers=headers).json())
            if len(shown) < 3 or time.monotonic() > deadline:
                return shown
            time.sleep(0.1)


def test_the_upkeep_prunes_events_past_the_retention_and_keeps_the_newest(
    settings: Settings, database: Database, clock: FakeClock, world: World
) -> None:
    emit(world, world.site_a, "old-1", "old-2")
    clock.advance(days=2)
    emit(world, world.site_a, "new")
    assert _feed_after_upkeep(settings, database, clock, world, days=1) == ["new"]


def test_events_within_the_retention_stay(clock: FakeClock, world: World) -> None:
    emit(world, world.site_a, "old-1", "old-2")
    clock.advance(days=29, hours=23)
    emit(world, world.site_a, "new")
    assert events.prune(world.runtime, timedelta(days=30)) == 0
    clock.advance(hours=2)
    assert events.prune(world.runtime, timedelta(days=30)) == 2
    page = events.read_feed(world.runtime, events.FeedQuery())
    assert [event["data"]["id"] for event in page.events] == ["new"]
