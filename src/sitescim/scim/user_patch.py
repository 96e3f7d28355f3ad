"""The everyday user PATCH, recognised so it can be applied to columns directly.

What Entra ID and Okta send for a changed user is nearly always the same few
shapes: ``replace`` (or ``add``) of ``active``, a name part, ``displayName``,
``title`` or a department, with a path or as a pathless object, and ``remove``
of one of them. Validating the stored user into a scim2-models resource,
validating the PatchOp and applying it costs three quarters of such a
request; for these shapes the result is known without them: each operation
sets one column. Anything else (multi-valued attributes, filters, the
manager, the privilege, a value of an unexpected type or size) is left to the
general path, which gives every answer and every error of the RFC.

A property test holds this equal to scim2-models' own ``PatchOp.patch``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sitescim.scim.mapping import column_limit
from sitescim.scim.patching import plain_operations
from sitescim.scim.schemas import (
    ENTERPRISE_USER_SCHEMA,
    USER_ATTRIBUTES,
    Part,
)

_MAX_OPERATIONS = 50


@dataclass(frozen=True, slots=True)
class _Target:
    column: str
    attribute: str  # the name the column limits are kept under
    kind: type


def _targets() -> dict[str, _Target]:
    found: dict[str, _Target] = {}
    for attribute in USER_ATTRIBUTES:
        if not attribute.patched_fast:
            continue
        path = attribute.path
        if attribute.part is Part.ENTERPRISE:
            path = f"{ENTERPRISE_USER_SCHEMA}:{attribute.name}"
        found[path.casefold()] = _Target(attribute.column, attribute.path, str)
    found["active"] = _Target("active", "active", bool)
    return found


_BY_PATH = _targets()
# Keys a pathless operation's object may hold: top-level names only.
_BY_NAME = {key: target for key, target in _BY_PATH.items() if "." not in key and ":" not in key}
_REQUIRED = {"user_name", "active"}


def column_changes(body: Any) -> list[tuple[str, Any]] | None:
    """(column, new value) for each operation, in order, or None for the general path."""
    operations = plain_operations(body, most=_MAX_OPERATIONS)
    if operations is None:
        return None
    changes: list[tuple[str, Any]] = []
    for operation in operations:
        found = _operation(operation)
        if found is None:
            return None
        changes.extend(found)
    return changes


def _operation(operation: Any) -> list[tuple[str, Any]] | None:
    if not isinstance(operation, dict) or not operation.keys() <= {"op", "path", "value"}:
        return None
    op, path = operation.get("op"), operation.get("path")
    if op not in ("add", "replace", "remove"):
        return None
    if path is None:
        value = operation.get("value")
        if op == "remove" or not isinstance(value, dict) or not value:
            return None
        changes = []
        for key, item in value.items():
            target = _BY_NAME.get(key.casefold()) if isinstance(key, str) else None
            if target is None or not _fits(target, item):
                return None
            changes.append((target.column, item))
        return changes
    target = _BY_PATH.get(path.casefold()) if isinstance(path, str) else None
    if target is None:
        return None
    if op == "remove":
        if "value" in operation or target.column in _REQUIRED:
            return None
        return [(target.column, None)]
    item = operation.get("value")
    return [(target.column, item)] if _fits(target, item) else None


def _fits(target: _Target, value: Any) -> bool:
    if target.kind is bool:
        return type(value) is bool
    if not isinstance(value, str) or not value or value.strip() != value:
        return False
    return len(value) <= column_limit(target.attribute)
