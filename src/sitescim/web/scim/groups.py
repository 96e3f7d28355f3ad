"""SCIM /Groups endpoints: thin handlers over services.groups.

``attributes``/``excludedAttributes`` are read before the service runs, so a
request that excludes members (Entra ID's ``excludedAttributes=members``) never
reads a membership row.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from scim2_models import Group, ResponseParameters

from sitescim.scim import listing
from sitescim.scim.filtering import GROUPS
from sitescim.scim.group_mapping import group_to_scim, parse_response_parameters, wants_members
from sitescim.scim.listing import ListQuery
from sitescim.scim.mapping import make_etag
from sitescim.services import groups as group_service
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


def _respond(
    result: group_service.GroupResult,
    base_url: str,
    parameters: ResponseParameters[Group] | None,
    *,
    status_code: int = 200,
) -> SCIMResponse:
    body = group_to_scim(result.group, result.members, base_url, parameters=parameters)
    headers = {"ETag": make_etag(result.group.id, result.group.version)}
    if status_code == 201:
        headers["Location"] = body["meta"]["location"]
    return SCIMResponse(body, status_code=status_code, headers=headers)


@router.post("/Groups", status_code=201)
def create_group(
    body: ScimBody,
    token: CurrentToken,
    session: SessionDep,
    runtime: RuntimeDep,
    base_url: BaseUrl,
    address: ClientAddress,
    attributes: Attributes = None,
    excluded_attributes: ExcludedAttributes = None,
) -> Response:
    parameters = parse_response_parameters(attributes, excluded_attributes)
    result = group_service.create_group(session, runtime, token, body, address=address)
    return _respond(result, base_url, parameters, status_code=201)


def _list_response(
    session: SessionDep, token: CurrentToken, query: ListQuery, base_url: str
) -> Response:
    parameters = parse_response_parameters(
        ",".join(query.attributes) or None, ",".join(query.excluded_attributes) or None
    )
    page = group_service.list_groups(session, token, query, with_members=wants_members(parameters))
    resources: list[dict[str, Any]] = [
        group_to_scim(item.group, item.members, base_url, parameters=parameters)
        for item in page.items
    ]
    return list_response(page.total, page.start_index, resources, next_cursor=page.next_cursor)


@router.get("/Groups")
def list_groups(
    request: Request, token: CurrentToken, session: SessionDep, base_url: BaseUrl
) -> Response:
    """filter, sortBy, sortOrder, startIndex, count; excludedAttributes=members reads none."""
    query = listing.query_from_params(request.query_params, GROUPS)
    return _list_response(session, token, query, base_url)


@router.post("/Groups/.search")
def search_groups(
    body: ScimBody, token: CurrentToken, session: SessionDep, base_url: BaseUrl
) -> Response:
    query = listing.query_from_search(body, GROUPS)
    return _list_response(session, token, query, base_url)


@router.get("/Groups/{group_id}")
def get_group(
    group_id: str,
    token: CurrentToken,
    session: SessionDep,
    base_url: BaseUrl,
    if_none_match: IfNoneMatch = None,
    attributes: Attributes = None,
    excluded_attributes: ExcludedAttributes = None,
) -> Response:
    parameters = parse_response_parameters(attributes, excluded_attributes)
    result = group_service.get_group(
        session, token, group_id, with_members=wants_members(parameters)
    )
    unchanged = not_modified(if_none_match, make_etag(result.group.id, result.group.version))
    if unchanged is not None:
        return unchanged
    return _respond(result, base_url, parameters)


@router.put("/Groups/{group_id}")
def replace_group(
    group_id: str,
    body: ScimBody,
    token: CurrentToken,
    session: SessionDep,
    runtime: RuntimeDep,
    base_url: BaseUrl,
    address: ClientAddress,
    if_match: IfMatch = None,
    attributes: Attributes = None,
    excluded_attributes: ExcludedAttributes = None,
) -> Response:
    parameters = parse_response_parameters(attributes, excluded_attributes)
    result = group_service.replace_group(
        session,
        runtime,
        token,
        group_id,
        body,
        if_match=if_match,
        with_members=wants_members(parameters),
        address=address,
    )
    return _respond(result, base_url, parameters)


@router.patch("/Groups/{group_id}")
def patch_group(
    group_id: str,
    body: ScimBody,
    token: CurrentToken,
    session: SessionDep,
    runtime: RuntimeDep,
    base_url: BaseUrl,
    address: ClientAddress,
    if_match: IfMatch = None,
    attributes: Attributes = None,
    excluded_attributes: ExcludedAttributes = None,
) -> Response:
    """200 with the group (RFC 7644 §3.5.2 allows it; clients prefer it to 204)."""
    parameters = parse_response_parameters(attributes, excluded_attributes)
    result = group_service.patch_group(
        session,
        runtime,
        token,
        group_id,
        body,
        if_match=if_match,
        with_members=wants_members(parameters),
        address=address,
    )
    return _respond(result, base_url, parameters)


@router.delete("/Groups/{group_id}", status_code=204)
def delete_group(
    group_id: str,
    token: CurrentToken,
    session: SessionDep,
    runtime: RuntimeDep,
    address: ClientAddress,
    if_match: IfMatch = None,
) -> Response:
    group_service.delete_group(
        session, runtime, token, group_id, if_match=if_match, address=address
    )
    return Response(status_code=204)
