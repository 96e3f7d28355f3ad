"""SCIM documents written as SQL text, for the pages the database writes (``scim.pages``).

Each builder gives the SQL expression whose value is the JSON text that
``user_documents.user_document`` / ``group_mapping.group_document`` would give
for the row; a property test holds them equal.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from sitescim.scim.schemas import (
    ADDRESS_KEYS,
    ADDRESS_PARTS,
    CORE_ATTRIBUTES,
    ENTERPRISE_ATTRIBUTES,
    ENTERPRISE_USER_SCHEMA,
    GROUP_SCHEMA,
    MULTI_VALUED,
    NAME_ATTRIBUTES,
    SITESCIM_USER_SCHEMA,
    USER_SCHEMA,
    UserAttribute,
)

_LITERAL = re.compile(r"'(?:[^']|'')*'")
"""A whole SQL string literal, as ``JsonSql.literal`` writes it."""


class JsonSql:
    """SQL expressions that write JSON text, spelled for one dialect."""

    def __init__(self, dialect: str) -> None:
        self.postgres = dialect == "postgresql"

    def param(self, name: str) -> str:
        return f"CAST(%({name})s AS text)" if self.postgres else f":{name}"

    def quote(self, expression: str) -> str:
        """The JSON string of a non-NULL text expression."""
        return (
            f"to_json(CAST({expression} AS text))::text"
            if self.postgres
            else (f"json_quote({expression})")
        )

    @staticmethod
    def literal(text: str) -> str:
        return "'" + text.replace("'", "''") + "'"

    def joined(self, parts: Sequence[str]) -> str:
        """The concatenation of text expressions, as one call on SQLite.

        SQLite's ``||`` allocates and copies a new string for each operator, so a
        chain of n parts copies the growing document n times; ``printf`` appends
        them to one buffer, and the SQL literals among the parts go into its format.
        Two differences, which every caller allows for: printf writes a NULL part
        as nothing, and gives NULL where the whole text would be empty.
        """
        if self.postgres:
            return " || ".join(parts)
        template = []
        arguments = []
        for part in parts:
            if _LITERAL.fullmatch(part):
                template.append(part[1:-1].replace("''", "'").replace("%", "%%"))
            else:
                template.append("%s")
                arguments.append(part)
        return f"printf({', '.join([self.literal(''.join(template)), *arguments])})"

    def member(self, key: str, expression: str) -> str:
        """``,"key":<string>``, or nothing when the expression is NULL."""
        label = self.literal(f',"{key}":')
        return (
            f"CASE WHEN {expression} IS NULL THEN '' ELSE {label} || {self.quote(expression)} END"
        )

    def moment(self, expression: str) -> list[str]:
        """A datetime as ``user_documents.scim_datetime`` writes it (microseconds only if any),
        as parts for ``joined``."""
        if self.postgres:
            utc = f"({expression} AT TIME ZONE 'UTC')"
            return [
                f"""'"' || to_char({utc}, 'YYYY-MM-DD"T"HH24:MI:SS') || CASE WHEN """
                f"date_trunc('second', {expression}) = {expression} THEN '' ELSE "
                f"""to_char({utc}, '.US') END || 'Z"'"""
            ]
        # SQLAlchemy stores naive UTC as 'YYYY-MM-DD HH:MM:SS.ffffff'.
        return [
            "'\"'",
            f"replace(substr({expression}, 1, 19), ' ', 'T')",
            f"CASE WHEN substr({expression}, 21) IN ('', '000000') THEN ''"
            f" ELSE '.' || substr({expression}, 21, 6) END",
            "'Z\"'",
        ]

    def etag(self, expression: str) -> list[str]:
        """``"W/\\"<version>\\""``, as etags.make_etag gives it, JSON-quoted, as parts for ``joined``."""
        return [self.literal('"W/\\"'), expression, self.literal('\\""')]

    def hole(self, mark: str) -> str:
        """A hole of a stored document (a control character JSON text never holds bare)."""
        return f"chr({ord(mark)})" if self.postgres else f"char({ord(mark)})"

    def reference(self, path: str, *, stored: bool) -> str:
        """The JSON string of the base URL followed by ``path``, a text expression.

        ``stored``: with BASE_HOLE for the base, as a stored document keeps it
        (JSON escaping goes character by character, so the two parts escape apart).
        """
        if not stored:
            return self.quote(f"{self.param('page_base')} || {path}")
        return f"""'"' || {self.hole(BASE_HOLE)} || substr({self.quote(path)}, 2)"""

    def boolean(self, expression: str) -> str:
        return f"CASE WHEN {expression} THEN 'true' ELSE 'false' END"

    def json_of(self, expression: str) -> str:
        """The JSON text of a member of a JSON column, NULL when absent or null."""
        if self.postgres:
            return (
                f"CASE WHEN coalesce(json_typeof({expression}), 'null') = 'null' THEN NULL"
                f" ELSE ({expression})::text END"
            )
        return f"nullif({expression}, 'null')"

    def extra_member(self, column: str, key: str) -> str:
        path = (
            f"{column} -> {self.literal(key)}"
            if self.postgres
            else (f"{column} -> {self.literal('$.' + key)}")
        )
        value = self.json_of(path)
        label = self.literal(f',"{key}":')
        return f"CASE WHEN {value} IS NULL THEN '' ELSE {label} || {value} END"


GROUPS_HOLE = "\x01"
"""Where a stored document takes its ``,"groups":[...]`` member (scim.stored_documents)."""
BASE_HOLE = "\x02"
"""Where a stored document takes the base URL, JSON-escaped, inside a reference."""


def _object(json: JsonSql, parts: list[str]) -> str:
    """``{...}`` from member expressions that each start with a comma (the first is cut)."""
    return json.joined(["'{'", f"substr({json.joined(parts)}, 2)", "'}'"])


def user_document_sql(json: JsonSql, *, stored: bool = False) -> str:
    """The text of ``user_documents.user_document`` for the row ``u``.

    ``stored``: the text ``users.document`` keeps (scim.stored_documents), with
    GROUPS_HOLE for the groups and BASE_HOLE for the base URL.
    """
    q = json.quote
    lit = json.literal
    enterprise_columns = ", ".join(f"u.{attribute.column}" for attribute in ENTERPRISE_ATTRIBUTES)
    has_manager = "(u.manager_id IS NOT NULL AND u.manager_id <> '')"
    has_enterprise = f"(coalesce({enterprise_columns}) IS NOT NULL OR {has_manager})"
    name_columns = ", ".join(f"u.{attribute.column}" for attribute in NAME_ATTRIBUTES)
    name = _object(json, [json.member(item.name, f"u.{item.column}") for item in NAME_ATTRIBUTES])
    manager_ref = json.reference("'/Users/' || u.manager_id", stored=stored)
    manager = (
        f"CASE WHEN {has_manager} THEN "
        f"""',"manager":{{"value":' || {q("u.manager_id")}"""
        f""" || ',"$ref":' || {manager_ref}"""
        f" || {json.member('displayName', 'u.manager_display_name')} || '}}' ELSE '' END"
    )
    enterprise = _object(
        json,
        [json.member(item.name, f"u.{item.column}") for item in ENTERPRISE_ATTRIBUTES] + [manager],
    )
    enterprise_urn = lit(f',"{ENTERPRISE_USER_SCHEMA}"')
    enterprise_key = lit(f',"{ENTERPRISE_USER_SCHEMA}":')
    name_key = lit(',"name":')
    parts = [
        lit(f'{{"schemas":["{USER_SCHEMA}"'),
        f"CASE WHEN {has_enterprise} THEN {enterprise_urn} ELSE '' END",
        lit(f',"{SITESCIM_USER_SCHEMA}"],"id":'),
        q("u.id"),
        *(json.member(item.name, f"u.{item.column}") for item in CORE_ATTRIBUTES[:2]),
        _seldom(json, CORE_ATTRIBUTES[2:]),
        lit(',"userName":'),
        q("u.user_name"),
        f"CASE WHEN coalesce({name_columns}) IS NULL THEN '' ELSE {name_key} || {name} END",
        lit(',"active":'),
        json.boolean("u.active"),
        _values(json),
        json.hole(GROUPS_HOLE) if stored else f"coalesce({_groups_of_user(json)}, '')",
        f"CASE WHEN {has_enterprise} THEN {enterprise_key} || {enterprise} ELSE '' END",
        lit(f',"{SITESCIM_USER_SCHEMA}":{{"privilege":'),
        q("u.privilege"),
        *_meta(json, "u", "User", closing="}", stored=stored),
    ]
    return json.joined(parts)


def user_groups_sql(json: JsonSql) -> str:
    """``,"groups":[...]`` for user ``u``, or '' if none: what fills a stored
    document's GROUPS_HOLE (scim.stored_documents.filled)."""
    return f"coalesce({_groups_of_user(json)}, '')"


