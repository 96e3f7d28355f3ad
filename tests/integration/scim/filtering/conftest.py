"""Two sites and the people of the filtering tests, written straight through the ORM."""

from __future__ import annotations

from datetime import timedelta

import pytest

from sitescim.db.engine import Database
from sitescim.services.runtime import Runtime
from tests.factories import make_site
from tests.integration.scim.rows import T0, insert_user


@pytest.fixture
def sites(runtime: Runtime) -> tuple[str, str]:
    return make_site(runtime, "Site A", slug="site-a"), make_site(runtime, "Site B", slug="site-b")


@pytest.fixture
def people(database: Database, sites: tuple[str, str]) -> dict[str, str]:
    """Four users of site A, and a namesake of one of them in site B."""
    site_a, site_b = sites
    with database.transaction(write=True) as session:
        ids = {
            "babs": insert_user(
                session,
                site_a,
                "BJensen",
                display_name="Babs Jensen",
                external_id="Ext-1",
                name_given="Barbara",
                name_family="Jensen",
                title="Tour Guide",
                department="Tours",
                manager_id="boss-1",
                updated_at=T0 + timedelta(days=2),
                values=[
                    ("emails", "bjensen@example.com", "work", True),
                    ("emails", "babs@home.test", "home", False),
                    ("roles", "Guide", None, False),
                ],
            ).id,
            "jim": insert_user(
                session,
                site_a,
                "jsmith",
                display_name="Jim Smith",
                external_id="ext-1",
                active=False,
                values=[("emails", "jim@x.test", "work", True)],
            ).id,
            "pct": insert_user(
                session,
                site_a,
                "100%_sure",
                values=[("emails", "pct@x.test", "home", True)],
                updated_at=T0 + timedelta(days=5),
            ).id,
            "local": insert_user(session, site_a, "local").id,
            "other": insert_user(
                session,
                site_b,
                "bjensen",
                external_id="Ext-1",
                values=[("emails", "bjensen@example.com", "work", True)],
            ).id,
        }
    return ids
