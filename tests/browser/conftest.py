"""One real server per module and Debian's chromium, driven by Playwright.

The browser is the system's (``/usr/bin/chromium``, installed by ``make test``
through apt-get), never a downloaded one. Screenshots go to
``build/screenshots/`` (not committed); with ``SITESCIM_DOCS_SCREENSHOTS=1`` the
README's set is copied into ``docs/screenshots/`` as well.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from sitescim.db import migrations
from sitescim.db.engine import Database, make_engine
from sitescim.services.runtime import Runtime
from sitescim.web.app import create_app
from tests.factories import (
    bearer,
    make_settings,
    make_site,
    make_token,
    make_user,
)
from tests.integration.servers import uvicorn_in_thread

CHROMIUM = Path(os.environ.get("SITESCIM_CHROMIUM", "/usr/bin/chromium"))
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "build" / "screenshots"
DOCS_SCREENSHOTS = ROOT / "docs" / "screenshots"
DOCS_SET = frozenset({"profile", "create-dialog", "one-time-display", "token-list"})
PASSWORD = "correct horse battery staple"
SITE = "acme"


@dataclass
class Server:
    base_url: str
    runtime: Runtime

    def scim_status(self, token: str) -> int:
        response = httpx.get(
            f"{self.base_url}/scim/v2/ServiceProviderConfig", headers=bearer(token)
        )
        return response.status_code


def _provision(base_url: str, token: str) -> None:
    """A few people and groups, through the SCIM API, for the directory pages."""
    people = [
        ("Grace", "Hopper"),
        ("Linus", "Torvalds"),
        ("Barbara", "Liskov"),
        ("Ken", "Thompson"),
    ]
    ids = []
    with httpx.Client(base_url=f"{base_url}/scim/v2", headers=bearer(token)) as scim:
        for given, family in people:
            email = f"{given.lower()}@acme.example.com"
            body = {
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": email,
                "name": {"givenName": given, "familyName": family},
                "emails": [{"value": email, "type": "work", "primary": True}],
            }
            response = scim.post("/Users", json=body)
            assert response.status_code == 201, response.text
            ids.append(response.json()["id"])
        for name, members in (("Engineering", ids), ("Kernel", ids[1:2])):
            body = {
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                "displayName": name,
                "members": [{"value": member} for member in members],
            }
            assert scim.post("/Groups", json=body).status_code == 201


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    path = tmp_path_factory.mktemp("browser") / "sitescim.db"
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    migrations.upgrade(engine)
    engine.dispose()
    settings = make_settings(url)
    database = Database(make_engine(url))
    runtime = Runtime.from_settings(settings, database)
    make_site(runtime, "Acme Corp", slug=SITE)
    for email, privilege in (
        ("ada@acme.test", "promaster"),
        ("alan@acme.test", "promaster"),
        ("kim@acme.test", "promaster"),
        ("lin@acme.test", "promaster"),
        ("uma@acme.test", "user"),
    ):
        make_user(runtime, SITE, email, privilege, PASSWORD)
    provisioner = make_token(runtime, SITE, "alan@acme.test", "Okta")
    try:
        with uvicorn_in_thread(create_app(settings, database=database)) as base_url:
            _provision(base_url, provisioner.value)
            yield Server(base_url=base_url, runtime=runtime)
    finally:
        database.dispose()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing: run 'apt-get install -y chromium' (make test does)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM))
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def shot() -> Callable[..., None]:
    """Save a screenshot under build/screenshots (and docs/, when asked to), secrets masked."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(page: Page, name: str, *, full_page: bool = False) -> None:
        target = SCREENSHOTS / f"{name}.png"
        # Token values are masked: a valid-looking token in the repository would
        # trip secret scanners, and screenshots are test output (no secrets there).
        page.screenshot(
            path=str(target),
            full_page=full_page,
            animations="disabled",
            mask=[page.locator("input.secret")],
            mask_color="#cbd5e1",
        )
        if name in DOCS_SET and os.environ.get("SITESCIM_DOCS_SCREENSHOTS") == "1":
            DOCS_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(target, DOCS_SCREENSHOTS / target.name)

    return take


def sign_in(page: Page, server: Server, email: str, password: str = PASSWORD) -> None:
    page.goto(f"{server.base_url}/sign-in?site={SITE}")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{server.base_url}/profile")
