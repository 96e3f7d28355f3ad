"""Signing in and out of the web UI: sessions kept server-side, fixation, CSRF, the brake.

Every test runs on SQLite and PostgreSQL (``db_url``). Sessions are shared with
the JSON management API, so some tests cross from one to the other.
"""

from __future__ import annotations

import hashlib
import logging

from sqlalchemy import select, update
from starlette.testclient import TestClient

from sitescim.db.models import AuditEvent, SignInFailure, User, WebSession
from sitescim.services import sessions
from sitescim.web.app import SESSION_COOKIE, create_app
from sitescim.web.ui.csrf import SIGN_IN_COOKIE
from tests.factories import sign_in as api_sign_in
from tests.integration.ui.forms import GENERIC_FAILURE, csrf_of, signed_in, ui_sign_in

ME = "/api/v1/session"
JAR_DOMAIN = "testserver.local"  # where the test client's jar files the server's cookies


def session_rows(database) -> list[WebSession]:
    with database.transaction(write=False) as session:
        rows = list(session.scalars(select(WebSession)).all())
        session.expunge_all()
        return rows


def cookie_attributes(response) -> list[list[str]]:
    return [
        [part.strip().lower() for part in header.split(";")]
        for header in response.headers.get_list("set-cookie")
    ]


def test_sign_in_starts_a_session_and_goes_to_my_profile(client, world):
    response = ui_sign_in(client, "site-a", world.promaster_a, world.password)

    assert response.status_code == 303
    assert response.headers["location"] == "/profile"
    session_cookie = next(c for c in cookie_attributes(response) if c[0].startswith(SESSION_COOKIE))
    assert {"httponly", "samesite=strict", "path=/"} <= set(session_cookie)
    page = client.get("/profile")
    assert page.status_code == 200
    assert world.promaster_a in page.text
    assert "My Profile" in page.text


def test_sign_in_failures_all_look_the_same_and_start_nothing(client, world, database):
    attempts = [
        ("site-a", world.promaster_a, "wrong password entirely"),
        ("site-a", "nobody@a.test", world.password),
        ("no-such-site", world.promaster_a, world.password),
        ("site-b", world.promaster_a, world.password),
    ]
    for site, email, password in attempts:
        response = ui_sign_in(client, site, email, password)
        assert response.status_code == 401, response.text
        assert GENERIC_FAILURE in response.text
        assert SESSION_COOKIE not in response.headers.get("set-cookie", "")
        assert password not in response.text
    assert session_rows(database) == []
    assert client.get("/profile", follow_redirects=False).status_code == 303


def test_sign_in_keeps_site_and_email_but_never_the_password(client, world):
    response = ui_sign_in(client, "site-a", world.promaster_a, "a wrong password here")

    assert 'value="site-a"' in response.text
    assert f'value="{world.promaster_a}"' in response.text
    assert "a wrong password here" not in response.text


def test_sign_in_without_its_form_token_is_refused(client, world, database):
    client.get("/sign-in")
    data = {"site": "site-a", "email": world.promaster_a, "password": world.password}

    missing = client.post("/sign-in", data=data, follow_redirects=False)
    forged = client.post("/sign-in", data={**data, "csrf": "0" * 64}, follow_redirects=False)

    for response in (missing, forged):
        assert response.status_code == 403
        assert "expired" in response.text
        assert SESSION_COOKIE not in response.headers.get("set-cookie", "")
    assert session_rows(database) == []


def test_sign_in_form_token_is_bound_to_its_own_cookie(client, world, settings, database, clock):
    """Login CSRF: a token taken from another browser's form does not fit this browser."""
    other = TestClient(create_app(settings, clock=clock, database=database))
    with other:
        foreign_token = csrf_of(other.get("/sign-in").text)
    client.get("/sign-in")

    response = client.post(
        "/sign-in",
        data={
            "csrf": foreign_token,
            "site": "site-a",
            "email": world.promaster_a,
            "password": world.password,
        },
        follow_redirects=False,
    )

    assert response.status_code == 403
    assert session_rows(database) == []


def test_sign_in_from_another_site_is_refused(client, world, database):
    page = client.get("/sign-in")
    response = client.post(
        "/sign-in",
        data={
            "csrf": csrf_of(page.text),
            "site": "site-a",
            "email": world.promaster_a,
            "password": world.password,
        },
        headers={"Sec-Fetch-Site": "cross-site"},
        follow_redirects=False,
    )

    assert response.status_code == 403
    assert session_rows(database) == []


