"""SCIM /Bulk (RFC 7644 §3.7): a thin handler over services.bulk.

A failed operation's ``response`` is the SCIM Error its single request would
get: the error goes through the application's own exception handlers
(web/errors.py), so there is still one place that turns errors into bodies.
"""

from __future__ import annotations

import inspect
import json
from typing import Any

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from sitescim.scim import bulk_requests
from sitescim.scim.schemas import BULK_RESPONSE_SCHEMA
from sitescim.services import bulk as bulk_service
from sitescim.settings import Settings
from sitescim.web.metrics import count_bulk_operations
from sitescim.web.middleware import BodyLimit
from sitescim.web.responses import SCIMResponse
from sitescim.web.scim.context import ScimRequest

BULK_PATH = "/scim/v2/Bulk"
STATISTICS_AFTER_OPERATIONS = 100
"""A Bulk this large may have changed a table's shape: planner statistics are refreshed
(cheap when they are still fresh), so the next queries do not wait for autovacuum."""


def body_limits(settings: Settings) -> dict[str, BodyLimit]:
    """The Bulk endpoint's payload limit (maxPayloadSize), for the body-limit middleware."""
    size = settings.bulk_max_payload_bytes
    return {BULK_PATH: BodyLimit(size, bulk_requests.too_large_detail(size))}


async def _read_job(scim: ScimRequest) -> bulk_requests.BulkJob:
    """The checked request; the middleware has already held the body to maxPayloadSize."""
    settings = scim.settings
    body = await scim.body()
    if len(await scim.request.body()) > settings.bulk_max_payload_bytes:
        raise HTTPException(413, bulk_requests.too_large_detail(settings.bulk_max_payload_bytes))
    return await run_in_threadpool(
        bulk_requests.parse_request, body, max_operations=settings.bulk_max_operations
    )


async def _error_response(request: Request, error: Exception) -> Response:
    """What the application's handler for this error answers (its status and SCIM body)."""
    app = request.app
    assert isinstance(app, FastAPI)
    handlers = app.exception_handlers
    kind = next((kind for kind in type(error).__mro__ if kind in handlers), Exception)
    answer = handlers[kind](request, error)
    response = await answer if inspect.isawaitable(answer) else answer
    assert isinstance(response, Response)
    return response


async def _operation(request: Request, result: bulk_service.OperationResult) -> dict[str, Any]:
    """One entry of the BulkResponse, keys in the order of RFC 7644 §3.7.3's example."""
    entry: dict[str, Any] = {}
    if result.location is not None:
        entry["location"] = result.location
    entry["method"] = result.method
    if result.bulk_id is not None:
        entry["bulkId"] = result.bulk_id
    if result.version is not None:
        entry["version"] = result.version
    if result.error is None:
        entry["status"] = str(result.status)
        return entry
    response = await _error_response(request, result.error)
    entry["status"] = str(response.status_code)
    entry["response"] = json.loads(bytes(response.body))
    return entry


async def run_bulk(scim: ScimRequest) -> Response:
    """200 with a result per operation that ran, whether it succeeded or not (§3.7.3).

    The token is checked before the body is read, and the transaction opens only
    for a request that passed both.
    """
    job = await _read_job(scim)
    results = await scim.write(
        bulk_service.run_job,
        job,
        base_url=scim.base_url,
        address=scim.address,
    )
    if len(job.operations) >= STATISTICS_AFTER_OPERATIONS:
        await run_in_threadpool(scim.runtime.db.refresh_statistics)
    request = scim.request
    operations = [await _operation(request, result) for result in results]
    count_bulk_operations(operations)
    return SCIMResponse({"schemas": [BULK_RESPONSE_SCHEMA], "Operations": operations})
