"""The OpenAPI of /api/v1 documents the responses the API gives, and only /api/v1.

schemathesis (tests/fuzz) checks real responses against it; this pins the
document itself: no FastAPI 422 (the API answers 400), the error statuses each
operation can answer, and no SCIM route (SCIM is its own protocol, RFC 7644).
"""

from __future__ import annotations

from pathlib import Path

from starlette.testclient import TestClient

from sitescim.settings import Settings
from sitescim.web.app import create_app
from tests.factories import TEST_PEPPER, TEST_SESSION_SECRET


def _openapi(tmp_path: Path) -> dict:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'openapi.db'}",
        token_pepper=TEST_PEPPER,
        session_secret=TEST_SESSION_SECRET,
    )
    with TestClient(create_app(settings)) as client:
        response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    return response.json()


def test_no_operation_documents_fastapis_422(tmp_path):
    document = _openapi(tmp_path)
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            assert "422" not in operation["responses"], (method, path)
    assert "HTTPValidationError" not in document["components"]["schemas"]


def test_each_operation_documents_the_errors_it_answers(tmp_path):
    paths = _openapi(tmp_path)["paths"]

    def statuses(method: str, path: str) -> set[str]:
        return set(paths[path][method]["responses"])

    assert statuses("post", "/api/v1/session") >= {"200", "400", "401", "413", "415", "429"}
    assert statuses("post", "/api/v1/tokens") >= {"201", "400", "401", "403", "409", "415"}
    assert statuses("delete", "/api/v1/tokens/{token_id}") >= {"200", "401", "403", "404"}
    assert statuses("get", "/api/v1/audit") >= {"200", "400", "401", "403"}
    error = paths["/api/v1/tokens"]["post"]["responses"]["409"]["content"]["application/json"]
    assert error["schema"] == {"$ref": "#/components/schemas/ApiError"}
    throttled = paths["/api/v1/session"]["post"]["responses"]["429"]
    assert "Retry-After" in throttled["headers"]


def test_scim_routes_are_not_in_the_openapi(tmp_path):
    assert not [path for path in _openapi(tmp_path)["paths"] if path.startswith("/scim")]
