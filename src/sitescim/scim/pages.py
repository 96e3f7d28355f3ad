"""List pages whose JSON the database writes: one statement, one snapshot, no ORM.

A page of 100 users through SQLAlchemy rows and ``mapping.user_document``
cost about 6 ms, most of it per-row Python. Here one statement counts the
matches (``totalResults``), picks the page's ids in its order, and writes each
resource's JSON text as ``mapping.user_document`` / ``group_mapping.group_document``
would (a property test holds them equal); Python only splices the texts into
the ListResponse.

The statement's text is built once per query shape (resource, dialect, filter
text, order, paging) and kept: the filter is compiled by ``scim.filtering``
with a stand-in site id, whose parameters are swapped for the token's site at
each use, so the SQL never depends on who asks and never holds a value.

Plans stay linear without statistics: the page's ids come first from a
LIMITed subquery, and each document is then read by primary key (SQLite keeps
a LEFT JOIN's left side outer; PostgreSQL's LATERAL with OFFSET 0 is a nested
loop by construction), so no planner can re-run the page per row.
"""

from __future__ import annotations

import secrets
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from threading import Lock
from typing import Any

from sqlalchemy import ColumnElement, bindparam, func, select, true, tuple_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import coercions, roles

from sitescim.db.models import Group, User
from sitescim.scim import cursors, filtering
from sitescim.scim.extension import SITESCIM_USER_SCHEMA
from sitescim.scim.filtering import GROUPS, USERS, Expr, Resource
from sitescim.scim.group_mapping import GROUP_SCHEMA
from sitescim.scim.listing import ListQuery, sort_key
from sitescim.scim.mapping import (
    _ADDRESS_KEYS,
    _ENTERPRISE,
    _HAS_DISPLAY,
    _NAME_PARTS,
    _SINGULAR,
    ADDRESS_PARTS,
    CORE_SCHEMA,
    ENTERPRISE_SCHEMA,
    MULTI_VALUED,
)

SITE_STAND_IN = "\x00site:" + secrets.token_hex(16)
"""The site id the filter is compiled with; its parameters take the token's site.
Random per process, so no filter value can pass for it."""

_KEPT = 256
"""Statement texts kept per process (least recently used go first)."""

_DIALECTS: dict[str, Dialect] = {
    "sqlite": sqlite.dialect(paramstyle="named"),
    "postgresql": postgresql.psycopg.dialect(),  # type: ignore[no-untyped-call]
}


@dataclass(frozen=True, slots=True)
class PageStatement:
    """A page query's SQL and what its parameters need.

    Each row it returns is (total, document JSON text or NULL, sort key, id);
    an empty page is one row with only the total.
    """

    sql: str
    constants: Mapping[str, Any]
    site_params: tuple[str, ...]
    key_result: Callable[[Any], Any] | None
    key_bind: Callable[[Any], Any] | None
    descending: bool

    def params(
        self,
        site_id: str,
        *,
        base_url: str,
        limit: int,
        offset: int,
        after: cursors.Position | None,
    ) -> dict[str, Any]:
        params = dict(self.constants)
        for name in self.site_params:
            params[name] = site_id
        params.update(page_site=site_id, page_base=base_url, page_limit=limit, page_offset=offset)
        if after is not None:
            key = after.key
            params["page_after_key"] = (
                self.key_bind(key) if self.key_bind is not None and key is not None else key
            )
            params["page_after_id"] = after.id
        return params

    def sort_value(self, raw: Any) -> Any:
        """The page's last sort key as the SQLAlchemy path reads it (for the next cursor)."""
        return self.key_result(raw) if self.key_result is not None else raw


class _Json:
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

    def member(self, key: str, expression: str) -> str:
        """``,"key":<string>``, or nothing when the expression is NULL."""
        label = self.literal(f',"{key}":')
        return (
            f"CASE WHEN {expression} IS NULL THEN '' ELSE {label} || {self.quote(expression)} END"
        )

    def moment(self, expression: str) -> str:
        """A datetime as ``mapping.scim_datetime`` writes it (microseconds only if any)."""
        if self.postgres:
            utc = f"({expression} AT TIME ZONE 'UTC')"
            return (
                f"""'"' || to_char({utc}, 'YYYY-MM-DD"T"HH24:MI:SS') || CASE WHEN """
                f"date_trunc('second', {expression}) = {expression} THEN '' ELSE "
                f"""to_char({utc}, '.US') END || 'Z"'"""
            )
        # SQLAlchemy stores naive UTC as 'YYYY-MM-DD HH:MM:SS.ffffff'.
        return (
            f"""'"' || substr({expression}, 1, 10) || 'T' || substr({expression}, 12, 8)"""
            f" || CASE WHEN substr({expression}, 21) IN ('', '000000') THEN ''"
            f""" ELSE '.' || substr({expression}, 21, 6) END || 'Z"'"""
        )

    def etag(self, expression: str) -> str:
        """``"W/\\"<version>\\""``, as etags.make_etag gives it, JSON-quoted."""
        return f"""'"W/\\"' || {expression} || '\\""'"""

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


