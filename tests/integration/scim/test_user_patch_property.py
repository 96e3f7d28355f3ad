"""Property: the everyday user PATCH, applied to columns, equals scim2-models' PatchOp.patch.

services.users applies the shapes scim.user_patch recognises straight to the
row. For random sequences of such operations (paths in any case, pathless
objects, removals, enterprise attributes), the stored user after the PATCH
must be the resource scim2-models gets by validating the stored user and
applying the same PatchOp, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scim2_models import Context, PatchOp

from sitescim.scim import user_patch
from sitescim.scim.mapping import ReadOnlyPrivilegeUser
from sitescim.scim.schemas import ENTERPRISE_USER_SCHEMA, PATCH_OP_SCHEMA
from sitescim.services import user_creation
from sitescim.services import users as user_service
from sitescim.services.runtime import Runtime
from sitescim.services.tokens import AuthenticatedToken
from tests.world import World

BASE = "https://scim.example/scim/v2"
STRINGS = [
    "userName",
    "externalId",
    "displayName",
    "nickName",
    "title",
    "userType",
    "preferredLanguage",
    "locale",
    "timezone",
    "name.formatted",
    "name.familyName",
    "name.givenName",
    "name.middleName",
    "name.honorificPrefix",
    "name.honorificSuffix",
    *(
        f"{ENTERPRISE_USER_SCHEMA}:{name}"
        for name in ("employeeNumber", "costCenter", "organization", "division", "department")
    ),
]
TOP_LEVEL = [name for name in STRINGS if "." not in name and ":" not in name]
OPTIONAL = [name for name in STRINGS if name != "userName"]

text = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Zs", "Zl", "Zp")),
    min_size=1,
    max_size=12,
)


def _cased(name: str) -> st.SearchStrategy[str]:
    return st.sampled_from([name, name.lower(), name.upper()])


def _value_for(name: str) -> st.SearchStrategy[Any]:
    return st.booleans() if name == "active" else text


set_op = st.sampled_from([*STRINGS, "active"]).flatmap(
    lambda name: st.fixed_dictionaries(
        {
            "op": st.sampled_from(["add", "replace"]),
            "path": _cased(name),
            "value": _value_for(name),
        }
    )
)
remove_op = st.sampled_from(OPTIONAL).flatmap(
    lambda name: st.fixed_dictionaries({"op": st.just("remove"), "path": _cased(name)})
)
pathless_op = st.fixed_dictionaries(
    {
        "op": st.sampled_from(["add", "replace"]),
        "value": st.dictionaries(st.sampled_from([*TOP_LEVEL, "active"]), st.none(), min_size=1),
    }
).flatmap(
    lambda op: st.fixed_dictionaries(
        {
            "op": st.just(op["op"]),
            "value": st.fixed_dictionaries({key: _value_for(key) for key in op["value"]}),
        }
    )
)
patch_body = st.lists(st.one_of(set_op, remove_op, pathless_op), min_size=1, max_size=4).map(
    lambda operations: {"schemas": [PATCH_OP_SCHEMA], "Operations": operations}
)


_examples = itertools.count()


def _unique_names(body: dict[str, Any], suffix: str) -> dict[str, Any]:
    """userName is unique in a site: each example's names get the example's suffix."""
    for operation in body["Operations"]:
        path, value = operation.get("path"), operation.get("value")
        if isinstance(path, str) and path.casefold() == "username" and "value" in operation:
            operation["value"] = f"{value}.{suffix}"
        elif isinstance(value, dict):
            for key in [key for key in value if key.casefold() == "username"]:
                value[key] = f"{value[key]}.{suffix}"
    return body


def _comparable(document: dict[str, Any]) -> dict[str, Any]:
    return {
        key: item
        for key, item in document.items()
        if key not in ("meta", "schemas") and item not in ({}, None)
    }


def _expected(stored: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    resource = ReadOnlyPrivilegeUser.model_validate(stored)
    PatchOp[ReadOnlyPrivilegeUser].model_validate(
        body, scim_ctx=Context.RESOURCE_PATCH_REQUEST
    ).patch(resource)
    dumped = resource.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE)
    return _comparable(dumped)


def _create(runtime: Runtime, token: AuthenticatedToken, name: str) -> dict[str, Any]:
    body = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE_USER_SCHEMA],
        "userName": name,
        "displayName": "Ada L",
        "title": "Engineer",
        "name": {"givenName": "Ada", "familyName": "Lovelace"},
        "emails": [{"value": "ada@example.com", "type": "work", "primary": True}],
        ENTERPRISE_USER_SCHEMA: {"department": "R&D", "costCenter": "42"},
    }
    with runtime.db.transaction(write=True) as session:
        return user_creation.create_user(session, runtime, token, body, base_url=BASE)


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=patch_body)
def test_everyday_patch_equals_scim2_models(
    world: World, token_a: AuthenticatedToken, body: dict[str, Any]
) -> None:
    runtime = world.runtime
    suffix = str(next(_examples))
    body = _unique_names(body, suffix)
    stored = _create(runtime, token_a, f"patch-{suffix}@example.com")
    assert user_patch.column_changes(body) is not None
    expected = _expected(stored, body)
    with runtime.db.transaction(write=True) as session:
        patched = user_service.patch_user(
            session, runtime, token_a, stored["id"], body, base_url=BASE
        )
    assert _comparable(patched) == expected
    with runtime.db.transaction(write=True) as session:  # and it is what was stored
        again = user_service.patch_user(
            session,
            runtime,
            token_a,
            stored["id"],
            {
                "schemas": [PATCH_OP_SCHEMA],
                "Operations": [{"op": "replace", "path": "active", "value": patched["active"]}],
            },
            base_url=BASE,
        )
    assert _comparable(again) == expected
    assert again["meta"]["version"] == patched["meta"]["version"]  # nothing changed, no bump


@pytest.mark.parametrize(
    "body",
    [
        {"Operations": [{"op": "replace", "path": "active", "value": False}]},
        {"schemas": ["urn:x"], "Operations": [{"op": "replace", "path": "title", "value": "x"}]},
        {"schemas": [PATCH_OP_SCHEMA], "Operations": []},
        {"schemas": [PATCH_OP_SCHEMA], "Operations": [{"op": "move", "path": "title"}]},
        {"schemas": [PATCH_OP_SCHEMA], "Operations": [{"op": "remove", "path": "active"}]},
        {
            "schemas": [PATCH_OP_SCHEMA],
            "Operations": [{"op": "remove", "path": "userName"}],
        },
        {"schemas": [PATCH_OP_SCHEMA], "Operations": [{"op": "add", "path": "emails"}]},
        {
            "schemas": [PATCH_OP_SCHEMA],
            "Operations": [{"op": "replace", "path": 'emails[type eq "work"].value', "value": "x"}],
        },
        {
            "schemas": [PATCH_OP_SCHEMA],
            "Operations": [{"op": "replace", "path": "title", "value": 7}],
        },
        {
            "schemas": [PATCH_OP_SCHEMA],
            "Operations": [{"op": "replace", "path": "title", "value": ""}],
        },
        {
            "schemas": [PATCH_OP_SCHEMA],
            "Operations": [{"op": "replace", "path": "title", "value": " padded "}],
        },
        {
            "schemas": [PATCH_OP_SCHEMA],
            "Operations": [{"op": "replace", "path": "title", "value": "x" * 257}],
        },
        {
            "schemas": [PATCH_OP_SCHEMA],
            "Operations": [{"op": "replace", "path": "active", "value": "false"}],
        },
        {
            "schemas": [PATCH_OP_SCHEMA],
            "Operations": [{"op": "replace", "value": {"name": {"givenName": "x"}}}],
        },
        {
            "schemas": [PATCH_OP_SCHEMA],
            "Operations": [
                {"op": "replace", "path": f"{ENTERPRISE_USER_SCHEMA}:manager", "value": "u"}
            ],
        },
        {
            "schemas": [PATCH_OP_SCHEMA],
            "Operations": [{"op": "remove", "path": "title", "value": "x"}],
        },
    ],
)
def test_other_shapes_take_the_general_path(body: dict[str, Any]) -> None:
    """Shapes whose result or error only the general path knows are not recognised."""
    assert user_patch.column_changes(body) is None
