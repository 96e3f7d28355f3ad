"""Request bodies read as RFC 7643 §2.1 asks: attribute names are case-insensitive.

The identity-provider layer (``scim.compat``) looks keys up and sets dotted
paths in bodies whose keys a client may have spelled in any case.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def find_key(data: Mapping[str, Any], name: str) -> str | None:
    """The key spelling ``name`` in ``data``: attribute names are case-insensitive."""
    if name in data:
        return name
    folded = name.casefold()
    return next((key for key in data if key.casefold() == folded), None)


def read_entry_value(entry: Any) -> Any:
    """The ``value`` of a multi-valued attribute's entry, if it is an object with one."""
    if not isinstance(entry, dict):
        return None
    key = find_key(entry, "value")
    return entry.get(key) if key else None


def open_child(data: dict[str, Any], name: str) -> dict[str, Any]:
    """The object under ``name``, created (or put in place of a non-object) if need be."""
    key = find_key(data, name)
    child = data.get(key) if key else None
    if not isinstance(child, dict):
        child = {}
        data[key or name] = child
    return child


def put_path(data: dict[str, Any], parts: list[str], value: Any) -> None:
    """Set a dotted attribute path in nested objects, merging with what is there."""
    holder = data
    for part in parts[:-1]:
        holder = open_child(holder, part)
    holder[find_key(holder, parts[-1]) or parts[-1]] = value
