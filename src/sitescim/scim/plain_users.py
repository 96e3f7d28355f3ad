"""User creation bodies of the plain shape identity providers send, read without scim2-models.

A Bulk import is thousands of bodies like ``{"schemas": [core User], "userName",
"externalId", "name", "emails", "active"}``; validating each with
``model_validate`` cost more than everything else the import does. ``read_plain_user``
reads a body of that shape straight into the columns and value rows that
``mapping.user_from_scim`` would give, and answers None for any body it is not
certain of (another attribute, an extension, a value it would have to
normalise or refuse): that body then takes the reference path, which says
what is wrong with it. A property test (tests/unit/test_plain_users.py) holds
the two equal.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from scim2_models import Email, PhoneNumber

from sitescim.scim.schemas import (
    MAX_VALUES,
    NAME_ATTRIBUTES,
    USER_ATTRIBUTES,
    USER_SCHEMA,
    VALUE_KEY_LIMIT,
    VALUE_LIMITS,
    Part,
)

_PLAIN_CORE = frozenset(
    {"userName", "externalId", "displayName", "nickName", "title", "userType", "locale"}
    | {"preferredLanguage", "timezone"}
)
"""Core string attributes scim2-models takes as any string (profileUrl is a Reference)."""

_CORE = {
    attribute.name: attribute
    for attribute in USER_ATTRIBUTES
    if attribute.part is Part.CORE and attribute.name in _PLAIN_CORE
}
_NAME = {attribute.name: attribute for attribute in NAME_ATTRIBUTES}
_EMPTY_COLUMNS: dict[str, Any] = {}
for _attribute in USER_ATTRIBUTES:
    _EMPTY_COLUMNS[_attribute.column] = None
    if _attribute.key is not None:
        _EMPTY_COLUMNS[_attribute.key] = None

_VALUE_TYPES: dict[str, Any] = {"emails": Email.Type, "phoneNumbers": PhoneNumber.Type}
_CANONICAL = {
    name: {member.value: member.value for member in kinds} for name, kinds in _VALUE_TYPES.items()
}
"""Types already in canonical spelling, which scim2-models keeps as they are."""
_ENTRY_KEYS = frozenset({"value", "type", "primary", "display"})
_EMAIL_LENGTH = 254  # email-validator's limit; longer ones take the reference path

# Addresses email-validator takes unchanged: an ASCII dot-atom local part, and a
# domain of lower-case LDH labels (it lower-cases a domain, so an upper-case one
# would be normalised) without "--" (its Punycode rule), the last starting with a letter.
_LOCAL = r"[A-Za-z0-9_+-]{1,64}(?:\.[A-Za-z0-9_+-]{1,64})*"
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_TOP = r"[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?"
_PLAIN_EMAIL = re.compile(rf"{_LOCAL}@(?!.*--)(?:{_LABEL}\.)*{_TOP}")


@dataclass(frozen=True, slots=True)
class PlainUser:
    """What a plain body sets: ``users`` columns, and ``user_values`` rows without ids."""

    columns: dict[str, Any]
    values: list[dict[str, Any]]


def read_plain_user(body: dict[str, Any]) -> PlainUser | None:
    """The columns and value rows of a plain creation body; None for any other body."""
    if body.get("schemas") != [USER_SCHEMA]:
        return None
    columns = dict(_EMPTY_COLUMNS)
    values: dict[str, list[dict[str, Any]]] = {}
    active = True
    email: str | None = None
    for key, item in body.items():
        if key == "schemas" or item is None:
            continue
        attribute = _CORE.get(key)
        if attribute is not None:
            if not _fits(item, attribute.limit):
                return None
            columns[attribute.column] = item
            if attribute.key is not None:
                columns[attribute.key] = item.casefold()
        elif key == "active":
            if type(item) is not bool:
                return None
            active = item
        elif key == "name":
            if not _read_name(item, columns):
                return None
        elif key in _VALUE_TYPES:
            rows = _read_values(key, item)
            if rows is None:
                return None
            values[key] = rows
            if key == "emails" and rows:
                chosen = next((row for row in rows if row["primary"]), rows[0])
                email = chosen["value"]
        else:
            return None
    if not columns["user_name"]:
        return None
    columns["active"] = active
    columns["email"] = email
    # in the order user_from_scim writes them
    return PlainUser(columns, [row for name in _VALUE_TYPES for row in values.get(name, ())])


def _fits(item: object, limit: int) -> bool:
    return type(item) is str and len(item) <= limit


def _read_name(name: object, columns: dict[str, Any]) -> bool:
    if not isinstance(name, dict):
        return False
    for key, item in name.items():
        attribute = _NAME.get(key)
        if attribute is None:
            return False
        if item is None:
            continue
        if not _fits(item, attribute.limit):
            return False
        columns[attribute.column] = item
    return True


def _read_values(attribute: str, entries: object) -> list[dict[str, Any]] | None:
    """Rows of ``emails`` or ``phoneNumbers``, each with a value; None if not plain."""
    if not isinstance(entries, list) or len(entries) > MAX_VALUES:
        return None
    kinds, canonical = _VALUE_TYPES[attribute], _CANONICAL[attribute]
    rows: list[dict[str, Any]] = []
    primaries = 0
    for position, entry in enumerate(entries):
        if not isinstance(entry, dict) or not _ENTRY_KEYS.issuperset(entry):
            return None
        value, kind = entry.get("value"), entry.get("type")
        primary, display = entry.get("primary"), entry.get("display")
        if type(value) is not str:
            return None
        if attribute == "emails" and (
            len(value) > _EMAIL_LENGTH or _PLAIN_EMAIL.fullmatch(value) is None
        ):
            return None
        if kind is not None:
            if not _fits(kind, VALUE_LIMITS["type"]):
                return None
            # canonical values in their case, others as sent (the enum's own rule)
            kind = canonical.get(kind) or kinds(kind).value
        if display is not None and not _fits(display, VALUE_LIMITS["display"]):
            return None
        if primary is not None and type(primary) is not bool:
            return None
        primaries += primary is True
        key = value.casefold()
        rows.append(
            {
                "attribute": attribute,
                "position": position,
                "value": value,
                "value_key": key if len(key) <= VALUE_KEY_LIMIT else None,
                "type": kind,
                "primary": primary,
                "display": display,
                "extra": {},
            }
        )
    if primaries > 1:
        return None
    return rows
