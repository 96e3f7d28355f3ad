"""The token-expiry banner in a real browser: visible to a Promaster on every page,
announced politely (role=status), and its link reaches the site's tokens.

A server of its own: its clock (the one fake allowed) stands ten days before the
site's token expires.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, expect
from playwright.sync_api import Error as PlaywrightError

from sitescim.db import migrations
from sitescim.db.engine import Database, make_engine
from sitescim.domain.tokens import LIFETIME
from sitescim.services.runtime import Runtime
from sitescim.web.app import create_app
from tests.browser.conftest import PASSWORD, SITE, Server, sign_in
from tests.factories import make_settings, make_site, make_token, make_user
from tests.integration.servers import uvicorn_in_thread
from tests.world import START, FakeClock

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def near_expiry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    path = tmp_path_factory.mktemp("banner") / "sitescim.db"
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    migrations.upgrade(engine)
    engine.dispose()
    settings = make_settings(url)
    database = Database(make_engine(url))
    clock = FakeClock()
    runtime = Runtime.from_settings(settings, database, clock=clock)
    make_site(runtime, "Acme Corp", slug=SITE)
    make_user(runtime, SITE, "ada@acme.test", "promaster", PASSWORD)
    make_user(runtime, SITE, "uma@acme.test", "user", PASSWORD)
    make_token(runtime, SITE, "ada@acme.test", "Okta")
    clock.now = START + LIFETIME - timedelta(days=9, hours=12)
    try:
        app = create_app(settings, clock=clock, database=database)
        with uvicorn_in_thread(app) as base_url:
            yield Server(base_url=base_url, runtime=runtime)
    finally:
        database.dispose()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    tab = context.new_page()
    errors: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(message.text)

    def on_error(error: PlaywrightError) -> None:
        errors.append(str(error))

    tab.on("console", on_console)
    tab.on("pageerror", on_error)
    yield tab
    context.close()
    assert errors == []


def test_the_banner_is_visible_and_its_link_reaches_the_tokens(
    page: Page, near_expiry: Server, shot: Callable[..., None]
) -> None:
    sign_in(page, near_expiry, "ada@acme.test")
    page.goto(f"{near_expiry.base_url}/people")
    banner = page.get_by_role("status").filter(has_text="expires in 10 days")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("“Okta”")
    shot(page, "expiry-banner")

    banner.get_by_role("link", name="Go to Access Tokens").click()
    page.wait_for_url(re.compile(r"/profile#tokens$"))
    expect(page.get_by_role("heading", name="Access Tokens")).to_be_in_viewport()
    expect(page.get_by_role("row", name=re.compile("Okta"))).to_contain_text("10 days left")
    expect(page.get_by_role("status").filter(has_text="expires in 10 days")).to_be_visible()


def test_a_plain_user_sees_no_banner(page: Page, near_expiry: Server) -> None:
    sign_in(page, near_expiry, "uma@acme.test")
    expect(page.get_by_role("heading", name="My Profile")).to_be_visible()
    expect(page.locator("#token-expiry-banner")).to_have_count(0)