def test_session_value_is_new_at_every_sign_in_and_the_planted_one_dies(
    client, world, settings, database, clock
):
    """Session fixation: a value an attacker holds and plants never becomes the victim's."""
    attacker = TestClient(create_app(settings, clock=clock, database=database))
    with attacker:
        assert ui_sign_in(attacker, "site-a", world.user_a, world.password).status_code == 303
        planted = attacker.cookies[SESSION_COOKIE]

        form_token = csrf_of(client.get("/sign-in").text)  # the victim opens the form...
        client.cookies.set(
            SESSION_COOKIE, planted, domain=JAR_DOMAIN
        )  # ...the attacker plants one...
        response = client.post(  # ...and the victim signs in
            "/sign-in",
            data={
                "csrf": form_token,
                "site": "site-a",
                "email": world.promaster_a,
                "password": world.password,
            },
            follow_redirects=False,
        )
        assert response.status_code == 303
        victims = client.cookies[SESSION_COOKIE]

        assert victims != planted
        assert client.get(ME).json()["email"] == world.promaster_a
        assert attacker.get(ME).status_code == 401
    assert [row.id_hash for row in session_rows(database)] == [
        hashlib.sha256(victims.encode()).hexdigest()
    ]


def test_an_invented_session_value_is_never_adopted(client, world, database):
    client.cookies.set(
        SESSION_COOKIE, "attacker-chosen-value-0000000000000000000000", domain=JAR_DOMAIN
    )
    assert client.get(ME).status_code == 401

    ui_sign_in(client, "site-a", world.promaster_a, world.password)

    assert client.cookies[SESSION_COOKIE] != "attacker-chosen-value-0000000000000000000000"
    hashes = {row.id_hash for row in session_rows(database)}
    assert hashlib.sha256(b"attacker-chosen-value-0000000000000000000000").hexdigest() not in hashes


def test_only_a_hash_of_the_session_value_is_stored(client, world, database):
    ui_sign_in(client, "site-a", world.promaster_a, world.password)
    value = client.cookies[SESSION_COOKIE]

    [row] = session_rows(database)

    assert row.id_hash == sessions.hash_session(value)
    with database.engine.connect() as connection:
        [stored] = connection.execute(select(WebSession.__table__)).mappings().all()
    assert all(value not in str(column) for column in stored.values())


def test_sign_out_ends_the_session_for_every_copy_of_the_cookie(
    client, world, settings, database, clock
):
    token = signed_in(client, "site-a", world.promaster_a, world.password)
    copy = TestClient(create_app(settings, clock=clock, database=database))
    with copy:
        copy.cookies.set(SESSION_COOKIE, client.cookies[SESSION_COOKIE], domain=JAR_DOMAIN)
        assert copy.get("/profile").status_code == 200

        response = client.post("/sign-out", data={"csrf": token}, follow_redirects=False)

        assert response.status_code == 303
        assert response.headers["location"] == "/sign-in?signed_out=1"
        assert copy.get("/profile", follow_redirects=False).status_code == 303
        assert copy.get(ME).status_code == 401
    assert session_rows(database) == []


def test_sign_out_without_the_form_token_is_refused(client, world, database):
    signed_in(client, "site-a", world.promaster_a, world.password)

    response = client.post("/sign-out", data={"csrf": "nope"}, follow_redirects=False)

    assert response.status_code == 403
    assert len(session_rows(database)) == 1
    assert client.get("/profile").status_code == 200


def test_api_and_web_ui_share_one_session(client, world):
    api_sign_in(client, "site-a", world.promaster_a, world.password)
    assert client.get("/profile").status_code == 200

    assert client.delete(ME).status_code == 204

    assert client.get("/profile", follow_redirects=False).status_code == 303


def test_deactivation_ends_the_session_at_once(client, world, database):
    signed_in(client, "site-a", world.promaster_a, world.password)
    with database.transaction(write=True) as session:
        session.execute(
            update(User).where(User.user_name == world.promaster_a).values(active=False)
        )

    response = client.get("/profile", follow_redirects=False)

    assert response.status_code == 303
    assert response.headers["location"].startswith("/sign-in")


def test_an_expired_session_sends_back_to_sign_in_remembering_the_page(client, world, database):
    signed_in(client, "site-a", world.promaster_a, world.password)
    with database.transaction(write=True) as session:
        row = session.scalars(select(WebSession)).one()
        row.expires_at = row.created_at

    response = client.get("/people?q=ad", follow_redirects=False)

    assert response.status_code == 303
    assert response.headers["location"] == "/sign-in?next=%2Fpeople%3Fq%3Dad&ended=1"
    assert client.get(ME).status_code == 401


def test_sign_in_returns_to_the_page_asked_for_but_never_off_site(client, world):
    to_people = ui_sign_in(client, "site-a", world.promaster_a, world.password, next="/people")
    assert to_people.headers["location"] == "/people"
    for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        response = ui_sign_in(client, "site-a", world.promaster_a, world.password, next=target)
        assert response.headers["location"] == "/profile", target


