"""The sign-in brake under concurrency and from several addresses (issue 10).

Every attempt claims its place in the database before a password is checked,
so a burst cannot check more passwords than the limit; a 401 means a password
was checked, a 429 that it was not. Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from starlette.testclient import TestClient

from sitescim.services import sessions
from sitescim.web.app import create_app
from tests.integration.servers import uvicorn_in_thread

ME = "/api/v1/session"
BURST = 40


def _burst(base_url: str, body: dict[str, str]) -> list[int]:
    def attempt(_: int) -> int:
        return httpx.post(base_url + ME, json=body, timeout=60).status_code

    with ThreadPoolExecutor(BURST) as pool:
        return list(pool.map(attempt, range(BURST)))


@pytest.mark.parametrize("email", ["ada@a.test", "nobody@a.test"])
def test_a_burst_of_wrong_passwords_checks_no_more_than_the_limit(
    settings, database, clock, world, email
):
    app = create_app(settings, clock=clock, database=database)
    body = {"site": "site-a", "email": email, "password": "wrong guess 123"}

    with uvicorn_in_thread(app) as base_url:
        statuses = _burst(base_url, body)

    assert statuses.count(401) == sessions.MAX_FAILURES_PER_ACCOUNT_AND_ADDRESS
    assert statuses.count(429) == BURST - sessions.MAX_FAILURES_PER_ACCOUNT_AND_ADDRESS


def _client_at(app, address: str) -> TestClient:
    return TestClient(app, client=(address, 50000))


def test_an_attacker_elsewhere_cannot_lock_the_owner_out(settings, database, clock, world):
    app = create_app(settings, clock=clock, database=database)
    wrong = {"site": "site-a", "email": world.promaster_a, "password": "wrong guess 123"}
    right = {**wrong, "password": world.password}
    with _client_at(app, "198.51.100.7") as attacker, _client_at(app, "203.0.113.9") as owner:
        for _ in range(sessions.MAX_FAILURES_PER_ACCOUNT_AND_ADDRESS):
            assert attacker.post(ME, json=wrong).status_code == 401
        assert attacker.post(ME, json=right).status_code == 429

        assert owner.post(ME, json=right).status_code == 200


def test_a_success_clears_the_owners_own_failures(settings, database, clock, world):
    app = create_app(settings, clock=clock, database=database)
    wrong = {"site": "site-a", "email": world.promaster_a, "password": "wrong guess 123"}
    right = {**wrong, "password": world.password}
    with _client_at(app, "203.0.113.9") as owner:
        for _ in range(sessions.MAX_FAILURES_PER_ACCOUNT_AND_ADDRESS - 1):
            assert owner.post(ME, json=wrong).status_code == 401
        assert owner.post(ME, json=right).status_code == 200
        for _ in range(sessions.MAX_FAILURES_PER_ACCOUNT_AND_ADDRESS):
            assert owner.post(ME, json=wrong).status_code == 401
        assert owner.post(ME, json=right).status_code == 429


def test_many_addresses_together_meet_the_accounts_ceiling(settings, database, clock, world):
    """NIST SP 800-63B: at most 100 failed attempts per account, however spread."""
    app = create_app(settings, clock=clock, database=database)
    wrong = {"site": "site-a", "email": world.promaster_a, "password": "wrong guess 123"}
    per_address = sessions.MAX_FAILURES_PER_ACCOUNT_AND_ADDRESS
    networks = sessions.MAX_FAILURES_PER_ACCOUNT // per_address
    for network in range(networks):
        with _client_at(app, f"192.0.2.{network + 1}") as client:
            for _ in range(per_address):
                assert client.post(ME, json=wrong).status_code == 401

    with _client_at(app, "203.0.113.200") as fresh:
        braked = fresh.post(ME, json={**wrong, "password": world.password})
    assert braked.status_code == 429
    clock.advance(minutes=15, seconds=1)
    with _client_at(app, "203.0.113.200") as fresh:
        assert fresh.post(ME, json={**wrong, "password": world.password}).status_code == 200


def test_one_ipv6_client_is_braked_by_its_whole_64(settings, database, clock, world):
    app = create_app(settings, clock=clock, database=database)
    wrong = {"site": "site-a", "email": world.promaster_a, "password": "wrong guess 123"}
    for index in range(sessions.MAX_FAILURES_PER_ACCOUNT_AND_ADDRESS):
        with _client_at(app, f"2001:db8:1:2::{index + 1:x}") as client:
            assert client.post(ME, json=wrong).status_code == 401

    with _client_at(app, "2001:db8:1:2:ffff::1") as same_network:
        assert same_network.post(ME, json=wrong).status_code == 429
    with _client_at(app, "2001:db8:1:3::1") as next_network:
        assert next_network.post(ME, json=wrong).status_code == 401
