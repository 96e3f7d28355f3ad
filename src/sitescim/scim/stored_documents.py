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

from sitescim.scim.schemas import ADDRESS_KEYS
from sitescim.scim.sql_documents import BASE_HOLE, GROUPS_HOLE

_ADDRESS_PARTS = frozenset(ADDRESS_KEYS.values())

_AFTER_GROUPS = 2
"""A document's members after ``groups`` whatever the user: its sitescim extension and meta
(the enterprise extension, when there is one, comes before them)."""


def stored_document(document: dict[str, Any]) -> str:
    """The stored text of ``document`` (``user_documents.user_document``'s, for the
    row as written): its groups and base URL left as holes."""
    keys = list(document)
    end = keys.index("groups") if "groups" in keys else _first_after_groups(keys)
    head = {key: _stored_member(key, document[key]) for key in keys[:end]}
    tail = {key: document[key] for key in keys[end:] if key != "groups"}
    meta = dict(tail["meta"])
    meta["location"] = _reference(meta["location"], f"/Users/{document['id']}")
    tail["meta"] = meta
    enterprise = next((key for key in tail if key.endswith(":enterprise:2.0:User")), None)
    if enterprise is not None and "manager" in tail[enterprise]:
        manager = dict(tail[enterprise]["manager"])
        manager["$ref"] = _reference(manager["$ref"], f"/Users/{manager['value']}")
        tail[enterprise] = {**tail[enterprise], "manager": manager}
    head_text = orjson.dumps(head).decode()
    tail_text = orjson.dumps(tail).decode()
    return f"{head_text[:-1]}{GROUPS_HOLE},{tail_text[1:]}"


def base_json(base_url: str) -> str:
    """The base URL as BASE_HOLE takes it: JSON-escaped, without quotes."""
    return orjson.dumps(base_url.rstrip("/")).decode()[1:-1]


def _first_after_groups(keys: list[str]) -> int:
    """Where ``groups`` would be: before the extensions and meta."""
    end = len(keys) - _AFTER_GROUPS
    if keys[end - 1].endswith(":enterprise:2.0:User"):
        end -= 1
    return end


def _reference(url: str, path: str) -> orjson.Fragment:
    """``url`` (the base, then ``path``) as a JSON string with BASE_HOLE for the base."""
    if not url.endswith(path):
        raise ValueError("a reference that does not end with its path")
    return orjson.Fragment(f'"{BASE_HOLE}{orjson.dumps(path).decode()[1:]}')


def _stored_member(key: str, item: Any) -> Any:
    """A member as ``user_document_sql`` writes it: an address's parts as their JSON
    column holds them (``json.dumps``, ASCII-escaped), everything else as orjson does."""
    if key != "addresses":
        return item
    return [
        {
            part: orjson.Fragment(json.dumps(text)) if part in _ADDRESS_PARTS else text
            for part, text in entry.items()
        }
        for entry in item
    ]