def _object(parts: list[str]) -> str:
    """``{...}`` from member expressions that each start with a comma (the first is cut)."""
    return "'{' || substr(" + " || ".join(parts) + ", 2) || '}'"


def _user_document(json: _Json) -> str:
    """The text of ``mapping.user_document`` for the row ``u``."""
    q = json.quote
    lit = json.literal
    base = json.param("page_base")
    enterprise_columns = ", ".join(f"u.{column}" for _, column in _ENTERPRISE)
    has_manager = "(u.manager_id IS NOT NULL AND u.manager_id <> '')"
    has_enterprise = f"(coalesce({enterprise_columns}) IS NOT NULL OR {has_manager})"
    name_columns = ", ".join(f"u.{column}" for _, column in _NAME_PARTS)
    name = _object([json.member(key, f"u.{column}") for key, column in _NAME_PARTS])
    manager_ref = f"{base} || '/Users/' || u.manager_id"
    manager = (
        f"CASE WHEN {has_manager} THEN "
        f"""',"manager":{{"value":' || {q("u.manager_id")}"""
        f""" || ',"$ref":' || {q(manager_ref)}"""
        f" || {json.member('displayName', 'u.manager_display_name')} || '}}' ELSE '' END"
    )
    enterprise = _object(
        [json.member(key, f"u.{column}") for key, column in _ENTERPRISE] + [manager]
    )
    enterprise_urn = lit(f',"{ENTERPRISE_SCHEMA}"')
    enterprise_key = lit(f',"{ENTERPRISE_SCHEMA}":')
    name_key = lit(',"name":')
    parts = [
        lit(f'{{"schemas":["{CORE_SCHEMA}"'),
        f"CASE WHEN {has_enterprise} THEN {enterprise_urn} ELSE '' END",
        lit(f',"{SITESCIM_USER_SCHEMA}"],"id":'),
        q("u.id"),
        *(json.member(key, f"u.{column}") for key, column in _SINGULAR),
        lit(',"userName":'),
        q("u.user_name"),
        f"CASE WHEN coalesce({name_columns}) IS NULL THEN '' ELSE {name_key} || {name} END",
        lit(',"active":'),
        json.boolean("u.active"),
        _values(json),
        f"coalesce({_groups_of_user(json)}, '')",
        f"CASE WHEN {has_enterprise} THEN {enterprise_key} || {enterprise} ELSE '' END",
        lit(f',"{SITESCIM_USER_SCHEMA}":{{"privilege":'),
        q("u.privilege"),
        lit('},"meta":{"resourceType":"User","created":'),
        json.moment("u.created_at"),
        lit(',"lastModified":'),
        json.moment("u.updated_at"),
        lit(',"location":'),
        q(f"{base} || '/Users/' || u.id"),
        lit(',"version":'),
        json.etag("u.version"),
        lit("}}"),
    ]
    return " || ".join(parts)


def _value_parts(json: _Json) -> str:
    """A ``user_values`` row ``v`` as ``,"k":v`` members, in ``_value_document``'s order."""
    address = " || ".join(
        json.extra_member("v.extra", _ADDRESS_KEYS[part]) for part in ADDRESS_PARTS
    )
    with_display = ", ".join(json.literal(name) for name, shown in _HAS_DISPLAY.items() if shown)
    primary = (
        """CASE WHEN v."primary" IS NULL THEN '' WHEN v."primary" THEN ',"primary":true'"""
        """ ELSE ',"primary":false' END"""
    )
    return (
        f"CASE WHEN v.attribute = 'addresses' THEN {address}"
        f" ELSE {json.member('value', 'v.value')} END"
        f" || CASE WHEN v.attribute IN ({with_display}) THEN {json.member('display', 'v.display')}"
        " ELSE '' END"
        f" || {json.member('type', 'v.type')} || {primary}"
    )


