"""The world tests act in: the fake clock, and two sites with their people."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sitescim.services.runtime import Runtime
from tests.factories import make_site, make_user

START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


class FakeClock:
    """The one fake we allow: time, so expiry and throttling can be tested."""

    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class World:
    """Two sites, each with Promasters and a plain user, for tests to act in."""

    runtime: Runtime
    site_a: str
    site_b: str
    promaster_a: str = "ada@a.test"
    promaster_a2: str = "alan@a.test"
    user_a: str = "uma@a.test"
    analyst_a: str = "ann@a.test"
    promaster_b: str = "bob@b.test"
    password: str = "correct horse battery staple"


def make_world(runtime: Runtime) -> World:
    """Sites site-a and site-b and their people, made through the services."""
    site_a = make_site(runtime, "Site A", slug="site-a")
    site_b = make_site(runtime, "Site B", slug="site-b")
    w = World(runtime=runtime, site_a=site_a, site_b=site_b)
    make_user(runtime, "site-a", w.promaster_a, "promaster", w.password)
    make_user(runtime, "site-a", w.promaster_a2, "promaster", w.password)
    make_user(runtime, "site-a", w.user_a, "user", w.password)
    make_user(runtime, "site-a", w.analyst_a, "business_analyst", w.password)
    make_user(runtime, "site-b", w.promaster_b, "promaster", w.password)
    return w
