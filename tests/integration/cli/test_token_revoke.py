"""The command line: token revoke (SPEC section 5), on SQLite and PostgreSQL."""

from __future__ import annotations

from sitescim.db.models import AccessToken
from tests.integration.cli.calls import create_token, ok, ok_json, refused


def test_token_revoke_json_prints_id_and_revoked_status(cli, world, database):
    created = create_token(cli)
    payload = ok_json(
        cli("token", "revoke", created["id"], "--site", "site-a", "--as", "alan@a.test", "--json")
    )
    assert payload == {"id": created["id"], "status": "revoked"}
    with database.transaction(write=False) as session:
        stored = session.get(AccessToken, created["id"])
    assert stored.revoked_at is not None
    assert stored.revoked_by_label == "alan@a.test"
    listed = ok_json(cli("token", "list", "--site", "site-a", "--as", "ada@a.test", "--json"))
    assert [t["status"] for t in listed["tokens"]] == ["revoked"]


def test_revoking_frees_the_promaster_to_create_a_new_token(cli, world):
    first = create_token(cli)
    ok(cli("token", "revoke", first["id"], "--site", "site-a", "--as", "ada@a.test"))
    second = create_token(cli, description="Replacement")
    assert second["id"] != first["id"]
    assert second["token"] != first["token"]


def test_revoking_twice_keeps_the_token_revoked(cli, world, database):
    created = create_token(cli)
    ok(cli("token", "revoke", created["id"], "--site", "site-a", "--as", "ada@a.test"))
    with database.transaction(write=False) as session:
        first_revocation = session.get(AccessToken, created["id"]).revoked_at
    payload = ok_json(
        cli("token", "revoke", created["id"], "--site", "site-a", "--as", "alan@a.test", "--json")
    )
    assert payload == {"id": created["id"], "status": "revoked"}
    with database.transaction(write=False) as session:
        stored = session.get(AccessToken, created["id"])
    assert stored.revoked_at == first_revocation
    assert stored.revoked_by_label == "ada@a.test"


def test_revoking_an_unknown_token_id_is_refused(cli, world):
    line = refused(
        cli(
            "token",
            "revoke",
            "00000000-0000-0000-0000-000000000000",
            "--site",
            "site-a",
            "--as",
            "ada@a.test",
            "--json",
        )
    )
    assert "No such token" in line


def test_revoking_a_token_of_another_site_is_refused_and_leaves_it_active(cli, world, database):
    other = create_token(cli, site="site-b", who="bob@b.test")
    line = refused(
        cli("token", "revoke", other["id"], "--site", "site-a", "--as", "ada@a.test", "--json")
    )
    assert "No such token" in line
    with database.transaction(write=False) as session:
        assert session.get(AccessToken, other["id"]).revoked_at is None


def test_revoking_by_a_non_promaster_is_refused_and_leaves_it_active(cli, world, database):
    created = create_token(cli)
    line = refused(cli("token", "revoke", created["id"], "--site", "site-a", "--as", "uma@a.test"))
    assert "Promaster" in line
    with database.transaction(write=False) as session:
        assert session.get(AccessToken, created["id"]).revoked_at is None
