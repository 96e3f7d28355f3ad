"""Hostile URLs and values (NUL, numbers past 64 bits, over-long ids and attributes) get a 4xx,
never a 500, on either database (issue 10).
"""

from __future__ import annotations

import base64
import json

import httpx
import pytest
from sqlalchemy import select
from starlette.responses import JSONResponse

from sitescim.db.models import AccessToken, AuditEvent
from sitescim.domain.errors import InvalidInputError
from sitescim.web.app import SESSION_COOKIE, create_app
from tests.factories import bearer, make_token, make_user
from tests.integration.bad_input.calls import (
    GROUP_URN,
    PATCH_URN,
    SPC,
    TOKENS,
    assert_api_error,
    assert_scim_error,
    count_tokens,
)
from tests.integration.servers import uvicorn_in_thread
from tests.integration.ui.forms import signed_in, ui_sign_in


@pytest.mark.parametrize(
    "path",
    [
        "/scim/v2/Users/%00",
        "/scim/v2/Groups/a%00b",
        "/scim/v2/Users?filter=userName%20eq%20%22a%00%22",
    ],
)
def test_nul_in_a_scim_url_is_a_400(scim, path):
    body = assert_scim_error(scim.get(path), 400)
    assert "NUL" in body["detail"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("DELETE", f"{TOKENS}/%00"),
        ("GET", "/api/v1/audit?resource_id=%00"),
        ("GET", "/api/v1/audit?action=a%00"),
    ],
)
def test_nul_in_an_api_url_is_a_400(promaster, method, path):
    body = assert_api_error(promaster.request(method, path), 400)
    assert "NUL" in body["detail"]


def test_audit_page_before_an_id_past_64_bits_is_a_400(promaster):
    response = promaster.get("/api/v1/audit?before_id=9223372036854775808")
    body = assert_api_error(response, 400, field="query.before_id")
    assert "9223372036854775807" in body["detail"]
    assert promaster.get("/api/v1/audit?before_id=9223372036854775807").status_code == 200


@pytest.mark.parametrize("instant", ["9999-12-31T23:59:59-23:00", "0001-01-01T00:00:00+05:00"])
def test_audit_instant_past_the_calendar_is_a_400(promaster, instant):
    assert_api_error(promaster.get("/api/v1/audit", params={"since": instant}), 400, field="since")


def test_scim_start_index_and_count_past_64_bits_answer_an_empty_page(scim):
    huge = str(2**64)
    response = scim.get("/scim/v2/Users", params={"startIndex": huge, "count": huge})
    assert response.status_code == 200, response.text
    assert response.json()["Resources"] == []
    assert response.json()["totalResults"] >= 1


@pytest.mark.parametrize("attribute", ["displayName", "externalId"])
def test_group_attributes_longer_than_their_column_are_refused(scim, attribute):
    long = "g" * 257
    created = {"schemas": [GROUP_URN], "displayName": "Long", attribute: long}
    body = assert_scim_error(
        scim.post("/scim/v2/Groups", json=created), 400, scim_type="invalidValue"
    )
    assert "256" in body["detail"]
    path = f"/scim/v2/Groups/{scim.group_id}"
    assert_scim_error(scim.put(path, json=created), 400, scim_type="invalidValue")
    patch = {
        "schemas": [PATCH_URN],
        "Operations": [{"op": "replace", "path": attribute, "value": long}],
    }
    assert_scim_error(scim.patch(path, json=patch), 400, scim_type="invalidValue")
    untargeted = {
        "schemas": [PATCH_URN],
        "Operations": [{"op": "replace", "value": {attribute: long}}],
    }
    assert_scim_error(scim.patch(path, json=untargeted), 400, scim_type="invalidValue")
    fits = {"schemas": [GROUP_URN], "displayName": "Fits", attribute: "g" * 256}
    assert scim.post("/scim/v2/Groups", json=fits).status_code == 201


@pytest.mark.parametrize("resource", ["Users", "Groups"])
@pytest.mark.parametrize("length", [37, 300, 4000])
def test_an_id_longer_than_the_column_is_a_plain_404_and_audited(scim, database, resource, length):
    long_id = "x" * length
    patch = {
        "schemas": [PATCH_URN],
        "Operations": [{"op": "replace", "path": "displayName", "value": "n"}],
    }
    for response in (
        scim.get(f"/scim/v2/{resource}/{long_id}"),
        scim.patch(f"/scim/v2/{resource}/{long_id}", json=patch),
        scim.delete(f"/scim/v2/{resource}/{long_id}"),
    ):
        assert_scim_error(response, 404)
    with database.transaction(write=False) as session:
        rows = session.scalars(
            select(AuditEvent).where(AuditEvent.outcome == "refused").order_by(AuditEvent.id)
        ).all()
    assert len(rows) == 2  # the PATCH and the DELETE; a GET changes nothing
    for row in rows:
        assert row.target_id is not None
        assert len(row.target_id) <= 36
        assert long_id.startswith(row.target_id.rstrip("…"))
        assert row.message is None or len(row.message) <= 1000


