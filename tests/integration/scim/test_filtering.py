"""Filters, sorting and pages evaluated in the database, on SQLite and PostgreSQL.

Rows are written straight through the ORM and queried through
``sitescim.scim.listing``, the functions the /Users and /Groups routers call.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from scim2_models import InvalidFilterException, InvalidPathException, InvalidValueException
from sqlalchemy import select, text
from starlette.testclient import TestClient

from sitescim.db import listings
from sitescim.db.engine import Database
from sitescim.db.models import Group, Membership, User, UserValue
from sitescim.scim import listing
from sitescim.scim.catalog import GROUP_CATALOG, USER_CATALOG
from sitescim.scim.filtering import user_filter
from sitescim.services.runtime import Runtime
from sitescim.settings import Settings
from sitescim.web.app import create_app
from tests.factories import make_site
from tests.integration.scim.rows import T0, insert_user
from tests.integration.statements import explain, recorded_statements, statements_with
from tests.world import FakeClock, World

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


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


def matching(database: Database, site_id: str, filter_text: str) -> set[str]:
    with database.transaction(write=False) as session:
        return set(session.scalars(select(User.id).where(user_filter(site_id, filter_text))))


def names(ids: dict[str, str], *keys: str) -> set[str]:
    return {ids[key] for key in keys}


CASES = [
    ('userName eq "bjensen"', ["babs"]),
    ('USERNAME Eq "BJENSEN"', ["babs"]),
    ('urn:ietf:params:scim:schemas:core:2.0:User:userName eq "bjensen"', ["babs"]),
    ('externalId eq "Ext-1"', ["babs"]),
    ('externalId eq "ext-1"', ["jim"]),
    ('externalId co "EXT"', []),
    ('displayName co "SMITH"', ["jim"]),
    ('name.givenName sw "bar"', ["babs"]),
    ('title ne "Tour Guide"', ["jim", "pct", "local"]),
    ('not (title eq "tour guide")', ["jim", "pct", "local"]),
    ("title pr", ["babs"]),
    ("not (title pr)", ["jim", "pct", "local"]),
    ("active eq false", ["jim"]),
    ('active eq true and userName sw "b"', ["babs"]),
    ('emails co "@x.test"', ["jim", "pct"]),
    ('emails.value ew ".COM"', ["babs"]),
    ('emails[type eq "work" and value co "@x"]', ["jim"]),
    ('emails[type eq "work"].value co "example"', ["babs"]),
    ('emails[type eq "home" and primary eq true]', ["pct"]),
    ('emails.value ne "jim@x.test"', ["babs", "pct", "local"]),
    # RFC 7644 §3.4.2.2: ANY value that differs matches (babs has a second address).
    ('emails.value ne "bjensen@example.com"', ["babs", "jim", "pct", "local"]),
    ('emails ne "BJENSEN@example.com"', ["babs", "jim", "pct", "local"]),
    ('emails.type ne "work"', ["babs", "pct", "local"]),
    ('roles ne "guide"', ["jim", "pct", "local"]),
    ('not (emails.value eq "bjensen@example.com")', ["jim", "pct", "local"]),
    ('emails[not (type eq "work")]', ["babs", "pct"]),
    ("emails pr", ["babs", "jim", "pct"]),
    ("not (emails pr)", ["local"]),
    ('roles eq "guide"', ["babs"]),
    ('userName co "%"', ["pct"]),
    ('userName co "_"', ["pct"]),
    ('userName sw "1%"', []),
    (f'{ENTERPRISE}:department eq "tours"', ["babs"]),
    (f'{ENTERPRISE}:manager.value eq "boss-1"', ["babs"]),
    ('meta.lastModified gt "2026-01-02T00:00:00Z"', ["babs", "pct"]),
    ('meta.lastModified ge "2026-01-06T00:00:00+00:00"', ["pct"]),
    ('meta.resourceType eq "User"', ["babs", "jim", "pct", "local"]),
    ('userName gt "j" and userName lt "k"', ["jim"]),
    ('(userName eq "jsmith" or userName eq "local") and not (active eq false)', ["local"]),
    ("externalId eq null", ["pct", "local"]),
]


@pytest.mark.parametrize(("filter_text", "expected"), CASES)
def test_filter_selects_the_right_users(
    database: Database,
    sites: tuple[str, str],
    people: dict[str, str],
    filter_text: str,
    expected: list[str],
) -> None:
    assert matching(database, sites[0], filter_text) == names(people, *expected)


def test_filter_by_id_is_case_exact(
    database: Database, sites: tuple[str, str], people: dict[str, str]
) -> None:
    babs = people["babs"]
    assert matching(database, sites[0], f'id eq "{babs}"') == {babs}
    assert matching(database, sites[0], f'id eq "{babs.upper()}"') == set()


def test_another_sites_users_never_match(
    database: Database, sites: tuple[str, str], people: dict[str, str]
) -> None:
    other = people["other"]
    assert matching(database, sites[0], f'id eq "{other}"') == set()
    assert matching(database, sites[1], 'userName eq "bjensen"') == {other}
    assert matching(database, sites[1], "emails.value pr or not (emails pr)") == {other}


BAD_FILTERS = [
    'nickname2 eq "x"',
    'name.nope eq "x"',
    'urn:example:unknown:schema:title eq "x"',
    "active gt true",
    'active co "t"',
    'meta.created co "2020"',
    'meta.created gt "not a date"',
    "userName eq 12",
    'name eq "x"',
    'userName[value eq "x"]',
    'password eq "secret"',
    "userName gt null",
    'userName eq "unterminated',
    "userName eq",
    "(userName pr",
    "",
    " or ".join(['userName eq "x"'] * 250),
    "x" * 5000,
    "(" * 3000 + "userName pr" + ")" * 3000,
    "not (" * 40 + "userName pr" + ")" * 40,
]


@pytest.mark.parametrize("filter_text", BAD_FILTERS)
def test_bad_filter_is_an_invalid_filter_error(
    database: Database, sites: tuple[str, str], filter_text: str
) -> None:
    with pytest.raises(InvalidFilterException) as raised:
        matching(database, sites[0], filter_text)
    assert raised.value.to_error().scim_type == "invalidFilter"


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


# Listing: parameters, order, pages.


def page(database: Database, site_id: str, **params: str) -> listings.UserRowsPage:
    query = listing.query_from_params(params, USER_CATALOG)
    with database.transaction(write=False) as session:
        return listings.read_user_page(session, site_id, listing.plan_user_page(site_id, query))


def test_pages_follow_sort_order_and_report_the_total(
    database: Database, sites: tuple[str, str], people: dict[str, str]
) -> None:
    first = page(database, sites[0], sortBy="userName", startIndex="1", count="2")
    second = page(database, sites[0], sortBy="userName", startIndex="3", count="2")
    assert (first.total, second.total) == (4, 4)
    ordered = [user.user_name for user in [*first.users, *second.users]]
    assert ordered == ["100%_sure", "BJensen", "jsmith", "local"]
    descending = page(database, sites[0], sortBy="username", sortOrder="descending")
    assert [user.user_name for user in descending.users] == ordered[::-1]


def test_missing_sort_values_come_last_ascending_and_first_descending(
    database: Database, sites: tuple[str, str], people: dict[str, str]
) -> None:
    up = page(database, sites[0], sortBy="title")
    down = page(database, sites[0], sortBy="title", sortOrder="descending")
    assert up.users[0].id == people["babs"]
    assert down.users[-1].id == people["babs"]


def test_sort_by_a_multi_valued_attribute_uses_the_primary_value(
    database: Database, sites: tuple[str, str], people: dict[str, str]
) -> None:
    result = page(database, sites[0], sortBy="emails", filter="emails.type pr")
    assert [user.id for user in result.users] == [people["babs"], people["jim"], people["pct"]]


def test_page_brings_the_values_and_groups_of_its_users(
    database: Database, sites: tuple[str, str], people: dict[str, str]
) -> None:
    result = page(database, sites[0], filter='userName eq "bjensen"')
    assert [user.id for user in result.users] == [people["babs"]]
    assert [row.value for row in result.values[people["babs"]]] == [
        "bjensen@example.com",
        "babs@home.test",
        "Guide",
    ]
    assert result.groups[people["babs"]] == []
    trimmed = page(database, sites[0], filter='userName eq "bjensen"', attributes="userName")
    assert trimmed.values[people["babs"]] == []


def test_count_and_start_index_are_clamped(
    database: Database, sites: tuple[str, str], people: dict[str, str]
) -> None:
    assert listing.query_from_params({"count": "-5"}, USER_CATALOG).count == 0
    assert listing.query_from_params({"count": "100000"}, USER_CATALOG).count == listing.MAX_COUNT
    assert listing.query_from_params({}, USER_CATALOG).count == listing.DEFAULT_COUNT
    assert listing.query_from_params({"startIndex": "-3"}, USER_CATALOG).start_index == 1
    empty = page(database, sites[0], count="0")
    assert (empty.total, list(empty.users)) == (4, [])
    beyond = page(database, sites[0], startIndex="10")
    assert (beyond.total, list(beyond.users)) == (4, [])
    all_of_them = page(database, sites[0], startIndex="0")
    assert len(all_of_them.users) == 4


def test_search_body_is_read_like_the_query_string() -> None:
    query = listing.query_from_search(
        {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
            "filter": 'userName sw "b"',
            "sortBy": "meta.lastModified",
            "sortOrder": "descending",
            "startIndex": 2,
            "count": 5,
            "attributes": ["userName", "emails"],
        },
        USER_CATALOG,
    )
    assert query == listing.ListQuery(
        filter='userName sw "b"',
        sort_by="meta.lastModified",
        descending=True,
        start_index=2,
        count=5,
        attributes=("userName", "emails"),
    )


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"count": "ten"}, InvalidValueException),
        ({"startIndex": "1.5"}, InvalidValueException),
        ({"sortOrder": "sideways"}, InvalidValueException),
        ({"sortBy": "nope"}, InvalidPathException),
        ({"sortBy": "name"}, InvalidPathException),
        ({"sortBy": "x509Certificates.value"}, InvalidPathException),
        ({"filter": 'userName zz "x"'}, InvalidFilterException),
        ({"attributes": "userName", "excludedAttributes": "emails"}, InvalidValueException),
    ],
)
def test_bad_list_parameters_are_refused(params: dict[str, str], error: type[Exception]) -> None:
    with pytest.raises(error):
        listing.query_from_params(params, USER_CATALOG)


def test_search_body_with_a_wrong_schema_is_refused() -> None:
    with pytest.raises(InvalidValueException):
        listing.query_from_search({"schemas": ["urn:x"], "count": 1}, USER_CATALOG)


def test_excluded_members_is_signalled() -> None:
    def returns_members(**params: str) -> bool:
        return listing.query_from_params(params, GROUP_CATALOG).returns("members")

    assert returns_members()
    assert not returns_members(excludedAttributes="members")
    assert not returns_members(
        excludedAttributes="displayName,urn:ietf:params:scim:schemas:core:2.0:Group:Members"
    )
    assert returns_members(excludedAttributes="members.display")
    assert not returns_members(attributes="displayName")
    assert returns_members(attributes="members.value")


# Indexes: the lookups identity providers send most must not scan the table.


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
