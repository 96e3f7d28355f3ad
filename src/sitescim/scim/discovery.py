"""Discovery documents: truthful about what the service supports today.

RFC 7644 §4 asks for three discovery endpoints. Their documents depend only on
the base URL (for ``meta.location``), so each is built once per base URL and
kept as ready-to-send bytes. The schemas are generated from the scim2-models
resource classes the Users and Groups endpoints validate with, so what
``/Schemas`` declares and what the service accepts cannot drift apart.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from scim2_models import (
    Context,
    EnterpriseUser,
    Extension,
    Group,
    ListResponse,
    Meta,
    Mutability,
    Resource,
    ResourceType,
    Schema,
    SchemaExtension,
    ServiceProviderConfig,
    User,
)
from scim2_models.reference import URI, Reference
from scim2_models.resources.service_provider_config import (
    AuthenticationScheme,
    Bulk,
    ChangePassword,
    ETag,
    Filter,
    Pagination,
    Patch,
    Sort,
)

from sitescim.scim.extension import SitescimUser
from sitescim.scim.listing import DEFAULT_COUNT, MAX_COUNT
from sitescim.scim.schemas import GROUP_SCHEMA

DOCUMENTATION_URI = "https://github.com/sitescim/sitescim#readme"

# What the list endpoints promise (RFC 7644 §3.4.2.4) is what listing enforces.
DEFAULT_PAGE_SIZE = DEFAULT_COUNT
MAX_PAGE_SIZE = MAX_COUNT


ServedUser = User[EnterpriseUser | SitescimUser]
"""The User resource the service serves: core, enterprise and sitescim extensions."""


@dataclass(frozen=True, slots=True)
class ServedResource:
    """One resource type, as /ResourceTypes describes it."""

    id: str
    description: str
    endpoint: str
    model: type[Resource[Any]]


SERVED_RESOURCES = (
    ServedResource("User", "User Account", "/Users", ServedUser),
    ServedResource("Group", "Group", "/Groups", Group),
)

# Sub-attributes whose published mutability differs from scim2-models' default,
# because the service computes them: a group member's display is the member's
# own name, whatever a client sends (RFC 7643 §2.4 calls display READ-ONLY).
_SERVER_COMPUTED: tuple[tuple[str, str, str], ...] = ((GROUP_SCHEMA, "members", "display"),)

# Schema ids in the order /Schemas lists them, with a readable description each
# (the generated one is the class name).
_SCHEMA_SOURCES: tuple[tuple[type[Resource[Any]] | type[Extension], str, str], ...] = (
    (User, "User", "User Account"),
    (EnterpriseUser, "EnterpriseUser", "Enterprise User"),
    (SitescimUser, "SitescimUser", "The user's privilege in the site"),
    (Group, "Group", "Group"),
)


@dataclass(frozen=True, slots=True)
class DiscoveryDocuments:
    """Every discovery body for one base URL, serialised once.

    The by-id maps are keyed by the lower-cased id: schema URIs and resource
    type names are matched without regard to case, as SCIM clients differ.
    """

    resource_types: bytes
    resource_types_by_id: dict[str, bytes]
    schemas: bytes
    schemas_by_id: dict[str, bytes]


def _encode(document: dict[str, Any]) -> bytes:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


def _dump(resource: Resource[Any] | ListResponse[Any]) -> dict[str, Any]:
    dumped: dict[str, Any] = resource.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE)
    return dumped


def _list_body(
    listing_type: type[ListResponse[ResourceType]] | type[ListResponse[Schema]],
    resources: list[ResourceType] | list[Schema],
) -> bytes:
    """A complete ListResponse (RFC 7644 §3.4.2): discovery lists are never paged."""
    listing = listing_type(
        total_results=len(resources),
        items_per_page=len(resources),
        start_index=1,
        resources=resources,
    )
    return _encode(_dump(listing))


@dataclass(frozen=True, slots=True)
class BulkLimits:
    """What POST /Bulk accepts (RFC 7644 §3.7.4); the settings decide, discovery declares."""

    max_operations: int = 1000
    max_payload_size: int = 2_097_152


@lru_cache(maxsize=32)
def service_provider_config_body(base_url: str, bulk: BulkLimits | None = None) -> bytes:
    """The document is the same for every request to one base URL: built once."""
    return _encode(service_provider_config(base_url, bulk))


def service_provider_config(base_url: str, bulk: BulkLimits | None = None) -> dict[str, Any]:
    limits = bulk or BulkLimits()
    config = ServiceProviderConfig(
        documentation_uri=DOCUMENTATION_URI,
        patch=Patch(supported=True),
        bulk=Bulk(
            supported=True,
            max_operations=limits.max_operations,
            max_payload_size=limits.max_payload_size,
        ),
        filter=Filter(supported=True, max_results=MAX_PAGE_SIZE),
        change_password=ChangePassword(supported=False),
        sort=Sort(supported=True),
        etag=ETag(supported=True),
        pagination=Pagination(
            cursor=True,
            index=True,
            default_pagination_method=Pagination.DefaultPaginationMethod.index,
            default_page_size=DEFAULT_PAGE_SIZE,
            max_page_size=MAX_PAGE_SIZE,
        ),
        authentication_schemes=[
            AuthenticationScheme(
                type="oauthbearertoken",
                name="Site SCIM access token",
                description=(
                    "A site SCIM access token created by one of the site's Promasters, "
                    "sent as 'Authorization: Bearer <token>'."
                ),
                spec_uri="https://www.rfc-editor.org/rfc/rfc6750",
                primary=True,
            )
        ],
        meta=Meta(
            resource_type="ServiceProviderConfig",
            location=f"{base_url.rstrip('/')}/ServiceProviderConfig",
        ),
    )
    return _dump(config)


def resource_types(base_url: str) -> list[ResourceType]:
    """RFC 7643 §6: one ResourceType per served resource, extensions optional."""
    base = base_url.rstrip("/")
    documents = []
    for served in SERVED_RESOURCES:
        generated = ResourceType.from_resource(served.model)
        resource_type = ResourceType(
            id=served.id,
            name=served.id,
            description=served.description,
            endpoint=Reference[URI](served.endpoint),
            schema_=generated.schema_,
            schema_extensions=[
                SchemaExtension(schema_=extension.schema_, required=False)
                for extension in generated.schema_extensions or []
            ],
            meta=Meta(resource_type="ResourceType", location=f"{base}/ResourceTypes/{served.id}"),
        )
        documents.append(resource_type)
    return documents


def schemas(base_url: str) -> list[Schema]:
    """RFC 7643 §7: the schemas generated from the models we validate with."""
    base = base_url.rstrip("/")
    documents = []
    for model, name, description in _SCHEMA_SOURCES:
        schema: Schema = model.to_schema()
        schema.name = name
        schema.description = description
        schema.meta = Meta(resource_type="Schema", location=f"{base}/Schemas/{schema.id}")
        _mark_server_computed(schema)
        documents.append(schema)
    return documents


def _mark_server_computed(schema: Schema) -> None:
    for schema_id, attribute_name, sub_name in _SERVER_COMPUTED:
        if schema.id != schema_id:
            continue
        attribute = schema[attribute_name]
        for sub in attribute.sub_attributes or []:
            if sub.name == sub_name:
                sub.mutability = Mutability.read_only


def _key(resource: Resource[Any]) -> str:
    assert resource.id is not None
    return resource.id.lower()


@lru_cache(maxsize=32)
def discovery_documents(base_url: str) -> DiscoveryDocuments:
    """Build every /ResourceTypes and /Schemas body for one base URL, once."""
    types = resource_types(base_url)
    schema_documents = schemas(base_url)
    return DiscoveryDocuments(
        resource_types=_list_body(ListResponse[ResourceType], types),
        resource_types_by_id={_key(document): _encode(_dump(document)) for document in types},
        schemas=_list_body(ListResponse[Schema], schema_documents),
        schemas_by_id={_key(document): _encode(_dump(document)) for document in schema_documents},
    )
