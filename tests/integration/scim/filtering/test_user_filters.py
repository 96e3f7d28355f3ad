"""User filters, evaluated in the database, on SQLite and PostgreSQL.

Rows are written straight through the ORM and queried through
``sitescim.scim.listing``, the functions the /Users and /Groups routers call.
"""

from __future__ import annotations

import pytest
from scim2_models import InvalidFilterException

from sitescim.db.engine import Database
from tests.integration.scim.filtering.calls import ENTERPRISE, matching, names

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
