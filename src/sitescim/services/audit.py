"""The audit log: who or which token did what, when, from where — never a secret.

Successful changes are recorded in the caller's transaction, so the record and
the change stand or fall together. Refusals and failed authentications are
recorded in a transaction of their own, because the caller's is rolled back;
the refusals of one transaction (a Bulk request may have many) share one.

Every provisioning use case is wrapped by ``records_failures``, so a SCIM
create, update, deactivation or deletion that fails is on record as well as
one that succeeds: the token (id and description), the resource, the names of
the attributes the request touched (never their values) and why it failed.

Actions are spelled by ``domain.actions.Action``; reading the log is services/activity.py.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import (
    Any,
    NotRequired,
    ParamSpec,
    Protocol,
    TypedDict,
    TypeVar,
    Unpack,
    runtime_checkable,
)

from pydantic import ValidationError
from scim2_models import SCIMException
from sqlalchemy.orm import Session

from sitescim.db.engine import after_transaction
from sitescim.db.models import AuditEvent
from sitescim.db.repositories import audit as audit_repo
from sitescim.domain.actions import Action
from sitescim.domain.errors import SitescimError
from sitescim.domain.privileges import Actor
from sitescim.services.runtime import Runtime

MAX_NAMES = 50  # attribute names kept per failed request; a body may carry thousands
MAX_NAME_LENGTH = 100
INTERNAL_ERROR = "An internal error occurred; it has been logged."
MAX_MESSAGE_LENGTH = 1000
_PENDING = "sitescim.audit.pending"

P = ParamSpec("P")
R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class Who:
    """The actor of an audit entry: a person, a token, or nobody identified."""

    kind: str
    id: str | None = None
    label: str | None = None

    @classmethod
    def person(cls, actor: Actor) -> Who:
        return cls(kind="user", id=actor.user_id, label=actor.label)

    @classmethod
    def token(cls, token_id: str, description: str) -> Who:
        return cls(kind="token", id=token_id, label=description)


ANONYMOUS = Who(kind="anonymous")
SYSTEM = Who(kind="system", label="sitescim")
"""sitescim itself, or its operator at the command line (no person of a site)."""


class EventFields(TypedDict):
    """What an audit row says; ``record`` takes them as keywords, as ``event`` does."""

    now: datetime
    site_id: str | None
    action: Action
    who: Who
    outcome: NotRequired[str]
    target: NotRequired[tuple[str, str | None] | None]
    address: NotRequired[str | None]
    detail: NotRequired[dict[str, Any] | None]
    message: NotRequired[str | None]


def event(**fields: Unpack[EventFields]) -> AuditEvent:
    """An audit row, not yet written (``record`` writes one, ``record_all`` many)."""
    return AuditEvent(**event_values(**fields))


def event_values(
    *,
    now: datetime,
    site_id: str | None,
    action: Action,
    who: Who,
    outcome: str = "success",
    target: tuple[str, str | None] | None = None,
    address: str | None = None,
    detail: dict[str, Any] | None = None,
    message: str | None = None,
) -> dict[str, Any]:
    """An audit row's column values (a Bulk batch inserts thousands without ORM objects).

    Values a client chose (an id in a URL, a message quoting it) are cut to their
    columns: a refusal of hostile input must be recorded, not fail to be.
    """
    return {
        "site_id": site_id,
        "occurred_at": now,
        "action": action,
        "outcome": outcome,
        "actor_type": who.kind,
        "actor_id": _fitted(who.id, _ACTOR_ID),
        "actor_label": _fitted(who.label, _ACTOR_LABEL),
        "target_type": target[0] if target else None,
        "target_id": _fitted(target[1], _TARGET_ID) if target else None,
        "client_address": _fitted(address, _ADDRESS),
        "detail": detail or {},
        "message": _fitted(message, MAX_MESSAGE_LENGTH),
        "repeat_count": 1,
    }


def record(session: Session, **fields: Unpack[EventFields]) -> None:
    """Write one audit row in the caller's transaction; ``fields`` are ``event``'s."""
    audit_repo.add_events(session, [event(**fields)])


def record_all(session: Session, events: Sequence[AuditEvent]) -> None:
    """Write many audit rows in one statement (a Bulk request's batch of creations)."""
    audit_repo.add_events(session, events)


def record_values(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Write many audit rows of ``event_values`` in one statement, without ORM objects."""
    audit_repo.add_event_values(session, rows)


def _column_length(column: Any) -> int:
    length = column.type.length
    assert isinstance(length, int)
    return length


_ACTOR_ID = _column_length(AuditEvent.actor_id)
_ACTOR_LABEL = _column_length(AuditEvent.actor_label)
_TARGET_ID = _column_length(AuditEvent.target_id)
_ADDRESS = _column_length(AuditEvent.client_address)


def _fitted(value: str | None, length: int) -> str | None:
    return value if value is None or len(value) <= length else value[: length - 1] + "…"


def record_refusal(session: Session, runtime: Runtime, **event: Any) -> None:
    """Record once the caller's transaction has ended: it is about to roll back (or,
    in a Bulk request, the failed operation's savepoint is).

    ``outcome`` defaults to "refused". Every refusal queued on one session is
    written by one transaction, however many a Bulk request collects.
    """
    pending: list[tuple[datetime, dict[str, Any]]] | None = session.info.get(_PENDING)
    if pending is None:
        queued: list[tuple[datetime, dict[str, Any]]] = []
        session.info[_PENDING] = queued

        def write() -> None:
            session.info.pop(_PENDING, None)
            with runtime.db.transaction(write=True) as own:
                for now, values in queued:
                    record(own, now=now, **{"outcome": "refused", **values})

        after_transaction(session).append(write)
        pending = queued
    pending.append((runtime.clock(), event))


@runtime_checkable
class ActingToken(Protocol):
    """The token a provisioning request acts with (services.tokens.AuthenticatedToken)."""

    @property
    def site_id(self) -> str: ...

    @property
    def who(self) -> Who: ...


def record_failure(
    session: Session,
    runtime: Runtime,
    token: ActingToken,
    error: Exception,
    *,
    action: Action,
    target: tuple[str, str | None],
    address: str | None,
    attributes: Sequence[str] = (),
) -> None:
    """A provisioning change that failed: refused (the client's error) or failed (ours)."""
    outcome, message, detail = _describe(error)
    if attributes:
        detail["attributes"] = list(attributes)
    record_refusal(
        session,
        runtime,
        site_id=token.site_id,
        action=action,
        who=token.who,
        outcome=outcome,
        target=target,
        address=address,
        detail=detail,
        message=message,
    )


def _describe(error: Exception) -> tuple[str, str, dict[str, Any]]:
    """Outcome, message and detail of an error, from what the client is told; no input values."""
    if isinstance(error, SCIMException):
        detail: dict[str, Any] = {"status": error.status}
        if error.scim_type:
            detail["scimType"] = error.scim_type
        return "refused", error.detail, detail
    if isinstance(error, ValidationError):
        first = error.errors(include_url=False, include_input=False)[:1]
        if not first:
            return "refused", "The request is not valid.", {"status": 400}
        field = ".".join(str(part) for part in first[0]["loc"])
        context: Mapping[str, Any] = first[0].get("ctx") or {}
        detail = {"status": int(context.get("status") or 400)}
        detail["scimType"] = str(context.get("scim_type") or "invalidValue")
        message = first[0]["msg"]
        return "refused", f"{field}: {message}" if field else message, detail
    if isinstance(error, SitescimError):
        detail = {"status": error.status}
        if error.scim_type:
            detail["scimType"] = error.scim_type
        return "refused", str(error), detail
    return "failure", INTERNAL_ERROR, {"error": type(error).__name__}


def requested_attributes(body: object) -> list[str]:
    """Names of the attributes a SCIM body (a resource or a PatchOp) touches, never values.

    A PATCH path keeps its attribute and drops any value filter, which could
    hold a value: ``emails[type eq "work"].value`` is recorded as ``emails``.
    """
    if not isinstance(body, dict):
        return []
    operations = next((value for key, value in body.items() if key.lower() == "operations"), None)
    names: list[str] = []
    if isinstance(operations, list):
        for operation in operations:
            if not isinstance(operation, dict):
                continue
            path = next((v for k, v in operation.items() if k.lower() == "path"), None)
            value = next((v for k, v in operation.items() if k.lower() == "value"), None)
            if isinstance(path, str) and path.strip():
                names.append(path.split("[", 1)[0].strip())
            elif isinstance(value, dict):
                names.extend(str(key) for key in value if str(key).lower() != "schemas")
    else:
        ignored = {"schemas", "id", "meta"}
        names = [str(key) for key in body if str(key).lower() not in ignored]
    unique = dict.fromkeys(name[:MAX_NAME_LENGTH] for name in names if name)
    return sorted(unique)[:MAX_NAMES]


def records_failures(
    action: Action, resource: str, *, with_id: bool = True
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Audit a provisioning use case that raises, then let the error go on.

    The use case takes ``(session, runtime, token, [resource id,] [body,] ...,
    address=...)``, as every provisioning use case does. A refusal it already
    recorded itself (the last Promaster rule) is not recorded twice.
    """

    def decorate(use_case: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(use_case)
        def audited(*args: P.args, **kwargs: P.kwargs) -> R:
            session = args[0]
            assert isinstance(session, Session)
            queued = len(session.info.get(_PENDING, ()))
            try:
                return use_case(*args, **kwargs)
            except Exception as error:
                if len(session.info.get(_PENDING, ())) == queued:
                    _record_use_case_failure(
                        session, args[1:], kwargs, error, action, resource, with_id=with_id
                    )
                raise

        return audited

    return decorate


def _record_use_case_failure(
    session: Session,
    args: Sequence[object],
    kwargs: Mapping[str, object],
    error: Exception,
    action: Action,
    resource: str,
    *,
    with_id: bool,
) -> None:
    runtime, token, *rest = args
    assert isinstance(runtime, Runtime)
    assert isinstance(token, ActingToken)
    target_id = rest[0] if with_id and rest and isinstance(rest[0], str) else None
    body = next((arg for arg in rest if isinstance(arg, dict)), None)
    address = kwargs.get("address")
    record_failure(
        session,
        runtime,
        token,
        error,
        action=action,
        target=(resource, target_id),
        address=address if isinstance(address, str) else None,
        attributes=requested_attributes(body),
    )


def record_auth_failure(
    runtime: Runtime,
    *,
    reason: str,
    address: str | None,
    site_id: str | None = None,
    who: Who = ANONYMOUS,
) -> None:
    """One row per site, address, reason and window, however many failures arrive."""
    now = runtime.clock()
    window = int(now.timestamp() // runtime.audit_window.total_seconds())
    key = (
        f"{Action.AUTH_FAILED}|{site_id or '-'}|{address or '-'}|{reason}|{who.id or '-'}|{window}"
    )
    repeats = runtime.throttle.take(key)
    if not repeats:
        return
    values = {
        "site_id": site_id,
        "occurred_at": now,
        "action": Action.AUTH_FAILED,
        "outcome": "failure",
        "actor_type": who.kind,
        "actor_id": who.id,
        "actor_label": who.label,
        "client_address": address,
        "detail": {"reason": reason},
        "dedup_key": key[:200],
    }
    with runtime.db.transaction(write=True) as session:
        audit_repo.add_or_count_event(session, values, repeats=repeats)
