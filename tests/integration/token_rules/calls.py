"""Calls, row reads and statement recorders shared by the token-rule tests (SPEC section 1).

The only fake is the clock; rows are read and, where a rule is about what happens when
someone else changes the data (a demoted creator, a legacy scope), written with the
``database`` fixture.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import delete, event, select, update

from sitescim.db.models import AccessToken, AuditEvent, User
from sitescim.domain.tokens import ALPHABET
from sitescim.logs import request_id
from tests.factories import bearer

SCP = "/scim/v2/ServiceProviderConfig"
TOKENS = "/api/v1/tokens"
AUDIT = "/api/v1/audit"
ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"


def create(client, description: Any = "Entra ID", scope: Any = "scim"):
    return client.post(TOKENS, json={"description": description, "scope": scope})


def create_ok(client, description: str = "Entra ID") -> dict[str, Any]:
    response = create(client, description)
    assert response.status_code == 201, response.text
    return response.json()


def listed(client) -> list[dict[str, Any]]:
    response = client.get(TOKENS)
    assert response.status_code == 200, response.text
    return response.json()["tokens"]


def listed_by_id(client) -> dict[str, dict[str, Any]]:
    return {token["id"]: token for token in listed(client)}


def scim_status(client, value: str) -> int:
    return client.get(SCP, headers=bearer(value)).status_code


def audit_events(client, action: str | None = None) -> list[dict[str, Any]]:
    params = {"action": action} if action else {}
    response = client.get(AUDIT, params=params)
    assert response.status_code == 200, response.text
    return response.json()["events"]


def token_rows(database) -> list[dict[str, Any]]:
    with database.engine.connect() as connection:
        rows = connection.execute(select(AccessToken.__table__)).mappings().all()
    return [dict(row) for row in rows]


def audit_rows(database, action: str | None = None) -> list[dict[str, Any]]:
    query = select(AuditEvent.__table__).order_by(AuditEvent.id)
    if action is not None:
        query = query.where(AuditEvent.action == action)
    with database.engine.connect() as connection:
        rows = connection.execute(query).mappings().all()
    return [dict(row) for row in rows]


def change_user(database, email: str, **values: Any) -> None:
    with database.transaction(write=True) as session:
        session.execute(update(User).where(User.user_name_key == email.casefold()).values(**values))


def delete_user(database, email: str) -> None:
    with database.transaction(write=True) as session:
        session.execute(delete(User).where(User.user_name_key == email.casefold()))


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text)


@contextmanager
def recorded_statements(database, rid: str | None = None) -> Iterator[list[str]]:
    """SQL run meanwhile; with ``rid``, only on behalf of the request sent with that id.

    The request id is a context variable, so statements the app runs for other
    reasons meanwhile (the expiry warner started with the app) are not counted.
    """
    seen: list[str] = []

    def listener(conn, cursor, statement, parameters, context, executemany) -> None:
        if rid is None or request_id.get() == rid:
            seen.append(statement)

    for engine in database.engines:  # the main pool and the hot-read pool
        event.listen(engine, "before_cursor_execute", listener)
    try:
        yield seen
    finally:
        for engine in database.engines:
            event.remove(engine, "before_cursor_execute", listener)


@contextmanager
def recorded_token_reads(client) -> Iterator[list[str]]:
    """Token lookups of the SCIM hot path, which reads through the driver, not SQLAlchemy."""
    reads = client.app.state.reads
    seen: list[str] = []
    original = reads.token

    async def token(token_hash: str):
        seen.append(token_hash)
        return await original(token_hash)

    reads.token = token
    try:
        yield seen
    finally:
        del reads.token


def touches_tokens(statements: list[str]) -> bool:
    return any("access_tokens" in statement.lower() for statement in statements)


def with_one_char_changed(value: str, index: int) -> str:
    current = value[index]
    replacement = ALPHABET[(ALPHABET.index(current) + 1) % len(ALPHABET)]
    return value[:index] + replacement + value[index + 1 :]
