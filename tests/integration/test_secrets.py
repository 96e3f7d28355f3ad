"""T5: a token's secret is shown exactly once, in the create response, and nowhere else.

A whole token life cycle is run through the HTTP API while every log record (at
DEBUG, through sitescim's own JSON formatter and through caplog) and every HTTP
response is kept; afterwards every table is dumped. The secret may occur in the
create response body and nowhere else.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy import MetaData, select

from sitescim.domain import tokens as rules
from sitescim.logs import JsonFormatter
from sitescim.services import sites
from sitescim.services import tokens as token_service
from tests.factories import bearer, sign_in

DISCOVERY = "/scim/v2/ServiceProviderConfig"


@dataclass
class Seen:
    method: str
    url: str
    status: int
    headers: str
    body: str

    def text(self) -> str:
        return f"{self.method} {self.url} {self.status}\n{self.headers}\n{self.body}"


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """Every record of every logger, at DEBUG, as sitescim's JSON lines."""
    sink = io.StringIO()
    handler = logging.StreamHandler(sink)
    handler.setLevel(logging.DEBUG)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield sink
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)


@pytest.fixture
def responses(client) -> list[Seen]:
    """Every response the test client receives, headers and body included."""
    seen: list[Seen] = []

    def keep(response: httpx.Response) -> None:
        response.read()
        seen.append(
            Seen(
                method=response.request.method,
                url=str(response.request.url),
                status=response.status_code,
                headers="\n".join(f"{k}: {v}" for k, v in response.headers.multi_items()),
                body=response.text,
            )
        )

    client.event_hooks["response"].append(keep)
    return seen


def _tamper(value: str) -> tuple[str, str]:
    """Two altered copies: one failing the checksum, one well formed but unknown."""
    middle = len(rules.PREFIX) + rules.RANDOM_CHARS // 2
    flipped = "A" if value[middle] != "A" else "B"
    altered = value[:middle] + flipped + value[middle + 1 :]
    body = altered[: -rules.CHECKSUM_CHARS]
    well_formed = body + rules._checksum(body)
    assert not rules.is_well_formed(altered)
    assert rules.is_well_formed(well_formed)
    assert well_formed != value
    return altered, well_formed


def _dump_tables(database) -> dict[str, str]:
    dumps: dict[str, str] = {}
    reflected = MetaData()
    with database.engine.connect() as connection:
        reflected.reflect(connection)
        for name, table in reflected.tables.items():
            rows = connection.execute(select(table)).all()  # SELECT * FROM table
            dumps[name] = "\n".join(
                " | ".join(f"{value!s} {value!r}" for value in row) for row in rows
            )
    return dumps


def test_secret_appears_only_in_the_create_response(
    client, world, database, json_log, responses, caplog
):
    caplog.set_level(logging.DEBUG)
    sign_in(client, "site-a", world.promaster_a, world.password)

    created = client.post("/api/v1/tokens", json={"description": "Entra ID", "scope": "scim"})
    assert created.status_code == 201, created.text
    assert created.headers["cache-control"] == "no-store"
    secret = created.json()["token"]
    token_id = created.json()["id"]
    assert rules.is_well_formed(secret)
    random_part = secret[len(rules.PREFIX) : -rules.CHECKSUM_CHARS]

    listed = client.get("/api/v1/tokens")
    assert listed.status_code == 200
    assert [t["id"] for t in listed.json()["tokens"]] == [token_id]
    for _ in range(2):
        assert client.get(DISCOVERY, headers=bearer(secret)).status_code == 200
    for altered in _tamper(secret):
        assert client.get(DISCOVERY, headers=bearer(altered)).status_code == 401
    revoked = client.delete(f"/api/v1/tokens/{token_id}")
    assert revoked.status_code == 200
    assert revoked.json()["status"] == "revoked"
    assert client.get(DISCOVERY, headers=bearer(secret)).status_code == 401
    audit = client.get("/api/v1/audit")
    assert audit.status_code == 200
    actions = {event["action"] for event in audit.json()["events"]}
    assert {"token.create", "token.revoke", "auth.failed"} <= actions

    # Responses: the secret is in the create response's body and in no other part of any.
    create_responses = [r for r in responses if r.method == "POST" and r.url.endswith("/tokens")]
    assert len(create_responses) == 1
    assert secret in create_responses[0].body
    assert secret not in create_responses[0].headers
    others = [r for r in responses if r is not create_responses[0]]
    assert len(others) == 9  # sign-in, list, 2 uses, 2 tampered, revoke, reuse, audit
    for seen in others:
        assert random_part not in seen.text(), f"secret leaked in {seen.method} {seen.url}"

    # Logs: plenty was logged, and none of it carries the secret.
    logged = json_log.getvalue()
    assert token_id in logged  # "token created" / "token revoked" lines were captured
    lines = [json.loads(line) for line in logged.splitlines()]
    assert any(line.get("path") == "/scim/v2/ServiceProviderConfig" for line in lines)
    assert caplog.records
    for record in caplog.records:
        assert random_part not in record.getMessage()
        assert random_part not in repr(vars(record))
    assert random_part not in caplog.text
    assert random_part not in logged

    # Storage: only the keyed hash, in any column of any table.
    tables = _dump_tables(database)
    assert {"sites", "users", "access_tokens", "audit_events"} <= tables.keys()
    assert rules.hash_token(secret, world.runtime.pepper) in tables["access_tokens"]
    for name, dump in tables.items():
        assert random_part not in dump, f"secret stored in table {name}"


def test_issued_token_repr_hides_the_value(runtime, world):
    with runtime.db.transaction(write=True) as session:
        actor = sites.actor_by_email(session, site_slug="site-a", email=world.promaster_a2)
        issued = token_service.issue_token(session, runtime, actor, description="Okta")
    assert rules.is_well_formed(issued.value)
    random_part = issued.value[len(rules.PREFIX) : -rules.CHECKSUM_CHARS]
    for shown in (repr(issued), str(issued), f"{issued}", f"{issued!r}", repr([issued])):
        assert random_part not in shown
    assert issued.id in repr(issued)
