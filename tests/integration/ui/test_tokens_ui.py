"""My Profile > Access Tokens over HTTP, as a browser without JavaScript uses it.

Create, the one-time display, the list, revoke with confirmation; refusals for
non-Promasters, forged forms and a second active token. SQLite and PostgreSQL.
"""

from __future__ import annotations

import html
import logging
import re

from sqlalchemy import select, update

from sitescim.db.models import AccessToken, AuditEvent, User
from tests.factories import bearer, make_token
from tests.integration.ui.forms import create_token_form, csrf_of, signed_in, token_value_in

SCP = "/scim/v2/ServiceProviderConfig"


def token_rows(database) -> list[AccessToken]:
    with database.transaction(write=False) as session:
        rows = list(session.scalars(select(AccessToken)).all())
        session.expunge_all()
        return rows


def row_of(html: str, description: str) -> str:
    """The table row of one token, by its description."""
    for row in re.findall(r"<tr data-token-id=.*?</tr>", html, flags=re.S):
        if f">{description}</th>" in row:
            return row
    raise AssertionError(f"no row for {description!r}")


def test_promaster_creates_a_token_sees_it_once_and_it_works_for_scim(client, world, database):
    token = signed_in(client, "site-a", world.promaster_a, world.password)

    created = create_token_form(client, token, "Entra ID")

    assert created.status_code == 201
    assert created.headers["cache-control"] == "no-store"
    value = token_value_in(created.text)
    assert "It will not be shown again" in created.text
    assert "share it only through a secure channel" in created.text
    assert client.get(SCP, headers=bearer(value)).status_code == 200
    [row] = token_rows(database)
    assert row.description == "Entra ID"
    assert f"/profile?created={row.id}#tokens" in created.text
    for page in ("/profile", f"/profile?created={row.id}", "/profile/tokens/new", "/activity"):
        assert value not in client.get(page).text, page
    assert "Entra ID" in row_of(client.get("/profile").text, "Entra ID")


def test_the_list_shows_every_column_of_every_site_token(client, world):
    make_token(world.runtime, "site-a", world.promaster_a2, "Okta")
    make_token(world.runtime, "site-b", world.promaster_b, "Site B's token")
    signed_in(client, "site-a", world.promaster_a, world.password)

    page = client.get("/profile").text

    row = row_of(page, "Okta")
    for expected in ("SCIM", world.promaster_a2, "2026-03-01", "2027-03-01", "365 days left"):
        assert expected in row
    assert "Never" in row
    assert ">Active<" in row
    assert 'href="/profile/tokens/' in row
    assert "Site B's token" not in page


def test_days_left_are_highlighted_within_30_days_and_expiry_is_shown(client, world, clock):
    make_token(world.runtime, "site-a", world.promaster_a2, "Okta")
    signed_in(client, "site-a", world.promaster_a, world.password)

    clock.advance(days=334)
    early = row_of(client.get("/profile").text, "Okta")
    clock.advance(days=6)
    soon = row_of(client.get("/profile").text, "Okta")
    clock.advance(days=30)
    expired = row_of(client.get("/profile").text, "Okta")

    assert "31 days left" in early
    assert "soon" not in early
    assert "Expires soon: 25 days left" in soon
    assert 'class="badge warn soon"' in soon
    assert ">Expired<" in expired
    assert "days left" not in expired


def test_a_creator_who_is_no_longer_a_promaster_is_marked(client, world, database):
    make_token(world.runtime, "site-a", world.promaster_a2, "Okta")
    with database.transaction(write=True) as session:
        session.execute(
            update(User).where(User.user_name == world.promaster_a2).values(privilege="user")
        )
    signed_in(client, "site-a", world.promaster_a, world.password)

    assert "no longer a Promaster" in row_of(client.get("/profile").text, "Okta")


