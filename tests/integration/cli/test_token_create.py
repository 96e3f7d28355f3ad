"""The command line: token create (SPEC section 5), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sitescim.db.models import AccessToken
from sitescim.domain import tokens as rules
from tests.integration.cli.calls import count, create_token, ok, refused


def test_token_create_json_prints_id_token_and_expiry(cli, world, database, settings):
    before = datetime.now(UTC)
    payload = create_token(cli)
    assert set(payload) == {"id", "token", "expires_at"}
    assert rules.is_well_formed(payload["token"])
    expires_at = datetime.fromisoformat(payload["expires_at"])
    assert expires_at.tzinfo is not None
    assert before + timedelta(days=365) - timedelta(seconds=5) <= expires_at
    assert expires_at <= datetime.now(UTC) + timedelta(days=365)
    with database.transaction(write=False) as session:
        stored = session.get(AccessToken, payload["id"])
    assert stored.token_hash == rules.hash_token(payload["token"], settings.pepper_bytes())
    assert stored.description == "Entra ID"
    assert stored.scope == "scim"


def test_token_create_human_output_shows_the_token_once_with_a_warning(cli, world):
    out = ok(
        cli("token", "create", "--site", "site-a", "--as", "ada@a.test", "--description", "Okta")
    )
    values = [word for word in out.split() if word.startswith("sscim_")]
    assert len(values) == 1
    assert rules.is_well_formed(values[0])
    assert "will not be shown again" in out


def test_token_create_by_a_non_promaster_is_refused(cli, world, database):
    for who in ("uma@a.test", "ann@a.test"):
        line = refused(
            cli("token", "create", "--site", "site-a", "--as", who, "--description", "x", "--json")
        )
        assert "Promaster" in line
    assert count(database, AccessToken) == 0


def test_token_create_by_a_promaster_of_another_site_is_refused(cli, world, database):
    line = refused(
        cli("token", "create", "--site", "site-a", "--as", "bob@b.test", "--description", "x")
    )
    assert "bob@b.test" in line
    assert count(database, AccessToken) == 0


def test_second_active_token_is_refused_without_showing_the_first(cli, world, database):
    first = create_token(cli)
    result = cli(
        "token", "create", "--site", "site-a", "--as", "ada@a.test", "--description", "Again"
    )
    line = refused(result)
    assert "Revoke the existing token first" in line
    assert first["token"] not in result.output
    assert count(database, AccessToken) == 1


def test_token_create_in_an_unknown_site_is_refused(cli, world, database):
    line = refused(
        cli("token", "create", "--site", "no-such-site", "--as", "ada@a.test", "--description", "x")
    )
    assert "no-such-site" in line
    assert count(database, AccessToken) == 0


def test_token_create_as_an_unknown_person_is_refused(cli, world, database):
    line = refused(
        cli("token", "create", "--site", "site-a", "--as", "nobody@a.test", "--description", "x")
    )
    assert "nobody@a.test" in line
    assert count(database, AccessToken) == 0


@pytest.mark.parametrize(
    ("description", "scope", "field"),
    [("d" * 101, "scim", "description"), ("   ", "scim", "description"), ("ok", "admin", "scope")],
)
def test_token_create_with_bad_input_is_refused(cli, world, database, description, scope, field):
    line = refused(
        cli(
            "token",
            "create",
            "--site",
            "site-a",
            "--as",
            "ada@a.test",
            "--description",
            description,
            "--scope",
            scope,
        )
    )
    assert line.startswith(f"error: {field}:")
    assert count(database, AccessToken) == 0
