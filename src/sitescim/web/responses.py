"""SCIM responses: the SCIM media type on every body we send under /scim/v2."""

from __future__ import annotations

import json
from typing import Any

from starlette.responses import Response

SCIM_MEDIA_TYPE = "application/scim+json"


class SCIMResponse(Response):
    media_type = SCIM_MEDIA_TYPE

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
