"""List pages written by the database (scim.pages) equal what mapping.py writes.

Random users and groups (any Unicode, nulls, both extensions, many values,
addresses, a manager, memberships in groups and of groups) are stored in a
real SQLite file or PostgreSQL database; each page document the statement
writes must parse to exactly ``user_documents.user_document`` (or
``group_mapping.group_document``) of the same rows read through SQLAlchemy.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, insert, select

from sitescim.db.listings import GroupRef
from sitescim.db.models import Group, Membership, User, UserValue
from sitescim.db.reads import Reads, open_reads
from sitescim.db.repositories import groups as groups_repo
from sitescim.db.repositories import users as users_repo
from sitescim.scim import pages
from sitescim.scim.group_mapping import MemberView, group_document
from sitescim.scim.listing import ListQuery
from sitescim.scim.schemas import ADDRESS_KEYS, MULTI_VALUED
from sitescim.scim.stored_documents import stored_document
from sitescim.scim.user_documents import user_document
from sitescim.services.stored_documents import store_missing_documents
from tests.factories import make_site

BASE = "https://scim.example.test/scim/v2"

# Anything PostgreSQL can store: no NUL, no lone surrogate.
texts = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
    max_size=12,
)
maybe = st.none() | texts
moments = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31), timezones=st.just(UTC)
)


@st.composite
def value_rows(draw: st.DrawFn) -> dict[str, Any]:
    attribute = draw(st.sampled_from(sorted(MULTI_VALUED)))
    extra: dict[str, Any] = {}
    value = draw(maybe)
    if attribute == "addresses":
        value = None
        keys = draw(st.lists(st.sampled_from(sorted(ADDRESS_KEYS.values())), unique=True))
        extra = {key: draw(maybe) for key in keys}
    return {
        "attribute": attribute,
        "position": draw(st.integers(min_value=0, max_value=4)),
        "value": value,
        "value_key": None,
        "type": draw(maybe),
        "primary": draw(st.none() | st.booleans()),
        "display": draw(maybe),
        "extra": extra,
    }


@st.composite
def user_rows(draw: st.DrawFn) -> dict[str, Any]:
    created = draw(moments)
    name = draw(texts.filter(bool))
    row: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "user_name": name,
        "user_name_key": str(uuid.uuid4()),  # unique per site; documents never show it
        "active": draw(st.booleans()),
        "privilege": draw(st.sampled_from(["user", "business_analyst", "promaster"])),
        "manager_id": draw(st.none() | st.just("") | st.uuids().map(str) | texts),
        "created_at": created,
        "updated_at": draw(moments),
        "version": draw(st.integers(min_value=1, max_value=2**31 - 1)),
    }
    for column in (
        "display_name",
        "external_id",
        "name_formatted",
        "name_family",
        "name_given",
        "name_middle",
        "name_prefix",
        "name_suffix",
        "nick_name",
        "profile_url",
        "title",
        "user_type",
        "preferred_language",
        "locale",
        "timezone",
        "employee_number",
        "cost_center",
        "organization",
        "division",
        "department",
        "manager_display_name",
    ):
        row[column] = draw(maybe)
    row["values"] = draw(st.lists(value_rows(), max_size=7))
    return row


@st.composite
def directories(draw: st.DrawFn) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    users = draw(st.lists(user_rows(), min_size=1, max_size=4))
    groups = []
    for _ in range(draw(st.integers(min_value=0, max_value=3))):
        display = draw(texts.filter(bool))
        members = draw(st.lists(st.sampled_from([user["id"] for user in users]), unique=True))
        groups.append(
            {
                "id": str(uuid.uuid4()),
                "display_name": display,
                "display_name_key": display.casefold(),
                "external_id": draw(maybe),
                "created_at": draw(moments),
                "updated_at": draw(moments),
                "version": draw(st.integers(min_value=1, max_value=2**31 - 1)),
                "members": members,
                "nested": draw(st.booleans()),
            }
        )
    return users, groups


@pytest.fixture
def hot(database) -> Iterator[tuple[asyncio.Runner, Reads]]:
    with asyncio.Runner() as runner:
        reads = runner.run(open_reads(database.engine))
        try:
            yield runner, reads
        finally:
            runner.run(reads.close())


def _store(database, site_id: str, users: list[dict[str, Any]], groups: list[dict[str, Any]]):
    with database.engine.begin() as connection:
        for user in users:
            columns = {key: item for key, item in user.items() if key != "values"}
            connection.execute(insert(User.__table__), {**columns, "site_id": site_id})
            for value in user["values"]:
                connection.execute(
                    insert(UserValue.__table__),
                    {**value, "user_id": user["id"], "site_id": site_id},
                )
        for index, group in enumerate(groups):
            columns = {key: item for key, item in group.items() if key not in ("members", "nested")}
            connection.execute(insert(Group.__table__), {**columns, "site_id": site_id})
            rows = [
                {"site_id": site_id, "group_id": group["id"], "user_id": member}
                for member in group["members"]
            ]
            if group["nested"] and index > 0:
                rows.append(
                    {
                        "site_id": site_id,
                        "group_id": group["id"],
                        "member_group_id": groups[0]["id"],
                    }
                )
            for row in rows:
                connection.execute(insert(Membership.__table__), row)


def _clear(database, site_id: str) -> None:
    with database.engine.begin() as connection:
        connection.execute(delete(Membership).where(Membership.site_id == site_id))
        connection.execute(delete(Group).where(Group.site_id == site_id))
        connection.execute(delete(UserValue).where(UserValue.site_id == site_id))
        connection.execute(delete(User).where(User.site_id == site_id))


def _page(runner, reads, site_id: str, *, groups: bool, members: bool = True):
    statement, position, _ = pages.page_statement(
        reads.dialect, ListQuery(count=1000), groups=groups, with_members=members
    )
    params = statement.params(site_id, base_url=BASE, limit=1000, offset=0, after=position)
    rows = runner.run(reads.rows(statement.sql, params))
    return rows[0][0], [orjson.loads(text) for text in statement.documents(rows, base_url=BASE)]


def _expected_users(database, site_id: str) -> list[dict[str, Any]]:
    with database.reading() as connection:
        ids = [
            row.id
            for row in connection.execute(
                User.__table__.select()
                .where(User.site_id == site_id)
                .order_by(User.created_at, User.id)
            )
        ]
        documents = []
        for user_id in ids:
            user = users_repo.read_user(connection, site_id, user_id)
            values = users_repo.list_user_values(connection, [user_id])
            memberships = [
                GroupRef(id=group_id, display=display)
                for _, group_id, display in users_repo.list_user_groups(
                    connection, site_id, [user_id]
                )
            ]
            documents.append(user_document(user, values, memberships, BASE))
    return documents


def _expected_groups(database, site_id: str, *, members: bool) -> list[dict[str, Any]]:
    with database.reading() as connection:
        rows = connection.execute(
            Group.__table__.select()
            .where(Group.site_id == site_id)
            .order_by(Group.created_at, Group.id)
        ).all()
        shown: dict[str, list[MemberView]] = {row.id: [] for row in rows}
        for group_id, member_id, kind, display in groups_repo.list_group_members(
            connection, site_id, list(shown)
        ):
            shown[group_id].append(MemberView(member_id, kind, display))
    return [group_document(row, shown[row.id] if members else None, BASE) for row in rows]


@settings(
    max_examples=40,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(directory=directories())
def test_page_documents_equal_the_mapping_documents(runtime, database, hot, directory):
    runner, reads = hot
    users, groups = directory
    site_id = _site(runtime)
    try:
        _store(database, site_id, users, groups)
        total, documents = _page(runner, reads, site_id, groups=False)
        assert total == len(users)
        assert documents == _expected_users(database, site_id)
        for members in (True, False):
            total, documents = _page(runner, reads, site_id, groups=True, members=members)
            assert total == len(groups)
            assert documents == _expected_groups(database, site_id, members=members)
    finally:
        _clear(database, site_id)


def _raw_page(runner, reads, site_id: str) -> list[str]:
    statement, position, _ = pages.page_statement(reads.dialect, ListQuery(count=1000))
    params = statement.params(site_id, base_url=BASE, limit=1000, offset=0, after=position)
    rows = runner.run(reads.rows(statement.sql, params))
    return statement.documents(rows, base_url=BASE)


@settings(
    max_examples=40,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(directory=directories())
def test_stored_documents_give_the_page_the_sql_builder_gives(runtime, database, hot, directory):
    """The text a write stores (scim.stored_documents, from the document it built) is
    the text the upkeep stores (the SQL builder), and a page of stored documents is,
    byte for byte, the page the SQL builder writes."""
    runner, reads = hot
    users, groups = directory
    site_id = _site(runtime)
    try:
        _store(database, site_id, users, groups)
        built = _raw_page(runner, reads, site_id)
        written = [stored_document(document) for document in _expected_users(database, site_id)]
        assert store_missing_documents(database.engine) == len(users)
        with database.reading() as connection:
            kept = connection.execute(
                select(User.document)
                .where(User.site_id == site_id)
                .order_by(User.created_at, User.id)
            ).scalars()
            assert list(kept) == written
        assert _raw_page(runner, reads, site_id) == built
    finally:
        _clear(database, site_id)


_SITES: dict[int, str] = {}


def _site(runtime) -> str:
    """One site per test run's runtime: examples clear their rows, not the site."""
    key = id(runtime)
    if key not in _SITES:
        _SITES[key] = make_site(runtime, "Pages", slug=f"pages-{uuid.uuid4().hex[:8]}")
    return _SITES[key]


