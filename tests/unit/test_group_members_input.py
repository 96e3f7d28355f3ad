"""Property: plain members read straight from a group body equal scim2-models' reading.

group_mapping.group_from_scim skips per-member validation for plain members;
the ids it returns (order, repeats dropped) and the errors it raises must be
those of validating the whole body with scim2-models.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from scim2_models import Context, Group, SCIMException

from sitescim.scim.group_mapping import GroupInput, group_from_scim, member_values
from sitescim.scim.schemas import GROUP_SCHEMA

ids = st.sampled_from(["u1", "u2", "g1", "2819c223-7f76-453a-919d-413861904646", "é"])
member = st.fixed_dictionaries(
    {"value": ids},
    optional={
        "type": st.sampled_from(["User", "Group", "user", "Robot"]),
        "display": st.text(max_size=8),
        "$ref": st.sampled_from(["https://x.example/scim/v2/Users/u1", "Users/u1"]),
    },
)
body = st.fixed_dictionaries(
    {
        "schemas": st.just([GROUP_SCHEMA]),
        "displayName": st.sampled_from(["Staff", " Staff ", "Ünits"]),
        "members": st.lists(member, max_size=6),
    },
    optional={"externalId": st.sampled_from(["E1", "e-2"])},
)


def _reference(payload: dict[str, Any]) -> GroupInput | str:
    try:
        model = Group.model_validate(payload, scim_ctx=Context.RESOURCE_CREATION_REQUEST)
        members = member_values(model.members or [])
    except (SCIMException, ValueError) as error:
        return type(error).__name__
    return GroupInput(
        display_name=(model.display_name or "").strip(),
        external_id=model.external_id,
        members=members,
    )


def _ours(payload: dict[str, Any]) -> GroupInput | str:
    try:
        return group_from_scim(payload, context=Context.RESOURCE_CREATION_REQUEST)
    except (SCIMException, ValueError) as error:
        return type(error).__name__


@given(payload=body)
def test_plain_members_read_like_scim2_models(payload: dict[str, Any]) -> None:
    assert _ours(payload) == _reference(payload)


@pytest.mark.parametrize(
    "members",
    [
        [{"value": 7}],
        [{"value": ""}],
        [{"value": "u1", "type": 3}],
        [{"value": "u1", "extra": "x"}],
        [{"Value": "u1"}],
        ["u1"],
    ],
)
def test_other_members_are_validated_one_by_one(members: list[Any]) -> None:
    payload = {"schemas": [GROUP_SCHEMA], "displayName": "Staff", "members": members}
    assert _ours(payload) == _reference(payload)
