"""The group PATCH fast path (scim.group_patch) plans exactly what scim2-models' path plans.

Bodies are drawn near the recognised shapes: members lists with odd items,
filters with other operators, attribute names in other cases, values of other
types. Whenever the fast path gives a plan, the general path must give the same
plan under both the lenient and the strict policy, and must not refuse the body.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from sitescim.scim import compat
from sitescim.scim.group_patch import everyday_plan
from sitescim.scim.patching import GroupPatch, MembershipStep, StepKind, parse_group_patch
from sitescim.scim.schemas import PATCH_OP_SCHEMA

ids = st.sampled_from(["u1", "u2", "G-3", "a.b_c", "", " u1", "x y", "é", "u1 "])
member_items = st.one_of(
    st.fixed_dictionaries({"value": ids}),
    st.fixed_dictionaries({"value": ids, "display": st.one_of(st.text(max_size=5), st.none())}),
    st.fixed_dictionaries({"value": ids, "type": st.just("User")}),
    st.fixed_dictionaries({"value": st.one_of(st.integers(), st.none())}),
    st.just("u1"),
)
member_values = st.one_of(st.lists(member_items, max_size=4), member_items, st.none())
paths = st.one_of(
    st.sampled_from(["members", "Members", "displayName", "displayname", "externalId", "title"]),
    ids.map(lambda i: f'members[value eq "{i}"]'),
    ids.map(lambda i: f'members[value ne "{i}"]'),
    st.just('members[value eq "u1" or value eq "u2"]'),
    st.none(),
)
names = st.one_of(st.text(max_size=8), st.integers(), st.none(), st.just("x" * 300))


@st.composite
def operations(draw: st.DrawFn) -> dict[str, Any]:
    operation: dict[str, Any] = {"op": draw(st.sampled_from(["add", "remove", "replace", "Add"]))}
    path = draw(paths)
    if path is not None:
        operation["path"] = path
    if draw(st.booleans()):
        is_members = path is not None and path.lower() == "members"
        operation["value"] = draw(member_values if is_members else names)
    return operation


clean_ids = st.sampled_from(["u1", "u2", "G-3", "a.b_c", "2819c223-7f76-453a-919d"])
clean_members = st.lists(
    st.one_of(
        st.fixed_dictionaries({"value": clean_ids}),
        st.fixed_dictionaries({"value": clean_ids, "display": st.text(max_size=5)}),
    ),
    min_size=1,
    max_size=4,
)
everyday = st.one_of(
    st.fixed_dictionaries(
        {
            "op": st.sampled_from(["add", "replace"]),
            "path": st.just("members"),
            "value": clean_members,
        }
    ),
    st.fixed_dictionaries(
        {"op": st.just("remove"), "path": clean_ids.map(lambda i: f'members[value eq "{i}"]')}
    ),
    st.fixed_dictionaries(
        {
            "op": st.sampled_from(["add", "replace"]),
            "path": st.sampled_from(["displayName", "externalId"]),
            "value": st.text(min_size=1, max_size=8),
        }
    ),
)
bodies = st.fixed_dictionaries(
    {
        "schemas": st.just([PATCH_OP_SCHEMA]),
        "Operations": st.lists(st.one_of(everyday, everyday, everyday, operations()), max_size=3),
    }
)


def _general(body: dict[str, Any], *, strict: bool) -> GroupPatch:
    with compat.request_policy(strict=strict):
        return parse_group_patch(body)


@given(bodies)
def test_the_fast_plan_is_the_general_plan(body: dict[str, Any]) -> None:
    fast = everyday_plan(body)
    if fast is None:
        return
    assert fast == _general(body, strict=False)
    assert fast == _general(body, strict=True)


def test_entra_id_member_changes_take_the_fast_path() -> None:
    add = {
        "schemas": [PATCH_OP_SCHEMA],
        "Operations": [{"op": "add", "path": "members", "value": [{"value": "u1"}]}],
    }
    remove = {
        "schemas": [PATCH_OP_SCHEMA],
        "Operations": [{"op": "remove", "path": 'members[value eq "u1"]'}],
    }
    rename = {
        "schemas": [PATCH_OP_SCHEMA],
        "Operations": [{"op": "replace", "path": "displayName", "value": "Staff"}],
    }
    assert everyday_plan(add) == GroupPatch(steps=[MembershipStep(StepKind.ADD, ("u1",))])
    assert everyday_plan(remove) == GroupPatch(steps=[MembershipStep(StepKind.REMOVE, ("u1",))])
    assert everyday_plan(rename) == GroupPatch(attributes={"display_name": "Staff"})
