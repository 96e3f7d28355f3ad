"""SCIM Bulk (RFC 7644 §3.7): many changes to a site's Users and Groups in one request.

- The envelope is checked whole before anything runs: a malformed request
  (no BulkRequest schema, an operation without method or path, a POST
  without bulkId, a bulkId used twice, ...) is refused with 400 and writes
  nothing. More than ``maxOperations`` operations is 413 ``tooMany``.
- Each operation runs the use case its single request would run
  (``services.users``, ``services.groups``) in a SAVEPOINT of the request's one
  transaction: a failing operation rolls back only itself and is reported in
  its result, and a thousand creations are one commit, not a thousand.
- ``bulkId:<id>`` in a path or in any ``value`` of an operation's data stands
  for the resource the POST with that bulkId creates. Operations run in
  request order, except that one referring to a later POST waits for it.
  References that go round in a circle are refused with 409, which
  RFC 7644 §3.7.1 allows; so is a reference to a POST that failed. A reference
  to a bulkId no POST declares is 400 ``invalidValue``.
- With ``failOnErrors`` N, nothing runs after the Nth error, and the result
  lists only the operations that ran.

The site is the token's, as in every use case (T10): an id of another site is
absent (404) whichever operation names it.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import orjson
from scim2_models import (
    ConflictException,
    InvalidSyntaxException,
    InvalidValueException,
    PayloadTooLargeException,
)
from sqlalchemy.orm import Session

from sitescim.db import repositories as repo
from sitescim.scim.etags import make_etag
from sitescim.scim.schemas import BULK_REQUEST_SCHEMA
from sitescim.services import audit
from sitescim.services import groups as group_service
from sitescim.services import users as user_service
from sitescim.services.runtime import Runtime
from sitescim.services.tokens import AuthenticatedToken

REFERENCE_PREFIX = "bulkId:"
MAX_BULK_ID_LENGTH = 256
_ENDPOINTS = {"users": "Users", "groups": "Groups"}
_ACTIONS = {
    ("Users", "POST"): "scim.user.create",
    ("Users", "PUT"): "scim.user.replace",
    ("Users", "PATCH"): "scim.user.patch",
    ("Users", "DELETE"): "scim.user.delete",
    ("Groups", "POST"): "group.create",
    ("Groups", "PUT"): "group.replace",
    ("Groups", "PATCH"): "group.patch",
    ("Groups", "DELETE"): "group.delete",
}
_STATUS = {"POST": 201, "PUT": 200, "PATCH": 200, "DELETE": 204}


class Method(StrEnum):
    POST = "POST"
    PUT = "PUT"
    PATCH = "PATCH"
    DELETE = "DELETE"


class TooManyOperationsException(PayloadTooLargeException):
    """RFC 7644 §3.7.4: more operations than ``maxOperations`` (413)."""

    scim_type = "tooMany"


class BulkTooLargeException(PayloadTooLargeException):
    """RFC 7644 §3.7.4: a body larger than ``maxPayloadSize`` (413)."""

    scim_type = "tooLarge"


def too_large_detail(max_payload_size: int) -> str:
    return (
        f"The bulk request is larger than maxPayloadSize ({max_payload_size} bytes); "
        "send its operations in several requests."
    )


@dataclass(frozen=True, slots=True)
class Operation:
    """One operation of the request, checked; ``target`` may still be ``bulkId:...``."""

    index: int
    method: Method
    endpoint: str
    target: str | None
    bulk_id: str | None
    version: str | None
    data: dict[str, Any] | None
    references: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class BulkJob:
    operations: tuple[Operation, ...]
    fail_on_errors: int | None


@dataclass(frozen=True, slots=True)
class OperationResult:
    """What an operation did, or the error it failed with (whose status the web layer knows)."""

    index: int
    method: str
    bulk_id: str | None
    status: int | None
    resource_id: str | None = None
    location: str | None = None
    version: str | None = None
    error: Exception | None = None


# Reading the request


def _fields(raw: dict[str, Any]) -> dict[str, Any]:
    """Attribute names are case-insensitive (RFC 7643 §2.1)."""
    return {str(key).lower(): value for key, value in raw.items()}


def parse_request(body: dict[str, Any], *, max_operations: int) -> BulkJob:
    """The checked job, or 400/413 before anything is written."""
    fields = _fields(body)
    schemas = fields.get("schemas")
    if not isinstance(schemas, list) or BULK_REQUEST_SCHEMA.lower() not in {
        schema.lower() for schema in schemas if isinstance(schema, str)
    }:
        raise InvalidSyntaxException(detail=f"'schemas' must contain {BULK_REQUEST_SCHEMA!r}.")
    operations = fields.get("operations")
    if not isinstance(operations, list):
        raise InvalidSyntaxException(detail="'Operations' must be a list of operations.")
    if len(operations) > max_operations:
        raise TooManyOperationsException(
            detail=f"The bulk request has {len(operations)} operations; maxOperations is "
            f"{max_operations}. Send them in several requests."
        )
    fail_on_errors = fields.get("failonerrors")
    if fail_on_errors is not None and (
        isinstance(fail_on_errors, bool)
        or not isinstance(fail_on_errors, int)
        or fail_on_errors < 1
    ):
        raise InvalidValueException(detail="'failOnErrors' must be a whole number of at least 1.")
    parsed = tuple(_parse_operation(index, raw) for index, raw in enumerate(operations))
    declared: dict[str, int] = {}
    for operation in parsed:
        if operation.bulk_id is None:
            continue
        if operation.bulk_id in declared:
            raise InvalidValueException(
                detail=f"Operations[{declared[operation.bulk_id]}] and "
                f"Operations[{operation.index}] have the same bulkId; each must be unique."
            )
        declared[operation.bulk_id] = operation.index
    return BulkJob(operations=parsed, fail_on_errors=fail_on_errors)


def _parse_operation(index: int, raw: object) -> Operation:
    where = f"Operations[{index}]"
    if not isinstance(raw, dict):
        raise InvalidSyntaxException(detail=f"{where} must be a JSON object.")
    fields = _fields(raw)
    method_name = fields.get("method")
    if not isinstance(method_name, str) or method_name.upper() not in Method.__members__:
        raise InvalidValueException(
            detail=f"{where}.method must be one of {', '.join(Method.__members__)}."
        )
    method = Method(method_name.upper())
    endpoint, target = _parse_path(where, fields.get("path"), method)
    bulk_id = fields.get("bulkid")
    if bulk_id is not None and (
        not isinstance(bulk_id, str) or not bulk_id.strip() or len(bulk_id) > MAX_BULK_ID_LENGTH
    ):
        raise InvalidValueException(
            detail=f"{where}.bulkId must be a non-empty string of at most "
            f"{MAX_BULK_ID_LENGTH} characters."
        )
    if method == Method.POST and bulk_id is None:
        raise InvalidValueException(detail=f"{where}.bulkId is required for POST.")
    version = fields.get("version")
    if version is not None and not isinstance(version, str):
        raise InvalidValueException(detail=f"{where}.version must be a string (an ETag).")
    data = fields.get("data")
    if method == Method.DELETE:
        data = None
    elif not isinstance(data, dict):
        raise InvalidValueException(
            detail=f"{where}.data is required for {method}: the resource, or the PatchOp, "
            "as a JSON object."
        )
    references = list(_references(data))
    if target is not None and target.startswith(REFERENCE_PREFIX):
        references.append(target.removeprefix(REFERENCE_PREFIX))
    return Operation(
        index=index,
        method=method,
        endpoint=endpoint,
        target=target,
        bulk_id=bulk_id,
        version=version,
        data=data,
        references=tuple(dict.fromkeys(references)),
    )


def _parse_path(where: str, path: object, method: Method) -> tuple[str, str | None]:
    """``/Users`` or ``/Groups`` for a POST, ``/Users/{id}`` or ``/Groups/{id}`` otherwise."""
    if not isinstance(path, str):
        raise InvalidValueException(detail=f"{where}.path is required.")
    parts = path.strip().strip("/").split("/")
    endpoint = _ENDPOINTS.get(parts[0].lower())
    target = parts[1] if len(parts) == 2 and parts[1] else None
    if endpoint is None or len(parts) > 2:
        raise InvalidValueException(
            detail=f"{where}.path must be /Users or /Groups, or a resource under one of them."
        )
    if method == Method.POST and len(parts) != 1:
        raise InvalidValueException(
            detail=f"{where}: a POST goes to /{endpoint}, not to one of its resources."
        )
    if method != Method.POST and target is None:
        raise InvalidValueException(detail=f"{where}: a {method} needs a path /{endpoint}/{{id}}.")
    return endpoint, target


def _walk_values(data: Any) -> Iterator[tuple[dict[str, Any] | list[Any], str | int, str]]:
    """(container, key, text) of every string held by a ``value`` attribute, at any depth.

    Iterative, so a deeply nested body cannot exhaust the call stack.
    """
    stack: list[tuple[Any, bool]] = [(data, False)]
    while stack:
        node, in_value = stack.pop()
        items: Iterator[tuple[str | int, Any]]
        if isinstance(node, dict):
            items = ((key, item) for key, item in node.items())
        elif isinstance(node, list):
            items = enumerate(node)
        else:
            continue
        for key, item in items:
            holds_value = in_value if isinstance(key, int) else str(key).lower() == "value"
            if isinstance(item, str):
                if holds_value:
                    yield node, key, item
            else:
                stack.append((item, holds_value))


def _references(data: dict[str, Any] | None) -> Iterator[str]:
    # Most operations refer to nothing: their JSON, encoded in C, says so at once.
    if data is None or REFERENCE_PREFIX.encode() not in orjson.dumps(data):
        return
    for _, _, text in _walk_values(data):
        if text.startswith(REFERENCE_PREFIX):
            yield text.removeprefix(REFERENCE_PREFIX)


def _resolved(data: dict[str, Any], created: dict[str, str]) -> dict[str, Any]:
    """A copy of the data with every ``bulkId:`` reference replaced by the created id."""
    copied = copy.deepcopy(data)
    for container, key, text in list(_walk_values(copied)):
        if text.startswith(REFERENCE_PREFIX):
            container[key] = created[text.removeprefix(REFERENCE_PREFIX)]  # type: ignore[index]
    return copied


# Ordering


def _plan(job: BulkJob) -> tuple[list[int], dict[int, Exception]]:
    """The order to run operations in, and the ones refused before running.

    Request order, except that an operation runs after the POSTs it refers
    to (a depth-first walk of the references). An operation on a circle of
    references is refused with 409, one naming an undeclared bulkId with 400.
    """
    declared = {op.bulk_id: op.index for op in job.operations if op.method == Method.POST}
    refused: dict[int, Exception] = {}
    needs: dict[int, list[int]] = {}
    for op in job.operations:
        unknown = [ref for ref in op.references if ref not in declared]
        if unknown:
            refused[op.index] = InvalidValueException(
                detail=f"No POST in this request has the bulkId {unknown[0]!r}."
            )
        else:
            needs[op.index] = sorted({declared[ref] for ref in op.references})

    order: list[int] = []
    state: dict[int, bool] = {}  # False while on the walk's path, True once placed
    for start in range(len(job.operations)):
        if start in state:
            continue
        state[start] = False
        path: list[tuple[int, Iterator[int]]] = [(start, iter(needs.get(start, [])))]
        while path:
            node, pending = path[-1]
            following = next(pending, None)
            if following is None:
                path.pop()
                state[node] = True
                order.append(node)
            elif following not in state:
                state[following] = False
                path.append((following, iter(needs.get(following, []))))
            elif state[following] is False:
                on_path = [index for index, _ in path]
                circle = on_path[on_path.index(following) :]
                named = ", ".join(f"Operations[{index}]" for index in sorted(circle))
                for index in circle:
                    refused.setdefault(
                        index,
                        ConflictException(
                            detail=f"The bulkId references of {named} go round in a circle; "
                            "create the resources first, then link them with PATCH."
                        ),
                    )
    return order, refused


# Running


def run_job(
    session: Session,
    runtime: Runtime,
    token: AuthenticatedToken,
    job: BulkJob,
    *,
    base_url: str,
    address: str | None = None,
) -> list[OperationResult]:
    """Run the job in the caller's transaction; results in request order, ran ones only.

    Consecutive creations of users, or of groups, that refer to no bulkId are
    written as one batch (``users.create_users``, ``groups.create_groups``); the
    operations a batch leaves, and every other one, run alone in a savepoint. With ``failOnErrors`` every operation runs
    alone, so that nothing runs after the Nth error.
    """
    order, refused = _plan(job)
    # The session's identity map holds rows weakly: kept referenced here, the site
    # row is read once for the job instead of once per operation.
    _pinned_site = repo.get_site(session, token.site_id)
    run = _Run(session, runtime, token, job, base_url, address)
    batch: list[Operation] = []
    for index in order:
        if job.fail_on_errors is not None and run.errors >= job.fail_on_errors:
            break
        op = job.operations[index]
        if index not in refused and _batchable(op, job):
            if batch and batch[0].endpoint != op.endpoint:
                run.batch(batch)
                batch = []
            batch.append(op)
            continue
        run.batch(batch)
        batch = []
        run.one(op, refused.get(index))
    run.batch(batch)
    audit.record(
        session,
        now=runtime.clock(),
        site_id=token.site_id,
        action="scim.bulk",
        who=audit.Who.token(token.token_id, token.description),
        address=address,
        detail={"operations": len(job.operations), "ran": len(run.results), "errors": run.errors},
    )
    return [run.results[index] for index in sorted(run.results)]


def _batchable(op: Operation, job: BulkJob) -> bool:
    return (
        job.fail_on_errors is None
        and op.method == Method.POST
        and not op.references
        and op.data is not None
    )


class _Run:
    """The state of a job as it runs: results so far, resources created, errors."""

    def __init__(
        self,
        session: Session,
        runtime: Runtime,
        token: AuthenticatedToken,
        job: BulkJob,
        base_url: str,
        address: str | None,
    ) -> None:
        self.session, self.runtime, self.token, self.job = session, runtime, token, job
        self.base_url, self.address = base_url, address
        self.created: dict[str, str] = {}
        self.results: dict[int, OperationResult] = {}
        self.errors = 0

    def one(self, op: Operation, refusal: Exception | None = None) -> None:
        session, created = self.session, self.created
        error = refusal or _missing_reference(op, self.job, created)
        if error is None:
            try:
                with session.begin_nested():
                    result = _apply(
                        session, self.runtime, self.token, op, created, self.base_url, self.address
                    )
            except Exception as failure:
                error = failure
                result = _failed(op, failure, created, self.base_url)
            else:
                if op.method == Method.POST and op.bulk_id is not None and result.resource_id:
                    created[op.bulk_id] = result.resource_id
        else:
            _audit_refusal(session, self.runtime, self.token, op, error, created, self.address)
            result = _failed(op, error, created, self.base_url)
        if error is not None:
            self.errors += 1
        self.results[op.index] = result

    def batch(self, ops: list[Operation]) -> None:
        """Creations of one endpoint as a batch; what it leaves runs alone."""
        if not ops:
            return
        bodies = [op.data for op in ops if op.data is not None]
        created: list[tuple[str, str] | None]
        if ops[0].endpoint == "Users":
            documents = user_service.create_users(
                self.session,
                self.runtime,
                self.token,
                bodies,
                base_url=self.base_url,
                address=self.address,
            )
            created = [
                None if document is None else (document["id"], document["meta"]["version"])
                for document in documents
            ]
        else:
            groups = group_service.create_groups(
                self.session, self.runtime, self.token, bodies, address=self.address
            )
            created = [
                None if group is None else (group.id, make_etag(group.id, group.version))
                for group in groups
            ]
        left: list[Operation] = []
        for op, made in zip(ops, created, strict=True):
            if made is None:
                left.append(op)
                continue
            resource_id, version = made
            if op.bulk_id is not None:
                self.created[op.bulk_id] = resource_id
            self.results[op.index] = OperationResult(
                index=op.index,
                method=op.method.value,
                bulk_id=op.bulk_id,
                status=_STATUS[op.method],
                resource_id=resource_id,
                location=_location(self.base_url, op.endpoint, resource_id),
                version=version,
            )
        for op in left:
            self.one(op)


def _missing_reference(op: Operation, job: BulkJob, created: dict[str, str]) -> Exception | None:
    for ref in op.references:
        if ref not in created:
            declaring = next(
                o.index for o in job.operations if o.method == Method.POST and o.bulk_id == ref
            )
            return ConflictException(
                detail=f"bulkId {ref!r} stands for nothing: Operations[{declaring}], "
                "which was to create it, failed."
            )
    return None


def _target(op: Operation, created: dict[str, str]) -> str | None:
    if op.target is not None and op.target.startswith(REFERENCE_PREFIX):
        return created.get(op.target.removeprefix(REFERENCE_PREFIX))
    return op.target


def _location(base_url: str, endpoint: str, resource_id: str | None) -> str | None:
    return None if resource_id is None else f"{base_url.rstrip('/')}/{endpoint}/{resource_id}"


def _apply(
    session: Session,
    runtime: Runtime,
    token: AuthenticatedToken,
    op: Operation,
    created: dict[str, str],
    base_url: str,
    address: str | None,
) -> OperationResult:
    """The operation's own use case: the same rules, audit and errors as its single request."""
    data = _resolved(op.data, created) if op.data is not None and op.references else op.data
    target = _target(op, created)
    resource_id: str | None
    version: str | None = None
    if op.endpoint == "Users":
        resource_id, version = _apply_to_user(
            session, runtime, token, op, target, data, base_url, address
        )
    else:
        resource_id, version = _apply_to_group(session, runtime, token, op, target, data, address)
    return OperationResult(
        index=op.index,
        method=op.method.value,
        bulk_id=op.bulk_id,
        status=_STATUS[op.method],
        resource_id=resource_id,
        location=_location(base_url, op.endpoint, resource_id),
        version=version,
    )