def _seldom(json: JsonSql, items: Sequence[UserAttribute]) -> str:
    """Members of attributes most users lack, behind one test that they are all NULL.

    Each member alone is a CASE per row; most directories set none of these, so
    one ``coalesce`` spares the rest (the statement's cost is its operations per user).
    """
    columns = ", ".join(f"u.{item.column}" for item in items)
    members = " || ".join(json.member(item.name, f"u.{item.column}") for item in items)
    return f"CASE WHEN coalesce({columns}) IS NULL THEN '' ELSE {members} END"


def _meta(
    json: JsonSql, alias: str, resource_type: str, *, closing: str = "", stored: bool = False
) -> list[str]:
    """``,"meta":{...}}``: the resource's meta and the document's closing brace.

    ``closing`` ends what comes before it, in the same literal.
    """
    location = json.reference(f"'/{resource_type}s/' || {alias}.id", stored=stored)
    return [
        json.literal(f'{closing},"meta":{{"resourceType":"{resource_type}","created":'),
        *json.moment(f"{alias}.created_at"),
        json.literal(',"lastModified":'),
        *json.moment(f"{alias}.updated_at"),
        json.literal(',"location":'),
        location,
        json.literal(',"version":'),
        *json.etag(f"{alias}.version"),
        json.literal("}}"),
    ]


