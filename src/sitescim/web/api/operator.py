"""Who is calling the operator's endpoints (events, reconciliation, webhooks): an API key."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from sitescim.domain.api_keys import OperatorKey
from sitescim.services import api_keys
from sitescim.web.deps import ClientAddress, RuntimeDep


async def current_operator_key(
    request: Request, runtime: RuntimeDep, address: ClientAddress
) -> OperatorKey:
    """``Authorization: Bearer sscop_…``, checked against the database on every request."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    bearer = value.strip() if scheme.lower() == "bearer" else None
    return await run_in_threadpool(api_keys.authenticate, runtime, bearer, address=address)


OperatorKeyDep = Annotated[OperatorKey, Depends(current_operator_key)]
