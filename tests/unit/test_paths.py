"""The one attribute-path parser (scim.paths) that compat, listing and patching share."""

from __future__ import annotations

import pytest

from sitescim.scim.paths import AttributePath, parse_path, split_urn
from sitescim.scim.schemas import ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, USER_SCHEMA

USER_URNS = (USER_SCHEMA, ENTERPRISE_USER_SCHEMA)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("userName", AttributePath(None, "userName", None, filtered=False)),
        ("name.givenName", AttributePath(None, "name", "givenName", filtered=False)),
        ("  title ", AttributePath(None, "title", None, filtered=False)),
        ('emails[type eq "work"]', AttributePath(None, "emails", None, filtered=True)),
        ('emails[type eq "a.b"].value', AttributePath(None, "emails", "value", filtered=True)),
        (
            f"{ENTERPRISE_USER_SCHEMA}:manager.value",
            AttributePath(ENTERPRISE_USER_SCHEMA, "manager", "value", filtered=False),
        ),
        (
            f"{USER_SCHEMA.upper()}:Name.GivenName",
            AttributePath(USER_SCHEMA, "Name", "GivenName", filtered=False),
        ),
        (
            ENTERPRISE_USER_SCHEMA.lower(),
            AttributePath(ENTERPRISE_USER_SCHEMA, "", None, filtered=False, urn_only=True),
        ),
        # A URN of no declared schema is no URN: the attribute keeps the whole text.
        ("urn:x:y:department", AttributePath(None, "urn:x:y:department", None, filtered=False)),
    ],
)
def test_paths_split_against_the_declared_urns(text: str, expected: AttributePath) -> None:
    assert parse_path(text, USER_URNS) == expected


def test_without_declared_urns_any_urn_prefix_ends_at_the_last_colon() -> None:
    assert parse_path(f"{ENTERPRISE_USER_SCHEMA}:manager.value") == AttributePath(
        ENTERPRISE_USER_SCHEMA, "manager", "value", filtered=False
    )
    assert parse_path("urn:x:y:department") == AttributePath(
        "urn:x:y", "department", None, filtered=False
    )
    assert parse_path("URN:x:Title") == AttributePath("URN:x", "Title", None, filtered=False)


def test_a_trailing_dot_or_filter_without_sub_attribute_gives_none() -> None:
    assert parse_path("name.").sub is None
    assert parse_path("members[value eq 1].").sub is None


def test_split_urn_tells_a_bare_urn_from_an_attribute_below_it() -> None:
    assert split_urn(GROUP_SCHEMA, (GROUP_SCHEMA,)) == (GROUP_SCHEMA, None)
    assert split_urn(f"{GROUP_SCHEMA.lower()}:members", (GROUP_SCHEMA,)) == (
        GROUP_SCHEMA,
        "members",
    )
    assert split_urn(f"{GROUP_SCHEMA}:", (GROUP_SCHEMA,)) == (GROUP_SCHEMA, "")
    assert split_urn("displayName", (GROUP_SCHEMA,)) == (None, "displayName")
    assert split_urn("displayName") == (None, "displayName")