def test_a_500_closes_its_kept_alive_connection_and_the_next_request_succeeds(
    settings, database, clock
):
    app = create_app(settings, clock=clock, database=database)

    async def broken() -> None:
        raise RuntimeError("a defect, not an input")

    async def unavailable() -> JSONResponse:
        return JSONResponse({"detail": "down"}, status_code=503, headers={"Retry-After": "1"})

    app.add_api_route("/api/v1/broken", broken)
    app.add_api_route("/api/v1/unavailable", unavailable)
    with uvicorn_in_thread(app) as base_url, httpx.Client(base_url=base_url) as http:
        assert http.get("/healthz").headers.get("connection") != "close"
        failed = http.get("/api/v1/broken")
        assert failed.status_code == 500
        assert failed.headers["connection"] == "close"
        assert "a defect" not in failed.text
        for _ in range(3):
            assert http.get("/healthz").status_code == 200
        assert http.get("/api/v1/broken").status_code == 500
        assert http.get("/readyz").status_code == 200
        answered = http.get("/api/v1/unavailable")
        assert answered.status_code == 503
        assert answered.headers["connection"] == "close"
        assert http.get("/healthz").status_code == 200


@pytest.mark.parametrize("path", ["/scim/v2/", "/scim/v2//", "/scim/v2/Users/.."])
def test_the_scim_root_is_a_scim_404_not_a_redirect_loop(scim, path):
    response = scim.get(path, follow_redirects=True)
    assert_scim_error(response, 404)


def _page_marker(*parts: str) -> str:
    return base64.urlsafe_b64encode(json.dumps(parts).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "path",
    [
        "/people?after=" + _page_marker("a\x00"),
        "/people?before=" + _page_marker("\ud800"),
        "/groups?after=" + _page_marker("\x00"),
        "/groups/00000000-0000-0000-0000-000000000000?after=9223372036854775808",
        "/activity?before=9223372036854775808",
    ],
)
def test_ui_page_markers_no_database_can_take_are_a_400(client, world, path):
    signed_in(client, "site-a", world.promaster_a, world.password)
    response = client.get(path)
    assert response.status_code == 400, (path, response.text[:300])


def test_a_local_user_whose_address_is_longer_than_a_user_name_is_refused(world, database):
    local = "u" * 60
    address = f"{local}@{'d' * 240}.local"
    assert len(address) > 256
    with pytest.raises(InvalidInputError, match="256") as refused:
        make_user(world.runtime, "site-a", address, "user", world.password)
    assert refused.value.field == "email"


def test_options_on_a_scim_path_is_refused_after_authentication(client, auth_a):
    assert_scim_error(client.options("/scim/v2/Users"), 401)
    response = client.options("/scim/v2/Users", headers=auth_a)
    assert_scim_error(response, 405)
    assert response.headers["Allow"] == "GET, POST"


@pytest.mark.parametrize("field", ["site", "email", "password"])
def test_a_nul_in_a_ui_sign_in_field_is_a_400_page(client, world, field):
    values = {"site": "site-a", "email": world.promaster_a, "password": world.password}
    values[field] = values[field] + "\x00"
    response = ui_sign_in(client, values["site"], values["email"], values["password"])
    assert response.status_code == 400, response.text[:300]
    assert SESSION_COOKIE not in response.headers.get("set-cookie", "")


def test_a_nul_in_a_ui_form_of_a_signed_in_page_is_a_400_page(client, world, database):
    csrf = signed_in(client, "site-a", world.promaster_a, world.password)
    response = client.post(
        "/profile/tokens",
        data={"csrf": csrf, "description": "Entra\x00ID", "scope": "scim"},
        follow_redirects=False,
    )
    assert response.status_code == 400, response.text[:300]
    assert count_tokens(database) == 0


def test_a_forwarded_address_longer_than_its_column_is_cut_not_a_500(
    settings, database, clock, world
):
    """uvicorn trusts X-Forwarded-For from 127.0.0.1 by default; its text reaches the
    token's last use, the session and the audit log."""
    app = create_app(settings, clock=clock, database=database)
    token = make_token(world.runtime, "site-a", world.promaster_a).value
    forwarded = {"X-Forwarded-For": "x" * 300}
    body = {"site": "site-a", "email": world.promaster_a, "password": world.password}
    with uvicorn_in_thread(app) as base_url, httpx.Client(base_url=base_url) as http:
        assert http.get(SPC, headers={**bearer(token), **forwarded}).status_code == 200
        assert http.post("/api/v1/session", json=body, headers=forwarded).status_code == 200
        wrong = {**body, "password": "not the password"}
        assert http.post("/api/v1/session", json=wrong, headers=forwarded).status_code == 401
    with database.transaction(write=False) as session:
        used_from = session.scalar(select(AccessToken.last_used_from))
    assert used_from == "x" * 64
