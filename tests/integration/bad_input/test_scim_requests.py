"""Bad SCIM requests (oversized bodies, garbage authorization) get a SCIM 4xx, never a 500.

SPEC T4, section 3.
"""

from __future__ import annotations

import pytest

from sitescim.domain.tokens import generate_token
from tests.factories import bearer
from tests.integration.bad_input.calls import SPC, assert_scim_error


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
