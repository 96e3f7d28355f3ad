"""SCIM /Users endpoints: thin handlers over services.users (RFC 7644 §3.3-3.6)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from scim2_models import Context

from sitescim.scim import listing
from sitescim.scim.filtering import USERS
from sitescim.scim.listing import ListQuery
from sitescim.scim.mapping import narrow_document
from sitescim.services import users as user_service
from sitescim.web.deps import ClientAddress, CurrentToken, RuntimeDep, SessionDep
from sitescim.web.responses import SCIMResponse, list_response
from sitescim.web.scim.plumbing import (
    Attributes,
    BaseUrl,
    ExcludedAttributes,
    IfMatch,
    IfNoneMatch,
    ScimBody,
    not_modified,
)

router = APIRouter()


def _answer(
    document: dict[str, Any],
    *,
    status_code: int = 200,
    context: Context = Context.RESOURCE_QUERY_RESPONSE,
    attributes: str | None = None,
    excluded_attributes: str | None = None,
    location: bool = False,
) -> Response:
    """The resource body with its ETag (= meta.version) and, on creation, its Location."""
    meta = document["meta"]
    headers = {"ETag": meta["version"]}
    if location:
        headers["Location"] = meta["location"]
    body = narrow_document(
        document, context=context, attributes=attributes, excluded_attributes=excluded_attributes
    )
    return SCIMResponse(body, status_code=status_code, headers=headers)


@router.post("/Users", response_class=SCIMResponse, status_code=201)
def create_user(
    token: CurrentToken,
    body: ScimBody,
    session: SessionDep,
    runtime: RuntimeDep,
    base_url: BaseUrl,
    address: ClientAddress,
    attributes: Attributes = None,
    excluded_attributes: ExcludedAttributes = None,
) -> Response:
    created = user_service.create_user(
        session, runtime, token, body, base_url=base_url, address=address
    )
    return _answer(
        created,
        status_code=201,
        context=Context.RESOURCE_CREATION_RESPONSE,
        attributes=attributes,
        excluded_attributes=excluded_attributes,
        location=True,
    )


def _list_response(
    session: SessionDep, token: CurrentToken, query: ListQuery, base_url: str
) -> Response:
    page = user_service.list_users(session, token, query, base_url=base_url)
    attributes = ",".join(query.attributes) or None
    excluded = ",".join(query.excluded_attributes) or None
    resources = [
        narrow_document(
            document,
            context=Context.SEARCH_RESPONSE,
            attributes=attributes,
            excluded_attributes=excluded,
        )
        for document in page.resources
    ]
    return list_response(page.total, page.start_index, resources, next_cursor=page.next_cursor)


@router.get("/Users", response_class=SCIMResponse)
def list_users(
    request: Request, token: CurrentToken, session: SessionDep, base_url: BaseUrl
) -> Response:
    """filter, sortBy, sortOrder, startIndex, count, attributes, excludedAttributes."""
    query = listing.query_from_params(request.query_params, USERS)
    return _list_response(session, token, query, base_url)


@router.post("/Users/.search", response_class=SCIMResponse)
def search_users(
    body: ScimBody, token: CurrentToken, session: SessionDep, base_url: BaseUrl
) -> Response:
    """The same query as a SearchRequest body, keeping filters out of URLs and logs."""
    query = listing.query_from_search(body, USERS)
    return _list_response(session, token, query, base_url)


@router.get("/Users/{user_id}", response_class=SCIMResponse)
async def get_user(
    user_id: str,
    token: CurrentToken,
    runtime: RuntimeDep,
    base_url: BaseUrl,
    if_none_match: IfNoneMatch = None,
    attributes: Attributes = None,
    excluded_attributes: ExcludedAttributes = None,
) -> Response:
    """Runs on the event loop: three indexed reads cost less than a thread hop."""
    document = user_service.read_user(runtime.db, token, user_id, base_url=base_url)
    unchanged = not_modified(if_none_match, document["meta"]["version"])
    if unchanged is not None:
        return unchanged
    return _answer(document, attributes=attributes, excluded_attributes=excluded_attributes)


@router.put("/Users/{user_id}", response_class=SCIMResponse)
def replace_user(
    user_id: str,
    token: CurrentToken,
    body: ScimBody,
    session: SessionDep,
    runtime: RuntimeDep,
    base_url: BaseUrl,
    address: ClientAddress,
    if_match: IfMatch = None,
    attributes: Attributes = None,
    excluded_attributes: ExcludedAttributes = None,
) -> Response:
    resource = user_service.replace_user(
        session,
        runtime,
        token,
        user_id,
        body,
        base_url=base_url,
        if_match=if_match,
        address=address,
    )
    return _answer(
        resource,
        context=Context.RESOURCE_REPLACEMENT_RESPONSE,
        attributes=attributes,
        excluded_attributes=excluded_attributes,
    )


@router.patch("/Users/{user_id}", response_class=SCIMResponse)
def patch_user(
    user_id: str,
    token: CurrentToken,
    body: ScimBody,
    session: SessionDep,
    runtime: RuntimeDep,
    base_url: BaseUrl,
    address: ClientAddress,
    if_match: IfMatch = None,
    attributes: Attributes = None,
    excluded_attributes: ExcludedAttributes = None,
) -> Response:
    """200 with the updated resource, which RFC 7644 §3.5.2 allows and clients prefer."""
    resource = user_service.patch_user(
        session,
        runtime,
        token,
        user_id,
        body,
        base_url=base_url,
        if_match=if_match,
        address=address,
    )
    return _answer(
        resource,
        attributes=attributes,
        excluded_attributes=excluded_attributes,
    )


@router.delete("/Users/{user_id}", status_code=204)
def delete_user(
    user_id: str,
    token: CurrentToken,
    session: SessionDep,
    runtime: RuntimeDep,
    address: ClientAddress,
    if_match: IfMatch = None,
) -> Response:
    user_service.delete_user(session, runtime, token, user_id, if_match=if_match, address=address)
    return Response(status_code=204)
