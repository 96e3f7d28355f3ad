"""Token management for Promasters: create (secret once), list, revoke."""

from __future__ import annotations

from fastapi import APIRouter, Response

from sitescim.domain.tokens import SCOPES
from sitescim.services import tokens as token_service
from sitescim.web.api.schemas import CreatedToken, CreateTokenBody, ScopeOut, TokenList, TokenOut
from sitescim.web.deps import ClientAddress, CurrentActor, JsonBody, RuntimeDep, SessionDep

router = APIRouter(tags=["tokens"])


@router.get("/token-scopes")
def list_scopes() -> list[ScopeOut]:
    return [ScopeOut(name=scope.name, label=scope.label) for scope in SCOPES.values()]


@router.post("/tokens", status_code=201, dependencies=[JsonBody])
def create_token(
    body: CreateTokenBody,
    response: Response,
    actor: CurrentActor,
    session: SessionDep,
    runtime: RuntimeDep,
    address: ClientAddress,
) -> CreatedToken:
    """Create a site SCIM token. The response is the only place its value ever appears."""
    issued = token_service.issue_token(
        session, runtime, actor, description=body.description, scope=body.scope, address=address
    )
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return CreatedToken.of(issued)


@router.get("/tokens")
def list_tokens(
    actor: CurrentActor, session: SessionDep, runtime: RuntimeDep, address: ClientAddress
) -> TokenList:
    views = token_service.list_tokens(session, runtime, actor, address=address)
    return TokenList(tokens=[TokenOut.of(view) for view in views])


@router.delete("/tokens/{token_id}")
def revoke_token(
    token_id: str,
    actor: CurrentActor,
    session: SessionDep,
    runtime: RuntimeDep,
    address: ClientAddress,
) -> TokenOut:
    view = token_service.revoke_token(session, runtime, actor, token_id, address=address)
    return TokenOut.of(view)
