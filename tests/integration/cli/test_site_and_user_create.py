"""The command line: site create and user create (SPEC section 5), on SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import select

from sitescim.db.models import Site, User
from sitescim.domain import tokens as rules
from tests.integration.cli.calls import count, create_token, ok, ok_json, refused


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
