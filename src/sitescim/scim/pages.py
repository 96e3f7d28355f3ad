"""List pages whose JSON the database writes: one statement, one snapshot, no ORM.

A page of 100 users through SQLAlchemy rows and ``user_documents.user_document``
cost about 6 ms, most of it per-row Python. Here one statement counts the
matches (``totalResults``), picks the page's ids in its order, and writes each
resource's JSON text as ``user_documents.user_document`` / ``group_mapping.group_document``
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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from threading import Lock
from typing import Any

from sqlalchemy import ColumnElement, Select, bindparam, func, select, true, tuple_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import coercions, roles

from sitescim.db.dialect import Condition, Expr
from sitescim.db.models import Group, ResourceCount, User
from sitescim.scim import cursors, filtering
from sitescim.scim.attributes import ResourceCatalog
from sitescim.scim.catalog import GROUP_CATALOG, USER_CATALOG
from sitescim.scim.listing import ListQuery, sort_key
from sitescim.scim.sql_documents import (
    JsonSql,
    group_document_sql,
    user_document_sql,
    user_groups_sql,
)
from sitescim.scim.stored_documents import base_json, filled

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

    Each row it returns is (total, document JSON text or NULL, sort key, id) and,
    for users, (stored document, groups) when the document is stored for the
    user's version (the text is then NULL); an empty page is one row with only
    the total.
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
        params.update(
            page_site=site_id,
            page_base=base_url,
            page_limit=limit,
            page_offset=offset,
        )
        if after is not None:
            key = after.key
            params["page_after_key"] = (
                self.key_bind(key) if self.key_bind is not None and key is not None else key
            )
            params["page_after_id"] = after.id
        return params

    def documents(self, rows: Sequence[Sequence[Any]], *, base_url: str) -> list[str]:
        """The JSON texts of the page's resource rows (those with an id), in order:
        each as the statement wrote it, or from its stored document."""
        base = base_json(base_url)
        return [
            row[1] if row[1] is not None else filled(row[4], row[5], base)
            for row in rows
            if row[3] is not None
        ]

    def sort_value(self, raw: Any) -> Any:
        """The page's last sort key as the SQLAlchemy path reads it (for the next cursor)."""
        return self.key_result(raw) if self.key_result is not None else raw


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
    resource = GROUP_CATALOG if groups else USER_CATALOG
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


def _total(
    model: type[User] | type[Group], condition: Condition, site: str, *, filtered: bool
) -> Select[Any]:
    """totalResults: counted for a filter, else the site's kept count (db.models.ResourceCount)."""
    if filtered:
        return select(func.count().label("total")).select_from(model).where(condition)
    kept = (
        select(ResourceCount.total)
        .where(
            ResourceCount.site_id == site,
            ResourceCount.resource == model.__tablename__,
        )
        .scalar_subquery()
    )
    return select(func.coalesce(kept, 0).label("total"))


def _build(shape: _Shape, resource: ResourceCatalog) -> PageStatement:
    dialect = _DIALECTS[shape.dialect]
    json = JsonSql(shape.dialect)
    model: type[User] | type[Group] = Group if resource is GROUP_CATALOG else User
    site = SITE_STAND_IN
    condition = (
        filtering.group_filter(site, shape.filter)
        if resource is GROUP_CATALOG
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
    counted = _total(model, condition, site, filtered=shape.filter is not None).subquery("t")
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
    alias = "g" if resource is GROUP_CATALOG else "u"
    if resource is GROUP_CATALOG:
        document = group_document_sql(json, with_members=shape.with_members)
        stored = ""
    else:
        # A user's stored document, when it is of the user's version, comes with its
        # groups for Python to fill in (SQLite's replace() walks the text a byte at
        # a time: 13,000 instructions a document); the builder writes the others.
        fresh = "u.document_version = u.version"
        document = f"CASE WHEN {fresh} THEN NULL ELSE {user_document_sql(json)} END"
        stored = (
            f", CASE WHEN {fresh} THEN u.document END,"
            f" CASE WHEN {fresh} THEN {user_groups_sql(json)} END"
        )
    direction = (
        "DESC NULLS FIRST" if shape.descending and shape.sort_by is not None else ("ASC NULLS LAST")
    )
    # The page's rows come whole from the one scan that picks them: no second
    # lookup per row, whose index a planner without statistics may choose badly.
    sql = (
        f"SELECT {alias}.total, CASE WHEN {alias}.page_id IS NULL THEN NULL ELSE {document} END,"
        f" {alias}.page_key, {alias}.page_id{stored} FROM ({inner}) AS {alias}"
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
