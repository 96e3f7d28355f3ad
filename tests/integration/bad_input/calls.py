"""Paths, counts and error checks shared by the bad-input tests (SPEC T4, section 3)."""

from __future__ import annotations

from sqlalchemy import func, select

from sitescim.db.models import AccessToken

TOKENS = "/api/v1/tokens"
SPC = "/scim/v2/ServiceProviderConfig"
GENERIC_SIGN_IN_FAILURE = "The site, e-mail or password is not correct."


def count_tokens(database) -> int:
    with database.transaction(write=False) as session:
        return session.scalar(select(func.count()).select_from(AccessToken))


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


# The schemas of the bodies the hostile-input tests send (issue 10).

USER_URN = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_URN = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH_URN = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
BULK_URN = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
SEARCH_URN = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
