"""user_documents.user_document must give exactly what scim2-models would dump.

The read path builds JSON straight from rows for speed; the write path and
attribute selection still go through scim2-models. If the two ever disagreed,
a GET would answer differently from the PATCH that wrote the same user.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st
from scim2_models import Context

from sitescim.db.listings import GroupRef
from sitescim.db.models import Group, User, UserValue
from sitescim.scim.group_mapping import (
    MemberView,
    group_to_model,
    group_to_scim,
    parse_response_parameters,
)
from sitescim.scim.mapping import (
    dump_user,
    narrow_document,
    user_to_scim,
)
from sitescim.scim.schemas import ADDRESS_KEYS, ADDRESS_PARTS, MULTI_VALUED
from sitescim.scim.user_documents import user_document

BASE = "https://scim.example.test/scim/v2/"
words = st.text(alphabet="abcXYZ 019é-", min_size=1, max_size=12)
maybe = st.none() | words
moments = st.integers(min_value=0, max_value=10**9).map(
    lambda micros: datetime(2026, 1, 1, tzinfo=UTC) + timedelta(microseconds=micros * 997)
)


@st.composite
def value_rows(draw: st.DrawFn) -> UserValue:
    attribute = draw(st.sampled_from(sorted(MULTI_VALUED)))
    local = draw(st.text(alphabet="abc019", min_size=1, max_size=8))
    value: str | None = {
        "emails": f"{local}@example.org",
        "photos": f"https://img.example.org/{local}.png",
        "x509Certificates": base64.b64encode(local.encode()).decode(),
    }.get(attribute, local)
    extra = {}
    if attribute == "addresses":
        value = None
        extra = {ADDRESS_KEYS[part]: draw(words) for part in ADDRESS_PARTS if draw(st.booleans())}
    return UserValue(
        attribute=attribute,
        position=draw(st.integers(min_value=0, max_value=3)),
        value=value,
        type=draw(st.none() | st.sampled_from(["work", "home", "other"])),
        primary=draw(st.none() | st.booleans()),
        display=draw(maybe),
        extra=extra,
    )


@st.composite
def users(draw: st.DrawFn) -> User:
    created = draw(moments)
    return User(
        id=draw(st.uuids()).hex,
        site_id="site",
        user_name=draw(words),
        user_name_key="k",
        display_name=draw(maybe),
        external_id=draw(maybe),
        active=draw(st.booleans()),
        privilege=draw(st.sampled_from(["user", "business_analyst", "promaster"])),
        name_formatted=draw(maybe),
        name_family=draw(maybe),
        name_given=draw(maybe),
        name_middle=draw(maybe),
        name_prefix=draw(maybe),
        name_suffix=draw(maybe),
        nick_name=draw(maybe),
        title=draw(maybe),
        user_type=draw(maybe),
        preferred_language=draw(st.none() | st.just("en-GB")),
        locale=draw(st.none() | st.just("fr-FR")),
        timezone=draw(st.none() | st.just("Europe/Paris")),
        employee_number=draw(maybe),
        cost_center=draw(maybe),
        organization=draw(maybe),
        division=draw(maybe),
        department=draw(maybe),
        manager_id=draw(st.none() | st.uuids().map(str)),
        manager_display_name=draw(maybe),
        created_at=created,
        updated_at=created + timedelta(seconds=draw(st.integers(0, 10**6))),
        version=draw(st.integers(min_value=1, max_value=10**6)),
    )


groups = st.lists(
    st.builds(GroupRef, id=st.uuids().map(str), display=maybe), max_size=3, unique_by=lambda g: g.id
)


@given(user=users(), values=st.lists(value_rows(), max_size=6), memberships=groups)
def test_user_document_equals_the_scim2_models_dump(
    user: User, values: list[UserValue], memberships: list[GroupRef]
) -> None:
    for index, row in enumerate(values):
        row.id = index + 1
    expected = dump_user(user_to_scim(user, values, memberships, BASE))
    assert user_document(user, values, memberships, BASE) == expected


@given(user=users(), values=st.lists(value_rows(), max_size=4))
def test_narrowing_a_document_equals_narrowing_the_model(
    user: User, values: list[UserValue]
) -> None:
    for index, row in enumerate(values):
        row.id = index + 1
    resource = user_to_scim(user, values, [], BASE)
    document = user_document(user, values, [], BASE)
    for attributes, excluded in [
        ("userName,emails", None),
        ("name.givenName", None),
        ("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", None),
        (None, "emails,groups,meta"),
    ]:
        expected = dump_user(resource, attributes=attributes, excluded_attributes=excluded)
        narrowed = narrow_document(document, attributes=attributes, excluded_attributes=excluded)
        assert narrowed == expected
        assert set(narrowed) < set(document) or narrowed == document


members = st.lists(
    st.builds(
        MemberView,
        value=st.uuids().map(str),
        kind=st.sampled_from(["User", "Group"]),
        display=maybe,
    ),
    max_size=4,
)


@given(
    name=words,
    external_id=maybe,
    created=moments,
    version=st.integers(min_value=1, max_value=10**6),
    shown=st.none() | members,
)
def test_group_document_equals_the_scim2_models_dump(
    name: str, external_id: str | None, created: datetime, version: int, shown: list | None
) -> None:
    group = Group(
        id="group-1",
        site_id="site",
        display_name=name,
        display_name_key=name.casefold(),
        external_id=external_id,
        created_at=created,
        updated_at=created + timedelta(seconds=1),
        version=version,
    )
    expected = group_to_model(group, shown, BASE.rstrip("/")).model_dump(
        scim_ctx=Context.RESOURCE_QUERY_RESPONSE
    )
    assert group_to_scim(group, shown, BASE.rstrip("/")) == expected
    excluded = parse_response_parameters(None, "members")
    assert "members" not in group_to_scim(group, None, BASE.rstrip("/"), parameters=excluded)
