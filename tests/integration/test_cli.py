"""The command line as scripts use it (SPEC section 5), on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, inspect, select, update
from typer.testing import CliRunner

from sitescim.cli import app
from sitescim.db.engine import make_engine
from sitescim.db.models import AccessToken, Site, User
from sitescim.domain import tokens as rules

TOKEN_LIST_KEYS = {
    "id",
    "description",
    "scope",
    "created_by",
    "created_at",
    "expires_at",
    "last_used_at",
    "status",
}


FRESH_PEPPER = "fresh-pepper-" + "f" * 40
FRESH_SESSION_SECRET = "fresh-session-" + "f" * 40


def make_cli(*, database_url: str, pepper: str, session_secret: str):
    """Run the Typer app in-process with only our SITESCIM_* variables set."""
    runner = CliRunner()
    env: dict[str, str | None] = {name: None for name in os.environ if name.startswith("SITESCIM_")}
    env.update(
        {
            "SITESCIM_DATABASE_URL": database_url,
            "SITESCIM_TOKEN_PEPPER": pepper,
            "SITESCIM_SESSION_SECRET": session_secret,
            "SITESCIM_ARGON2_TIME_COST": "1",
            "SITESCIM_ARGON2_MEMORY_KIB": "1024",
        }
    )

    def invoke(*args: str):
        return runner.invoke(app, list(args), env=env)

    return invoke


@pytest.fixture
def cli(settings):
    """The CLI on the test database (SQLite or PostgreSQL), with the test pepper."""
    return make_cli(
        database_url=settings.database_url,
        pepper=settings.token_pepper.get_secret_value(),
        session_secret=settings.session_secret.get_secret_value(),
    )


@pytest.fixture
def fresh_file(tmp_path):
    """The CLI on a SQLite file that does not exist yet."""
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    return url, make_cli(database_url=url, pepper=FRESH_PEPPER, session_secret=FRESH_SESSION_SECRET)


def ok(result) -> str:
    assert result.exception is None, (result.exception, result.output)
    assert result.exit_code == 0, result.output
    return result.stdout


def ok_json(result) -> dict:
    return json.loads(ok(result))


def refused(result) -> str:
    """A refusal: non-zero exit, nothing on stdout, exactly one ``error:`` line on stderr."""
    assert result.exit_code != 0, result.output
    assert isinstance(result.exception, SystemExit), result.exception  # not a crash
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in result.stderr
    assert "sscim_" not in result.stderr
    return lines[0]


def count(database, model) -> int:
    with database.transaction(write=False) as session:
        return session.scalar(select(func.count()).select_from(model))


def create_token(cli, *, site="site-a", who="ada@a.test", description="Entra ID") -> dict:
    return ok_json(
        cli("token", "create", "--site", site, "--as", who, "--description", description, "--json")
    )


# --- site create / user create ---------------------------------------------------------


def test_site_create_json_prints_id_slug_and_name(cli, database):
    payload = ok_json(cli("site", "create", "Acme Corp", "--slug", "acme", "--json"))
    assert set(payload) == {"id", "slug", "name"}
    assert payload["slug"] == "acme"
    assert payload["name"] == "Acme Corp"
    with database.transaction(write=False) as session:
        stored = session.scalar(select(Site).where(Site.slug == "acme"))
    assert stored is not None
    assert stored.id == payload["id"]


def test_site_create_without_slug_derives_one_from_the_name(cli):
    payload = ok_json(cli("site", "create", "Müller & Söhne GmbH", "--json"))
    assert payload["slug"] == "m-ller-s-hne-gmbh"


def test_site_create_human_output_names_the_site(cli):
    out = ok(cli("site", "create", "Acme", "--slug", "acme"))
    assert "acme" in out
    assert "created" in out


def test_site_create_with_a_taken_slug_is_refused(cli, database):
    ok(cli("site", "create", "Acme", "--slug", "acme"))
    line = refused(cli("site", "create", "Acme again", "--slug", "acme", "--json"))
    assert "acme" in line
    assert count(database, Site) == 1


def test_site_create_with_an_invalid_slug_is_refused(cli, database):
    line = refused(cli("site", "create", "Acme", "--slug", "-Bad Slug!-"))
    assert "slug" in line
    assert count(database, Site) == 0


def test_user_create_json_prints_id_email_and_privilege(cli, database):
    ok(cli("site", "create", "Acme", "--slug", "acme"))
    payload = ok_json(
        cli(
            "user",
            "create",
            "root@acme.test",
            "--site",
            "acme",
            "--privilege",
            "promaster",
            "--password",
            "a long enough password",
            "--json",
        )
    )
    assert set(payload) == {"id", "email", "privilege"}
    assert payload == {"id": payload["id"], "email": "root@acme.test", "privilege": "promaster"}
    with database.transaction(write=False) as session:
        user = session.get(User, payload["id"])
    assert user.privilege == "promaster"
    assert user.password_hash.startswith("$argon2")
    assert "a long enough password" not in user.password_hash


def test_user_create_defaults_to_the_user_privilege(cli):
    ok(cli("site", "create", "Acme", "--slug", "acme"))
    payload = ok_json(cli("user", "create", "u@acme.test", "--site", "acme", "--json"))
    assert payload["privilege"] == "user"


def test_user_create_in_an_unknown_site_is_refused(cli, database):
    line = refused(cli("user", "create", "u@x.test", "--site", "nowhere", "--json"))
    assert "nowhere" in line
    assert count(database, User) == 0


def test_user_create_with_an_unknown_privilege_is_refused(cli, database):
    ok(cli("site", "create", "Acme", "--slug", "acme"))
    line = refused(cli("user", "create", "u@acme.test", "--site", "acme", "--privilege", "root"))
    assert "privilege" in line
    assert count(database, User) == 0


def test_user_create_with_a_short_password_is_refused_without_echoing_it(cli, database):
    ok(cli("site", "create", "Acme", "--slug", "acme"))
    result = cli("user", "create", "u@acme.test", "--site", "acme", "--password", "hunter2")
    line = refused(result)
    assert "password" in line
    assert "hunter2" not in result.output
    assert count(database, User) == 0


def test_first_promaster_set_up_from_the_cli_can_create_a_token(cli):
    ok(cli("site", "create", "Acme", "--slug", "acme"))
    ok(cli("user", "create", "root@acme.test", "--site", "acme", "--privilege", "promaster"))
    payload = create_token(cli, site="acme", who="root@acme.test")
    assert rules.is_well_formed(payload["token"])


# --- token create ----------------------------------------------------------------------------


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


# --- token list ----------------------------------------------------------------------------------


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


# --- token revoke ---------------------------------------------------------------------------


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


# --- db upgrade / check ----------------------------------------------------------------------


def test_check_succeeds_on_a_migrated_database(cli):
    out = ok(cli("check"))
    assert out.startswith("ok:")


def test_db_upgrade_creates_the_tables_of_a_fresh_sqlite_file(fresh_file):
    url, fresh = fresh_file
    out = ok(fresh("db", "upgrade"))
    assert "head" in out
    engine = make_engine(url)
    try:
        tables = set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert {"sites", "users", "access_tokens", "audit_events", "alembic_version"} <= tables


def test_db_upgrade_twice_is_harmless(fresh_file):
    _, fresh = fresh_file
    ok(fresh("db", "upgrade"))
    ok(fresh("db", "upgrade"))
    assert ok(fresh("check")).startswith("ok:")


def test_check_succeeds_after_db_upgrade_of_a_fresh_file(fresh_file):
    _, fresh = fresh_file
    ok(fresh("db", "upgrade"))
    out = ok(fresh("check"))
    assert out.startswith("ok: database reachable")


def test_check_fails_on_an_empty_database(fresh_file):
    _, fresh = fresh_file
    line = refused(fresh("check"))
    assert "sitescim db upgrade" in line


def test_check_fails_when_the_database_cannot_be_opened(tmp_path):
    missing_dir = f"sqlite:///{tmp_path / 'no' / 'such' / 'dir' / 'x.db'}"
    cli = make_cli(
        database_url=missing_dir, pepper=FRESH_PEPPER, session_secret=FRESH_SESSION_SECRET
    )
    line = refused(cli("check"))
    assert "not reachable" in line


def test_commands_on_a_fresh_file_work_after_db_upgrade(fresh_file):
    _, fresh = fresh_file
    ok(fresh("db", "upgrade"))
    assert ok_json(fresh("site", "create", "Flow", "--slug", "flow", "--json"))["slug"] == "flow"
    ok(fresh("user", "create", "root@flow.test", "--site", "flow", "--privilege", "promaster"))
    created = create_token(fresh, site="flow", who="root@flow.test")
    listed = ok_json(fresh("token", "list", "--site", "flow", "--as", "root@flow.test", "--json"))
    assert [t["id"] for t in listed["tokens"]] == [created["id"]]


@pytest.mark.parametrize(
    "args",
    [
        ("token", "list", "--site", "flow", "--as", "root@flow.test", "--json"),
        ("token", "create", "--site", "flow", "--as", "root@flow.test", "--description", "x"),
        ("site", "create", "Flow", "--slug", "flow", "--json"),
    ],
)
def test_commands_before_db_upgrade_fail_with_one_line_not_a_traceback(fresh_file, args):
    _, fresh = fresh_file
    line = refused(fresh(*args))
    assert "sitescim db upgrade" in line
    assert "SELECT" not in line
    assert "INSERT" not in line


def test_commands_against_an_unreachable_server_fail_with_one_line():
    cli = make_cli(
        database_url="postgresql://nobody@127.0.0.1:1/sitescim",
        pepper=FRESH_PEPPER,
        session_secret=FRESH_SESSION_SECRET,
    )
    line = refused(cli("token", "list", "--site", "site-a", "--as", "ada@a.test", "--json"))
    assert "SITESCIM_DATABASE_URL" in line
    assert "not reachable" in refused(cli("check"))
