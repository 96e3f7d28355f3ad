"""T8 across instances: two `sitescim serve` processes share one PostgreSQL.

Nothing correct may depend on process memory, so a token created through one
instance works on the other, and a revocation through one is refused by the
other on its very next request.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from sitescim.db.engine import Database, make_engine
from sitescim.services.runtime import Runtime
from tests.databases import truncate_all
from tests.factories import (
    TEST_PEPPER,
    TEST_SESSION_SECRET,
    bearer,
    make_settings,
    make_site,
    make_user,
)
from tests.integration.servers import serve_processes

pytestmark = [pytest.mark.slow, pytest.mark.postgresql_only]

PASSWORD = "correct horse battery staple"


@pytest.fixture
def shared_postgres(postgres_url: str) -> Iterator[Runtime]:
    """The run's PostgreSQL database, emptied, with a runtime of the test's own."""
    truncate_all(postgres_url)
    settings = make_settings(postgres_url)
    database = Database(make_engine(postgres_url))
    assert database.dialect == "postgresql"
    yield Runtime.from_settings(settings, database)
    database.dispose()


def test_revocation_through_one_process_is_refused_by_the_other_at_once(
    shared_postgres, postgres_url, tmp_path
):
    make_site(shared_postgres, "Site A", slug="site-a")
    make_user(shared_postgres, "site-a", "ada@a.test", "promaster", PASSWORD)
    env = {
        "SITESCIM_DATABASE_URL": postgres_url,
        "SITESCIM_TOKEN_PEPPER": TEST_PEPPER,
        "SITESCIM_SESSION_SECRET": TEST_SESSION_SECRET,
        "SITESCIM_ARGON2_TIME_COST": "1",
        "SITESCIM_ARGON2_MEMORY_KIB": "1024",
    }
    with serve_processes(
        ["A", "B"], env=env, workdir=tmp_path, extra_args=("--no-migrate",)
    ) as servers:
        a_url, b_url = servers["A"].base_url, servers["B"].base_url
        assert a_url != b_url
        with (
            httpx.Client(base_url=a_url, timeout=10) as a,
            httpx.Client(base_url=b_url, timeout=10) as b,
        ):
            signed_in = a.post(
                "/api/v1/session",
                json={"site": "site-a", "email": "ada@a.test", "password": PASSWORD},
            )
            assert signed_in.status_code == 200, signed_in.text
            created = a.post("/api/v1/tokens", json={"description": "Entra ID", "scope": "scim"})
            assert created.status_code == 201, created.text
            token = created.json()

            on_b = b.get("/scim/v2/ServiceProviderConfig", headers=bearer(token["token"]))
            assert on_b.status_code == 200, on_b.text

            revoked = a.delete(f"/api/v1/tokens/{token['id']}")
            assert revoked.status_code == 200, revoked.text
            assert revoked.json()["status"] == "revoked"

            after = b.get("/scim/v2/ServiceProviderConfig", headers=bearer(token["token"]))
            assert after.status_code == 401, after.text
            assert 'error="invalid_token"' in after.headers["www-authenticate"]
            again_on_a = a.get("/scim/v2/ServiceProviderConfig", headers=bearer(token["token"]))
            assert again_on_a.status_code == 401

        for server in servers.values():
            assert server.process.poll() is None, f"{server.name} died:\n{server.read_output()}"
