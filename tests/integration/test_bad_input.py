"""Bad input gets a clear 4xx, never a 500, and writes nothing (SPEC T4, section 3)."""

from __future__ import annotations

import base64
import json

import httpx
import pytest
from sqlalchemy import func, select, update
from starlette.responses import JSONResponse
from starlette.testclient import TestClient

from sitescim.db.models import AccessToken, AuditEvent, User
from sitescim.domain.errors import InvalidInputError
from sitescim.domain.tokens import generate_token
from sitescim.web.app import SESSION_COOKIE, create_app
from tests.factories import bearer, make_token, make_user, sign_in
from tests.integration.servers import uvicorn_in_thread
from tests.integration.ui.forms import signed_in, ui_sign_in

TOKENS = "/api/v1/tokens"
SPC = "/scim/v2/ServiceProviderConfig"
GENERIC_SIGN_IN_FAILURE = "The site, e-mail or password is not correct."


def count_tokens(database) -> int:
    with database.transaction(write=False) as session:
        return session.scalar(select(func.count()).select_from(AccessToken))


@pytest.fixture
def promaster(client, world):
    """The client, signed in as a Promaster of site-a."""
    sign_in(client, "site-a", world.promaster_a, world.password)
    return client


def assert_api_error(response, status: int, *, field: str | None = None) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert isinstance(body["detail"], str)
    assert body["detail"]
    assert "Traceback" not in body["detail"]
    if field is None:
        assert "field" not in body
    else:
        assert body["field"] == field
    return body


