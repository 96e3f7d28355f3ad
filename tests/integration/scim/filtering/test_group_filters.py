"""Group filters on members and display name, evaluated in the database, on SQLite and PostgreSQL.

Rows are written straight through the ORM and queried through
``sitescim.scim.listing``, the functions the /Users and /Groups routers call.
"""

from __future__ import annotations

from sitescim.db import listings
from sitescim.db.engine import Database
from sitescim.db.models import Group, Membership
from sitescim.scim import listing
from sitescim.scim.catalog import GROUP_CATALOG, USER_CATALOG
from tests.integration.scim.rows import T0


def test_group_filters_on_members_and_display_name(
    database: Database, sites: tuple[str, str], people: dict[str, str]
) -> None:
    site_a = sites[0]
    with database.transaction(write=True) as session:
        tours = Group(
            site_id=site_a,
            display_name="Tours",
            display_name_key="tours",
            created_at=T0,
            updated_at=T0,
        )
        staff = Group(
            site_id=site_a,
            display_name="Staff_all",
            display_name_key="staff_all",
            created_at=T0,
            updated_at=T0,
        )
        session.add_all([tours, staff])
        session.flush()
        session.add_all(
            [
                Membership(site_id=site_a, group_id=tours.id, user_id=people["babs"]),
                Membership(site_id=site_a, group_id=staff.id, member_group_id=tours.id),
                Membership(site_id=site_a, group_id=staff.id, user_id=people["jim"]),
            ]
        )
        ids = {"tours": tours.id, "staff": staff.id}

    def groups(filter_text: str) -> set[str]:
        query = listing.query_from_params({"filter": filter_text}, GROUP_CATALOG)
        with database.transaction(write=False) as session:
            plan = listing.plan_group_page(site_a, query)
            return {group.id for group in listings.read_group_page(session, plan).groups}

    assert groups(f'members.value eq "{people["babs"]}"') == {ids["tours"]}
    assert groups(f'members eq "{ids["tours"]}"') == {ids["staff"]}
    assert groups('members[type eq "group"]') == {ids["staff"]}
    assert groups('members.display eq "jim smith"') == {ids["staff"]}
    assert groups('displayName co "_"') == {ids["staff"]}
    assert groups('displayName eq "TOURS"') == {ids["tours"]}
    assert groups("not (members pr)") == set()
    query = listing.query_from_params({"filter": f'groups.value eq "{ids["tours"]}"'}, USER_CATALOG)
    with database.transaction(write=False) as session:
        plan = listing.plan_user_page(site_a, query)
        as_user = {row.id for row in listings.read_user_page(session, site_a, plan).users}
    assert as_user == {people["babs"]}
