"""Headers that keep the UI safe: no framing (clickjacking), a strict CSP, no caching.

SQLite and PostgreSQL, as every database test; the headers do not depend on it.
"""

from __future__ import annotations

import re

import pytest

from tests.factories import make_token
from tests.integration.ui.forms import create_token_form, signed_in

SIGNED_IN_PAGES = [
    "/profile",
    "/profile/tokens/new",
    "/people",
    "/groups",
    "/activity",
]


def assert_not_frameable(response) -> None:
    assert response.headers["x-frame-options"] == "DENY"
    policy = response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy


@pytest.fixture
def promaster(client, world) -> str:
    return signed_in(client, "site-a", world.promaster_a, world.password)


def test_every_ui_page_forbids_framing_and_inline_code(client, promaster):
    for path in [*SIGNED_IN_PAGES, "/static/app.css", "/static/app.js"]:
        response = client.get(path)
        assert response.status_code == 200, path
        assert_not_frameable(response)
        policy = response.headers["content-security-policy"]
        assert "default-src 'none'" in policy
        assert "script-src 'self'" in policy
        assert "unsafe-inline" not in policy
        assert "form-action 'self'" in policy
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "no-referrer"


def test_sign_in_and_error_pages_forbid_framing_too(client):
    assert_not_frameable(client.get("/sign-in"))
    assert_not_frameable(client.get("/profile", follow_redirects=False))
    assert_not_frameable(client.get("/people/not-an-id", follow_redirects=False))


def test_api_and_scim_keep_their_plain_frame_ancestors(client, auth_a):
    for response in (
        client.get("/api/v1/session"),
        client.get("/scim/v2/ServiceProviderConfig", headers=auth_a),
    ):
        assert response.headers["content-security-policy"] == "frame-ancestors 'none'"
        assert response.headers["x-frame-options"] == "DENY"


def test_pages_carry_no_inline_script_style_or_handlers(client, promaster):
    """What the CSP forbids must not be needed: the pages work under it as served."""
    for path in ["/sign-in", *SIGNED_IN_PAGES]:
        page = client.get(path).text
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page), path
        assert "<style" not in page, path
        assert not re.search(r"\sstyle=", page), path
        assert not re.search(r"\son[a-z]+=", page), path


def test_no_ui_page_is_cached(client, world, promaster):
    issued = make_token(world.runtime, "site-a", world.promaster_a2, "Okta")
    for path in [*SIGNED_IN_PAGES, "/sign-in", "/", f"/profile/tokens/{issued.id}/revoke"]:
        response = client.get(path, follow_redirects=False)
        assert response.headers["cache-control"] == "no-store", path


def test_the_one_time_display_is_no_store_in_both_forms(client, world, promaster):
    page = create_token_form(client, promaster, "Entra ID")
    other = signed_in(client, "site-a", world.promaster_a2, world.password)
    as_json = create_token_form(client, other, "Okta", accept="application/json")

    for response in (page, as_json):
        assert response.status_code == 201
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["pragma"] == "no-cache"


def test_redirects_and_refusals_are_not_cached_either(client, world, promaster):
    refused = create_token_form(client, "forged", "Entra ID")
    signed_out = client.post("/sign-out", data={"csrf": promaster}, follow_redirects=False)

    assert refused.status_code == 403
    assert refused.headers["cache-control"] == "no-store"
    assert signed_out.status_code == 303
    assert signed_out.headers["cache-control"] == "no-store"


def test_static_files_are_versioned_by_content(client):
    page = client.get("/sign-in").text
    links = re.findall(r'(?:href|src)="(/static/[^"]+)"', page)

    assert {link.split("?")[0] for link in links} >= {"/static/app.css", "/static/app.js"}
    assert all(re.search(r"\?v=[0-9a-f]{12}$", link) for link in links)
    for link in links:
        assert client.get(link).status_code == 200
