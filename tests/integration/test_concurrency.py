"""T3 under contention: however many creates race, one Promaster ends with one token.

The service-level race runs on both databases; the HTTP race runs against a
real uvicorn server on PostgreSQL, where requests truly run in parallel on
separate connections and only the database's unique index can decide.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlalchemy import func, select

from sitescim.db.engine import Database, make_engine
from sitescim.db.models import AccessToken, AuditEvent
from sitescim.domain.errors import ActiveTokenExistsError
from sitescim.services import sites
from sitescim.services import tokens as token_service
from sitescim.services.runtime import Runtime
from sitescim.settings import Settings
from sitescim.web.app import SESSION_COOKIE, create_app
from tests.databases import truncate_all
from tests.factories import make_settings, make_site, make_user
from tests.integration.servers import uvicorn_in_thread

RACERS = 20
BARRIER_TIMEOUT_SECONDS = 30


def _token_rows(database: Database) -> list[AccessToken]:
    with database.transaction(write=False) as session:
        return list(session.scalars(select(AccessToken)).all())


def _refused_creates(database: Database) -> int:
    with database.transaction(write=False) as session:
        query = select(func.count()).where(
            AuditEvent.action == "token.create", AuditEvent.outcome == "refused"
        )
        return int(session.scalar(query) or 0)


def test_concurrent_issues_for_one_promaster_yield_exactly_one_token(runtime, world):
    with runtime.db.transaction(write=False) as session:
        actor = sites.actor_by_email(session, site_slug="site-a", email=world.promaster_a)
    barrier = threading.Barrier(RACERS, timeout=BARRIER_TIMEOUT_SECONDS)

    def race(index: int) -> object:
        try:
            with runtime.db.transaction(write=True) as session:
                barrier.wait()
                return token_service.issue_token(
                    session, runtime, actor, description=f"racer {index}"
                )
        except ActiveTokenExistsError as error:
            return error

    with ThreadPoolExecutor(max_workers=RACERS) as pool:
        outcomes = list(pool.map(race, range(RACERS)))

    issued = [o for o in outcomes if isinstance(o, token_service.IssuedToken)]
    refused = [o for o in outcomes if isinstance(o, ActiveTokenExistsError)]
    assert len(issued) == 1, outcomes
    assert len(refused) == RACERS - 1, outcomes
    rows = _token_rows(runtime.db)
    assert len(rows) == 1
    assert rows[0].id == issued[0].id
    assert rows[0].active_holder_id == actor.user_id
    assert rows[0].revoked_at is None
    assert _refused_creates(runtime.db) == RACERS - 1


@pytest.fixture
def pg_only_settings(postgres_url: str) -> Settings:
    """PostgreSQL and nothing else: these tests have no SQLite variant to pass instead."""
    truncate_all(postgres_url)
    return make_settings(postgres_url)


@pytest.fixture
def pg_runtime(pg_only_settings: Settings) -> Iterator[Runtime]:
    database = Database(make_engine(pg_only_settings.database_url))
    assert database.dialect == "postgresql"
    yield Runtime.from_settings(pg_only_settings, database)
    database.dispose()


@pytest.mark.postgresql_only
def test_concurrent_http_creates_by_one_promaster_yield_one_201_and_409s(
    pg_only_settings, pg_runtime
):
    password = "correct horse battery staple"
    make_site(pg_runtime, "Site A", slug="site-a")
    ada_id = make_user(pg_runtime, "site-a", "ada@a.test", "promaster", password)

    with uvicorn_in_thread(create_app(pg_only_settings)) as base_url:
        with httpx.Client(base_url=base_url, timeout=30) as signer:
            signed_in = signer.post(
                "/api/v1/session",
                json={"site": "site-a", "email": "ada@a.test", "password": password},
            )
            assert signed_in.status_code == 200, signed_in.text
            cookie = signer.cookies[SESSION_COOKIE]

        barrier = threading.Barrier(RACERS, timeout=BARRIER_TIMEOUT_SECONDS)

        def create(index: int) -> httpx.Response:
            cookies = {SESSION_COOKIE: cookie}
            with httpx.Client(base_url=base_url, cookies=cookies, timeout=30) as client:
                barrier.wait()
                return client.post(
                    "/api/v1/tokens", json={"description": f"racer {index}", "scope": "scim"}
                )

        with ThreadPoolExecutor(max_workers=RACERS) as pool:
            responses = list(pool.map(create, range(RACERS)))

    statuses = sorted(response.status_code for response in responses)
    assert statuses == [201] + [409] * (RACERS - 1), [(r.status_code, r.text) for r in responses]
    created = next(r for r in responses if r.status_code == 201).json()
    for response in responses:
        if response.status_code == 409:
            assert "revoke the existing token first" in response.json()["detail"].lower()
            assert created["token"] not in response.text

    rows = _token_rows(pg_runtime.db)
    active = [row for row in rows if row.active_holder_id is not None]
    assert len(rows) == 1
    assert len(active) == 1
    assert active[0].id == created["id"]
    assert active[0].active_holder_id == ada_id
    assert _refused_creates(pg_runtime.db) == RACERS - 1