def test_second_token_is_explained_before_it_is_tried(client, world, database):
    make_token(world.runtime, "site-a", world.promaster_a, "Entra ID")
    token = signed_in(client, "site-a", world.promaster_a, world.password)

    profile = client.get("/profile").text
    form_page = client.get("/profile/tokens/new")

    assert 'aria-disabled="true"' in profile
    assert 'aria-describedby="create-token-blocked"' in profile
    explanation = "You already hold an active token, “Entra ID”. Delete (revoke) it before"
    assert explanation in profile
    assert 'href="/profile/tokens/new"' not in profile
    assert explanation in form_page.text
    assert 'name="description"' not in form_page.text

    forced = create_token_form(client, token, "Okta")

    assert forced.status_code == 409
    assert explanation in forced.text
    assert "sscim_" not in forced.text
    assert len(token_rows(database)) == 1


def test_a_blank_description_shows_the_form_again_with_the_field_error(client, world, database):
    token = signed_in(client, "site-a", world.promaster_a, world.password)

    response = create_token_form(client, token, "   ")
    too_long = create_token_form(client, token, "x" * 101)

    assert response.status_code == 400
    assert "is required" in response.text
    assert 'aria-invalid="true"' in response.text
    assert too_long.status_code == 400
    assert "at most 100 characters" in too_long.text
    assert token_rows(database) == []


def test_an_unknown_scope_is_refused(client, world, database):
    token = signed_in(client, "site-a", world.promaster_a, world.password)

    response = client.post(
        "/profile/tokens", data={"csrf": token, "description": "Entra ID", "scope": "admin"}
    )

    assert response.status_code == 400
    assert "must be one of: scim" in response.text
    assert token_rows(database) == []


def test_the_dialog_gets_the_value_as_json_with_no_store(client, world, database):
    token = signed_in(client, "site-a", world.promaster_a, world.password)

    created = create_token_form(client, token, "Entra ID", accept="application/json")
    again = create_token_form(client, token, "Okta", accept="application/json")
    blank = client.post(
        "/profile/tokens",
        data={"csrf": token, "description": ""},
        headers={"accept": "application/json"},
    )

    assert created.status_code == 201
    assert created.headers["cache-control"] == "no-store"
    body = created.json()
    assert body["token"].startswith("sscim_")
    assert body["description"] == "Entra ID"
    assert body["days_left"] == 365
    assert body["expires_on"] == "2027-03-01"
    assert client.get(SCP, headers=bearer(body["token"])).status_code == 200
    assert again.status_code == 409
    assert "revoke" in again.json()["detail"].lower()
    assert blank.status_code == 400
    assert blank.json()["field"] == "description"
    assert len(token_rows(database)) == 1


def test_revoke_asks_first_naming_the_token_then_calls_fail(client, world, database):
    issued = make_token(world.runtime, "site-a", world.promaster_a2, "Okta")
    token = signed_in(client, "site-a", world.promaster_a, world.password)
    link = f"/profile/tokens/{issued.id}/revoke"
    assert link in row_of(client.get("/profile").text, "Okta")

    confirm = client.get(link)

    assert confirm.status_code == 200
    assert "Delete token “Okta”?" in confirm.text
    assert "SCIM API calls using it" in confirm.text
    assert "will fail" in confirm.text
    assert token_rows(database)[0].revoked_at is None

    done = client.post(link, data={"csrf": csrf_of(confirm.text)}, follow_redirects=False)

    assert done.status_code == 303
    assert done.headers["location"] == f"/profile?revoked={issued.id}#tokens"
    after = client.get(done.headers["location"]).text
    assert "The token “Okta” is revoked" in after
    assert f"by {world.promaster_a}" in row_of(after, "Okta")
    assert client.get(SCP, headers=bearer(issued.value)).status_code == 401
    assert token == csrf_of(confirm.text)