def _values(json: _Json) -> str:
    """``,"emails":[...],...`` for user ``u``, attributes in code-point order; '' if none.

    Entries with no member are left out, as scim2-models leaves them out.
    """
    entries = (
        f"SELECT v.attribute, v.position, v.id, '{{' || substr(nullif({_value_parts(json)}, ''), 2)"
        " || '}' AS entry FROM user_values v WHERE v.user_id = u.id"
    )
    if json.postgres:
        # One sort per user: a window marks each attribute's first and last entry.
        order = 'e.attribute COLLATE "C", e.position, e.id'
        return (
            "coalesce((SELECT string_agg(CASE WHEN e.before IS NOT DISTINCT FROM e.attribute"
            " THEN ',' ELSE ',' || to_json(e.attribute)::text || ':[' END || e.entry"
            " || CASE WHEN e.after IS NOT DISTINCT FROM e.attribute THEN '' ELSE ']' END,"
            f" '' ORDER BY {order}) FROM (SELECT e.*, lag(e.attribute) OVER byorder AS before,"
            f" lead(e.attribute) OVER byorder AS after FROM ({entries}) e"
            f" WHERE e.entry IS NOT NULL WINDOW byorder AS (ORDER BY {order})) e), '')"
        )
    # One aggregate per attribute over one ordered pass: cheaper in SQLite than a
    # window or a GROUP BY; group_concat follows the ordered subquery (SQLite has
    # no ordered aggregate before 3.44).
    each = []
    for attribute in sorted(MULTI_VALUED):
        joined = (
            f"group_concat(CASE WHEN e.attribute = {json.literal(attribute)} THEN e.entry END, ',')"
        )
        label = json.literal(f',"{attribute}":[')
        each.append(f"coalesce({label} || {joined} || ']', '')")
    return f"(SELECT {' || '.join(each)} FROM ({entries} ORDER BY v.attribute, v.position, v.id) e)"


def _groups_of_user(json: _Json) -> str:
    """``,"groups":[...]`` for user ``u`` (ordered as db.reads orders them); NULL if none."""
    base = json.param("page_base")
    ref = f"{base} || '/Groups/' || g.id"
    entry = (
        f"""'{{"value":' || {json.quote("g.id")} || ',"$ref":' || {json.quote(ref)}"""
        f" || {json.member('display', 'g.display_name')} || '}}'"
    )
    joined = (
        "FROM group_members m JOIN groups g ON g.id = m.group_id"
        " WHERE m.site_id = u.site_id AND m.user_id = u.id"
    )
    if json.postgres:
        return (
            f"""(SELECT ',"groups":[' || string_agg({entry}, ','"""
            f" ORDER BY g.display_name_key, g.id) || ']' {joined})"
        )
    return (
        f"""(SELECT ',"groups":[' || group_concat({entry}, ',') || ']'"""
        f" FROM (SELECT g.id, g.display_name {joined} ORDER BY g.display_name_key, g.id) g)"
    )


def _group_document(json: _Json, *, with_members: bool) -> str:
    """The text of ``group_mapping.group_document`` for the row ``g``."""
    q = json.quote
    lit = json.literal
    base = json.param("page_base")
    members = f"coalesce({_members(json)}, '')" if with_members else "''"
    parts = [
        lit(f'{{"schemas":["{GROUP_SCHEMA}"],"id":'),
        q("g.id"),
        json.member("externalId", "g.external_id"),
        lit(',"displayName":'),
        q("g.display_name"),
        members,
        lit(',"meta":{"resourceType":"Group","created":'),
        json.moment("g.created_at"),
        lit(',"lastModified":'),
        json.moment("g.updated_at"),
        lit(',"location":'),
        q(f"{base} || '/Groups/' || g.id"),
        lit(',"version":'),
        json.etag("g.version"),
        lit("}}"),
    ]
    return " || ".join(parts)


