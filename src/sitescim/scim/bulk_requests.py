"""SCIM Bulk requests (RFC 7644 §3.7) as the protocol defines them: read and ordered.

The envelope is checked whole before anything runs: a malformed request (no
BulkRequest schema, an operation without method or path, a POST without
bulkId, a bulkId used twice, ...) is refused with 400. More than
``maxOperations`` operations is 413 ``tooMany``. ``bulkId:<id>`` in a path or in
any ``value`` of an operation's data stands for the resource the POST with that
bulkId creates; operations run in request order, except that one referring to
a later POST waits for it, and references in a circle are refused (409).
Running a job is ``services.bulk``.
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
)

from sitescim.domain.errors import TooManyOperationsError
from sitescim.scim.schemas import BULK_REQUEST_SCHEMA

REFERENCE_PREFIX = "bulkId:"


MAX_BULK_ID_LENGTH = 256


_ENDPOINTS = {"users": "Users", "groups": "Groups"}


class Method(StrEnum):
    POST = "POST"
    PUT = "PUT"
    PATCH = "PATCH"
    DELETE = "DELETE"


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
        raise TooManyOperationsError(
            f"The bulk request has {len(operations)} operations; maxOperations is "
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
    references = list(references_in(data))
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


def references_in(data: dict[str, Any] | None) -> Iterator[str]:
    # Most operations refer to nothing: their JSON, encoded in C, says so at once.
    if data is None or REFERENCE_PREFIX.encode() not in orjson.dumps(data):
        return
    for _, _, text in _walk_values(data):
        if text.startswith(REFERENCE_PREFIX):
            yield text.removeprefix(REFERENCE_PREFIX)


def resolved(data: dict[str, Any], created: dict[str, str]) -> dict[str, Any]:
    """A copy of the data with every ``bulkId:`` reference replaced by the created id."""
    copied = copy.deepcopy(data)
    for container, key, text in list(_walk_values(copied)):
        if text.startswith(REFERENCE_PREFIX):
            container[key] = created[text.removeprefix(REFERENCE_PREFIX)]  # type: ignore[index]
    return copied


def plan(job: BulkJob) -> tuple[list[int], dict[int, Exception]]:
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
