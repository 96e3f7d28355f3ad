"""An unfiltered list's totalResults comes from resource_counts (migration 0010): it must
equal ``COUNT(*)`` of the site's rows after every kind of write, rolled-back ones included.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select, text

from sitescim.db.engine import Database
from sitescim.db.models import Group, Site, User
from tests.integration.scim.bulk.calls import BULK, GROUP_URN, USER_URN, bulk, post_user


def _listed_totals(client, auth: dict[str, str]) -> tuple[int, int]:
    users = client.get("/scim/v2/Users", params={"count": 1}, headers=auth)
    groups = client.get("/scim/v2/Groups", params={"count": 1}, headers=auth)
    assert users.status_code == groups.status_code == 200
    return users.json()["totalResults"], groups.json()["totalResults"]


def _counted(database: Database, site_slug: str) -> tuple[int, int]:
    with database.engine.connect() as connection:
        site_id = connection.execute(select(Site.id).where(Site.slug == site_slug)).scalar_one()
        users = connection.execute(
            select(func.count()).select_from(User).where(User.site_id == site_id)
        ).scalar_one()
        groups = connection.execute(
            select(func.count()).select_from(Group).where(Group.site_id == site_id)
        ).scalar_one()
    return users, groups


def _check(client, database: Database, auth: dict[str, str], slug: str) -> tuple[int, int]:
    listed = _listed_totals(client, auth)
    assert listed == _counted(database, slug)
    return listed


def test_totals_follow_every_write(client, database, world, auth_a, auth_b):
    start_a = _check(client, database, auth_a, "site-a")
    start_b = _check(client, database, auth_b, "site-b")
    assert start_a[0] >= 1  # the world's people

    created = [
        client.post(
            "/scim/v2/Users",
            json={"schemas": [USER_URN], "userName": f"u{i}@a.test"},
            headers=auth_a,
        ).json()["id"]
        for i in range(5)
    ]
    group = client.post(
        "/scim/v2/Groups",
        json={"schemas": [GROUP_URN], "displayName": "Team", "members": [{"value": created[0]}]},
        headers=auth_a,
    )
    assert group.status_code == 201
    assert _check(client, database, auth_a, "site-a") == (start_a[0] + 5, start_a[1] + 1)

    # A Bulk whose second creation fails (same userName): its savepoint takes the row back.
    answer = client.post(
        BULK,
        json=bulk(post_user("b1", "bulk1@a.test"), post_user("b2", "u0@a.test")),
        headers=auth_a,
    )
    assert [op["status"] for op in answer.json()["Operations"]] == ["201", "409"]
    assert _check(client, database, auth_a, "site-a") == (start_a[0] + 6, start_a[1] + 1)

    for user_id in created[:3]:
        assert client.delete(f"/scim/v2/Users/{user_id}", headers=auth_a).status_code == 204
    gone = client.delete(f"/scim/v2/Groups/{group.json()['id']}", headers=auth_a)
    assert gone.status_code == 204
    assert _check(client, database, auth_a, "site-a") == (start_a[0] + 3, start_a[1])
    # The other site's totals never moved.
    assert _check(client, database, auth_b, "site-b") == start_b


def test_a_rolled_back_transaction_leaves_the_totals(client, database, world, auth_a):
    before = _check(client, database, auth_a, "site-a")
    doomed = text(
        "DELETE FROM users WHERE privilege <> 'promaster'"
        " AND site_id = (SELECT id FROM sites WHERE slug = 'site-a')"
    )

    def delete_then_fail() -> None:
        with database.transaction(write=True) as session:
            assert session.execute(doomed).rowcount > 0
            raise RuntimeError("roll back")

    with pytest.raises(RuntimeError):
        delete_then_fail()
    assert _check(client, database, auth_a, "site-a") == before


def test_a_deleted_site_takes_its_totals_along(client, database, world, auth_b):
    with database.engine.begin() as connection:
        connection.execute(text("DELETE FROM sites WHERE slug = 'site-a'"))
        left = (
            connection.execute(
                text(
                    "SELECT DISTINCT s.slug FROM resource_counts c JOIN sites s ON s.id = c.site_id"
                )
            )
            .scalars()
            .all()
        )
        orphans = connection.execute(
            text("SELECT count(*) FROM resource_counts WHERE site_id NOT IN (SELECT id FROM sites)")
        ).scalar_one()
    assert left == ["site-b"]
    assert orphans == 0
    _check(client, database, auth_b, "site-b")


def test_concurrent_creations_and_deletions_keep_the_total_exact(client, database, world, auth_a):
    """Eight clients at once (on PostgreSQL really at once): no lost update of the count."""
    before = _check(client, database, auth_a, "site-a")

    def create_then_maybe_delete(i: int) -> None:
        made = client.post(
            "/scim/v2/Users",
            json={"schemas": [USER_URN], "userName": f"c{i}@a.test"},
            headers=auth_a,
        )
        assert made.status_code == 201
        if i % 3 == 0:
            gone = client.delete(f"/scim/v2/Users/{made.json()['id']}", headers=auth_a)
            assert gone.status_code == 204

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(create_then_maybe_delete, range(48)))
    assert _check(client, database, auth_a, "site-a") == (before[0] + 32, before[1])
