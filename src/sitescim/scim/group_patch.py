"""The group PATCH identity providers send, planned without scim2-models.

Entra ID adds and removes members one PATCH at a time, and renames a group
with ``replace displayName``; Okta sends the same shapes. Validating each body
as ``PatchOp[Group]`` cost a quarter of such a request. These exact shapes,
and nothing near them, are recognised here and give the same plan as
``patching.parse_group_patch`` (a property test holds the two equal); any
other body returns None and takes the general path, which also answers every
error.

- ``add``/``replace`` of ``members`` with a list of ``{"value": id}``
  (``display`` allowed: it is ignored, as the general path ignores it);
- ``remove`` of ``members[value eq "id"]``;
- ``replace``/``add`` of ``displayName`` or ``externalId`` with a string.
"""

from __future__ import annotations

import re
from typing import Any

from sitescim.scim.patching import GroupPatch, MembershipStep, StepKind, plain_operations
from sitescim.scim.schemas import GROUP_LIMITS

_MAX_OPERATIONS = 10
_MAX_MEMBERS = 100
"""Larger lists (an initial sync) go the general way: their validation is not the cost."""
_MEMBER_KEYS = frozenset({"value", "display"})
_ID = r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}"
_REMOVE_ONE = re.compile(rf'members\[value eq "({_ID})"\]')
_ATTRIBUTES = {
    "displayName": ("display_name", "displayName"),
    "externalId": ("external_id", "externalId"),
}


def everyday_plan(body: Any) -> GroupPatch | None:
    """The plan of one of the shapes above, or None for the general path."""
    operations = plain_operations(body, most=_MAX_OPERATIONS)
    if operations is None:
        return None
    plan = GroupPatch()
    for operation in operations:
        if not _planned(plan, operation):
            return None
    return plan


def _planned(plan: GroupPatch, operation: Any) -> bool:
    if not isinstance(operation, dict) or not operation.keys() <= {"op", "path", "value"}:
        return False
    op, path = operation.get("op"), operation.get("path")
    if not isinstance(path, str):
        return False
    if op == "remove":
        found = _REMOVE_ONE.fullmatch(path)
        if found is None or "value" in operation:
            return False
        plan.steps.append(MembershipStep(StepKind.REMOVE, (found.group(1),)))
        return True
    if op not in ("add", "replace"):
        return False
    value = operation.get("value")
    if path == "members":
        ids = _member_ids(value)
        if ids is None:
            return False
        plan.steps.append(MembershipStep(StepKind.ADD if op == "add" else StepKind.CLEAR, ids))
        return True
    named = _ATTRIBUTES.get(path)
    if named is None or not _fits(value, GROUP_LIMITS[named[1]]):
        return False
    plan.attributes[named[0]] = value
    return True


def _member_ids(value: Any) -> tuple[str, ...] | None:
    if not isinstance(value, list) or not 0 < len(value) <= _MAX_MEMBERS:
        return None
    seen: dict[str, None] = {}
    for item in value:
        if not isinstance(item, dict) or not item.keys() <= _MEMBER_KEYS:
            return None
        member, display = item.get("value"), item.get("display")
        if not isinstance(member, str) or not member or member.strip() != member:
            return None
        if display is not None and not isinstance(display, str):
            return None
        seen.setdefault(member, None)
    return tuple(seen)


def _fits(value: Any, limit: int) -> bool:
    return isinstance(value, str) and bool(value) and value.strip() == value and len(value) <= limit
