"""Driving the web UI's forms over HTTP, as a browser without JavaScript would."""

from __future__ import annotations

import re

from starlette.testclient import TestClient

from sitescim.web.app import SESSION_COOKIE

CSRF = re.compile(r'name="csrf" value="([^"]*)"')
GENERIC_FAILURE = "The site, e-mail or password is not correct."


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found is not None, "no CSRF field in the page"
    return found.group(1)


def ui_sign_in(client: TestClient, site: str, email: str, password: str, **extra: str):
    """Fetch the sign-in form, then post it with its token; the response is not followed.

    Any session the client holds is forgotten first: a signed-in visitor is sent
    on from the sign-in page instead of being shown the form.
    """
    client.cookies.delete(SESSION_COOKIE)
    page = client.get("/sign-in")
    assert page.status_code == 200, page.text
    data = {"csrf": csrf_of(page.text), "site": site, "email": email, "password": password}
    data.update(extra)
    return client.post("/sign-in", data=data, follow_redirects=False)


def signed_in(client: TestClient, site: str, email: str, password: str) -> str:
    """Sign in and return the CSRF token of the signed-in pages."""
    response = ui_sign_in(client, site, email, password)
    assert response.status_code == 303, response.text
    profile = client.get("/profile")
    assert profile.status_code == 200, profile.text
    return csrf_of(profile.text)


def create_token_form(
    client: TestClient, token: str, description: str = "Entra ID", **headers: str
):
    return client.post(
        "/profile/tokens",
        data={"csrf": token, "description": description, "scope": "scim"},
        headers=headers,
        follow_redirects=False,
    )


def token_value_in(html: str) -> str:
    found = re.search(r'value="(sscim_[0-9A-Za-z]+)"', html)
    assert found is not None, "no token value in the page"
    return found.group(1)
