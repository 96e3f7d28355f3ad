"""Stored user documents (scim.stored_documents) give the pages the SQL builder gives.

Every SCIM write of a user stores its document; a page uses it only while its
version is the user's, fills in the user's groups and the request's base URL,
and must give, byte for byte, the document ``sql_documents.user_document_sql``
writes from the rows. Here each kind of write (POST plain and full, Bulk, PATCH,
PUT, deactivation, group changes) runs through HTTP on both databases, and
every stored document is held to that text.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import orjson
import pytest
from sqlalchemy import select, text

from sitescim.db.models import Site, User
from sitescim.scim.sql_documents import JsonSql, user_document_sql, user_groups_sql
from sitescim.scim.stored_documents import base_json, filled
from sitescim.services.stored_documents import store_missing_documents
from tests.factories import make_site, patch_body
from tests.integration.scim.bulk.calls import BULK, bulk, post_user
from tests.integration.scim.users.calls import ENTERPRISE, create, full_user, sample

BASE = "http://testserver/scim/v2"
GROUP_URN = "urn:ietf:params:scim:schemas:core:2.0:Group"


def _site_id(database, slug: str = "site-a") -> str:
    with database.reading() as connection:
        return str(connection.execute(select(Site.id).where(Site.slug == slug)).scalar_one())


def _documents(database, site_id: str) -> dict[str, tuple[str, str | None]]:
    """Each user's document as the SQL builder writes it, and as its stored text
    gives it (None when none is stored for its version)."""
    json = JsonSql(database.engine.dialect.name)
    site = json.param("site")
    sql = (
        f"SELECT u.id, {user_document_sql(json)}, u.document, {user_groups_sql(json)},"  # noqa: S608
        f" u.document_version = u.version FROM users u WHERE u.site_id = {site}"
    )
    with database.engine.connect() as connection:
        rows = connection.exec_driver_sql(sql, {"site": site_id, "page_base": BASE}).all()
    base = base_json(BASE)
    return {
        user_id: (built, filled(stored, groups, base) if fresh else None)
        for user_id, built, stored, groups, fresh in rows
    }


def _assert_stored(database, site_id: str, user_ids: list[str]) -> None:
    documents = _documents(database, site_id)
    for user_id in user_ids:
        built, stored = documents[user_id]
        assert stored is not None, "a SCIM write stores the user's document"
        assert stored == built


def _page(client, headers) -> bytes:
    response = client.get("/scim/v2/Users?count=100", headers=headers)
    assert response.status_code == 200, response.text
    return response.content


def test_every_scim_write_stores_the_document_the_sql_builder_writes(client, database, auth_a):
    site_id = _site_id(database)
    plain = create(
        client,
        auth_a,
        {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "plain@example.test",
            "emails": [{"value": "plain@example.test", "type": "work", "primary": True}],
        },
    )
    full = full_user()
    full["addresses"][0]["locality"] = 'Zürich "Altstadt"\n'
    whole = create(client, auth_a, full)
    enterprise = sample("rfc7643-8.3-enterprise-user.json")
    enterprise["userName"] = "babs@example.test"
    enterprise[ENTERPRISE]["manager"] = {"value": plain["id"]}
    managed = create(client, auth_a, enterprise)
    ids = [plain["id"], whole["id"], managed["id"]]
    _assert_stored(database, site_id, ids)

    batch = client.post(
        BULK,
        json=bulk(
            post_user("one", emails=[{"value": "one@example.test", "type": "work"}]),
            post_user("two", title="Ms", addresses=[{"locality": "Åre", "type": "home"}]),
        ),
        headers=auth_a,
    )
    assert batch.status_code == 200, batch.text
    ids += [entry["location"].rsplit("/", 1)[1] for entry in batch.json()["Operations"]]
    _assert_stored(database, site_id, ids)

    deactivate = patch_body({"op": "replace", "path": "active", "value": False})
    assert client.patch(f"/scim/v2/Users/{plain['id']}", json=deactivate, headers=auth_a).is_success
    emails = patch_body(
        {"op": "add", "path": "emails", "value": [{"value": "b@example.test", "type": "home"}]}
    )
    assert client.patch(f"/scim/v2/Users/{whole['id']}", json=emails, headers=auth_a).is_success
    replaced = sample("rfc7643-8.3-enterprise-user.json")
    replaced["userName"] = "babs@example.test"
    replaced["displayName"] = "Babs J."
    replaced[ENTERPRISE]["manager"] = {"value": whole["id"]}
    assert client.put(f"/scim/v2/Users/{managed['id']}", json=replaced, headers=auth_a).is_success
    _assert_stored(database, site_id, ids)

    group = client.post(
        "/scim/v2/Groups",
        json={"schemas": [GROUP_URN], "displayName": "Tour", "members": [{"value": ids[0]}]},
        headers=auth_a,
    ).json()
    before = _documents(database, site_id)
    add = patch_body({"op": "add", "path": "members", "value": [{"value": ids[1]}]})
    assert client.patch(f"/scim/v2/Groups/{group['id']}", json=add, headers=auth_a).is_success
    rename = patch_body({"op": "replace", "path": "displayName", "value": "Tour Guides"})
    assert client.patch(f"/scim/v2/Groups/{group['id']}", json=rename, headers=auth_a).is_success
    with database.reading() as connection:
        stored_texts = dict(
            connection.execute(select(User.id, User.document).where(User.id.in_(ids))).all()
        )
    _assert_stored(database, site_id, ids)
    after = _documents(database, site_id)
    for user_id in ids[:2]:
        assert after[user_id] != before[user_id]
        assert '"display":"Tour Guides"' in (after[user_id][1] or "")
    with database.reading() as connection:
        again = dict(
            connection.execute(select(User.id, User.document).where(User.id.in_(ids))).all()
        )
    assert again == stored_texts, "a group's change rewrites no member's document"

    page = orjson.loads(_page(client, auth_a))["Resources"]
    shown = {document["id"]: document for document in page}
    for user_id in ids:
        assert shown[user_id] == client.get(f"/scim/v2/Users/{user_id}", headers=auth_a).json()


def test_a_page_is_the_same_with_and_without_stored_documents(client, database, auth_a):
    for index in range(3):
        create(client, auth_a, {**full_user(), "userName": f"u{index}@example.test"})
    selections = ("", "&attributes=userName,emails", "&excludedAttributes=groups,name")
    pages = {
        selection: client.get(f"/scim/v2/Users?count=100{selection}", headers=auth_a).content
        for selection in selections
    }
    with database.engine.begin() as connection:
        connection.execute(text("UPDATE users SET document = NULL, document_version = NULL"))
    for selection in selections:
        page = client.get(f"/scim/v2/Users?count=100{selection}", headers=auth_a).content
        assert page == pages[selection]
    assert store_missing_documents(database.engine) >= 3
    for selection in selections:
        page = client.get(f"/scim/v2/Users?count=100{selection}", headers=auth_a).content
        assert page == pages[selection]


def test_a_document_of_an_older_version_is_never_shown(client, database, auth_a):
    created = create(client, auth_a, full_user())
    with database.engine.begin() as connection:
        # A write that forgot to store: the version moved, the document did not.
        connection.execute(
            text("UPDATE users SET display_name = 'Changed', version = version + 1 WHERE id = :id"),
            {"id": created["id"]},
        )
    page = orjson.loads(_page(client, auth_a))["Resources"]
    shown = next(document for document in page if document["id"] == created["id"])
    assert shown["displayName"] == "Changed"
    assert shown["meta"]["version"] == 'W/"2"'


def test_the_upkeep_stores_missing_documents_in_batches(runtime, database):
    site_id = make_site(runtime, "Stored", slug=f"stored-{uuid.uuid4().hex[:8]}")
    now = datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC)
    with database.engine.begin() as connection:
        for index in range(5):
            connection.execute(
                User.__table__.insert(),
                {
                    "id": str(uuid.uuid4()),
                    "site_id": site_id,
                    "user_name": f"u{index}",
                    "user_name_key": f"u{index}",
                    "active": True,
                    "privilege": "user",
                    "created_at": now,
                    "updated_at": now,
                    "version": 3,
                },
            )
    assert store_missing_documents(database.engine, batch=2) >= 5
    assert store_missing_documents(database.engine, batch=2) == 0
    documents = _documents(database, site_id)
    assert len(documents) == 5
    for built, stored in documents.values():
        assert stored == built


def test_the_upkeep_finds_each_batch_by_its_keys_whatever_the_statistics(runtime, database):
    """Statistics taken of empty tables, then thousands of users loaded straight in
    (a restore, a loader): each batch's UPDATE still reads its users by key. Shaped
    as one UPDATE over a locked subquery, PostgreSQL joined every user to the
    subquery and ran it again for each: minutes a batch at 100,000 users."""
    from tests.integration.statements import explain, recorded_statements

    site_id = make_site(runtime, "Loaded", slug=f"loaded-{uuid.uuid4().hex[:8]}")
    now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    with database.engine.begin() as connection:
        connection.execute(text("ANALYZE"))
        connection.execute(
            User.__table__.insert(),
            [
                {
                    "id": f"loaded-{index:05d}",
                    "site_id": site_id,
                    "user_name": f"l{index}",
                    "user_name_key": f"l{index}",
                    "active": True,
                    "privilege": "user",
                    "created_at": now,
                    "updated_at": now,
                    "version": 1,
                }
                for index in range(3000)
            ],
        )

    with recorded_statements() as sent:
        assert store_missing_documents(database.engine, batch=1000) >= 3000

    updates = [statement for statement in sent if statement.sql.startswith("UPDATE users")]
    assert len(updates) >= 3
    plan = explain(database.engine, updates[0])
    assert "Seq Scan on users" not in plan, plan
    assert "SCAN u" not in plan, plan
    # An index searched by the batch's keys, not walked with a filter.
    assert (
        "Index Cond: ((id)::text = ANY" in plan or "USING INDEX sqlite_autoindex_users_1" in plan
    ), plan
    assert store_missing_documents(database.engine) == 0


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)  # SQLite has one writer
def test_the_upkeep_passes_over_a_user_a_writer_holds(runtime, database):
    site_id = make_site(runtime, "Held", slug=f"held-{uuid.uuid4().hex[:8]}")
    now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    ids = [str(uuid.uuid4()) for _ in range(3)]
    with database.engine.begin() as connection:
        for index, user_id in enumerate(ids):
            connection.execute(
                User.__table__.insert(),
                {
                    "id": user_id,
                    "site_id": site_id,
                    "user_name": f"h{index}",
                    "user_name_key": f"h{index}",
                    "active": True,
                    "privilege": "user",
                    "created_at": now,
                    "updated_at": now,
                    "version": 1,
                },
            )
    with database.engine.connect() as writer, writer.begin():
        writer.execute(text("SELECT 1 FROM users WHERE id = :id FOR UPDATE"), {"id": ids[0]})
        assert store_missing_documents(database.engine) == 2
    assert store_missing_documents(database.engine) == 1
