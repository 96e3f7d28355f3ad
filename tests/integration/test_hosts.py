"""The Host header reaches absolute URLs only when its name is allowed."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from starlette.testclient import TestClient

from sitescim.db.engine import Database
from sitescim.settings import Settings
from sitescim.web.app import create_app
from tests.integration.servers import uvicorn_in_thread
from tests.world import FakeClock

USER = "urn:ietf:params:scim:schemas:core:2.0:User"


def _client(settings: Settings, database: Database, clock: FakeClock, **changes: object):
    return TestClient(
        create_app(settings.model_copy(update=changes), clock=clock, database=database)
    )


def _create(
    client: TestClient | httpx.Client, auth: dict[str, str], host: str, name: str
) -> httpx.Response:
    response = client.post(
        "/scim/v2/Users",
        json={"schemas": [USER], "userName": name},
        headers={**auth, "Host": host},
    )
    assert response.status_code == 201, response.text
    return response


@pytest.fixture
def plain(settings: Settings, database: Database, clock: FakeClock) -> Iterator[TestClient]:
    with _client(settings, database, clock) as client:
        yield client


def test_an_unknown_host_is_not_reflected_into_locations(
    plain: TestClient, auth_a: dict[str, str]
) -> None:
    created = _create(plain, auth_a, "evil.example", "a@a.test")
    assert created.headers["Location"].startswith("http://testserver/scim/v2/Users/")
    assert created.json()["meta"]["location"] == created.headers["Location"]
    found = plain.get("/scim/v2/Users", headers={**auth_a, "Host": "evil.example:8443"})
    assert "evil" not in found.text


def test_loopback_names_are_reflected(plain: TestClient, auth_a: dict[str, str]) -> None:
    created = _create(plain, auth_a, "localhost:8000", "b@a.test")
    assert created.headers["Location"].startswith("http://localhost:8000/scim/v2/Users/")


def test_an_allowed_host_is_reflected(
    settings: Settings, database: Database, clock: FakeClock, auth_a: dict[str, str]
) -> None:
    with _client(settings, database, clock, allowed_hosts=["scim.acme.example"]) as client:
        created = _create(client, auth_a, "SCIM.acme.example:8443", "c@a.test")
        other = _create(client, auth_a, "evil.example", "d@a.test")
    assert created.headers["Location"].lower().startswith("http://scim.acme.example:8443/scim/v2/")
    assert other.headers["Location"].startswith("http://testserver/scim/v2/Users/")


def test_the_public_base_url_wins_over_any_host(
    settings: Settings, database: Database, clock: FakeClock, auth_a: dict[str, str]
) -> None:
    public = "https://scim.acme.example/sitescim"
    with _client(settings, database, clock, public_base_url=public) as client:
        created = _create(client, auth_a, "evil.example", "e@a.test")
    assert created.headers["Location"].startswith(f"{public}/scim/v2/Users/")


def test_a_real_server_reflects_its_own_address_instead_of_a_forged_host(
    settings: Settings, auth_a: dict[str, str]
) -> None:
    with (
        uvicorn_in_thread(create_app(settings)) as base_url,
        httpx.Client(base_url=base_url) as client,
    ):
        created = _create(client, auth_a, "evil.example", "f@a.test")
    assert created.headers["Location"].startswith(f"{base_url}/scim/v2/Users/")