def test_another_sites_rows_are_never_counted_nor_shown(runtime, database, hot):
    runner, reads = hot
    mine = make_site(runtime, "Mine", slug="mine")
    theirs = make_site(runtime, "Theirs", slug="theirs")
    now = datetime(2026, 3, 1, tzinfo=UTC)
    for site_id, count in ((mine, 2), (theirs, 3)):
        users = [
            {
                "id": str(uuid.uuid4()),
                "user_name": f"u{index}",
                "user_name_key": f"u{index}",
                "active": True,
                "privilege": "user",
                "created_at": now,
                "updated_at": now,
                "version": 1,
                "values": [],
            }
            for index in range(count)
        ]
        group = {
            "id": str(uuid.uuid4()),
            "display_name": "g",
            "display_name_key": "g",
            "external_id": None,
            "created_at": now,
            "updated_at": now,
            "version": 1,
            "members": [user["id"] for user in users],
            "nested": False,
        }
        _store(database, site_id, users, [group])
    total, documents = _page(runner, reads, mine, groups=False)
    assert total == 2
    assert len(documents) == 2
    assert {document["userName"] for document in documents} == {"u0", "u1"}
    total, documents = _page(runner, reads, mine, groups=True)
    assert total == 1
    assert len(documents[0]["members"]) == 2
