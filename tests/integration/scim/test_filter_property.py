"""Property: the SQL a filter compiles to selects exactly the users scim2-models' match() selects.

Random small sets of users are written as rows (a fresh site per example),
turned into SCIM resources by mapping.user_to_scim (what clients see), and
random filters from the RFC 7644 grammar are evaluated both ways, on SQLite
and PostgreSQL.

Where the generator is narrower than the grammar, on purpose:

- ASCII values only: the ``*_key`` columns are ``str.casefold()``ed and other
  case-insensitive columns go through SQL ``lower()``, which on SQLite folds
  ASCII only, while scim2-models applies NFC + ``str.lower()``. Those agree on
  ASCII; for other scripts they may differ (e.g. "ß" folds to "ss").
- ``emails.value`` is compared with eq/ne/ordering operators on e-mail shaped
  operands only: scim2-models validates such an operand as an ``EmailStr`` and
  refuses the filter otherwise (the SQL side would simply match nothing).
- no empty strings: RFC 7644 "pr" treats "" as absent and so do both sides, but
  the mapping never stores one.
- no ``ne`` on a multi-valued attribute outside a value path: RFC 7644
  §3.4.2.2 matches when any value differs, scim2-models when no value is
  equal; the service follows the RFC (``tests/integration/scim/filtering`` has the examples).
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from scim2_models import ScimFilter
from sqlalchemy import select

from sitescim.db.engine import Database
from sitescim.db.models import Site, User, UserValue
from sitescim.scim.filtering import user_filter
from sitescim.scim.mapping import ReadOnlyPrivilegeUser, user_to_scim
from tests.integration.scim.rows import T0, insert_user

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
MOMENTS = [T0 + timedelta(hours=hours) for hours in (0, 1, 2, 30)]
STAMPS = [moment.strftime("%Y-%m-%dT%H:%M:%SZ") for moment in MOMENTS]

WORDS = ["alice", "Alice", "ALI", "bob", "b_b", "50%", "zed", "Tours", "tours"]
EXTERNAL = ["E1", "e1", "E2", "x%y"]
EMAILS = ["a@example.com", "A@Example.COM", "b_c@example.org", "d%e@example.org"]
FRAGMENTS = ["a", "A", "li", "B", "_", "%", "e1", "E", "@example.", "ORG", "z", "tour"]
TYPES = ["work", "home", "Work"]

maybe_word = st.one_of(st.none(), st.sampled_from(WORDS))

email_entry = st.tuples(
    st.sampled_from(EMAILS), st.one_of(st.none(), st.sampled_from(TYPES)), st.booleans()
)

person = st.fixed_dictionaries(
    {
        "user_name": st.sampled_from(WORDS),
        "display_name": maybe_word,
        "name_given": maybe_word,
        "name_family": maybe_word,
        "title": maybe_word,
        "active": st.booleans(),
        "external_id": st.one_of(st.none(), st.sampled_from(EXTERNAL)),
        "department": maybe_word,
        "updated_at": st.sampled_from(MOMENTS),
        "emails": st.lists(email_entry, max_size=3),
    }
)

STRING_ATTRIBUTES = [
    "userName",
    "UserName",
    "displayName",
    "name.givenName",
    "name.familyName",
    "title",
    "externalId",
    f"{ENTERPRISE}:department",
    "urn:ietf:params:scim:schemas:core:2.0:User:title",
]
STRING_OPS = ["eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le"]


def quote(value: Any) -> str:
    return ScimFilter.quote(value)


string_comparison = st.builds(
    lambda attribute, op, value: f"{attribute} {op} {quote(value)}",
    st.sampled_from(STRING_ATTRIBUTES),
    st.sampled_from(STRING_OPS),
    st.sampled_from(WORDS + EXTERNAL + FRAGMENTS),
)
presence = st.builds(
    lambda attribute: f"{attribute} pr",
    st.sampled_from([*STRING_ATTRIBUTES, "emails", "emails.type", "name", "active"]),
)
active = st.builds(
    lambda op, value: f"active {op} {quote(value)}",
    st.sampled_from(["eq", "ne"]),
    st.booleans(),
)
modified = st.builds(
    lambda op, stamp: f"meta.lastModified {op} {quote(stamp)}",
    st.sampled_from(["eq", "ne", "gt", "ge", "lt", "le"]),
    st.sampled_from(STAMPS),
)
email_value = st.one_of(
    st.builds(
        lambda attribute, op, value: f"{attribute} {op} {quote(value)}",
        st.sampled_from(["emails", "emails.value"]),
        st.sampled_from(["eq", "gt", "le"]),
        st.sampled_from(EMAILS),
    ),
    st.builds(
        lambda attribute, op, value: f"{attribute} {op} {quote(value)}",
        st.sampled_from(["emails", "emails.value"]),
        st.sampled_from(["co", "sw", "ew"]),
        st.sampled_from(FRAGMENTS),
    ),
    st.builds(
        lambda op, value: f"emails.type {op} {quote(value)}",
        st.sampled_from(["eq", "co"]),
        st.sampled_from(TYPES),
    ),
)
inner_term = st.one_of(
    st.builds(
        lambda op, value: f"type {op} {quote(value)}",
        st.sampled_from(["eq", "ne", "sw"]),
        st.sampled_from(TYPES),
    ),
    st.builds(
        lambda op, value: f"value {op} {quote(value)}",
        st.sampled_from(["co", "sw", "ew"]),
        st.sampled_from(FRAGMENTS),
    ),
    st.builds(lambda value: f"value eq {quote(value)}", st.sampled_from(EMAILS)),
    st.builds(lambda value: f"primary eq {quote(value)}", st.booleans()),
    st.sampled_from(["type pr", "primary pr", "value pr"]),
)
inner_filter = st.recursive(
    inner_term,
    lambda children: st.one_of(
        st.builds(lambda a, b: f"({a} and {b})", children, children),
        st.builds(lambda a, b: f"({a} or {b})", children, children),
        st.builds(lambda a: f"not ({a})", children),
    ),
    max_leaves=3,
)
value_path = st.builds(lambda inner: f"emails[{inner}]", inner_filter)

term = st.one_of(string_comparison, presence, active, modified, email_value, value_path)
filters = st.recursive(
    term,
    lambda children: st.one_of(
        st.builds(lambda a, b: f"{a} and {b}", children, children),
        st.builds(lambda a, b: f"({a} or {b})", children, children),
        st.builds(lambda a: f"not ({a})", children),
    ),
    max_leaves=4,
)


@settings(
    max_examples=150,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(people=st.lists(person, max_size=5), filter_texts=st.lists(filters, min_size=1, max_size=3))
def test_sql_filter_agrees_with_scim2_models(
    database: Database, people: list[dict[str, Any]], filter_texts: list[str]
) -> None:
    resources = {}
    with database.transaction(write=True) as session:
        site = Site(slug=f"p-{uuid.uuid4().hex[:12]}", name="Property", created_at=T0)
        session.add(site)
        session.flush()
        for index, attributes in enumerate(people):
            fields = dict(attributes)
            emails = fields.pop("emails")
            user = insert_user(
                session,
                site.id,
                f"{fields.pop('user_name')}{index}",
                values=[("emails", value, kind, primary) for value, kind, primary in emails],
                **fields,
            )
            values = session.scalars(select(UserValue).where(UserValue.user_id == user.id)).all()
            resources[user.id] = user_to_scim(user, values, [], "https://scim.test/scim/v2")
    site_id = site.id

    for filter_text in filter_texts:
        scim_filter = ScimFilter[ReadOnlyPrivilegeUser](filter_text)
        expected = {
            user_id for user_id, resource in resources.items() if scim_filter.match(resource)
        }
        with database.transaction(write=False) as session:
            found = set(session.scalars(select(User.id).where(user_filter(site_id, filter_text))))
        event(
            f"matched {'none' if not expected else 'all' if expected == set(resources) else 'some'}"
        )
        assert found == expected, filter_text


@settings(max_examples=300)
@given(filter_text=filters)
def test_property_generator_makes_valid_filters(filter_text: str) -> None:
    """A guard for the generator itself: scim2-models and our compiler both accept each filter.

    Otherwise the property above would fail on refusals instead of on answers,
    or compare two refusals.
    """
    ScimFilter[ReadOnlyPrivilegeUser](filter_text)
    user_filter("00000000-0000-0000-0000-000000000001", filter_text)
