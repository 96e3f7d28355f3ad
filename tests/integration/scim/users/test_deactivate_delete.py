"""SCIM /Users: deactivating and deleting, and the last Promaster.

Over real HTTP and real databases (SQLite and PostgreSQL).
"""

from __future__ import annotations

from tests.factories import patch_body
from tests.integration.scim.users.calls import (
    SITESCIM,
    USER_SCHEMA,
    allow_scim_promaster,
    create,
    full_user,
    stored,
    user_id_of,
)


def test_active_false_deactivates_and_keeps_the_user(client, world, auth_a):
    created = create(client, auth_a, full_user())
    url = f"/scim/v2/Users/{created['id']}"
    operation = {"op": "replace", "path": "active", "value": False}
    response = client.patch(url, json=patch_body(operation), headers=auth_a)
    assert response.status_code == 200, response.text
    assert response.json()["active"] is False
    kept = client.get(url, headers=auth_a).json()
    assert kept["active"] is False
    assert kept["emails"] == created["emails"]
    assert stored(world, created["id"]).active is False


def test_delete_answers_204_then_404(client, world, auth_a):
    created = create(client, auth_a, full_user())
    url = f"/scim/v2/Users/{created['id']}"
    response = client.delete(url, headers=auth_a)
    assert response.status_code == 204
    assert response.content == b""
    assert client.get(url, headers=auth_a).status_code == 404
    assert client.delete(url, headers=auth_a).status_code == 404


def test_last_active_promaster_cannot_be_deactivated_or_deleted(client, world, auth_b):
    bob = user_id_of(world, "site-b", world.promaster_b)
    url = f"/scim/v2/Users/{bob}"
    operation = {"op": "replace", "path": "active", "value": False}
    response = client.patch(url, json=patch_body(operation), headers=auth_b)
    assert response.status_code == 409
    assert "last active Promaster" in response.json()["detail"]
    put = {"schemas": [USER_SCHEMA], "userName": world.promaster_b, "active": False}
    assert client.put(url, json=put, headers=auth_b).status_code == 409
    response = client.delete(url, headers=auth_b)
    assert response.status_code == 409
    assert "last active Promaster" in response.json()["detail"]
    assert stored(world, bob).active is True


def test_a_promaster_may_go_while_another_remains(client, world, auth_a):
    ada = user_id_of(world, "site-a", world.promaster_a)
    alan = user_id_of(world, "site-a", world.promaster_a2)
    operation = {"op": "replace", "path": "active", "value": False}
    first = client.patch(f"/scim/v2/Users/{alan}", json=patch_body(operation), headers=auth_a)
    assert first.status_code == 200, first.text
    second = client.delete(f"/scim/v2/Users/{ada}", headers=auth_a)
    assert second.status_code == 409
    assert stored(world, ada).active is True


def test_last_promaster_cannot_be_demoted_even_where_scim_may_set_privileges(client, world, auth_b):
    allow_scim_promaster(world, "site-b")
    bob = user_id_of(world, "site-b", world.promaster_b)
    operation = {"op": "replace", "path": f"{SITESCIM}:privilege", "value": "user"}
    response = client.patch(f"/scim/v2/Users/{bob}", json=patch_body(operation), headers=auth_b)
    assert response.status_code == 409
    assert stored(world, bob).privilege == "promaster"


def test_a_deactivation_waits_for_a_concurrent_one_and_then_is_refused(world, token_a):
    """The second check runs after the first change commits, never beside it.

    The first deactivation holds its transaction open while the second starts:
    the site row lock (PostgreSQL) or the write lock (SQLite) makes the second
    wait, then count the first one's result.
    """
    import threading
    import time

    from scim2_models import ConflictException

    from sitescim.services import users as user_service

    runtime = world.runtime
    ada = user_id_of(world, "site-a", world.promaster_a)
    alan = user_id_of(world, "site-a", world.promaster_a2)
    first_done = threading.Event()
    outcomes: dict[str, str] = {}

    def first() -> None:
        with runtime.db.transaction(write=True) as session:
            user_service.deactivate_user(session, runtime, token_a, ada, base_url="http://x")
            first_done.set()
            time.sleep(0.5)  # the second request starts while this one is uncommitted
        outcomes["first"] = "deactivated"

    def second() -> None:
        first_done.wait(30)
        try:
            with runtime.db.transaction(write=True) as session:
                user_service.deactivate_user(session, runtime, token_a, alan, base_url="http://x")
            outcomes["second"] = "deactivated"
        except ConflictException:
            outcomes["second"] = "refused"

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes == {"first": "deactivated", "second": "refused"}
    assert stored(world, alan).active is True
