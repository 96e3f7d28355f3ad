"""scim.compat on its own: each quirk rewritten, RFC bodies untouched, strict mode refusing."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from scim2_models import InvalidValueException, ScimPolicy

from sitescim.scim import compat
from sitescim.scim.shapes import GROUP_SHAPE, USER_SHAPE

BASE = "https://scim.example.com/scim/v2"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
SAMPLES = Path(__file__).parents[1] / "samples"


def normalise(body: dict[str, Any], method: str = "PATCH", path: str = "/Users/1", **kw: Any):
    return compat.normalise(copy.deepcopy(body), method=method, path=path, base_url=BASE, **kw)


def ops(*operations: dict[str, Any]) -> dict[str, Any]:
    return {"schemas": [PATCH], "Operations": list(operations)}


def operations(body: dict[str, Any]) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = body["Operations"]
    return result


# What the layer reads from the schemas


def test_boolean_and_multi_valued_attributes_come_from_the_schema():
    assert USER_SHAPE.core.booleans == {"active"}
    assert USER_SHAPE.core.sub_booleans["emails"] == {"primary"}
    assert "emails" in USER_SHAPE.core.valued_lists
    assert "addresses" not in USER_SHAPE.core.valued_lists  # no value sub-attribute
    assert GROUP_SHAPE.core.valued_lists == {"members"}
    assert GROUP_SHAPE.core.booleans == frozenset()


def test_request_policy_tolerates_only_outside_strict_mode():
    lenient = compat.request_policy(strict=False)
    assert lenient.unmatched_path_filter == ScimPolicy.UnmatchedPathFilter.create
    assert lenient.remove_value_as_filter == ScimPolicy.RemoveValue.apply
    assert compat.request_policy(strict=True) == ScimPolicy()


def test_policies_differ_only_in_patch_settings():
    """The SCIM lane runs a GET under no policy (lane.UNPOLICED_METHODS): scim2-models
    then takes ``ScimPolicy()``, which a GET cannot tell from either of ours as long
    as they differ in nothing a GET reads."""
    patch_only = {"remove_value_as_filter", "unmatched_path_filter"}
    default = ScimPolicy()
    for strict in (False, True):
        policy = compat.request_policy(strict=strict)
        for name in ScimPolicy.model_fields:
            if name not in patch_only:
                assert getattr(policy, name) == getattr(default, name), name


# RFC bodies pass untouched, in both modes


RFC_BODIES = [
    ("POST", "/Users", "rfc7643-8.2-user-full.json"),
    ("POST", "/Users", "rfc7644-3.3-user-post.json"),
]


@pytest.mark.parametrize(("method", "path", "name"), RFC_BODIES)
@pytest.mark.parametrize("strict", [False, True])
def test_rfc_samples_are_left_as_they_are(method, path, name, strict):
    body = json.loads((SAMPLES / name).read_text())
    assert normalise(body, method, path, strict=strict) == body


@pytest.mark.parametrize("strict", [False, True])
def test_rfc_patch_bodies_are_left_as_they_are(strict):
    body = ops(
        {"op": "add", "path": "members", "value": [{"value": "u1"}]},
        {"op": "remove", "path": 'members[value eq "u2"]'},
        {"op": "replace", "value": {"displayName": "x", ENTERPRISE: {"department": "d"}}},
        {"op": "replace", "path": "active", "value": False},
        {"op": "remove", "path": "members"},
    )
    assert normalise(body, strict=strict) == body


# One quirk at a time


def test_capitalised_ops_are_lowercased():
    body = normalise(
        ops(
            {"op": "Replace", "path": "title", "value": "t"},
            {"op": "ADD", "path": "nickName", "value": "n"},
        )
    )
    assert [op["op"] for op in operations(body)] == ["replace", "add"]


def test_unknown_ops_are_left_for_validation_to_refuse():
    body = normalise(ops({"op": "Merge", "path": "title", "value": "t"}))
    assert operations(body)[0]["op"] == "Merge"


@pytest.mark.parametrize(
    ("operation", "expected"),
    [
        ({"op": "replace", "path": "active", "value": "False"}, False),
        ({"op": "replace", "path": "ACTIVE", "value": " true "}, True),
        ({"op": "replace", "path": f"{USER}:active", "value": "TRUE"}, True),
    ],
)
def test_boolean_strings_become_booleans_at_a_path(operation, expected):
    assert operations(normalise(ops(operation)))[0]["value"] is expected


def test_boolean_strings_become_booleans_in_values_and_entries():
    body = normalise(
        ops(
            {"op": "replace", "value": {"active": "False"}},
            {
                "op": "add",
                "path": "emails",
                "value": [{"value": "a@example.com", "primary": "True"}],
            },
            {"op": "replace", "path": 'emails[type eq "work"].primary', "value": "false"},
            {"op": "replace", "path": 'emails[type eq "work"]', "value": {"primary": "true"}},
        )
    )
    values = [op["value"] for op in operations(body)]
    assert values == [
        {"active": False},
        [{"value": "a@example.com", "primary": True}],
        False,
        {"primary": True},
    ]
    post = normalise(
        {
            "schemas": [USER],
            "userName": "u",
            "Active": "False",
            "emails": [{"value": "e", "Primary": "TRUE"}],
        },
        "POST",
        "/Users",
    )
    assert (post["Active"], post["emails"][0]["Primary"]) == (False, True)


def test_strings_that_are_no_booleans_are_left_for_validation():
    body = normalise(ops({"op": "replace", "path": "active", "value": "maybe"}))
    assert operations(body)[0]["value"] == "maybe"


def test_pathless_value_with_attribute_paths_becomes_one_operation_per_path():
    body = normalise(
        ops(
            {
                "op": "Replace",
                "value": {
                    "displayName": "D",
                    "name.givenName": "G",
                    'emails[type eq "work"].value': "w@example.com",
                    f"{ENTERPRISE}:department": "Dept",
                    "title": "T",
                },
            }
        )
    )
    assert operations(body) == [
        {"op": "replace", "value": {"displayName": "D", "title": "T"}},
        {"op": "replace", "path": "name.givenName", "value": "G"},
        {"op": "replace", "path": 'emails[type eq "work"].value', "value": "w@example.com"},
        {"op": "replace", "path": f"{ENTERPRISE}:department", "value": "Dept"},
    ]


def test_extension_objects_and_unknown_urns_are_not_mistaken_for_paths():
    value = {ENTERPRISE: {"department": "d"}, "urn:example:custom:2.0:User": {"tag": "t"}}
    body = ops({"op": "add", "value": value})
    assert normalise(body) == body


def test_group_core_urn_keys_become_paths():
    body = normalise(
        ops({"op": "replace", "value": {f"{GROUP}:displayName": "New"}}), path="/Groups/g"
    )
    assert operations(body) == [{"op": "replace", "path": f"{GROUP}:displayName", "value": "New"}]


def test_remove_of_members_by_value_names_them_in_a_filter():
    body = normalise(
        ops(
            {
                "op": "Remove",
                "path": "members",
                "value": [{"$ref": None, "value": "a"}, {"value": 'b"c'}],
            }
        ),
        path="/Groups/g",
    )
    assert operations(body) == [
        {"op": "remove", "path": 'members[value eq "a" or value eq "b\\"c"]'}
    ]


def test_remove_by_value_of_a_single_object_works_too():
    body = normalise(ops({"op": "remove", "path": "emails", "value": {"value": "x@example.com"}}))
    assert operations(body) == [{"op": "remove", "path": 'emails[value eq "x@example.com"]'}]


@pytest.mark.parametrize("value", [[], [{"display": "no id"}], [{"value": 7}]])
def test_remove_whose_value_names_no_member_is_never_turned_into_remove_all(value):
    operation = {"op": "remove", "path": "members", "value": value}
    body = normalise(ops(operation), path="/Groups/g")
    assert operations(body) == [operation]  # kept as sent: validation refuses or matches none


def test_remove_with_a_value_on_a_single_valued_target_drops_the_value():
    body = normalise(
        ops({"op": "Remove", "path": f"{ENTERPRISE}:manager", "value": [{"value": "m"}]})
    )
    assert operations(body) == [{"op": "remove", "path": f"{ENTERPRISE}:manager"}]


@pytest.mark.parametrize(
    "value",
    ["m1", [{"value": "m1"}], {"value": "m1"}, {"value": "m1", "$ref": None}],
)
def test_manager_becomes_an_object_with_its_ref(value):
    body = normalise(ops({"op": "Add", "path": f"{ENTERPRISE}:manager", "value": value}))
    assert operations(body)[0]["value"] == {"value": "m1", "$ref": f"{BASE}/Users/m1"}


def test_a_manager_ref_that_was_sent_is_kept():
    sent = {"value": "m1", "$ref": "https://elsewhere.example.com/Users/m1"}
    body = normalise(ops({"op": "add", "path": f"{ENTERPRISE}:manager", "value": sent}))
    assert operations(body)[0]["value"] == sent


def test_an_empty_manager_becomes_its_removal():
    body = normalise(ops({"op": "Replace", "path": f"{ENTERPRISE}:manager", "value": ""}))
    assert operations(body) == [{"op": "remove", "path": f"{ENTERPRISE}:manager"}]


def test_manager_in_a_post_body_and_in_a_pathless_value():
    post = normalise(
        {"schemas": [USER, ENTERPRISE], "userName": "u", ENTERPRISE: {"Manager": "m2"}},
        "POST",
        "/Users",
    )
    assert post[ENTERPRISE] == {"manager": {"value": "m2", "$ref": f"{BASE}/Users/m2"}}
    cleared = normalise(
        {"schemas": [USER], "userName": "u", ENTERPRISE: {"manager": ""}}, "PUT", "/Users/1"
    )
    assert cleared[ENTERPRISE] == {}
    patched = normalise(ops({"op": "replace", "value": {f"{ENTERPRISE}:manager": "m3"}}))
    assert operations(patched)[0]["value"] == {"value": "m3", "$ref": f"{BASE}/Users/m3"}


def test_schema_urns_are_spelled_as_declared_and_unused_unknown_ones_dropped():
    body = normalise(
        {
            "schemas": [
                GROUP.upper(),
                "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group",
                GROUP,
            ],
            "displayName": "g",
        },
        "POST",
        "/Groups",
    )
    assert body["schemas"] == [GROUP]


def test_unknown_schema_urns_with_attributes_are_left_for_validation():
    body = {
        "schemas": [USER, "urn:example:custom"],
        "userName": "u",
        "urn:example:custom": {"a": 1},
    }
    assert normalise(body, "POST", "/Users") == body


def test_attribute_paths_in_a_post_body_are_nested():
    body = normalise(
        {
            "schemas": [USER],
            "userName": "u",
            "name": {"familyName": "F"},
            "name.givenName": "G",
            f"{ENTERPRISE}:department": "D",
            "urn:ietf:params:scim:schemas:extension:ENTERPRISE:2.0:User": {"division": "V"},
        },
        "POST",
        "/Users",
    )
    assert body == {
        "schemas": [USER],
        "userName": "u",
        "name": {"familyName": "F", "givenName": "G"},
        ENTERPRISE: {"division": "V", "department": "D"},
    }


def test_bulk_operations_are_normalised_one_by_one():
    body = normalise(
        {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
            "Operations": [
                {
                    "method": "POST",
                    "path": "/Users",
                    "bulkId": "1",
                    "data": {"schemas": [USER], "userName": "u", "active": "True"},
                },
                {
                    "method": "PATCH",
                    "path": "/Groups/g",
                    "data": ops({"op": "Remove", "path": "members", "value": [{"value": "x"}]}),
                },
                {"method": "DELETE", "path": "/Users/u"},
            ],
        },
        "POST",
        "/Bulk",
    )
    first, second, third = body["Operations"]
    assert first["data"]["active"] is True
    assert second["data"]["Operations"] == [{"op": "remove", "path": 'members[value eq "x"]'}]
    assert third == {"method": "DELETE", "path": "/Users/u"}


def test_search_bodies_are_left_alone():
    body = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
        "filter": 'active eq "True"',
    }
    assert normalise(body, "POST", "/Users/.search") == body


# Strict mode


STRICT_QUIRKS = {
    "op case": ops({"op": "Replace", "path": "title", "value": "t"}),
    "boolean string": ops({"op": "replace", "path": "active", "value": "False"}),
    "boolean string in a body": {"schemas": [USER], "userName": "u", "active": "true"},
    "dotted key": ops({"op": "replace", "value": {"name.givenName": "G"}}),
    "urn key": ops({"op": "replace", "value": {f"{ENTERPRISE}:department": "D"}}),
    "remove by value": ops({"op": "remove", "path": "members", "value": [{"value": "a"}]}),
    "manager string": ops({"op": "add", "path": f"{ENTERPRISE}:manager", "value": "m"}),
    "manager without ref": ops(
        {"op": "add", "path": f"{ENTERPRISE}:manager", "value": {"value": "m"}}
    ),
    "schema case": {"schemas": [USER.upper()], "userName": "u"},
    "unknown schema": {"schemas": [USER, "urn:example:unused"], "userName": "u"},
}


@pytest.mark.parametrize("name", list(STRICT_QUIRKS))
def test_strict_mode_raises_invalid_value_and_rewrites_nothing(name):
    body = STRICT_QUIRKS[name]
    method = "POST" if "Operations" not in body else "PATCH"
    path = (
        "/Groups/g" if name == "remove by value" else "/Users" if method == "POST" else "/Users/1"
    )
    sent = copy.deepcopy(body)
    with pytest.raises(InvalidValueException) as raised:
        compat.normalise(sent, method=method, path=path, base_url=BASE, strict=True)
    assert raised.value.scim_type == "invalidValue"
    assert sent == body


def every_idp_sample() -> list[Path]:
    return sorted((SAMPLES / "idp").glob("*.json"))


@pytest.mark.parametrize("sample", every_idp_sample(), ids=lambda path: path.stem)
def test_normalised_samples_have_no_quirk_left(sample):
    """After the layer, strict mode finds nothing to refuse, and a second pass changes nothing."""
    text = sample.read_text()
    while "{{" in text:
        start = text.index("{{")
        text = text[:start] + "id-1" + text[text.index("}}", start) + 2 :]
    body = json.loads(text)
    collection = "Groups" if "group" in sample.stem else "Users"
    method = "PATCH" if body.get("Operations") else "POST"
    path = f"/{collection}/id-1" if method == "PATCH" else f"/{collection}"
    once = normalise(body, method, path)
    assert normalise(once, method, path) == once
    assert normalise(once, method, path, strict=True) == once
