"""The text ``users.document`` keeps: a user's page document, less what a request
or another resource decides.

A list page used to write every user's document in SQL (``scim.sql_documents``),
about 115,000 instructions a user on SQLite, most of them its values; a stored
text costs a read. Each write of a user stores the document its response
already built, encoded here; the page fills two holes (``sql_documents.GROUPS_HOLE``
with the user's groups, read live so that a group's change never rewrites its
members, and ``BASE_HOLE`` with the request's base URL) and uses the text only
while ``users.document_version`` equals the user's ``version``: a write that
stored none leaves the page to build that user in SQL, never to show a stale one.

The text equals, byte for byte, what ``sql_documents.user_document_sql(stored=True)``
writes for the same rows (a property test holds them equal): in particular an
address's parts are written as the database gives them back from the JSON
column, which ``json.dumps`` wrote (``\\u00e9``, not ``é``).
"""

from __future__ import annotations

import json
from typing import Any

import orjson

from sitescim.scim.schemas import ADDRESS_KEYS, ENTERPRISE_USER_SCHEMA, SITESCIM_USER_SCHEMA
from sitescim.scim.sql_documents import BASE_HOLE, GROUPS_HOLE

_ADDRESS_PARTS = frozenset(ADDRESS_KEYS.values())
_AFTER_GROUPS = (f',"{ENTERPRISE_USER_SCHEMA}":', f',"{SITESCIM_USER_SCHEMA}":')
"""The members that follow ``groups``, the first of them that the user has, as encoded.
Found by search: no string value can hold them, since its quotes are escaped."""


def stored_document(document: dict[str, Any]) -> str:
    """The stored text of ``document`` (``user_documents.user_document``'s, for the
    row as written): its groups and base URL left as holes."""
    shown = dict(document)
    shown.pop("groups", None)
    user_id = document["id"]
    shown["meta"] = {
        **document["meta"],
        "location": _reference(document["meta"]["location"], f"/Users/{user_id}"),
    }
    enterprise = document.get(ENTERPRISE_USER_SCHEMA)
    if enterprise is not None and "manager" in enterprise:
        manager = enterprise["manager"]
        ref = _reference(manager["$ref"], f"/Users/{manager['value']}")
        shown[ENTERPRISE_USER_SCHEMA] = {**enterprise, "manager": {**manager, "$ref": ref}}
    addresses = document.get("addresses")
    if addresses is not None:  # parts as their JSON column gives them back
        shown["addresses"] = [
            {
                part: orjson.Fragment(json.dumps(text)) if part in _ADDRESS_PARTS else text
                for part, text in entry.items()
            }
            for entry in addresses
        ]
    text = orjson.dumps(shown).decode()
    at = text.find(_AFTER_GROUPS[0])
    if at < 0:
        at = text.index(_AFTER_GROUPS[1])
    return f"{text[:at]}{GROUPS_HOLE}{text[at:]}"


def filled(stored: str, groups: str, base: str) -> str:
    """A stored document with its holes filled: ``groups`` (``,"groups":[...]`` or
    '') and ``base`` (``base_json``)."""
    return stored.replace(GROUPS_HOLE, groups, 1).replace(BASE_HOLE, base)


def base_json(base_url: str) -> str:
    """The base URL as BASE_HOLE takes it: JSON-escaped, without quotes."""
    return orjson.dumps(base_url).decode()[1:-1]


def _reference(url: str, path: str) -> orjson.Fragment:
    """``url`` (the base, then ``path``) as a JSON string with BASE_HOLE for the base."""
    if not url.endswith(path):
        raise ValueError("a reference that does not end with its path")
    return orjson.Fragment(f'"{BASE_HOLE}{orjson.dumps(path).decode()[1:]}')
