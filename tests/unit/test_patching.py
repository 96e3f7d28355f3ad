"""scim.patching and scim.user_patch without a database: what a PATCH body becomes.

A group PATCH is planned as attribute changes and membership steps the service
runs on the rows; the everyday user PATCH is recognised as column changes, and
everything else (multi-valued attributes, value filters) is left to the general
path. Refusals carry the RFC 7644 scimType the client will see.
"""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError
from scim2_models import SCIMException
from scim2_models.path import Comparison

from sitescim.scim.patching import GroupPatch, MembershipStep, StepKind, parse_group_patch
from sitescim.scim.user_patch import column_changes
from tests.factories import patch_body

GROUP_URN = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE_URN = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def plan(*operations: dict[str, Any]) -> GroupPatch:
    return parse_group_patch(patch_body(*operations))


def refusal(*operations: dict[str, Any]) -> str:
    """The scimType a group PATCH of ``operations`` is refused with."""
    try:
        parse_group_patch(patch_body(*operations))
    except SCIMException as error:
        return str(error.scim_type)
    except ValidationError as error:  # scim2-models' checks, rendered as SCIM errors by web
        [first] = error.errors()
        return first["type"].removeprefix("scim_")
    raise AssertionError("the PATCH was accepted")


def members(*ids: str) -> list[dict[str, str]]:
    return [{"value": id_} for id_ in ids]


# Single-valued attributes


def test_replace_display_name_sets_the_column_trimmed() -> None:
    patch = plan({"op": "replace", "path": "displayName", "value": " Staff "})
    assert patch.attributes == {"display_name": "Staff"}
    assert patch.steps == []


def test_attribute_names_are_case_insensitive_and_may_carry_the_schema_urn() -> None:
    patch = plan({"op": "replace", "path": f"{GROUP_URN}:DisplayName", "value": "Staff"})
    assert patch.attributes == {"display_name": "Staff"}


def test_add_and_remove_external_id() -> None:
    assert plan({"op": "add", "path": "externalId", "value": "E1"}).attributes == {
        "external_id": "E1"
    }
    assert plan({"op": "remove", "path": "externalId"}).attributes == {"external_id": None}


def test_later_operations_on_one_attribute_win() -> None:
    patch = plan(
        {"op": "replace", "path": "displayName", "value": "First"},
        {"op": "replace", "path": "displayName", "value": "Second"},
    )
    assert patch.attributes == {"display_name": "Second"}


def test_a_pathless_operation_sets_each_attribute_and_skips_read_only_ones() -> None:
    value = {"displayName": "New", "externalId": "E2", "id": "ignored", "members": members("u3")}
    patch = plan({"op": "replace", "value": value})
    assert patch.attributes == {"display_name": "New", "external_id": "E2"}
    assert patch.steps == [MembershipStep(StepKind.CLEAR, ("u3",))]


# Multi-valued: members


def test_add_members_adds_each_id_once_in_order() -> None:
    patch = plan({"op": "add", "path": "members", "value": members("u1", "u2", "u1")})
    assert patch.steps == [MembershipStep(StepKind.ADD, ("u1", "u2"))]
    assert patch.member_ids == {"u1", "u2"}


def test_pathless_add_of_members_adds_them() -> None:
    patch = plan({"op": "add", "value": {"members": members("u3")}})
    assert patch.steps == [MembershipStep(StepKind.ADD, ("u3",))]


def test_replace_members_clears_then_sets_the_whole_set() -> None:
    assert plan({"op": "replace", "path": "members", "value": members("u1")}).steps == [
        MembershipStep(StepKind.CLEAR, ("u1",))
    ]
    assert plan({"op": "replace", "path": "members", "value": []}).steps == [
        MembershipStep(StepKind.CLEAR, ())
    ]


def test_remove_members_without_a_filter_removes_them_all() -> None:
    patch = plan({"op": "remove", "path": "members"})
    assert patch.steps == [MembershipStep(StepKind.CLEAR)]
    assert patch.member_ids == set()


