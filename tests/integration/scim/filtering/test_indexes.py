"""Indexes: the lookups identity providers send most must not scan the table; evaluated
in the database, on SQLite and PostgreSQL.

Rows are written straight through the ORM and queried through
``sitescim.scim.listing``, the functions the /Users and /Groups routers call.
"""

from __future__ import annotations

import pytest
from sqlalchemy import text
from starlette.testclient import TestClient

from sitescim.db.engine import Database
from sitescim.db.models import User, UserValue
from sitescim.settings import Settings
from sitescim.web.app import create_app
from tests.integration.scim.rows import T0
from tests.integration.statements import explain, recorded_statements, statements_with
from tests.world import FakeClock, World


@pytest.mark.parametrize(
    ("filter_text", "index"),
    [
        # SQLite names a unique constraint's index itself; the columns tell it apart.
        (
            'userName eq "user-123"',
            "uq_users_site_id_user_name_key|(site_id=? AND user_name_key=?)",
        ),
        ('externalId eq "ext-123"', "ix_users_site_id_external_id"),
        ('emails.value eq "user-123@example.com"', "ix_user_values_site_id_attribute_value_key"),
    ],
)
def test_equality_lookups_use_their_index(
    settings: Settings,
    database: Database,
    clock: FakeClock,
    world: World,
    auth_a: dict[str, str],
    filter_text: str,
    index: str,
) -> None:
    """Planned from the statements a GET /Users with the filter really sends."""
    site_a, site_b = world.site_a, world.site_b
    with database.transaction(write=True) as session:
        for site_id in (site_a, site_b):
            session.execute(
                User.__table__.insert(),
                [
                    {
                        "id": f"{site_id[:8]}-{n}",
                        "site_id": site_id,
                        "user_name": f"user-{n}",
                        "user_name_key": f"user-{n}",
                        "external_id": f"ext-{n}",
                        "active": True,
                        "privilege": "user",
                        "version": 1,
                        "created_at": T0,
                        "updated_at": T0,
                    }
                    for n in range(1000)
                ],
            )
            session.execute(
                UserValue.__table__.insert(),
                [
                    {
                        "user_id": f"{site_id[:8]}-{n}",
                        "site_id": site_id,
                        "attribute": "emails",
                        "position": 0,
                        "value": f"user-{n}@example.com",
                        "value_key": f"user-{n}@example.com",
                        "primary": True,
                        "extra": {},
                    }
                    for n in range(1000)
                ],
            )
        session.execute(text("ANALYZE"))
    app = create_app(settings, clock=clock, database=database)
    with recorded_statements() as sent, TestClient(app) as client:
        response = client.get("/scim/v2/Users", params={"filter": filter_text}, headers=auth_a)
    assert response.status_code == 200, response.text
    assert [user["id"] for user in response.json()["Resources"]] == [f"{site_a[:8]}-123"]
    lookups = statements_with(sent, filter_text.split('"')[1])
    assert lookups, [statement.sql[:80] for statement in sent]
    for statement in lookups:
        plan = explain(database.engine, statement)
        assert any(name in plan for name in index.split("|")), plan
        assert "SCAN users" not in plan, plan
        assert "Seq Scan on users" not in plan, plan