def assert_scim_error(response, status: int, *, scim_type: str | None = None) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/scim+json")
    body = response.json()
    assert body["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
    assert str(body["status"]) == str(status)
    assert body["detail"]
    if scim_type is not None:
        assert body["scimType"] == scim_type
    return body


# --- the create-token body ---------------------------------------------------------------


def test_create_token_without_description_is_refused(promaster, database):
    body = assert_api_error(
        promaster.post(TOKENS, json={"scope": "scim"}), 400, field="description"
    )
    assert "required" in body["detail"]
    assert count_tokens(database) == 0


def test_create_token_with_empty_body_object_is_refused(promaster, database):
    assert_api_error(promaster.post(TOKENS, json={}), 400, field="description")
    assert count_tokens(database) == 0


def test_create_token_with_blank_description_is_refused(promaster, database):
    body = assert_api_error(
        promaster.post(TOKENS, json={"description": "  \t ", "scope": "scim"}),
        400,
        field="description",
    )
    assert "required" in body["detail"]
    assert count_tokens(database) == 0


def test_create_token_with_10_kb_description_is_refused(promaster, database):
    huge = "d" * 10_240
    response = promaster.post(TOKENS, json={"description": huge, "scope": "scim"})
    body = assert_api_error(response, 400, field="description")
    assert "100" in body["detail"]
    assert huge not in response.text
    assert count_tokens(database) == 0


def test_create_token_with_101_character_description_is_refused(promaster, database):
    assert_api_error(
        promaster.post(TOKENS, json={"description": "d" * 101}), 400, field="description"
    )
    assert count_tokens(database) == 0


def test_create_token_with_control_characters_in_description_is_refused(promaster, database):
    assert_api_error(
        promaster.post(TOKENS, json={"description": "Entra\u0000ID"}), 400, field="description"
    )
    assert count_tokens(database) == 0


@pytest.mark.parametrize("scope", ["admin", "SCIM", "", "scim "])
def test_create_token_with_unknown_scope_is_refused(promaster, database, scope):
    body = assert_api_error(
        promaster.post(TOKENS, json={"description": "Entra ID", "scope": scope}), 400, field="scope"
    )
    assert "scim" in body["detail"]
    assert count_tokens(database) == 0


@pytest.mark.parametrize("scope", [1, ["scim"], {"name": "scim"}, None])
def test_create_token_with_scope_of_wrong_type_is_refused(promaster, database, scope):
    assert_api_error(
        promaster.post(TOKENS, json={"description": "Entra ID", "scope": scope}), 400, field="scope"
    )
    assert count_tokens(database) == 0


@pytest.mark.parametrize("description", [42, 4.5, ["Entra ID"], {"text": "Entra ID"}, True, None])
def test_create_token_with_description_of_wrong_type_is_refused(promaster, database, description):
    assert_api_error(
        promaster.post(TOKENS, json={"description": description, "scope": "scim"}),
        400,
        field="description",
    )
    assert count_tokens(database) == 0


def test_create_token_with_unknown_extra_field_is_refused(promaster, database):
    response = promaster.post(
        TOKENS, json={"description": "Entra ID", "scope": "scim", "expires_at": "2099-01-01"}
    )
    assert_api_error(response, 400, field="expires_at")
    assert count_tokens(database) == 0


@pytest.mark.parametrize(
    "raw",
    [b"{", b'{"description": "Entra ID",}', b"not json at all", b"", b"\xff\xfe\x00garbage"],
)
def test_create_token_with_invalid_json_is_refused(promaster, database, raw):
    response = promaster.post(TOKENS, content=raw, headers={"Content-Type": "application/json"})
    assert 400 <= response.status_code < 500, response.text
    assert response.status_code == 400
    assert response.json()["detail"]
    assert count_tokens(database) == 0


def test_create_token_with_json_that_is_not_an_object_is_refused(promaster, database):
    for raw in ('["Entra ID"]', '"Entra ID"', "42", "null"):
        response = promaster.post(TOKENS, content=raw, headers={"Content-Type": "application/json"})
        assert response.status_code == 400, (raw, response.text)
        assert response.json()["detail"]
    assert count_tokens(database) == 0


def test_create_token_as_plain_text_is_unsupported_media_type(promaster, database):
    response = promaster.post(
        TOKENS,
        content=json.dumps({"description": "Entra ID", "scope": "scim"}),
        headers={"Content-Type": "text/plain"},
    )
    body = assert_api_error(response, 415)
    assert "application/json" in body["detail"]
    assert count_tokens(database) == 0


def test_create_token_as_form_is_unsupported_media_type(promaster, database):
    response = promaster.post(TOKENS, data={"description": "Entra ID", "scope": "scim"})
    assert response.request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert_api_error(response, 415)
    assert count_tokens(database) == 0


def test_create_token_without_content_type_is_unsupported_media_type(promaster, database):
    response = promaster.post(TOKENS, content=b'{"description": "Entra ID"}')
    assert "content-type" not in response.request.headers
    assert_api_error(response, 415)
    assert count_tokens(database) == 0


def test_create_token_as_scim_json_is_accepted(promaster, database):
    response = promaster.post(
        TOKENS,
        content=json.dumps({"description": "Entra ID"}),
        headers={"Content-Type": "application/scim+json; charset=utf-8"},
    )
    assert response.status_code == 201, response.text
    assert count_tokens(database) == 1


def test_body_over_the_limit_with_content_length_is_refused(promaster, database, settings):
    oversized = json.dumps({"description": "x" * settings.max_body_bytes}).encode()
    response = promaster.post(
        TOKENS, content=oversized, headers={"Content-Type": "application/json"}
    )
    assert response.request.headers["content-length"] == str(len(oversized))
    body = assert_api_error(response, 413)
    assert str(settings.max_body_bytes) in body["detail"]
    assert count_tokens(database) == 0


def test_chunked_body_over_the_limit_is_refused(promaster, database, settings):
    chunk = b"x" * 65_536
    chunks = settings.max_body_bytes // len(chunk) + 2

    def body():
        yield b'{"description": "'
        for _ in range(chunks):
            yield chunk
        yield b'"}'

    response = promaster.post(TOKENS, content=body(), headers={"Content-Type": "application/json"})
    assert "content-length" not in response.request.headers
    assert response.request.headers["transfer-encoding"] == "chunked"
    body_out = assert_api_error(response, 413)
    assert str(settings.max_body_bytes) in body_out["detail"]
    assert count_tokens(database) == 0


def test_chunked_body_under_the_limit_is_accepted(promaster, database):
    def body():
        yield b'{"description": '
        yield b'"Entra ID"}'

    response = promaster.post(TOKENS, content=body(), headers={"Content-Type": "application/json"})
    assert response.status_code == 201, response.text
    assert count_tokens(database) == 1


def test_content_length_that_is_not_a_number_is_refused(promaster, database):
    response = promaster.post(
        TOKENS,
        content=b'{"description": "Entra ID"}',
        headers={"Content-Type": "application/json", "Content-Length": "lots"},
    )
    assert 400 <= response.status_code < 500
    assert count_tokens(database) == 0


# --- revoking what is not there ----------------------------------------------------------------


@pytest.mark.parametrize(
    "token_id",
    ["00000000-0000-0000-0000-000000000000", "not-a-uuid", "x" * 300, "%27%20OR%201%3D1--"],
)
def test_revoking_a_token_that_does_not_exist_is_not_found(promaster, world, database, token_id):
    mine = make_token(world.runtime, "site-a", world.promaster_a2)
    body = assert_api_error(promaster.delete(f"{TOKENS}/{token_id}"), 404)
    assert "token" in body["detail"].lower()
    with database.transaction(write=False) as session:
        assert session.get(AccessToken, mine.id).revoked_at is None


def test_revoking_a_token_of_another_site_is_not_found_and_leaves_it_working(
    promaster, world, database
):
    theirs = make_token(world.runtime, "site-b", world.promaster_b)
    response = promaster.delete(f"{TOKENS}/{theirs.id}")
    not_found = assert_api_error(
        promaster.delete(f"{TOKENS}/00000000-0000-0000-0000-0000000000ff"), 404
    )
    body = assert_api_error(response, 404)
    assert body == not_found  # as if absent: nothing tells it exists
    with database.transaction(write=False) as session:
        assert session.get(AccessToken, theirs.id).revoked_at is None
    assert promaster.get(SPC, headers=bearer(theirs.value)).status_code == 200


# --- the SCIM side ------------------------------------------------------------------------------


def test_two_megabyte_body_to_scim_is_too_large(client, auth_a):
    response = client.post(
        SPC,
        content=b"{" + b" " * (2 * 1024 * 1024) + b"}",
        headers={**auth_a, "Content-Type": "application/scim+json"},
    )
    body = assert_scim_error(response, 413, scim_type="tooLarge")
    assert "bytes" in body["detail"]


def test_two_megabyte_body_to_scim_is_too_large_before_authentication(client, world):
    response = client.put(
        SPC,
        content=b"x" * (2 * 1024 * 1024),
        headers={"Content-Type": "application/scim+json"},
    )
    assert_scim_error(response, 413, scim_type="tooLarge")


@pytest.mark.parametrize(
    "authorization",
    [
        "Bearer " + "A" * 100_000,
        "Bearer sscim_" + "é" * 49,
        "Bearer sscim_\u2603\u2603\u2603",
        "Bearer ",
        "Bearer",
        "Bearer    ",
        "bearer",
        "Basic dXNlcjpwYXNz",
        "Token sscim_abc",
        "Bearer sscim_ sscim_",
        "Bearer \x7f\x01",
        " " * 50,
        "x" * 100_000,
    ],
    ids=[
        "very-long-bearer",
        "non-ascii-token",
        "snowmen",
        "bearer-empty",
        "bearer-no-space",
        "bearer-spaces",
        "lowercase-scheme-only",
        "basic",
        "other-scheme",
        "two-values",
        "control-chars",
        "spaces",
        "very-long-no-scheme",
    ],
)
def test_garbage_authorization_header_is_401_not_500(client, world, authorization):
    raw = authorization.encode("utf-8")
    response = client.get(SPC, headers={"Authorization": raw})
    body = assert_scim_error(response, 401)
    assert "WWW-Authenticate" in response.headers
    assert response.headers["WWW-Authenticate"].startswith('Bearer realm="sitescim"')
    assert "sscim_" not in body["detail"]


def test_authorization_header_of_latin1_bytes_is_401(client, world):
    response = client.get(SPC, headers={"Authorization": b"Bearer sscim_\xff\xfe\xfd"})
    assert_scim_error(response, 401)


def test_missing_authorization_header_is_401_with_a_plain_challenge(client, world):
    response = client.get(SPC)
    assert_scim_error(response, 401)
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="sitescim"'


def test_well_formed_but_unknown_token_is_401_with_invalid_token(client, world):
    response = client.get(SPC, headers=bearer(generate_token()))
    assert_scim_error(response, 401)
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_garbage_body_to_a_scim_path_is_a_scim_4xx_not_a_500(client, auth_a):
    for raw in (b"{", b"\xff\xfe", b"[]", b"null"):
        response = client.post(
            "/scim/v2/Users",
            content=raw,
            headers={**auth_a, "Content-Type": "application/scim+json"},
        )
        assert 400 <= response.status_code < 500, (raw, response.text)
        assert response.headers["content-type"].startswith("application/scim+json")


# --- sign-in -------------------------------------------------------------------------------------


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


# --- hostile input: never a 500, on either database (issue 10) ----------------------------------

USER_URN = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_URN = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH_URN = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
BULK_URN = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
SEARCH_URN = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"


@pytest.fixture
def scim(client, auth_a):
    """The client, with a SCIM token of site-a, and a user and a group to act on."""
    client.headers.update(auth_a)
    user = client.post("/scim/v2/Users", json={"schemas": [USER_URN], "userName": "target"})
    group = client.post("/scim/v2/Groups", json={"schemas": [GROUP_URN], "displayName": "Target"})
    assert user.status_code == group.status_code == 201, (user.text, group.text)
    client.user_id = user.json()["id"]
    client.group_id = group.json()["id"]
    return client


def nested(depth: int, inner: str = "1") -> str:
    return "[" * depth + inner + "]" * depth


def scim_bodies(user_id: str, group_id: str, value: str) -> list[tuple[str, str, str]]:
    """(method, path, raw JSON) for every SCIM body endpoint, ``value`` placed where
    each one reads values."""
    user = f'{{"schemas":["{USER_URN}"],"userName":"u1","name":{{"givenName":{value}}}}}'
    group = f'{{"schemas":["{GROUP_URN}"],"displayName":{value}}}'
    patch = f'{{"schemas":["{PATCH_URN}"],"Operations":[{{"op":"add","path":"title","value":{value}}}]}}'
    bulk = (
        f'{{"schemas":["{BULK_URN}"],"Operations":['
        f'{{"method":"POST","path":"/Users","bulkId":"q","data":{{"schemas":["{USER_URN}"],"userName":"b1"}}}},'
        f'{{"method":"POST","path":"/Groups","bulkId":"g","data":{{"schemas":["{GROUP_URN}"],'
        f'"displayName":"G","members":[{{"value":{value}}}]}}}}]}}'
    )
    search = f'{{"schemas":["{SEARCH_URN}"],"filter":{value}}}'
    return [
        ("POST", "/scim/v2/Users", user),
        ("PUT", f"/scim/v2/Users/{user_id}", user),
        ("PATCH", f"/scim/v2/Users/{user_id}", patch),
        ("POST", "/scim/v2/Users/.search", search),
        ("POST", "/scim/v2/Groups", group),
        ("PUT", f"/scim/v2/Groups/{group_id}", group),
        ("PATCH", f"/scim/v2/Groups/{group_id}", patch),
        ("POST", "/scim/v2/Groups/.search", search),
        ("POST", "/scim/v2/Bulk", bulk),
    ]


def api_bodies(value: str) -> list[tuple[str, str]]:
    return [
        (TOKENS, f'{{"description":{value},"scope":"scim"}}'),
        ("/api/v1/session", f'{{"site":{value},"email":"x@a.test","password":"p"}}'),
    ]


def _send(client, method: str, path: str, raw: str | bytes):
    content = raw.encode() if isinstance(raw, str) else raw
    return client.request(
        method, path, content=content, headers={"Content-Type": "application/scim+json"}
    )


def count_users(database) -> int:
    with database.transaction(write=False) as session:
        return session.scalar(select(func.count()).select_from(User))


@pytest.mark.parametrize("depth", [40, 400, 1000])
def test_deeply_nested_json_is_refused_on_every_scim_body_endpoint(scim, database, depth):
    before = count_users(database)
    value = nested(depth, '"bulkId:q"')  # in Bulk, a reference to resolve at the bottom
    for method, path, raw in scim_bodies(scim.user_id, scim.group_id, value):
        body = assert_scim_error(_send(scim, method, path, raw), 400, scim_type="invalidSyntax")
        assert "nested" in body["detail"] or "JSON" in body["detail"], (method, path, body)
    assert count_users(database) == before


@pytest.mark.parametrize("depth", [40, 400, 1000])
def test_deeply_nested_json_is_refused_on_every_api_body_endpoint(promaster, database, depth):
    for path, raw in api_bodies(nested(depth)):
        response = _send(promaster, "POST", path, raw)
        assert response.status_code == 400, (path, response.text)
        assert response.json()["detail"]
    assert count_tokens(database) == 0


@pytest.mark.parametrize(
    "text",
    ['"x\\ud800"', '"\\udfff"', '"a\\u0000b"', '"\\u0000"'],
    ids=["high", "low", "nul", "only-nul"],
)
def test_lone_surrogates_and_nul_are_refused_in_every_scim_body(scim, database, text):
    before = count_users(database)
    for method, path, raw in scim_bodies(scim.user_id, scim.group_id, text):
        assert_scim_error(_send(scim, method, path, raw), 400, scim_type="invalidSyntax")
    create = f'{{"schemas":["{USER_URN}"],"userName":{text}}}'
    assert_scim_error(_send(scim, "POST", "/scim/v2/Users", create), 400)
    key = f'{{"schemas":["{USER_URN}"],"userName":"k1",{text}:"x"}}'
    assert_scim_error(_send(scim, "POST", "/scim/v2/Users", key), 400)
    assert count_users(database) == before


@pytest.mark.parametrize("text", ['"x\\ud800"', '"a\\u0000b"'], ids=["surrogate", "nul"])
def test_lone_surrogates_and_nul_are_refused_in_every_api_body(promaster, database, text):
    for path, raw in api_bodies(text):
        field = "description" if path == TOKENS else "site"
        body = assert_api_error(_send(promaster, "POST", path, raw), 400, field=field)
        assert "NUL" in body["detail"] or "surrogate" in body["detail"]
    assert count_tokens(database) == 0


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
