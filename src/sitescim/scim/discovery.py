"""Discovery documents: truthful about what the service supports today."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from scim2_models import Context, Meta, ServiceProviderConfig
from scim2_models.resources.service_provider_config import (
    AuthenticationScheme,
    Bulk,
    ChangePassword,
    ETag,
    Filter,
    Patch,
    Sort,
)

DOCUMENTATION_URI = "https://github.com/sitescim/sitescim#readme"


@lru_cache(maxsize=32)
def service_provider_config_body(base_url: str) -> bytes:
    """The document is the same for every request to one base URL: built once."""
    return json.dumps(service_provider_config(base_url), separators=(",", ":")).encode()


def service_provider_config(base_url: str) -> dict[str, Any]:
    config = ServiceProviderConfig(
        documentation_uri=DOCUMENTATION_URI,
        patch=Patch(supported=False),
        bulk=Bulk(supported=False, max_operations=0, max_payload_size=0),
        filter=Filter(supported=False, max_results=0),
        change_password=ChangePassword(supported=False),
        sort=Sort(supported=False),
        etag=ETag(supported=False),
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
    dumped: dict[str, Any] = config.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE)
    return dumped
