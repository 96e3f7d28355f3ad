"""Shared fixtures: every database test runs on SQLite and on PostgreSQL (habit 7).

Schemas are built by the migrations, once per run and database kind; each test
then gets an empty database (a copy of the migrated SQLite file, or truncated
PostgreSQL tables). Under ``CI=true`` PostgreSQL must answer; elsewhere its
tests are skipped with one line saying why.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings
from starlette.testclient import TestClient

from sitescim.db import migrations
from sitescim.db.engine import Database, make_engine
from sitescim.services.runtime import Runtime
from sitescim.settings import Settings
from sitescim.web.app import create_app
from tests.databases import (
    Snapshot,
    create_postgres_database,
    find_postgres_unavailable_reason,
    forget_reset_engine,
    reset_postgres,
    restore_snapshot,
    take_snapshot,
)
from tests.factories import GENEROUS_RATE_LIMITS, bearer, make_settings, make_token
from tests.world import FakeClock, World, make_world

# Shared 2-core machines stall now and then; a per-example deadline would turn
# that into a flaky failure without telling us anything about the code.
hypothesis_settings.register_profile("sitescim", deadline=None, print_blob=True)
hypothesis_settings.load_profile("sitescim")


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A database of our own for this run, migrated once, dropped at the end."""
    reason = find_postgres_unavailable_reason()
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason} (CI=true requires PostgreSQL)")
        pytest.skip(reason)
    with create_postgres_database("sitescim_test") as url:
        engine = make_engine(url)
        migrations.upgrade(engine)
        engine.dispose()
        yield url
        forget_reset_engine(url)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    migrations.upgrade(engine)
    with engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


@dataclasses.dataclass(frozen=True)
class _MadeWorld:
    """A world made once a session: its sites, and the file or rows that hold it."""

    site_a: str
    site_b: str
    path: Path | None = None  # SQLite: a copy of the migrated file with the world in it
    snapshot: Snapshot | None = None  # PostgreSQL: every row, put back after each reset


def _made_once(url: str) -> World:
    database = Database(make_engine(url))
    try:
        made = make_world(Runtime.from_settings(make_settings(url), database, clock=FakeClock()))
        if database.dialect == "sqlite":
            with database.engine.connect() as connection:  # the copy is the file alone
                connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        database.dispose()
    return made


@pytest.fixture(scope="session")
def sqlite_world_template(
    sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> _MadeWorld:
    """The migrated file with ``make_world`` done in it once: a test that asks for the
    world gets a copy (made again each time, it took about a tenth of a second)."""
    path = tmp_path_factory.mktemp("world") / "world.db"
    shutil.copy(sqlite_template, path)
    made = _made_once(f"sqlite:///{path}")
    return _MadeWorld(made.site_a, made.site_b, path=path)


@pytest.fixture(scope="session")
def postgres_world(postgres_url: str) -> _MadeWorld:
    """The same on PostgreSQL: the world's rows, restored after a reset in a few
    milliseconds (``make_world`` took over a tenth of a second)."""
    reset_postgres(postgres_url)
    made = _made_once(postgres_url)
    return _MadeWorld(made.site_a, made.site_b, snapshot=take_snapshot(postgres_url))


_WORLD_MADE = pytest.StashKey[_MadeWorld]()
_APP_FIXTURES = ("client", "strict_client")


def _world_before_any_app(names: list[str]) -> bool:
    """Whether the test's world is made before an app starts on its database, as the
    copy would have it. Not when an app may start first: its start-up upkeep
    (statistics, retention, stored documents) would then meet the world's rows, which
    statement-counting and plan tests do not expect. Fixtures are set up in the
    order ``fixturenames`` lists them, or (a dependency) later."""
    if "world" not in names:
        return False
    apps = [names.index(name) for name in _APP_FIXTURES if name in names]
    return not apps or names.index("world") < min(apps)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        path = tmp_path / "sitescim.db"
        if _world_before_any_app(request.fixturenames):
            made: _MadeWorld = request.getfixturevalue("sqlite_world_template")
            request.node.stash[_WORLD_MADE] = made
            assert made.path is not None
            shutil.copy(made.path, path)
        else:
            shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("postgres_url")
    if _world_before_any_app(request.fixturenames):
        made = request.getfixturevalue("postgres_world")
        request.node.stash[_WORLD_MADE] = made
        assert made.snapshot is not None
        restore_snapshot(url, made.snapshot)
    else:
        reset_postgres(url)
    return url


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def settings(db_url: str) -> Settings:
    return make_settings(
        db_url,
        log_format="json",
        **{
            name.removeprefix("SITESCIM_").lower(): value
            for name, value in GENEROUS_RATE_LIMITS.items()
        },
    )


@pytest.fixture
def database(settings: Settings) -> Iterator[Database]:
    db = Database(make_engine(settings.database_url))
    yield db
    db.dispose()


@pytest.fixture
def runtime(settings: Settings, database: Database, clock: FakeClock) -> Runtime:
    return Runtime.from_settings(settings, database, clock=clock)


@pytest.fixture
def client(settings: Settings, database: Database, clock: FakeClock) -> Iterator[TestClient]:
    app = create_app(settings, clock=clock, database=database)
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def world(request: pytest.FixtureRequest, runtime: Runtime) -> World:
    made = request.node.stash.get(_WORLD_MADE, None)
    if made is None:
        return make_world(runtime)
    return World(runtime=runtime, site_a=made.site_a, site_b=made.site_b)


@pytest.fixture
def auth_a(world: World) -> dict[str, str]:
    """Headers of site-a's SCIM client: a bearer token Ada (Promaster) issued.

    The one way tests act as an identity provider of site-a.
    """
    return bearer(make_token(world.runtime, "site-a", world.promaster_a).value)


@pytest.fixture
def auth_b(world: World) -> dict[str, str]:
    """Headers of site-b's SCIM client: a bearer token Bob (Promaster) issued."""
    return bearer(make_token(world.runtime, "site-b", world.promaster_b).value)