def _members(json: _Json) -> str:
    """``,"members":[...]`` for group ``g`` in insertion order; NULL if none."""
    base = json.param("page_base")
    member = "coalesce(m.user_id, m.member_group_id)"
    ref = (
        f"{base} || CASE WHEN m.user_id IS NOT NULL THEN '/Users/' ELSE '/Groups/' END || {member}"
    )
    entry = (
        f"""'{{"value":' || {json.quote(member)} || ',"$ref":' || {json.quote(ref)}"""
        """ || CASE WHEN m.user_id IS NOT NULL THEN ',"type":"User"' ELSE ',"type":"Group"' END"""
        " || CASE WHEN m.user_id IS NOT NULL THEN "
        f"{json.member('display', 'coalesce(mu.display_name, mu.user_name)')}"
        f" ELSE {json.member('display', 'mg.display_name')} END || '}}'"
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


# Statements, built once per shape.


@dataclass(frozen=True, slots=True)
class _Shape:
    resource: str
    dialect: str
    filter: str | None
    sort_by: str | None
    descending: bool
    cursor: bool
    after: bool
    after_null: bool
    with_members: bool


_STATEMENTS: OrderedDict[_Shape, PageStatement] = OrderedDict()
_LOCK = Lock()


def page_statement(
    dialect: str, query: ListQuery, *, groups: bool = False, with_members: bool = True
) -> tuple[PageStatement, cursors.Position | None, cursors.Fingerprint | None]:
    """The statement for ``query`` on ``dialect`` and, for a cursor page, where it
    starts and the seal of its cursors.

    A cursor that belongs to another query raises InvalidCursorException, as
    the general path does.
    """
    resource = GROUPS if groups else USERS
    descending = query.descending if query.sort_by is not None else False
    print_ = position = None
    if query.cursor is not None:
        print_ = cursors.fingerprint(
            query.cursor_key, resource.name, query.filter, query.sort_by, descending
        )
        position = cursors.decode(print_, query.cursor)
    shape = _Shape(
        resource=resource.name,
        dialect=dialect,
        filter=query.filter,
        sort_by=query.sort_by,
        descending=descending,
        cursor=query.cursor is not None,
        after=position is not None,
        after_null=position is not None and position.key is None,
        with_members=groups and with_members,
    )
    with _LOCK:
        found = _STATEMENTS.get(shape)
        if found is not None:
            _STATEMENTS.move_to_end(shape)
            return found, position, print_
    built = _build(shape, resource)
    with _LOCK:
        _STATEMENTS[shape] = built
        while len(_STATEMENTS) > _KEPT:
            _STATEMENTS.popitem(last=False)
    return built, position, print_


def _build(shape: _Shape, resource: Resource) -> PageStatement:
    dialect = _DIALECTS[shape.dialect]
    json = _Json(shape.dialect)
    model: type[User] | type[Group] = Group if resource is GROUPS else User
    site = SITE_STAND_IN
    condition = (
        filtering.group_filter(site, shape.filter)
        if resource is GROUPS
        else filtering.user_filter(site, shape.filter)
    )
    sorted_by: Expr = (
        model.created_at
        if shape.sort_by is None
        else sort_key(resource, shape.sort_by, site_id=site)
    )
    key: ColumnElement[Any] = coercions.expect(roles.ExpressionElementRole, sorted_by)
    shown = [
        column
        for column in model.__table__.columns
        if column.name != "password_hash" and not column.name.endswith("_key")
    ]
    page = select(model.id.label("page_id"), key.label("page_key"), *shown).where(condition)
    if shape.after and shape.sort_by is None and not shape.after_null:
        # Creation time is never NULL: one row-value comparison, which both
        # databases serve as a range of the (site_id, created_at, id) index.
        after_key = bindparam("page_after_key", type_=key.type)
        page = page.where(tuple_(key, model.id) > tuple_(after_key, bindparam("page_after_id")))
    elif shape.after:
        position = cursors.Position(
            key=None if shape.after_null else bindparam("page_after_key", type_=key.type),
            id=bindparam("page_after_id"),  # type: ignore[arg-type]
        )
        page = page.where(cursors.after(position, key, model.id, descending=shape.descending))
    if shape.sort_by is None or not shape.descending:
        ordered = key.asc().nulls_last() if shape.sort_by is not None else key.asc()
    else:
        ordered = key.desc().nulls_first()
    page = page.order_by(ordered, model.id).limit(bindparam("page_limit", type_=None))
    if not shape.cursor:
        page = page.offset(bindparam("page_offset", type_=None))
    counted = select(func.count().label("total")).select_from(model).where(condition).subquery("t")
    window = page.subquery("p")
    framed = select(
        counted.c.total,
        window.c.page_id,
        window.c.page_key,
        *(window.c[column.name] for column in shown),
    ).select_from(counted.outerjoin(window, true()))
    compiled = framed.compile(dialect=dialect, compile_kwargs={"render_postcompile": True})
    inner = str(compiled)
    constants: dict[str, Any] = {}
    site_params: list[str] = []
    mine = {"page_limit", "page_offset", "page_after_key", "page_after_id"}
    values = compiled.params
    for bind, name in compiled.bind_names.items():
        if name in mine or name in constants or name in site_params:
            continue
        value = values[name]
        if value == SITE_STAND_IN:
            site_params.append(name)
            continue
        processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
        constants[name] = processor(value) if processor is not None else value
    alias = "g" if resource is GROUPS else "u"
    document = (
        _group_document(json, with_members=shape.with_members)
        if resource is GROUPS
        else _user_document(json)
    )
    direction = (
        "DESC NULLS FIRST" if shape.descending and shape.sort_by is not None else ("ASC NULLS LAST")
    )
    # The page's rows come whole from the one scan that picks them: no second
    # lookup per row, whose index a planner without statistics may choose badly.
    sql = (
        f"SELECT {alias}.total, CASE WHEN {alias}.page_id IS NULL THEN NULL ELSE {document} END,"
        f" {alias}.page_key, {alias}.page_id FROM ({inner}) AS {alias}"
        f" ORDER BY {alias}.page_key {direction}, {alias}.page_id"
    )
    key_type = key.type.dialect_impl(dialect)
    return PageStatement(
        sql=sql,
        constants=constants,
        site_params=tuple(site_params),
        key_result=key_type.result_processor(dialect, None),
        key_bind=key_type.bind_processor(dialect),
        descending=shape.descending,
    )
