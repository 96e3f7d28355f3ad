"""The command line: api-key create, list and revoke (SPEC section 5), on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import text

from sitescim.db.application_tables import ApiKey
from tests.factories import bearer
from tests.integration.cli.calls import count, ok, ok_json, refused

KEY_LIST_KEYS = {"id", "description", "sites", "created_at", "last_used_at", "status"}


def test_create_prints_id_and_key_once_and_the_key_reads_the_feed(
    cli: Any, world: Any, database: Any, client: TestClient
) -> None:
    created = ok_json(cli("api-key", "create", "--description", "Our app", "--json"))
    assert set(created) == {"id", "key"}
    assert created["key"].startswith("sscop_")
    assert client.get("/api/v1/events", headers=bearer(created["key"])).status_code == 200

    listed = ok_json(cli("api-key", "list", "--json"))
    assert [set(k) for k in listed["keys"]] == [KEY_LIST_KEYS]
    (shown,) = listed["keys"]
    assert shown["id"] == created["id"]
    assert shown["description"] == "Our app"
    assert shown["sites"] is None
    assert shown["status"] == "active"
    assert shown["last_used_at"] is not None
    assert created["key"] not in str(listed)
    with database.transaction(write=False) as session:
        stored = session.execute(text("SELECT * FROM api_keys")).one()
    assert created["key"] not in str(tuple(stored))


def test_create_for_sites_names_them_and_the_human_output_shows_the_key(
    cli: Any, world: Any, client: TestClient
) -> None:
    out = ok(cli("api-key", "create", "--description", "B app", "--site", "site-b"))
    key = next(word for word in out.split() if word.startswith("sscop_"))
    assert "site-b" in out
    sites = client.get("/api/v1/sites", headers=bearer(key)).json()["sites"]
    assert [s["slug"] for s in sites] == ["site-b"]

    both = ok_json(
        cli(
            "api-key",
            "create",
            "--description",
            "AB",
            "--site",
            "site-a",
            "--site",
            "site-b",
            "--json",
        )
    )
    listed = {k["id"]: k for k in ok_json(cli("api-key", "list", "--json"))["keys"]}
    assert sorted(listed[both["id"]]["sites"]) == ["site-a", "site-b"]
    assert "B app" in ok(cli("api-key", "list"))


def test_revoke_prints_the_status_and_the_key_stops_at_once(
    cli: Any, world: Any, client: TestClient
) -> None:
    created = ok_json(cli("api-key", "create", "--description", "app", "--json"))
    assert ok_json(cli("api-key", "revoke", created["id"], "--json")) == {
        "id": created["id"],
        "status": "revoked",
    }
    assert client.get("/api/v1/events", headers=bearer(created["key"])).status_code == 401
    assert ok_json(cli("api-key", "revoke", created["id"], "--json"))["status"] == "revoked"
    assert [k["status"] for k in ok_json(cli("api-key", "list", "--json"))["keys"]] == ["revoked"]


def test_refusals_are_one_line_and_write_nothing(cli: Any, world: Any, database: Any) -> None:
    unknown_site = refused(
        cli("api-key", "create", "--description", "app", "--site", "nowhere", "--json")
    )
    assert "nowhere" in unknown_site
    empty = refused(cli("api-key", "create", "--description", "   ", "--json"))
    assert "description" in empty
    too_long = refused(cli("api-key", "create", "--description", "x" * 101))
    assert "description" in too_long
    assert count(database, ApiKey) == 0
    unknown_id = refused(cli("api-key", "revoke", "00000000-0000-0000-0000-000000000000"))
    assert "No such API key" in unknown_id
    assert "sscop_" not in unknown_site + empty + unknown_id


def test_list_without_keys_says_so(cli: Any, world: Any) -> None:
    assert ok_json(cli("api-key", "list", "--json")) == {"keys": []}
    assert ok(cli("api-key", "list")).strip() == "no api keys"
