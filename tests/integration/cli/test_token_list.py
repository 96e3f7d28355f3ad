"""The command line: token list and its expiry warnings.

SPEC section 5, on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from sitescim.db.models import AccessToken
from tests.integration.cli.calls import TOKEN_LIST_KEYS, create_token, ok, ok_json, refused


def test_token_list_json_shows_every_token_of_the_site_without_secrets(cli, world):
    first = create_token(cli, who="ada@a.test", description="Entra ID")
    second = create_token(cli, who="alan@a.test", description="Okta")
    create_token(cli, site="site-b", who="bob@b.test", description="Other site")
    result = cli("token", "list", "--site", "site-a", "--as", "alan@a.test", "--json")
    payload = ok_json(result)
    assert set(payload) == {"tokens"}
    assert {t["id"] for t in payload["tokens"]} == {first["id"], second["id"]}
    for listed in payload["tokens"]:
        assert set(listed) >= TOKEN_LIST_KEYS
        assert "token" not in listed
        assert listed["status"] == "active"
        assert listed["scope"] == "scim"
        assert listed["last_used_at"] is None
    by_id = {t["id"]: t for t in payload["tokens"]}
    assert by_id[first["id"]]["description"] == "Entra ID"
    assert by_id[first["id"]]["created_by"] == "ada@a.test"
    assert by_id[second["id"]]["created_by"] == "alan@a.test"
    assert by_id[first["id"]]["expires_at"] == first["expires_at"]
    assert first["token"] not in result.output
    assert second["token"] not in result.output
    assert "sscim_" not in result.output
    assert result.stderr == ""


def test_token_list_human_output_shows_descriptions_but_no_secret(cli, world):
    created = create_token(cli, description="Entra ID")
    out = ok(cli("token", "list", "--site", "site-a", "--as", "ada@a.test"))
    assert created["id"] in out
    assert "Entra ID" in out
    assert "365 days left" in out
    assert created["token"] not in out
    assert "sscim_" not in out


def test_token_list_of_a_site_without_tokens_is_empty(cli, world):
    assert ok_json(cli("token", "list", "--site", "site-a", "--as", "ada@a.test", "--json")) == {
        "tokens": []
    }


def test_token_list_warns_on_stderr_for_a_token_within_30_days_of_expiry(cli, world, database):
    soon = create_token(cli, who="ada@a.test", description="Expiring")
    later = create_token(cli, who="alan@a.test", description="Fresh")
    with database.transaction(write=True) as session:
        session.execute(
            update(AccessToken)
            .where(AccessToken.id == soon["id"])
            .values(expires_at=datetime.now(UTC) + timedelta(days=10, hours=1))
        )
    result = cli("token", "list", "--site", "site-a", "--as", "ada@a.test", "--json")
    payload = ok_json(result)  # stdout stays one parseable JSON object
    warnings = result.stderr.splitlines()
    assert len(warnings) == 1
    assert warnings[0].startswith("warning:")
    assert soon["id"] in warnings[0]
    assert "11 days" in warnings[0]
    assert later["id"] not in result.stderr
    assert soon["token"] not in result.stderr
    by_id = {t["id"]: t for t in payload["tokens"]}
    assert by_id[soon["id"]]["expires_soon"] is True
    assert by_id[later["id"]]["expires_soon"] is False


def test_token_list_does_not_warn_for_expired_or_revoked_tokens(cli, world, database):
    expired = create_token(cli, who="ada@a.test")
    revoked = create_token(cli, who="alan@a.test")
    ok(cli("token", "revoke", revoked["id"], "--site", "site-a", "--as", "ada@a.test"))
    with database.transaction(write=True) as session:
        session.execute(
            update(AccessToken)
            .where(AccessToken.id == expired["id"])
            .values(expires_at=datetime.now(UTC) - timedelta(days=1))
        )
        session.execute(
            update(AccessToken)
            .where(AccessToken.id == revoked["id"])
            .values(expires_at=datetime.now(UTC) + timedelta(days=5))
        )
    result = cli("token", "list", "--site", "site-a", "--as", "ada@a.test", "--json")
    statuses = {t["id"]: t["status"] for t in ok_json(result)["tokens"]}
    assert statuses == {expired["id"]: "expired", revoked["id"]: "revoked"}
    assert result.stderr == ""


def test_token_list_by_a_non_promaster_is_refused(cli, world):
    created = create_token(cli)
    result = cli("token", "list", "--site", "site-a", "--as", "uma@a.test", "--json")
    line = refused(result)
    assert "Promaster" in line
    assert created["id"] not in result.output


def test_token_list_in_an_unknown_site_is_refused(cli, world):
    refused(cli("token", "list", "--site", "nowhere", "--as", "ada@a.test", "--json"))