def test_signed_out_visitors_are_sent_to_sign_in(client, world):
    response = client.get("/profile", follow_redirects=False)

    assert response.status_code == 303
    assert response.headers["location"] == "/sign-in?next=%2Fprofile"
    assert client.get("/", follow_redirects=False).headers["location"] == "/sign-in"


def test_failed_sign_ins_are_braked_per_account_even_with_the_right_password(
    client, world, clock, database
):
    for _ in range(sessions.MAX_FAILURES_PER_ACCOUNT_AND_ADDRESS):
        assert ui_sign_in(client, "site-a", world.promaster_a, "wrong guess 123").status_code == 401

    braked = ui_sign_in(client, "site-a", world.promaster_a, world.password)

    assert braked.status_code == 429
    assert "Too many failed sign-in attempts" in braked.text
    assert 0 < int(braked.headers["retry-after"]) <= 15 * 60
    assert SESSION_COOKIE not in braked.headers.get("set-cookie", "")
    other_account = ui_sign_in(client, "site-a", world.promaster_a2, world.password)
    assert other_account.status_code == 303

    clock.advance(minutes=15, seconds=1)
    assert ui_sign_in(client, "site-a", world.promaster_a, world.password).status_code == 303


def test_the_brake_is_the_same_for_an_account_that_does_not_exist(client, world):
    for _ in range(sessions.MAX_FAILURES_PER_ACCOUNT_AND_ADDRESS):
        assert ui_sign_in(client, "site-a", "nobody@a.test", "guess number one").status_code == 401

    assert ui_sign_in(client, "site-a", "nobody@a.test", "guess number one").status_code == 429


def test_the_brake_holds_on_every_instance(client, world, settings, database, clock):
    """Counted in the database, so a second instance behind the balancer brakes too."""
    for _ in range(sessions.MAX_FAILURES_PER_ACCOUNT_AND_ADDRESS):
        ui_sign_in(client, "site-a", world.promaster_a, "wrong guess 123")

    second = TestClient(create_app(settings, clock=clock, database=database))
    with second:
        response = ui_sign_in(second, "site-a", world.promaster_a, world.password)

    assert response.status_code == 429


def test_the_brake_counts_per_client_address_across_accounts(client, world, database):
    for index in range(sessions.MAX_FAILURES_PER_ADDRESS):
        ui_sign_in(client, "site-a", f"guess{index}@a.test", "some password")

    response = ui_sign_in(client, "site-a", world.promaster_a, world.password)

    assert response.status_code == 429
    with database.transaction(write=False) as session:
        keys = session.scalars(select(SignInFailure.key)).all()
    assert all(len(key) == 64 and "@" not in key for key in keys)


def test_the_management_api_sign_in_is_braked_too(client, world):
    body = {"site": "site-a", "email": world.promaster_a, "password": "wrong guess 123"}
    for _ in range(sessions.MAX_FAILURES_PER_ACCOUNT_AND_ADDRESS):
        assert client.post(ME, json=body).status_code == 401

    response = client.post(ME, json={**body, "password": world.password})

    assert response.status_code == 429
    assert "retry-after" in response.headers


def test_failed_sign_ins_are_audited_without_what_was_typed(client, world, database):
    ui_sign_in(client, "site-a", "typo-in-the-email@a.test", "my secret password")

    with database.transaction(write=False) as session:
        rows = session.scalars(select(AuditEvent).where(AuditEvent.action == "auth.failed")).all()
        dumped = repr([(r.actor_label, r.detail, r.message, r.dedup_key) for r in rows])
        site_ids = {row.site_id for row in rows}
    assert rows
    assert site_ids == {world.site_a}
    assert "typo-in-the-email" not in dumped
    assert "my secret password" not in dumped


def test_sign_in_form_cookie_is_httponly_strict_and_scoped(client):
    page = client.get("/sign-in")

    [attributes] = [c for c in cookie_attributes(page) if c[0].startswith(SIGN_IN_COOKIE)]
    assert {"httponly", "samesite=strict", "path=/sign-in"} <= set(attributes)


def test_no_password_or_session_value_is_logged(client, world, caplog):
    with caplog.at_level(logging.DEBUG):
        ui_sign_in(client, "site-a", world.promaster_a, world.password)
        value = client.cookies[SESSION_COOKIE]
        client.get("/profile")
        ui_sign_in(client, "site-a", world.promaster_a, "wrong guess for the log")
    logged = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert caplog.records
    assert world.password not in logged
    assert "wrong guess for the log" not in logged
    assert value not in logged
