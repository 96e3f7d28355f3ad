"""The token-expiry banner over HTTP: on every page a Promaster of the site sees while
one of its live tokens expires within 30 days; never for anyone else."""

from __future__ import annotations

import re
from datetime import timedelta

from starlette.testclient import TestClient

from sitescim.db.engine import Database
from sitescim.domain.tokens import LIFETIME
from sitescim.services import sites
from sitescim.services import tokens as token_service
from tests.factories import make_token
from tests.integration.statements import explain, recorded_statements
from tests.integration.ui.forms import signed_in
from tests.world import START, FakeClock, World

EXPIRY = START + LIFETIME
BANNER = re.compile(r'<div class="notice warn expiry-banner" role="status".*?</div>', re.S)
PROMASTER_PAGES = ("/profile", "/people", "/groups", "/activity", "/profile/tokens/new")


def banner_of(client: TestClient, path: str) -> str | None:
    response = client.get(path)
    assert response.status_code == 200, (path, response.text)
    found = BANNER.search(response.text)
    return None if found is None else found.group(0)


def test_a_promaster_sees_the_banner_on_every_page_while_a_token_expires_within_30_days(
    client: TestClient, world: World, clock: FakeClock
) -> None:
    make_token(world.runtime, "site-a", world.promaster_a2, "Okta")  # Alan's: Ada sees it too
    clock.now = START + timedelta(days=100)
    make_token(world.runtime, "site-b", world.promaster_b, "Site B's token")

    clock.now = EXPIRY - timedelta(days=30, hours=1)
    signed_in(client, "site-a", world.promaster_a, world.password)
    assert banner_of(client, "/profile") is None

    clock.now = EXPIRY - timedelta(days=9, hours=12)
    signed_in(client, "site-a", world.promaster_a, world.password)
    for path in PROMASTER_PAGES:
        banner = banner_of(client, path)
        assert banner is not None, path
        assert "“Okta” expires in 10 days, on 2027-03-01" in banner
        assert '<a href="/profile#tokens">Go to Access Tokens</a>' in banner
    assert 'id="tokens"' in client.get("/profile").text  # where the link leads

    # Site-a's token is not site-b's news, and site-b's own is far from expiry.
    signed_in(client, "site-b", world.promaster_b, world.password)
    assert banner_of(client, "/profile") is None


def test_plain_users_and_analysts_never_see_the_banner(
    client: TestClient, world: World, clock: FakeClock
) -> None:
    make_token(world.runtime, "site-a", world.promaster_a, "Okta")
    clock.now = EXPIRY - timedelta(days=2)
    for email in (world.user_a, world.analyst_a):
        signed_in(client, "site-a", email, world.password)
        page = client.get("/profile")
        assert page.status_code == 200
        assert "expiry-banner" not in page.text
        assert "Okta" not in page.text


def test_the_banner_names_every_expiring_token_and_forgets_revoked_and_expired_ones(
    client: TestClient, world: World, clock: FakeClock
) -> None:
    okta = make_token(world.runtime, "site-a", world.promaster_a, "Okta")
    clock.now = START + timedelta(days=6)
    make_token(world.runtime, "site-a", world.promaster_a2, "Entra ID")

    clock.now = EXPIRY - timedelta(days=1, hours=2)
    signed_in(client, "site-a", world.promaster_a, world.password)
    banner = banner_of(client, "/people")
    assert banner is not None
    assert "2 SCIM access tokens expire soon" in banner
    assert "“Okta” in 2 days (2027-03-01)" in banner
    assert "“Entra ID” in 8 days (2027-03-07)" in banner

    with world.runtime.db.transaction(write=True) as session:
        actor = sites.actor_by_email(session, site_slug="site-a", email=world.promaster_a)
        token_service.revoke_token(session, world.runtime, actor, okta.id)
    banner = banner_of(client, "/people")
    assert banner is not None
    assert "Okta" not in banner
    assert "“Entra ID” expires in 8 days" in banner

    clock.now = EXPIRY + timedelta(days=6, hours=1)  # Entra ID expired too
    signed_in(client, "site-a", world.promaster_a, world.password)
    assert banner_of(client, "/people") is None


def test_the_banner_costs_one_indexed_query(
    client: TestClient, world: World, clock: FakeClock, database: Database
) -> None:
    make_token(world.runtime, "site-a", world.promaster_a, "Okta")
    clock.now = EXPIRY - timedelta(days=3)
    signed_in(client, "site-a", world.promaster_a, world.password)
    with recorded_statements() as sent:
        assert banner_of(client, "/groups") is not None
    reads = [s for s in sent if "FROM access_tokens" in s.sql]
    assert len(reads) == 1, [s.sql for s in reads]
    if database.dialect == "sqlite":  # PostgreSQL scans a table this small, rightly
        assert "USING INDEX ix_access_tokens_site_id" in explain(database.engine, reads[0])