def _apply_to_user(
    session: Session,
    runtime: Runtime,
    token: AuthenticatedToken,
    op: Operation,
    target: str | None,
    data: dict[str, Any] | None,
    base_url: str,
    address: str | None,
) -> tuple[str | None, str | None]:
    if op.method == Method.DELETE:
        assert target is not None
        user_service.delete_user(
            session, runtime, token, target, if_match=op.version, address=address
        )
        return target, None
    assert data is not None
    if op.method == Method.POST:
        resource = user_service.create_user(
            session, runtime, token, data, base_url=base_url, address=address
        )
    else:
        assert target is not None
        change = user_service.replace_user if op.method == Method.PUT else user_service.patch_user
        resource = change(
            session,
            runtime,
            token,
            target,
            data,
            base_url=base_url,
            if_match=op.version,
            address=address,
        )
    return resource["id"], resource["meta"]["version"]


def _apply_to_group(
    session: Session,
    runtime: Runtime,
    token: AuthenticatedToken,
    op: Operation,
    target: str | None,
    data: dict[str, Any] | None,
    address: str | None,
) -> tuple[str | None, str | None]:
    if op.method == Method.DELETE:
        assert target is not None
        group_service.delete_group(
            session, runtime, token, target, if_match=op.version, address=address
        )
        return target, None
    assert data is not None
    if op.method == Method.POST:
        result = group_service.create_group(
            session, runtime, token, data, with_members=False, address=address
        )
    else:
        assert target is not None
        change = (
            group_service.replace_group if op.method == Method.PUT else group_service.patch_group
        )
        result = change(
            session,
            runtime,
            token,
            target,
            data,
            if_match=op.version,
            with_members=False,
            address=address,
        )
    return result.group.id, make_etag(result.group.id, result.group.version)


def _failed(
    op: Operation, error: Exception, created: dict[str, str], base_url: str
) -> OperationResult:
    """RFC 7644 §3.7: a failed POST has no location; other methods keep theirs."""
    target = None if op.method == Method.POST else _target(op, created)
    return OperationResult(
        index=op.index,
        method=op.method.value,
        bulk_id=op.bulk_id,
        status=None,
        resource_id=target,
        location=_location(base_url, op.endpoint, target),
        error=error,
    )


def _audit_refusal(
    session: Session,
    runtime: Runtime,
    token: AuthenticatedToken,
    op: Operation,
    error: Exception,
    created: dict[str, str],
    address: str | None,
) -> None:
    """An operation refused before its use case ran is audited like one its use case refused."""
    resource = "user" if op.endpoint == "Users" else "group"
    audit.record_failure(
        session,
        runtime,
        token,
        error,
        action=_ACTIONS[(op.endpoint, op.method.value)],
        target=(resource, None if op.method == Method.POST else _target(op, created)),
        address=address,
        attributes=audit.requested_attributes(op.data),
    )
