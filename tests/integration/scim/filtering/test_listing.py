"""Listing: parameters, sort order and pages, evaluated in the database, on SQLite and PostgreSQL.

Rows are written straight through the ORM and queried through
``sitescim.scim.listing``, the functions the /Users and /Groups routers call.
"""

from __future__ import annotations

import pytest
from scim2_models import InvalidFilterException, InvalidPathException, InvalidValueException

from sitescim.db import listings
from sitescim.db.engine import Database
from sitescim.scim import listing
from sitescim.scim.catalog import GROUP_CATALOG, USER_CATALOG


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
