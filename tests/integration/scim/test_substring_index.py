"""co/sw/ew on userName and emails.value: served by an index, with the scan's results.

On PostgreSQL a trigram GIN index on exactly the compared expression serves the
LIKE; on SQLite an FTS5 trigram table (kept by triggers) picks candidate rows,
which the same GLOB then checks. The index must never change a result: the
property test compares with a Python substring check over random short strings
(quotes, FTS5 operators, ``%``, ``_``, ``ß``), the hostile strings must neither
break the FTS5 query nor change its meaning, and the EXPLAIN tests show the
index in the plan at a few thousand rows.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scim2_models import ScimFilter
from sqlalchemy import delete, func, insert, select, text, update
from starlette.testclient import TestClient

from sitescim.db.dialect import quote_trigram_query
from sitescim.db.engine import Database, make_engine
from sitescim.db.models import USER_VALUE_TRIGRAMS, Site, User, UserValue
from sitescim.scim.filtering import user_filter
from sitescim.scim.schemas import VALUE_KEY_LIMIT
from sitescim.settings import Settings
from sitescim.web.app import create_app
from tests.integration.scim.rows import T0, insert_user
from tests.integration.statements import explain, recorded_statements, statements_with
from tests.world import FakeClock, World

ALPHABET = 'aAbB"*ß%_ ^:(-'
HOSTILE = ['"', '""', "*", "a*", "NEAR(", "NEAR(a b)", "OR", "a OR b", 'x" OR "y', "^ab", "ab:c"]
HOSTILE += ["(ab)", "a AND b", "NOT a", "-ab", "%_%", "\\", "'; --", "bb*", "AB", "ßa"]


@dataclass
class Dataset:
    site_id: str
    user_names: dict[str, str]
    """user id -> userName"""
    emails: dict[str, list[str]]
    """user id -> what an emails.value co compares: the key, or lower() of a long value"""


def _folded(value: str) -> str:
    return value.casefold() if len(value) <= VALUE_KEY_LIMIT else value.lower()


def _random_word(rng: random.Random, low: int, high: int) -> str:
    return "".join(rng.choice(ALPHABET) for _ in range(rng.randint(low, high)))


def _load(database: Database, *, users: int = 40) -> Dataset:
    """Users of one site with random names and e-mails, and the same in another site."""
    rng = random.Random(20261202)  # noqa: S311 - repeatable test data, no secret
    names = [_random_word(rng, 1, 6) + str(index) for index in range(users)] + HOSTILE
    emails = [[_random_word(rng, 0, 5) for _ in range(rng.randint(0, 2))] for _ in names]
    emails[0].append("A" * VALUE_KEY_LIMIT + 'bB"*x')  # too long for a key: compared via lower()
    data = Dataset(site_id="", user_names={}, emails={})
    with database.transaction(write=True) as session:
        sites = [Site(slug=f"s-{uuid.uuid4().hex[:12]}", name="S", created_at=T0) for _ in "ab"]
        session.add_all(sites)
        session.flush()
        data.site_id = sites[0].id
        for site in sites:
            for name, values in zip(names, emails, strict=True):
                user = insert_user(session, site.id, name)
                for position, value in enumerate(values):
                    key = value.casefold() if len(value) <= VALUE_KEY_LIMIT else None
                    session.add(
                        UserValue(
                            user_id=user.id,
                            site_id=site.id,
                            attribute="emails",
                            position=position,
                            value=value,
                            value_key=key,
                            extra={},
                        )
                    )
                if site is sites[0]:
                    data.user_names[user.id] = name
                    data.emails[user.id] = [_folded(value) for value in values]
    return data


@pytest.fixture
def dataset(database: Database) -> Dataset:
    return _load(database)


def _holds(op: str, operand: str, text_: str) -> bool:
    folded = operand.casefold()
    if op == "co":
        return folded in text_
    if op == "sw":
        return text_.startswith(folded)
    return text_.endswith(folded)


def _expected(data: Dataset, attribute: str, op: str, operand: str) -> set[str]:
    if attribute == "userName":
        return {
            user_id
            for user_id, name in data.user_names.items()
            if _holds(op, operand, name.casefold())
        }
    return {
        user_id
        for user_id, values in data.emails.items()
        if any(value and _holds(op, operand, value) for value in values)
    }


def _found(database: Database, site_id: str, filter_text: str) -> set[str]:
    with database.transaction(write=False) as session:
        return set(session.scalars(select(User.id).where(user_filter(site_id, filter_text))))


FILTERS = {
    "userName": "userName {op} {value}",
    "emails.value": "emails.value {op} {value}",
    "emails[value]": "emails[value {op} {value}]",
    "not emails.value": "not (emails.value {op} {value})",
    "not userName": 'not (userName {op} {value}) and userName ne "~"',
}


@settings(
    max_examples=120,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    form=st.sampled_from(sorted(FILTERS)),
    op=st.sampled_from(["co", "sw", "ew"]),
    operand=st.text(alphabet=ALPHABET, min_size=1, max_size=5),
)
def test_substring_filters_match_a_python_substring_check(
    database: Database, dataset: Dataset, form: str, op: str, operand: str
) -> None:
    filter_text = FILTERS[form].format(op=op, value=ScimFilter.quote(operand))
    attribute = "userName" if form.endswith("userName") else "emails"
    expected = _expected(dataset, attribute, op, operand)
    if form.startswith("not "):
        expected = set(dataset.user_names) - expected
    assert _found(database, dataset.site_id, filter_text) == expected, filter_text


@pytest.mark.parametrize("operand", HOSTILE)
@pytest.mark.parametrize("attribute", ["userName", "emails.value"])
def test_hostile_operands_are_plain_text(
    database: Database, dataset: Dataset, attribute: str, operand: str
) -> None:
    for op in ("co", "sw", "ew"):
        filter_text = f"{attribute} {op} {ScimFilter.quote(operand)}"
        expected = _expected(dataset, attribute.partition(".")[0], op, operand)
        assert _found(database, dataset.site_id, filter_text) == expected, filter_text
    if attribute == "userName":  # each hostile name matches itself at least
        assert _found(database, dataset.site_id, f"userName co {ScimFilter.quote(operand)}")


def test_the_fts5_query_is_one_quoted_string() -> None:
    assert quote_trigram_query('x" OR "y') == '"x"" OR ""y"'
    assert quote_trigram_query("NEAR(") == '"NEAR("'
    assert quote_trigram_query("ab") is None  # trigrams need three characters: the scan answers
    assert quote_trigram_query("ab\x00cd") is None  # FTS5 would stop reading at the NUL


def test_the_index_follows_updates_and_deletes(database: Database, dataset: Dataset) -> None:
    site_id = dataset.site_id
    renamed, removed = list(dataset.user_names)[:2]
    with database.transaction(write=True) as session:
        session.execute(
            update(User)
            .where(User.id == renamed)
            .values(user_name="Zebra-Renamed", user_name_key="zebra-renamed")
        )
        session.execute(
            update(UserValue)
            .where(UserValue.user_id == renamed)
            .values(value="Striped@Zoo.test", value_key="striped@zoo.test")
        )
        session.execute(delete(User).where(User.id == removed))  # its values go by cascade
    assert _found(database, site_id, 'userName co "BRA-REN"') == {renamed}
    assert _found(database, site_id, 'emails.value co "ed@zoo"') == {renamed}
    del dataset.user_names[removed], dataset.emails[removed]
    for operand in ("aab", "bB", "*x", "a"):
        expected = _expected(dataset, "emails", "co", operand)
        if renamed in dataset.emails:
            expected.discard(renamed)
        assert _found(database, site_id, f"emails.value co {ScimFilter.quote(operand)}") == (
            expected
        )
    if database.engine.dialect.name == "sqlite":
        with database.transaction(write=False) as session:
            indexed = session.scalar(select(func.count()).select_from(USER_VALUE_TRIGRAMS))
            searchable = session.scalar(
                select(func.count()).select_from(UserValue).where(UserValue.value.is_not(None))
            )
        assert indexed == searchable


# EXPLAIN at a few thousand rows, of the statements a real request sends.

MANY = 3_000


@pytest.fixture
def many_users(database: Database, world: World) -> None:
    """MANY users with an e-mail each in site-a, written straight to the tables."""
    users = [
        {
            "id": str(uuid.uuid4()),
            "site_id": world.site_a,
            "user_name": f"user{index}@many.test",
            "user_name_key": f"user{index}@many.test",
            "active": True,
            "privilege": "user",
            "created_at": T0,
            "updated_at": T0,
            "version": 1,
        }
        for index in range(MANY)
    ]
    emails = [
        {
            "user_id": user["id"],
            "site_id": world.site_a,
            "attribute": "emails",
            "position": 0,
            "value": f"Person{index}@Corp.example",
            "value_key": f"person{index}@corp.example",
            "extra": {},
        }
        for index, user in enumerate(users)
    ]
    with database.engine.begin() as connection:
        connection.execute(insert(User), users)
        connection.execute(insert(UserValue), emails)
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql("ANALYZE users")
            connection.exec_driver_sql("ANALYZE user_values")


def _plans_of_request(
    settings: Settings,
    database: Database,
    clock: FakeClock,
    auth: dict[str, str],
    filter_text: str,
    operand: str,
) -> tuple[dict[str, Any], list[str]]:
    """GET /Users with ``filter_text`` through the app; its answer and the plans of the
    statements it sent with ``operand`` among their parameters."""
    app = create_app(settings, clock=clock, database=database)
    with recorded_statements() as sent, TestClient(app) as client:
        response = client.get("/scim/v2/Users", params={"filter": filter_text}, headers=auth)
    assert response.status_code == 200, response.text
    filtering = statements_with(sent, operand)
    assert filtering, [statement.sql[:80] for statement in sent]
    return response.json(), [explain(database.engine, statement) for statement in filtering]


@pytest.mark.parametrize(
    ("filter_text", "operand", "postgresql_index", "sqlite_table"),
    [
        (
            'emails.value co "son2345@"',
            "son2345@",
            "ix_user_values_folded_value_trgm",
            "user_value_trigrams",
        ),
        (
            'emails.value ew "2345@corp.example"',
            "2345@corp.example",
            "ix_user_values_folded_value_trgm",
            "user_value_trigrams",
        ),
        ('userName co "er2345@"', "er2345@", "ix_users_user_name_key_trgm", "user_name_trigrams"),
    ],
)
def test_substring_filters_use_the_index(
    settings: Settings,
    database: Database,
    clock: FakeClock,
    auth_a: dict[str, str],
    many_users: None,
    filter_text: str,
    operand: str,
    postgresql_index: str,
    sqlite_table: str,
) -> None:
    body, plans = _plans_of_request(settings, database, clock, auth_a, filter_text, operand)
    assert body["totalResults"] == 1
    for plan in plans:
        if database.dialect == "sqlite":
            assert f"SCAN {sqlite_table} VIRTUAL TABLE" in plan, plan
        else:
            assert postgresql_index in plan, plan


def test_a_short_substring_is_answered_by_the_scan(
    settings: Settings,
    database: Database,
    clock: FakeClock,
    auth_a: dict[str, str],
    many_users: None,
) -> None:
    body, plans = _plans_of_request(settings, database, clock, auth_a, 'emails.value co "99"', "99")
    assert body["totalResults"] == sum("99" in str(index) for index in range(MANY))
    for plan in plans:
        assert "trigram" not in plan, plan


@pytest.mark.postgresql_only
def test_postgresql_indexes_the_compared_expression(postgres_url: str) -> None:
    """The old trigram index on value_key alone served no filter; 0006 replaced it."""
    engine = make_engine(postgres_url)
    try:
        with engine.connect() as connection:
            names = set(
                connection.execute(
                    text("SELECT indexname FROM pg_indexes WHERE tablename = 'user_values'")
                ).scalars()
            )
    finally:
        engine.dispose()
    assert "ix_user_values_folded_value_trgm" in names
    assert "ix_user_values_value_key_trgm" not in names
