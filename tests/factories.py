"""Build settings, sites, users, tokens and SCIM request bodies for tests.

Sites, users and tokens go through the same services the product uses.
"""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient

from sitescim.services import sites
from sitescim.services import tokens as token_service
from sitescim.services.runtime import Runtime
from sitescim.settings import Settings

TEST_PEPPER = "test-pepper-" + "p" * 40
TEST_SESSION_SECRET = "test-session-" + "s" * 40
# Tests send bursts no identity provider would; the rate-limit tests set their own.
GENEROUS_RATE_LIMITS = {
    "SITESCIM_RATE_LIMIT_SCIM_PER_TOKEN": "100000/second",
    "SITESCIM_RATE_LIMIT_SCIM_PER_ADDRESS": "100000/second",
    "SITESCIM_RATE_LIMIT_SIGN_IN_PER_ADDRESS": "100000/minute",
    "SITESCIM_RATE_LIMIT_SIGN_IN_PER_ACCOUNT": "100000/minute",
}
PATCH_URN = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def make_settings(database_url: str, **changes: Any) -> Settings:
    """Settings with the test secrets and a cheap argon2 (tests hash many passwords)."""
    changes.setdefault("worker", False)  # a test that wants the worker starts it itself
    return Settings(
        database_url=database_url,
        token_pepper=TEST_PEPPER,
        session_secret=TEST_SESSION_SECRET,
        argon2_time_cost=1,
        argon2_memory_kib=1024,
        **changes,
    )


def make_site(runtime: Runtime, name: str, *, slug: str) -> str:
    with runtime.db.transaction(write=True) as session:
        return sites.create_site(session, runtime, name, slug=slug).id


def make_user(
    runtime: Runtime, site: str, email: str, privilege: str = "user", password: str | None = None
) -> str:
    with runtime.db.transaction(write=True) as session:
        return sites.create_user(
            session, runtime, site_slug=site, email=email, privilege=privilege, password=password
        ).id


def make_token(
    runtime: Runtime, site: str, email: str, description: str = "Entra ID", scope: str = "scim"
) -> token_service.IssuedToken:
    with runtime.db.transaction(write=True) as session:
        actor = sites.actor_by_email(session, site_slug=site, email=email)
        return token_service.issue_token(
            session, runtime, actor, description=description, scope=scope
        )


def sign_in(client: TestClient, site: str, email: str, password: str) -> None:
    response = client.post(
        "/api/v1/session", json={"site": site, "email": email, "password": password}
    )
    assert response.status_code == 200, response.text


def bearer(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


def patch_body(*operations: dict[str, Any]) -> dict[str, Any]:
    """A SCIM PatchOp request carrying ``operations`` in order."""
    return {"schemas": [PATCH_URN], "Operations": list(operations)}
