"""The plain lookup shape (scim.lookups.query_from_params) skips the filter grammar, so
everything of that shape must parse and be recognised as a lookup, and the query must
be the one ``listing`` builds."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from scim2_models import InvalidFilterException, InvalidValueException

from sitescim.scim import filtering, listing, lookups
from sitescim.scim.catalog import GROUP_CATALOG, USER_CATALOG
from sitescim.scim.schemas import GROUP_SCHEMA, USER_SCHEMA

spaces = st.text(alphabet=" \t\u00a0\u2003", max_size=3)
gaps = st.text(alphabet=" \t\u00a0\u2003", min_size=1, max_size=3)
values = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)


def _cased(name: str) -> st.SearchStrategy[str]:
    return st.sampled_from([name, name.upper(), name.lower()])


def _shapes(schema: str, names: list[str]) -> st.SearchStrategy[str]:
    """Filters of the plain lookup shape, and near it (any value, so some are not)."""
    attribute = st.sampled_from(names).flatmap(_cased)
    prefix = st.sampled_from(["", schema + ":", schema.upper() + ":"])
    operator = st.sampled_from(["eq", "EQ", "Eq"])
    return st.tuples(spaces, prefix, attribute, gaps, operator, gaps, values, spaces).map(
        lambda parts: "".join(parts[:6]) + f'"{parts[6]}"' + parts[7]
    )


@given(_shapes(USER_SCHEMA, ["userName", "externalId", "id"]))
def test_every_plain_user_filter_parses_and_is_a_lookup(text: str) -> None:
    if lookups._PLAIN_USER.match(text) is None:
        return  # an escape or control character: the general way, checked there
    filtering.parse_filter(text)
    query = lookups.query_from_params({"filter": text}, USER_CATALOG)
    assert query == listing.query_from_params({"filter": text}, USER_CATALOG)
    assert lookups.user_lookup(query) is not None


@given(_shapes(GROUP_SCHEMA, ["displayName", "externalId", "id"]))
def test_every_plain_group_filter_parses_and_is_a_lookup(text: str) -> None:
    if lookups._PLAIN_GROUP.match(text) is None:
        return
    filtering.parse_filter(text)
    query = lookups.query_from_params({"filter": text}, GROUP_CATALOG)
    assert query == listing.query_from_params({"filter": text}, GROUP_CATALOG)
    assert lookups.group_lookup(query) is not None


@pytest.mark.parametrize(
    "text",
    [
        'userName\u00a0eq "x"',  # not an ASCII space: the grammar refuses it
        'userName eq "\x01"',
        'userName eq "' + "x" * filtering.MAX_FILTER_LENGTH + '"',
        'userName eq "x" and',
    ],
)
def test_other_filters_are_still_parsed_and_refused(text: str) -> None:
    assert lookups._PLAIN_USER.match(text) is None or len(text) > filtering.MAX_FILTER_LENGTH
    with pytest.raises(InvalidFilterException):
        lookups.query_from_params({"filter": text}, USER_CATALOG)


def test_other_parameters_are_checked_as_listing_checks_them() -> None:
    params = {"filter": 'userName eq "x"', "count": "-3", "startIndex": "0", "attributes": "id"}
    assert lookups.query_from_params(params, USER_CATALOG) == listing.query_from_params(
        params, USER_CATALOG
    )
    with pytest.raises(InvalidValueException):
        lookups.query_from_params({"filter": 'userName eq "x"', "count": "many"}, USER_CATALOG)
