"""SCIM /Bulk: the configured limits (RFC 7644 §3.7.4), over real HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator

from tests.integration.scim.bulk.calls import (
    BULK,
    ERROR,
    USER_URN,
    app_with,
    bulk,
    post_user,
    row_counts,
    run,
)


def test_discovery_declares_the_configured_limits(settings, clock, database, world, auth_a):
    limits = {"bulk_max_operations": 7, "bulk_max_payload_bytes": 65_536}
    with app_with(settings, clock, database, **limits) as client:
        config = client.get("/scim/v2/ServiceProviderConfig", headers=auth_a).json()
    assert config["bulk"] == {"supported": True, "maxOperations": 7, "maxPayloadSize": 65_536}


def test_more_operations_than_max_operations_is_413_too_many(
    settings, clock, database, world, auth_a
):
    before = row_counts(database)
    with app_with(settings, clock, database, bulk_max_operations=3) as client:
        assert run(client, auth_a, bulk(*(post_user(f"u{n}") for n in range(3))))
        response = client.post(
            BULK, json=bulk(*(post_user(f"v{n}") for n in range(4))), headers=auth_a
        )
    assert response.status_code == 413
    assert response.headers["content-type"].startswith("application/scim+json")
    error = response.json()
    assert error["schemas"] == [ERROR]
    assert error["status"] == "413"
    assert error["scimType"] == "tooMany"
    assert "maxOperations is 3" in error["detail"]
    assert row_counts(database)[0] == before[0] + 3


def test_a_body_over_max_payload_size_is_413_too_large(settings, clock, database, world, auth_a):
    padding = "x" * 5000
    body = bulk(post_user("ann", displayName=padding))
    limits = {"bulk_max_payload_bytes": 4096, "max_body_bytes": 65_536}
    before = row_counts(database)
    with app_with(settings, clock, database, **limits) as client:
        response = client.post(BULK, json=body, headers=auth_a)

        def chunks() -> Iterator[bytes]:
            encoded = json.dumps(body).encode()
            for start in range(0, len(encoded), 1000):
                yield encoded[start : start + 1000]

        chunked = client.post(
            BULK, content=chunks(), headers={**auth_a, "content-type": "application/scim+json"}
        )
    for answer in (response, chunked):
        assert answer.status_code == 413
        assert answer.headers["content-type"].startswith("application/scim+json")
        error = answer.json()
        assert error["schemas"] == [ERROR]
        assert error["status"] == "413"
        assert error["scimType"] == "tooLarge"
        assert "maxPayloadSize (4096 bytes)" in error["detail"]
    assert "transfer-encoding" in chunked.request.headers
    assert row_counts(database) == before


def test_max_payload_size_may_be_larger_than_other_endpoints_bodies(
    settings, clock, database, world, auth_a
):
    padding = "x" * 3000
    limits = {"bulk_max_payload_bytes": 65_536, "max_body_bytes": 2048}
    with app_with(settings, clock, database, **limits) as client:
        body = bulk(*(post_user(f"u{n}", displayName=f"User {n}") for n in range(30)))
        assert len(json.dumps(body)) > 2048
        results = run(client, auth_a, body)
        single = client.post(
            "/scim/v2/Users",
            json={"schemas": [USER_URN], "userName": "ben@bulk.test", "displayName": padding},
            headers=auth_a,
        )
    assert [result["status"] for result in results] == ["201"] * 30
    assert single.status_code == 413
    assert "2048" in single.json()["detail"]
