"""Bad sign-ins all look the same; session cookies are locked down (SPEC T4, section 3)."""

from __future__ import annotations

from sqlalchemy import update
from starlette.testclient import TestClient

from sitescim.db.models import User
from sitescim.web.app import SESSION_COOKIE, create_app
from tests.factories import make_user
from tests.integration.bad_input.calls import GENERIC_SIGN_IN_FAILURE, TOKENS, assert_api_error


def _sign_in(client, site, email, password):
    return client.post("/api/v1/session", json={"site": site, "email": email, "password": password})


def test_sign_in_failures_all_look_the_same(client, world, database):
    failures = [
        _sign_in(client, "site-a", world.promaster_a, "wrong password entirely"),
        _sign_in(client, "site-a", "nobody@a.test", world.password),
        _sign_in(client, "no-such-site", world.promaster_a, world.password),
        _sign_in(client, "site-b", world.promaster_a, world.password),  # right user, wrong site
    ]
    for response in failures:
        assert response.status_code == 401, response.text
        assert response.json() == {"detail": GENERIC_SIGN_IN_FAILURE}
        assert SESSION_COOKIE not in response.headers.get("set-cookie", "")
    assert client.get("/api/v1/session").status_code == 401


def test_sign_in_of_a_user_without_password_or_deactivated_looks_the_same(client, world, database):
    make_user(world.runtime, "site-a", "nopass@a.test", "promaster", None)
    with database.transaction(write=True) as session:
        session.execute(
            update(User).where(User.user_name == world.promaster_a2).values(active=False)
        )
    for email, password in (
        ("nopass@a.test", ""),
        ("nopass@a.test", "anything at all"),
        (world.promaster_a2, world.password),
    ):
        response = _sign_in(client, "site-a", email, password)
        assert response.status_code == 401, response.text
        assert response.json() == {"detail": GENERIC_SIGN_IN_FAILURE}


def test_sign_in_with_oversized_fields_is_a_clear_400(client, world):
    response = _sign_in(client, "site-a", world.promaster_a, "p" * 5000)
    assert_api_error(response, 400, field="password")
    response = _sign_in(client, "s" * 500, world.promaster_a, world.password)
    assert_api_error(response, 400, field="site")


def test_sign_in_as_form_is_unsupported_media_type(client, world):
    response = client.post(
        "/api/v1/session",
        data={"site": "site-a", "email": world.promaster_a, "password": world.password},
    )
    assert_api_error(response, 415)
    assert SESSION_COOKIE not in response.headers.get("set-cookie", "")


def test_session_cookie_is_httponly_and_samesite_strict(client, world):
    response = _sign_in(client, "site-a", world.promaster_a, world.password)
    assert response.status_code == 200
    cookie = response.headers["set-cookie"]
    attributes = [part.strip().lower() for part in cookie.split(";")]
    assert attributes[0].startswith(f"{SESSION_COOKIE}=")
    assert "httponly" in attributes
    assert "samesite=strict" in attributes
    assert world.password not in cookie


def test_session_cookie_is_secure_when_configured(settings, database, clock, world):
    secure = settings.model_copy(update={"cookie_secure": True})
    app = create_app(secure, clock=clock, database=database)
    with TestClient(app, base_url="https://testserver") as https_client:
        response = _sign_in(https_client, "site-a", world.promaster_a, world.password)
    assert response.status_code == 200
    attributes = [part.strip().lower() for part in response.headers["set-cookie"].split(";")]
    assert "secure" in attributes
    assert "httponly" in attributes
    assert "samesite=strict" in attributes


def test_forged_session_cookie_is_401(client, world):
    client.cookies.set(SESSION_COOKIE, "eyJ1aWQiOiAiYWRtaW4ifQ==.forged.signature")
    response = client.post(TOKENS, json={"description": "Entra ID"})
    assert_api_error(response, 401)
