"""The OpenAPI documents the feed and the reconciliation reads with the errors they answer."""

from __future__ import annotations

from pathlib import Path

from starlette.testclient import TestClient

from sitescim.settings import Settings
from sitescim.web.app import create_app
from tests.factories import TEST_PEPPER, TEST_SESSION_SECRET


def test_operator_operations_document_their_bodies_and_errors(tmp_path: Path) -> None:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'openapi.db'}",
        token_pepper=TEST_PEPPER,
        session_secret=TEST_SESSION_SECRET,
    )
    with TestClient(create_app(settings)) as client:
        document = client.get("/api/v1/openapi.json").json()
    paths = document["paths"]
    expected = {
        "/api/v1/events": {"200", "400", "401", "404"},
        "/api/v1/sites": {"200", "401"},
        "/api/v1/sites/{slug}/users": {"200", "400", "401", "404"},
        "/api/v1/sites/{slug}/groups": {"200", "400", "401", "404"},
        "/api/v1/sites/{slug}/groups/{group_id}/members": {"200", "400", "401", "404"},
    }
    for path, statuses in expected.items():
        assert set(paths[path]["get"]["responses"]) == statuses, path
    schemas = document["components"]["schemas"]
    assert set(schemas["FeedPage"]["properties"]) == {"events", "next"}
    assert {"id", "type", "site", "occurred_at", "actor", "data", "changes"} == set(
        schemas["FeedEvent"]["properties"]
    )
    assert set(schemas["GroupPage"]["properties"]) == {"groups", "next", "feed_position"}
    limit = next(p for p in paths["/api/v1/events"]["get"]["parameters"] if p["name"] == "limit")
    assert (limit["schema"]["minimum"], limit["schema"]["maximum"]) == (1, 1000)
