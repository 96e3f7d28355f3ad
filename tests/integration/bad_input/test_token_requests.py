"""A bad create-token body or a revoke of what is not there gets a clear 4xx and writes nothing.

SPEC T4, section 3.
"""

from __future__ import annotations

import json

import pytest

from sitescim.db.models import AccessToken
from tests.factories import bearer, make_token
from tests.integration.bad_input.calls import SPC, TOKENS, assert_api_error, count_tokens

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