def test_revoke_without_the_form_token_changes_nothing(client, world, database):
    issued = make_token(world.runtime, "site-a", world.promaster_a2, "Okta")
    signed_in(client, "site-a", world.promaster_a, world.password)

    for data in ({}, {"csrf": "forged"}, {"csrf": ""}):
        response = client.post(f"/profile/tokens/{issued.id}/revoke", data=data)
        assert response.status_code == 403
        assert "expired" in response.text
    assert token_rows(database)[0].revoked_at is None
    assert client.get(SCP, headers=bearer(issued.value)).status_code == 200


def test_a_form_posted_from_another_site_is_refused_even_with_its_token(client, world, database):
    token = signed_in(client, "site-a", world.promaster_a, world.password)

    response = create_token_form(client, token, "Entra ID", **{"sec-fetch-site": "cross-site"})

    assert response.status_code == 403
    assert token_rows(database) == []


def test_a_form_token_of_another_session_does_not_fit(client, world, database):
    other = signed_in(client, "site-a", world.promaster_a2, world.password)
    signed_in(client, "site-a", world.promaster_a, world.password)

    response = create_token_form(client, other, "Entra ID")

    assert response.status_code == 403
    assert token_rows(database) == []


def test_non_promasters_see_no_token_controls_and_forged_posts_are_refused(client, world, database):
    issued = make_token(world.runtime, "site-a", world.promaster_a, "Entra ID")
    for email in (world.user_a, world.analyst_a):
        token = signed_in(client, "site-a", email, world.password)
        profile = client.get("/profile").text

        assert "Only the site's Promasters manage SCIM access tokens." in profile
        assert "Create Token" not in profile
        assert "Entra ID" not in profile
        assert "/revoke" not in profile
        assert client.get("/profile/tokens/new").status_code == 403
        assert client.get(f"/profile/tokens/{issued.id}/revoke").status_code == 403

        created = create_token_form(client, token, "Sneaky")
        revoked = client.post(f"/profile/tokens/{issued.id}/revoke", data={"csrf": token})

        assert created.status_code == 403
        assert "Only the site's Promasters" in html.unescape(created.text)
        assert email in created.text  # the error page keeps the signed-in header
        assert revoked.status_code == 403
    assert [row.id for row in token_rows(database)] == [issued.id]
    assert client.get(SCP, headers=bearer(issued.value)).status_code == 200
    with database.transaction(write=False) as session:
        refusals = session.scalars(
            select(AuditEvent).where(
                AuditEvent.action == "token.create", AuditEvent.outcome == "refused"
            )
        ).all()
    assert len(refusals) == 2


def test_another_sites_token_cannot_be_revoked_from_here(client, world):
    foreign = make_token(world.runtime, "site-b", world.promaster_b, "B's token")
    token = signed_in(client, "site-a", world.promaster_a, world.password)

    confirm = client.get(f"/profile/tokens/{foreign.id}/revoke")
    response = client.post(f"/profile/tokens/{foreign.id}/revoke", data={"csrf": token})

    assert confirm.status_code == 404
    assert response.status_code == 404
    assert "B&#39;s token" not in response.text
    assert client.get(SCP, headers=bearer(foreign.value)).status_code == 200


def test_signed_out_posts_are_sent_to_sign_in_and_change_nothing(client, world, database):
    issued = make_token(world.runtime, "site-a", world.promaster_a, "Entra ID")

    create = client.post("/profile/tokens", data={"description": "x"}, follow_redirects=False)
    revoke = client.post(f"/profile/tokens/{issued.id}/revoke", follow_redirects=False)

    assert create.status_code == revoke.status_code == 303
    assert create.headers["location"].startswith("/sign-in")
    assert [row.revoked_at for row in token_rows(database)] == [None]


def test_the_token_value_is_never_logged(client, world, caplog):
    token = signed_in(client, "site-a", world.promaster_a, world.password)

    with caplog.at_level(logging.DEBUG):
        value = token_value_in(create_token_form(client, token, "Entra ID").text)
        client.get("/profile")
        client.get("/activity")

    logged = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert caplog.records
    assert value not in logged
    assert value[len("sscim_") : -1] not in logged