def test_steps_keep_the_order_of_the_operations() -> None:
    patch = plan(
        {"op": "add", "path": "members", "value": members("u1")},
        {"op": "remove", "path": 'members[value eq "u2"]'},
        {"op": "add", "path": "members", "value": members("u2")},
    )
    assert [step.kind for step in patch.steps] == [StepKind.ADD, StepKind.REMOVE, StepKind.ADD]
    assert patch.member_ids == {"u1", "u2"}  # the ids to check exist: added ones only


# Value filters


def test_a_filter_on_member_ids_removes_those_ids() -> None:
    assert plan({"op": "remove", "path": 'members[value eq "u1"]'}).steps == [
        MembershipStep(StepKind.REMOVE, ("u1",))
    ]
    both = plan({"op": "remove", "path": 'members[value eq "u1" or value eq "u2"]'})
    assert both.steps == [MembershipStep(StepKind.REMOVE, ("u1", "u2"))]


def test_any_other_filter_is_left_for_the_database_to_evaluate() -> None:
    [step] = plan({"op": "remove", "path": 'members[type eq "Group"]'}).steps
    assert step.kind == StepKind.REMOVE_MATCHING
    assert step.ids == ()
    assert isinstance(step.value_filter, Comparison)
    assert str(step.value_filter.attr_path) == "type"
    assert step.value_filter.value == "Group"


# Refusals


@pytest.mark.parametrize(
    ("operation", "scim_type"),
    [
        ({"op": "remove"}, "noTarget"),
        ({"op": "remove", "path": "displayName"}, "mutability"),
        ({"op": "replace", "path": "displayName", "value": "  "}, "mutability"),
        ({"op": "replace", "path": "id", "value": "x"}, "mutability"),
        ({"op": "replace", "path": 'members[value eq "u1"].display', "value": "x"}, "invalidPath"),
        ({"op": "add", "path": 'members[value eq "u1"]', "value": members("u1")}, "invalidPath"),
        ({"op": "replace", "path": "nickName", "value": "x"}, "invalidPath"),
        ({"op": "replace", "path": "displayName[", "value": "x"}, "invalidPath"),
        ({"op": "replace", "path": "externalId", "value": 7}, "invalidValue"),
        ({"op": "replace", "path": "displayName", "value": "x" * 257}, "invalidValue"),
        ({"op": "add", "path": "members", "value": [{"id": "u1"}]}, "invalidValue"),
        ({"op": "add", "value": "not an object"}, "invalidValue"),
    ],
)
def test_refusals_name_the_rfc_error(operation: dict[str, Any], scim_type: str) -> None:
    assert refusal(operation) == scim_type


def test_a_body_without_operations_is_refused() -> None:
    with pytest.raises(ValidationError):
        parse_group_patch({"schemas": [patch_body()["schemas"][0]], "Operations": []})


# The everyday user PATCH


def test_everyday_user_operations_become_column_changes_in_order() -> None:
    body = patch_body(
        {"op": "replace", "path": "active", "value": False},
        {"op": "add", "path": "name.givenName", "value": "Ada"},
        {"op": "remove", "path": "title"},
        {"op": "replace", "path": f"{ENTERPRISE_URN}:department", "value": "R&D"},
        {"op": "replace", "value": {"displayName": "Ada L", "nickName": "ada"}},
    )
    assert column_changes(body) == [
        ("active", False),
        ("name_given", "Ada"),
        ("title", None),
        ("department", "R&D"),
        ("display_name", "Ada L"),
        ("nick_name", "ada"),
    ]


@pytest.mark.parametrize(
    "operation",
    [
        {"op": "replace", "path": 'emails[type eq "work"].value', "value": "a@example.com"},
        {"op": "add", "path": "emails", "value": [{"value": "a@example.com", "type": "work"}]},
        {"op": "remove", "path": 'emails[type eq "work"]'},
        {"op": "remove", "path": "userName"},
        {"op": "replace", "path": "active", "value": "false"},
        {"op": "replace", "path": "title", "value": " padded "},
        {"op": "replace", "path": "title", "value": "x" * 10_000},
        {"op": "Replace", "path": "title", "value": "x"},
    ],
)
def test_anything_else_is_left_to_the_general_path(operation: dict[str, Any]) -> None:
    assert column_changes(patch_body(operation)) is None