def _value_parts(json: JsonSql) -> str:
    """A ``user_values`` row ``v`` as ``,"k":v`` members, in ``user_documents``' order."""
    address = " || ".join(
        json.extra_member("v.extra", ADDRESS_KEYS[part]) for part in ADDRESS_PARTS
    )
    with_display = ", ".join(
        json.literal(name) for name, spec in MULTI_VALUED.items() if spec.has_display
    )
    primary = (
        """CASE WHEN v."primary" IS NULL THEN '' WHEN v."primary" THEN ',"primary":true'"""
        """ ELSE ',"primary":false' END"""
    )
    return json.joined(
        [
            f"CASE WHEN v.attribute = 'addresses' THEN {address}"
            f" ELSE {json.member('value', 'v.value')} END",
            f"CASE WHEN v.attribute IN ({with_display}) THEN {json.member('display', 'v.display')}"
            " ELSE '' END",
            json.member("type", "v.type"),
            primary,
        ]
    )


def _values(json: JsonSql) -> str:
    """``,"emails":[...],...`` for user ``u``, attributes in code-point order; '' if none.

    Entries with no member are left out, as scim2-models leaves them out.
    """
    entries = (
        f"SELECT v.attribute, v.position, v.id, '{{' || substr(nullif({_value_parts(json)}, ''), 2)"
        " || '}' AS entry FROM user_values v WHERE v.user_id = u.id"
    )
    if json.postgres:
        # One sort per user: a window marks each attribute's first and last entry,
        # and string_agg takes the window's order (an ORDER BY of its own sorted
        # again). OFFSET 0 keeps the entry's NULL test from being pushed into the
        # scan, where each entry was written twice.
        order = 'e.attribute COLLATE "C", e.position, e.id'
        return (
            "coalesce((SELECT string_agg(CASE WHEN e.before IS NOT DISTINCT FROM e.attribute"
            " THEN ',' ELSE ',' || to_json(e.attribute)::text || ':[' END || e.entry"
            " || CASE WHEN e.after IS NOT DISTINCT FROM e.attribute THEN '' ELSE ']' END, '')"
            " FROM (SELECT e.*, lag(e.attribute) OVER byorder AS before,"
            f" lead(e.attribute) OVER byorder AS after FROM ({entries} OFFSET 0) e"
            f" WHERE e.entry IS NOT NULL WINDOW byorder AS (ORDER BY {order})) e), '')"
        )
    # One aggregate per attribute over one ordered pass: cheaper in SQLite than a
    # window or a GROUP BY; group_concat follows the ordered subquery (SQLite has
    # no ordered aggregate before 3.44).
    # An attribute without entries is NULL, which printf (json.joined) writes as ''.
    each = []
    for attribute in sorted(MULTI_VALUED):
        joined = (
            f"group_concat(CASE WHEN e.attribute = {json.literal(attribute)} THEN e.entry END, ',')"
        )
        label = json.literal(f',"{attribute}":[')
        each.append(f"{label} || {joined} || ']'")
    return f"(SELECT {json.joined(each)} FROM ({entries} ORDER BY v.attribute, v.position, v.id) e)"


