"""The command line: db upgrade, check, and failing with one line.

SPEC section 5, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import pytest
from sqlalchemy import inspect

from sitescim.db.engine import make_engine
from tests.integration.cli.calls import (
    FRESH_PEPPER,
    FRESH_SESSION_SECRET,
    create_token,
    make_cli,
    ok,
    ok_json,
    refused,
)


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
