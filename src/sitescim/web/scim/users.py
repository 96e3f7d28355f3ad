"""SCIM /Users endpoints: a few lines each over services.users (RFC 7644 §3.3-3.6)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from scim2_models import Context
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from sitescim.scim import listing, lookups
from sitescim.scim.catalog import USER_CATALOG
from sitescim.scim.listing import ListQuery
from sitescim.scim.mapping import narrow_document
from sitescim.services import user_creation
from sitescim.services import users as user_service
from sitescim.services.lookups import look_up_users
from sitescim.services.pages import read_user_page
from sitescim.web.responses import encoded_list_response, list_response
from sitescim.web.scim.context import ScimRequest
from sitescim.web.write_turns import ShortWrite

# A few statements each, nothing slow (a password is hashed before): on SQLite they
# may run on the event loop (web.write_turns).
_CREATE = ShortWrite(user_creation.create_user)
_REPLACE = ShortWrite(user_service.replace_user)
_PATCH_COLUMNS = ShortWrite(user_service.patch_user)
_DELETE = ShortWrite(user_service.delete_user)


async def create_user(scim: ScimRequest) -> Response:
    """The body is validated (and a password hashed) before the write's turn."""
    body = await scim.body()
    prepared = user_creation.prepare_creation(scim.token, body)
    if prepared.password is not None:  # argon2: off the event loop
        prepared = await run_in_threadpool(
            user_creation.hash_creation_password, scim.runtime, scim.token, prepared
        )
    created = await scim.write(
        _CREATE,
        body,
        base_url=scim.base_url,
        address=scim.address,
        prepared=prepared,
    )
    return scim.user(created, status_code=201, context=Context.RESOURCE_CREATION_RESPONSE)


async def get_user(scim: ScimRequest) -> Response:
    """On the event loop: the user is one read, cheaper than a thread hop (in the lane,
    the token's own statement: ``routes.ScimRoute.user_read_with_token``)."""
    document = await user_service.read_user(
        scim.reads,
        scim.token,
        scim.id,
        base_url=scim.base_url,
        already_read=scim.user_read,
        snapshot=scim.user_with_token,
    )
    return scim.not_modified(document["meta"]["version"]) or scim.user(document)


async def replace_user(scim: ScimRequest) -> Response:
    """The body is validated (and a password hashed) before the write's turn."""
    body = await scim.body()
    prepared = user_service.prepare_replacement(scim.token, body)
    if prepared.password is not None:  # argon2: off the event loop
        prepared = await run_in_threadpool(
            user_service.hash_replacement_password, scim.runtime, scim.token, prepared
        )
    replaced = await scim.write(
        _REPLACE,
        scim.id,
        body,
        base_url=scim.base_url,
        if_match=scim.if_match,
        address=scim.address,
        prepared=prepared,
    )
    return scim.user(replaced, context=Context.RESOURCE_REPLACEMENT_RESPONSE)


async def patch_user(scim: ScimRequest) -> Response:
    """200 with the updated resource, which RFC 7644 §3.5.2 allows and clients prefer.

    The body is recognised or validated before the write's turn."""
    body = await scim.body()
    prepared = user_service.prepare_patch(scim.token, body)
    # The general path may hash a password in the transaction: not on the event loop.
    use_case = user_service.patch_user if prepared.columns is None else _PATCH_COLUMNS
    patched = await scim.write(
        use_case,
        scim.id,
        body,
        base_url=scim.base_url,
        if_match=scim.if_match,
        address=scim.address,
        prepared=prepared,
    )
    return scim.user(patched)


async def delete_user(scim: ScimRequest) -> Response:
    await scim.write(
        _DELETE,
        scim.id,
        base_url=scim.base_url,
        if_match=scim.if_match,
        address=scim.address,
    )
    return Response(status_code=204)


def _narrowed(query: ListQuery, documents: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    attributes = ",".join(query.attributes) or None
    excluded = ",".join(query.excluded_attributes) or None
    return [
        narrow_document(
            document,
            context=Context.SEARCH_RESPONSE,
            attributes=attributes,
            excluded_attributes=excluded,
        )
        for document in documents
    ]


async def _list(scim: ScimRequest, query: ListQuery) -> Response:
    found = await look_up_users(
        scim.reads,
        scim.token,
        query,
        base_url=scim.base_url,
        read_with_token=scim.users_with_token,
    )
    if found is not None:  # a first page: no cursor to sign
        return list_response(found.total, query.start_index, _narrowed(query, found.items))
    query = replace(query, cursor_key=scim.settings.cursor_key())
    encoded = await read_user_page(scim.reads, scim.token, query, base_url=scim.base_url)
    if encoded is not None:
        return encoded_list_response(
            encoded.total, encoded.start_index, encoded.documents, next_cursor=encoded.next_cursor
        )
    page = await scim.read(user_service.list_users, query, base_url=scim.base_url)
    resources = _narrowed(query, page.resources)
    return list_response(page.total, page.start_index, resources, next_cursor=page.next_cursor)


async def list_users(scim: ScimRequest) -> Response:
    """filter, sortBy, sortOrder, startIndex, count, attributes, excludedAttributes."""
    query = scim.list_query or lookups.query_from_params(scim.query_params(), USER_CATALOG)
    return await _list(scim, query)


async def search_users(scim: ScimRequest) -> Response:
    """The same query as a SearchRequest body, keeping filters out of URLs and logs."""
    return await _list(scim, listing.query_from_search(await scim.body(), USER_CATALOG))
