"""Build sites, users and tokens through the same services the product uses."""

from __future__ import annotations

from starlette.testclient import TestClient

from sitescim.services import sites
from sitescim.services import tokens as token_service
from sitescim.services.runtime import Runtime


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