def _groups_of_user(json: JsonSql) -> str:
    """``,"groups":[...]`` for user ``u`` (ordered as db.reads orders them); NULL if none."""
    base = json.param("page_base")
    ref = f"{base} || '/Groups/' || g.id"
    entry = json.joined(
        [
            json.literal('{"value":'),
            json.quote("g.id"),
            json.literal(',"$ref":'),
            json.quote(ref),
            json.member("display", "g.display_name"),
            "'}'",
        ]
    )
    joined = (
        "FROM group_members m JOIN groups g ON g.id = m.group_id"
        " WHERE m.site_id = u.site_id AND m.user_id = u.id"
    )
    if not json.postgres:
        return (
            f"""(SELECT ',"groups":[' || group_concat({entry}, ',') || ']'"""
            f" FROM (SELECT g.id, g.display_name {joined} ORDER BY g.display_name_key, g.id) g)"
        )
    # PostgreSQL probes the index first: a user in no group skips the aggregate and
    # its sort, about 10 µs a user. (In SQLite the probe costs a member as much as
    # it spares a user in no group, about 3,500 instructions.)
    return (
        "CASE WHEN EXISTS (SELECT 1 FROM group_members m"
        " WHERE m.site_id = u.site_id AND m.user_id = u.id)"
        f""" THEN (SELECT ',"groups":[' || string_agg({entry}, ','"""
        f" ORDER BY g.display_name_key, g.id) || ']' {joined}) END"
    )


def group_document_sql(json: JsonSql, *, with_members: bool) -> str:
    """The text of ``group_mapping.group_document`` for the row ``g``."""
    q = json.quote
    lit = json.literal
    members = f"coalesce({_members(json)}, '')" if with_members else "''"
    parts = [
        lit(f'{{"schemas":["{GROUP_SCHEMA}"],"id":'),
        q("g.id"),
        json.member("externalId", "g.external_id"),
        lit(',"displayName":'),
        q("g.display_name"),
        members,
        *_meta(json, "g", "Group"),
    ]
    return json.joined(parts)


def _members(json: JsonSql) -> str:
    """``,"members":[...]`` for group ``g`` in insertion order; NULL if none."""
    base = json.param("page_base")
    member = "coalesce(m.user_id, m.member_group_id)"
    ref = (
        f"{base} || CASE WHEN m.user_id IS NOT NULL THEN '/Users/' ELSE '/Groups/' END || {member}"
    )
    entry = json.joined(
        [
            json.literal('{"value":'),
            json.quote(member),
            json.literal(',"$ref":'),
            json.quote(ref),
            """CASE WHEN m.user_id IS NOT NULL THEN ',"type":"User"' ELSE ',"type":"Group"' END""",
            "CASE WHEN m.user_id IS NOT NULL THEN "
            f"{json.member('display', 'coalesce(mu.display_name, mu.user_name)')}"
            f" ELSE {json.member('display', 'mg.display_name')} END",
            "'}'",
        ]
    )
    joined = (
        "FROM group_members m LEFT JOIN users mu ON mu.id = m.user_id"
        " LEFT JOIN groups mg ON mg.id = m.member_group_id"
        " WHERE m.site_id = g.site_id AND m.group_id = g.id"
    )
    if json.postgres:
        return (
            f"""(SELECT ',"members":[' || string_agg({entry}, ',' ORDER BY m.id) || ']' {joined})"""
        )
    return (
        f"""(SELECT ',"members":[' || group_concat(e.entry, ',') || ']'"""
        f" FROM (SELECT {entry} AS entry {joined} ORDER BY m.id) e)"
    )
