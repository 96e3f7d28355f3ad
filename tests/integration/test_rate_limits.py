"""Rate limits (issue 10): per token and address on SCIM, per address and account on
sign-in; 429 with Retry-After; one budget across instances through Redis; and a
Redis outage lets requests through instead of failing them.
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from collections.abc import Iterator

import pytest
import redis
from starlette.testclient import TestClient

from sitescim.domain.errors import InvalidInputError
from sitescim.services import sites
from sitescim.settings import Settings
from sitescim.web.app import create_app
from tests.factories import bearer, make_token
from tests.integration.ui.forms import ui_sign_in

REDIS_URL = os.environ.get("SITESCIM_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
SCIM_CONFIG = "/scim/v2/ServiceProviderConfig"
ERROR_URN = "urn:ietf:params:scim:api:messages:2.0:Error"
ME = "/api/v1/session"


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    """A key prefix of this test's own in the shared Redis, deleted after."""
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.RedisError as error:
        if os.environ.get("CI") == "true":
            pytest.fail(f"Redis not reachable at {REDIS_URL}: {error} (CI=true requires it)")
        pytest.skip(f"Redis not reachable at {REDIS_URL}: {type(error).__name__}")
    prefix = f"sitescim-test-{uuid.uuid4().hex[:12]}"
    try:
        yield prefix
    finally:
        for key in client.scan_iter(f"{prefix}*"):
            client.delete(key)
        client.close()


def _app(settings: Settings, database, clock, **changes: object):
    return create_app(settings.model_copy(update=changes), clock=clock, database=database)


def _assert_scim_429(response) -> None:
    assert response.status_code == 429
    assert 0 < int(response.headers["retry-after"]) <= 60
    body = response.json()
    assert body["schemas"] == [ERROR_URN]
    assert body["status"] == "429"
    assert response.headers["content-type"].startswith("application/scim+json")


def test_a_token_over_its_budget_gets_429_with_retry_after(settings, database, clock, world):
    token = make_token(world.runtime, "site-a", world.promaster_a).value
    other = make_token(world.runtime, "site-b", world.promaster_b).value
    app = _app(settings, database, clock, rate_limit_scim_per_token="3/minute")
    with TestClient(app) as client:
        for _ in range(3):
            assert client.get(SCIM_CONFIG, headers=bearer(token)).status_code == 200

        refused = client.get(SCIM_CONFIG, headers=bearer(token))
        _assert_scim_429(refused)
        assert token not in refused.text
        assert client.get(SCIM_CONFIG, headers=bearer(other)).status_code == 200


def test_a_site_may_have_its_own_scim_limit(settings, database, clock, world):
    token = make_token(world.runtime, "site-a", world.promaster_a).value
    other = make_token(world.runtime, "site-b", world.promaster_b).value
    with world.runtime.db.transaction(write=True) as session:
        sites.set_scim_rate_limit(session, "site-a", "2/minute")
    app = _app(settings, database, clock, rate_limit_scim_per_token="1000/minute")
    with TestClient(app) as client:
        assert [client.get(SCIM_CONFIG, headers=bearer(token)).status_code for _ in range(3)] == [
            200,
            200,
            429,
        ]
        assert [client.get(SCIM_CONFIG, headers=bearer(other)).status_code for _ in range(3)] == [
            200
        ] * 3


def test_a_site_limit_must_be_in_the_limits_notation(world):
    with world.runtime.db.transaction(write=True) as session:
        with pytest.raises(InvalidInputError):
            sites.set_scim_rate_limit(session, "site-a", "lots please")
        assert sites.set_scim_rate_limit(session, "site-a", " 5/second ") == "5/second"
        assert sites.set_scim_rate_limit(session, "site-a", None) is None


def test_one_address_is_limited_before_any_token_is_looked_up(settings, database, clock, world):
    app = _app(settings, database, clock, rate_limit_scim_per_address="2/minute")
    with TestClient(app) as client:
        guesses = [client.get(SCIM_CONFIG, headers=bearer("sscim_guess")) for _ in range(3)]
    assert [response.status_code for response in guesses] == [401, 401, 429]
    _assert_scim_429(guesses[2])


