"""SCIM /Groups endpoints: a few lines each over services.groups.

``attributes``/``excludedAttributes`` are read before the service runs, so a
request that excludes members (Entra ID's ``excludedAttributes=members``) never
reads a membership row.

A PATCH without a selection answers 204 No Content (RFC 7644 §3.5.2 allows it;
Entra ID and Okta accept it): a group of 100,000 members is then patched
without reading them back. A client that wants the group sends ``attributes``
or ``excludedAttributes`` and gets 200 with it.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from scim2_models import Group, ResponseParameters
from starlette.responses import Response

from sitescim.db.records import GroupRecord
from sitescim.scim import listing, lookups
from sitescim.scim.catalog import GROUP_CATALOG
from sitescim.scim.etags import make_etag
from sitescim.scim.group_mapping import (
    StoredGroup,
    group_to_scim,
    parse_response_parameters,
    shown_as_document,
    wants_members,
)
from sitescim.scim.listing import ListQuery
from sitescim.services import group_creation
from sitescim.services import groups as group_service
from sitescim.services.lookups import look_up_groups, read_group_without_members
from sitescim.services.pages import read_group_page
from sitescim.web.responses import encoded_list_response, list_response
from sitescim.web.scim.context import ScimRequest


def _parameters(scim: ScimRequest) -> ResponseParameters[Group] | None:
    return parse_response_parameters(scim.attributes, scim.excluded_attributes)


def _group(
    scim: ScimRequest,
    result: group_service.GroupResult | GroupRecord,
    parameters: ResponseParameters[Group] | None,
    *,
    status_code: int = 200,
) -> Response:
    """A group's body with its ETag; a bare row (members not read) shows none."""
    group, members = (
        (result, None) if isinstance(result, GroupRecord) else (result.group, result.members)
    )
    body = group_to_scim(group, members, scim.base_url, parameters=parameters)
    location = f"{scim.base_url}/Groups/{group.id}" if status_code == 201 else None
    return scim.resource(
        body, etag=make_etag(group.id, group.version), location=location, status_code=status_code
    )


async def create_group(scim: ScimRequest) -> Response:
    parameters = _parameters(scim)
    body = await scim.body()
    result = await scim.write(
        group_creation.create_group, body, base_url=scim.base_url, address=scim.address
    )
    return _group(scim, result, parameters, status_code=201)


async def get_group(scim: ScimRequest) -> Response:
    """Without members shown, one read on the event loop; with them, a read transaction."""
    parameters = _parameters(scim)
    result: group_service.GroupResult | GroupRecord
    if wants_members(parameters):
        result = await scim.read(group_service.get_group, scim.id)
        group: StoredGroup = result.group
    else:
        result = group = await read_group_without_members(scim.reads, scim.token, scim.id)
    return scim.not_modified(make_etag(group.id, group.version)) or _group(scim, result, parameters)


async def replace_group(scim: ScimRequest) -> Response:
    parameters = _parameters(scim)
    body = await scim.body()
    result = await scim.write(
        group_service.replace_group,
        scim.id,
        body,
        base_url=scim.base_url,
        if_match=scim.if_match,
        with_members=wants_members(parameters),
        address=scim.address,
    )
    return _group(scim, result, parameters)


async def patch_group(scim: ScimRequest) -> Response:
    parameters = _parameters(scim)
    body = await scim.body()
    result = await scim.write(
        group_service.patch_group,
        scim.id,
        body,
        base_url=scim.base_url,
        if_match=scim.if_match,
        with_members=parameters is not None and wants_members(parameters),
        address=scim.address,
    )
    if parameters is None:
        return Response(
            status_code=204, headers={"ETag": make_etag(result.group.id, result.group.version)}
        )
    return _group(scim, result, parameters)


async def delete_group(scim: ScimRequest) -> Response:
    await scim.write(
        group_service.delete_group,
        scim.id,
        base_url=scim.base_url,
        if_match=scim.if_match,
        address=scim.address,
    )
    return Response(status_code=204)


async def _list(scim: ScimRequest, query: ListQuery) -> Response:
    query = replace(query, cursor_key=scim.settings.cursor_key())
    parameters = parse_response_parameters(
        ",".join(query.attributes) or None, ",".join(query.excluded_attributes) or None
    )
    found = (
        None if wants_members(parameters) else await look_up_groups(scim.reads, scim.token, query)
    )
    if found is not None:
        shown = [
            group_to_scim(group, None, scim.base_url, parameters=parameters)
            for group in found.items
        ]
        return list_response(found.total, query.start_index, shown)
    if shown_as_document(parameters):
        encoded = await read_group_page(
            scim.reads,
            scim.token,
            query,
            base_url=scim.base_url,
            with_members=wants_members(parameters),
        )
        return encoded_list_response(
            encoded.total, encoded.start_index, encoded.documents, next_cursor=encoded.next_cursor
        )
    page = await scim.read(group_service.list_groups, query, with_members=wants_members(parameters))
    resources: list[dict[str, Any]] = [
        group_to_scim(item.group, item.members, scim.base_url, parameters=parameters)
        for item in page.items
    ]
    return list_response(page.total, page.start_index, resources, next_cursor=page.next_cursor)


async def list_groups(scim: ScimRequest) -> Response:
    """filter, sortBy, sortOrder, startIndex, count; excludedAttributes=members reads none."""
    return await _list(scim, lookups.query_from_params(scim.query_params(), GROUP_CATALOG))


async def search_groups(scim: ScimRequest) -> Response:
    return await _list(scim, listing.query_from_search(await scim.body(), GROUP_CATALOG))
