"""SCIM /Bulk: authentication and the site of the token (T10).

Over real HTTP, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json

from tests.integration.scim.bulk.calls import (
    BULK,
    USER_URN,
    VALID,
    bulk,
    id_of,
    patch_op,
    post_group,
    post_user,
    row_counts,
    run,
)


def test_bulk_needs_a_token_and_only_answers_post(client, world, auth_a):
    assert client.post(BULK, json=bulk(VALID)).status_code == 401
    response = client.get(BULK, headers=auth_a)
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"


def test_a_token_of_site_b_cannot_touch_site_a_through_bulk(
    client, database, world, auth_a, auth_b
):
    created = run(client, auth_a, bulk(post_user("ann"), post_group("team", "Team", [])))
    ann, team = (id_of(r["location"]) for r in created)
    etag = client.get(f"/scim/v2/Users/{ann}", headers=auth_a).headers["etag"]
    results = run(
        client,
        auth_b,
        bulk(
            {
                "method": "PUT",
                "path": f"/Users/{ann}",
                "data": {"schemas": [USER_URN], "userName": "stolen@b.test"},
            },
            {
                "method": "PATCH",
                "path": f"/Users/{ann}",
                "data": patch_op({"op": "replace", "path": "active", "value": False}),
            },
            {"method": "DELETE", "path": f"/Users/{ann}"},
            {
                "method": "PATCH",
                "path": f"/Groups/{team}",
                "data": patch_op({"op": "add", "path": "members", "value": [{"value": ann}]}),
            },
            {"method": "DELETE", "path": f"/Groups/{team}"},
            post_group("mine", "Mine", [ann]),
        ),
    )
    assert [r["status"] for r in results] == ["404", "404", "404", "404", "404", "400"]
    for result in results[:5]:
        assert result["response"]["status"] == "404"
    assert "ann@bulk.test" not in json.dumps(results)
    after = client.get(f"/scim/v2/Users/{ann}", headers=auth_a)
    assert after.status_code == 200
    assert after.headers["etag"] == etag
    assert after.json()["active"] is True
    assert client.get(f"/scim/v2/Groups/{team}", headers=auth_a).status_code == 200
    assert row_counts(database)[1] == 1