def test_sign_in_is_limited_per_account_from_one_address(settings, database, clock, world):
    app = _app(settings, database, clock, rate_limit_sign_in_per_account="2/minute")
    body = {"site": "site-a", "email": world.promaster_a, "password": "wrong guess 123"}
    with TestClient(app, client=("198.51.100.7", 1)) as attacker:
        statuses = [attacker.post(ME, json=body).status_code for _ in range(3)]
        refused = attacker.post(ME, json=body)
    assert statuses == [401, 401, 429]
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) > 0
    with TestClient(app, client=("203.0.113.9", 1)) as owner:
        assert owner.post(ME, json={**body, "password": world.password}).status_code == 200


def test_sign_in_is_limited_per_address_across_accounts(settings, database, clock, world):
    app = _app(settings, database, clock, rate_limit_sign_in_per_address="3/minute")
    with TestClient(app) as client:
        statuses = [
            client.post(
                ME, json={"site": "site-a", "email": f"u{i}@a.test", "password": "x" * 12}
            ).status_code
            for i in range(4)
        ]
        page = ui_sign_in(client, "site-a", world.promaster_a, world.password)
    assert statuses == [401, 401, 401, 429]
    assert page.status_code == 429
    assert "Too many sign-in attempts" in page.text
    assert int(page.headers["retry-after"]) > 0


def test_two_instances_share_one_budget_through_redis(
    settings, database, clock, world, redis_prefix
):
    token = make_token(world.runtime, "site-a", world.promaster_a).value
    shared = {
        "redis_url": REDIS_URL,
        "rate_limit_key_prefix": redis_prefix,
        "rate_limit_scim_per_token": "4/minute",
    }
    first = TestClient(_app(settings, database, clock, **shared))
    second = TestClient(_app(settings, database, clock, **shared))
    with first, second:
        statuses = [
            (first if index % 2 == 0 else second).get(SCIM_CONFIG, headers=bearer(token))
            for index in range(6)
        ]
    assert [response.status_code for response in statuses] == [200, 200, 200, 200, 429, 429]
    _assert_scim_429(statuses[4])


def test_instances_without_redis_count_alone(settings, database, clock, world):
    """The contrast to the test above: in memory, each instance has its own budget."""
    token = make_token(world.runtime, "site-a", world.promaster_a).value
    first = TestClient(_app(settings, database, clock, rate_limit_scim_per_token="2/minute"))
    second = TestClient(_app(settings, database, clock, rate_limit_scim_per_token="2/minute"))
    with first, second:
        statuses = [
            (first if index % 2 == 0 else second).get(SCIM_CONFIG, headers=bearer(token))
            for index in range(4)
        ]
    assert [response.status_code for response in statuses] == [200] * 4


def test_a_redis_outage_lets_scim_through_with_one_log_line(
    settings, database, clock, world, caplog
):
    token = make_token(world.runtime, "site-a", world.promaster_a).value
    closed_port = "redis://127.0.0.1:1/0"
    app = _app(
        settings, database, clock, redis_url=closed_port, rate_limit_scim_per_token="1/minute"
    )
    logs = caplog.at_level(logging.WARNING, logger="sitescim.web.ratelimits")
    with logs, TestClient(app) as client:
        statuses = [client.get(SCIM_CONFIG, headers=bearer(token)).status_code for _ in range(20)]
    assert statuses == [200] * 20
    outage_lines = [r for r in caplog.records if "rate-limit storage unavailable" in r.message]
    assert len(outage_lines) == 1


def test_the_cli_sets_and_resets_a_sites_limit(settings, world, database):
    from tests.integration.cli.calls import make_cli, ok

    cli = make_cli(
        database_url=settings.database_url,
        pepper=settings.token_pepper.get_secret_value(),
        session_secret=settings.session_secret.get_secret_value(),
    )

    assert json.loads(ok(cli("site", "rate-limit", "site-a", "20/second", "--json"))) == {
        "slug": "site-a",
        "scim_rate_limit": "20/second",
    }
    refused = cli("site", "rate-limit", "site-a", "plenty")
    assert refused.exit_code == 1
    assert "scim_rate_limit" in refused.stderr
    reset = json.loads(ok(cli("site", "rate-limit", "site-a", "--json")))
    assert reset["scim_rate_limit"] is None
