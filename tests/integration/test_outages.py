"""Database outages answer 503 with Retry-After, log little, and lose nothing.

PostgreSQL: a real ``sitescim serve`` reaches the machine's PostgreSQL through
a TCP proxy the test cuts (every connection closed, new ones refused) for 0.7 s,
as a restart does, then for 10 s, as a stop does, while clients keep creating
and reading users. SQLite: another connection holds the write lock past the
busy timeout.
"""

from __future__ import annotations

import contextlib
import math
import shutil
import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from starlette.testclient import TestClient

from sitescim.db import engine as engine_module
from sitescim.db.engine import Database, make_engine
from sitescim.services.runtime import Runtime
from sitescim.web.app import create_app
from sitescim.web.deps import SESSION_COOKIE
from tests.databases import truncate_all
from tests.factories import (
    bearer,
    make_settings,
    make_site,
    make_token,
    make_user,
)
from tests.integration.cuttable import CuttableProxy, cuttable_proxy
from tests.integration.killable import PASSWORD, SCIM, KillableServer, service_env, site_token

ERROR_URN = "urn:ietf:params:scim:api:messages:2.0:Error"
CLIENTS = 6
RESTART_SECONDS = 0.7
STOP_SECONDS = 10.0
SLUG = "outage"


@dataclass
class Load:
    """Clients that create a user and read it back, again and again, recording every answer."""

    base_url: str
    token: str
    answers: list[tuple[str, httpx.Response]] = field(default_factory=list)
    transport_errors: list[str] = field(default_factory=list)
    created: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> None:
        for number in range(CLIENTS):
            thread = threading.Thread(target=self._client, args=(number,), daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(60)

    def _record(self, what: str, response: httpx.Response) -> None:
        with self._lock:
            self.answers.append((what, response))
            if what == "create" and response.status_code == 201:
                self.created.append(response.json()["id"])

    def _client(self, number: int) -> None:
        headers = {**bearer(self.token), "Content-Type": SCIM}
        last: str | None = None
        with httpx.Client(base_url=self.base_url, headers=headers, timeout=30) as client:
            serial = 0
            while not self._stop.is_set():
                serial += 1
                body = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"]}
                body["userName"] = f"load-{number}-{serial}@outage.example.com"
                try:
                    created = client.post("/scim/v2/Users", json=body)
                    self._record("create", created)
                    if created.status_code == 201:
                        last = created.json()["id"]
                    if last is not None:
                        self._record("read", client.get(f"/scim/v2/Users/{last}"))
                    found = client.get(
                        "/scim/v2/Users", params={"filter": f'userName eq "{body["userName"]}"'}
                    )
                    self._record("filter", found)
                except httpx.TransportError as error:
                    with self._lock:
                        self.transport_errors.append(f"{type(error).__name__}: {error}")


def _log_lines(server: KillableServer) -> list[str]:
    return [line for line in server.output().splitlines() if line.strip()]


def _until_recovered(base_url: str, token: str) -> tuple[float, int]:
    """Seconds and attempts until a write and a read both succeed, asked back to back."""
    started = time.monotonic()
    headers = {**bearer(token), "Content-Type": SCIM}
    serial = 0
    with httpx.Client(base_url=base_url, headers=headers, timeout=30) as client:
        while time.monotonic() - started < 30:
            serial += 1
            body = {
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": f"recovery-{serial}-{time.monotonic_ns()}@outage.example.com",
            }
            created = client.post("/scim/v2/Users", json=body)
            if created.status_code == 201:
                read = client.get(f"/scim/v2/Users/{created.json()['id']}")
                if read.status_code == 200:
                    return time.monotonic() - started, serial
    raise AssertionError("the service did not recover within 30 s")


def _outage_probes(server: KillableServer) -> dict[str, httpx.Response]:
    """The management API and a UI page, each of which reads the database."""
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        api = client.post(
            "/api/v1/session",
            json={"site": SLUG, "email": f"admin@{SLUG}.example.com", "password": PASSWORD},
        )
        page = client.get("/sign-in", headers={"Cookie": f"{SESSION_COOKIE}=not-a-session"})
    return {"api": api, "ui": page}


@contextlib.contextmanager
def _served_through(
    proxy: CuttableProxy, postgres_url: str, workdir: Path
) -> Iterator[tuple[KillableServer, str]]:
    through = make_url(postgres_url).set(host="127.0.0.1", port=proxy.port)
    env = service_env(through.render_as_string(hide_password=False))
    token = site_token(env, slug=SLUG)
    # The HTTP process alone (service_env's default): its log lines are counted, and
    # `serve`'s delivery process (which logs the outage once a second) would add to them.
    assert env["SITESCIM_WORKER"] == "false"
    server = KillableServer(env, workdir, args=("--workers", "1"))
    server.start()
    try:
        yield server, token
    finally:
        server.stop()


@pytest.mark.slow
@pytest.mark.postgresql_only
def test_postgresql_restart_and_stop_under_load_answer_503_log_little_and_lose_nothing(
    postgres_url: str, tmp_path: Path
) -> None:
    truncate_all(postgres_url)
    upstream = make_url(postgres_url)
    with (
        cuttable_proxy((upstream.host or "127.0.0.1", upstream.port or 5432)) as proxy,
        _served_through(proxy, postgres_url, tmp_path) as (server, token),
    ):
        load = Load(server.base_url, token)
        load.start()
        time.sleep(1.0)
        _baseline, _ = _until_recovered(server.base_url, token)
        lines_before = len(_log_lines(server))

        proxy.cut()  # a restart
        time.sleep(RESTART_SECONDS)
        proxy.restore()
        after_restart, attempts_after_restart = _until_recovered(server.base_url, token)
        time.sleep(1.0)

        proxy.cut()  # a stop
        time.sleep(1.0)
        probes = _outage_probes(server)
        time.sleep(STOP_SECONDS - 1.0)
        proxy.restore()
        after_stop, attempts_after_stop = _until_recovered(server.base_url, token)
        time.sleep(1.0)
        load.stop()
        lines = _log_lines(server)

    print(
        f"recovered {after_restart * 1000:.0f} ms after the restart, {after_stop * 1000:.0f} ms after the stop"
    )
    statuses: dict[int, int] = {}
    for _what, response in load.answers:
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
    print(
        f"answers by status: {statuses}; log lines during the outages: {len(lines) - lines_before}"
    )

    assert not load.transport_errors, load.transport_errors[:5]
    assert set(statuses) <= {200, 201, 503}, statuses
    assert statuses.get(503, 0) > 0, "the outage was not felt: the proxy did not cut"
    assert statuses.get(201, 0) > 0
    for _what, response in load.answers:
        if response.status_code == 503:
            assert response.headers["Retry-After"].isdigit()
            body = response.json()
            assert body["schemas"] == [ERROR_URN]
            assert body["status"] == "503"

    api, page = probes["api"], probes["ui"]
    assert api.status_code == 503
    assert api.headers["Retry-After"].isdigit()
    assert set(api.json()) == {"detail"}
    assert page.status_code == 503
    assert page.headers["Retry-After"].isdigit()
    assert page.headers["content-type"].startswith("text/html")
    assert "try again in a few seconds" in page.text

    # Back at once: the first requests sent after the database's return succeed
    # (dead pooled connections are replaced, no reconnection backoff is waited out).
    assert attempts_after_restart == 1
    assert attempts_after_stop == 1

    outage_seconds = RESTART_SECONDS + STOP_SECONDS
    new_lines = lines[lines_before:]
    assert len(new_lines) <= math.ceil(outage_seconds) + 2, "\n".join(new_lines)
    assert not any("Traceback" in line for line in lines), "\n".join(lines)
    assert any("database unavailable" in line for line in new_lines)

    engine = make_engine(postgres_url)
    try:
        with engine.connect() as connection:
            stored = set(connection.execute(text("SELECT id FROM users")).scalars())
    finally:
        engine.dispose()
    lost = [user_id for user_id in load.created if user_id not in stored]
    assert not lost, f"{len(lost)} acknowledged users are missing"


@pytest.fixture
def sqlite_service(
    sqlite_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[TestClient, str, Path]]:
    """A SQLite service whose writers give up after 0.3 s (the product waits 30 s)."""
    monkeypatch.setattr(engine_module, "SQLITE_BUSY_TIMEOUT_MS", 300)
    path = tmp_path / "sitescim.db"
    shutil.copy(sqlite_template, path)
    settings = make_settings(f"sqlite:///{path}", log_format="json")
    database = Database(make_engine(settings.database_url))
    runtime = Runtime.from_settings(settings, database)
    make_site(runtime, "Locked", slug="locked")
    make_user(runtime, "locked", "admin@locked.example.com", "promaster", PASSWORD)
    token = make_token(runtime, "locked", "admin@locked.example.com").value
    try:
        with TestClient(create_app(settings, database=database)) as client:
            client.headers.update(bearer(token))
            yield client, token, path
    finally:
        database.dispose()


def _user(name: str) -> dict[str, Any]:
    return {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": name}


def test_sqlite_write_lock_held_past_the_busy_timeout_answers_503_not_500(
    sqlite_service: tuple[TestClient, str, Path],
) -> None:
    client, _token, path = sqlite_service
    first = client.post("/scim/v2/Users", json=_user("before@locked.example.com"))
    assert first.status_code == 201

    holder = sqlite3.connect(path, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        refused = client.post("/scim/v2/Users", json=_user("during@locked.example.com"))
        read = client.get(f"/scim/v2/Users/{first.json()['id']}")
    finally:
        holder.execute("ROLLBACK")
        holder.close()

    assert refused.status_code == 503
    assert refused.headers["Retry-After"].isdigit()
    assert refused.json()["schemas"] == [ERROR_URN]
    assert "locked" not in refused.text.lower()  # no driver text reaches the client
    assert read.status_code == 200  # readers never wait on the write lock

    again = client.post("/scim/v2/Users", json=_user("during@locked.example.com"))
    assert again.status_code == 201
