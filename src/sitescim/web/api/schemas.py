"""Bodies of the JSON management API, as OpenAPI documents them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from sitescim.services.activity import EventView
from sitescim.services.tokens import IssuedToken, TokenView


class SignInBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    site: str = Field(max_length=63, description="The site's slug")
    email: str = Field(max_length=320)
    password: str = Field(max_length=1024)


class Me(BaseModel):
    id: str
    site_id: str
    email: str
    privilege: str
    may_manage_tokens: bool


class CreateTokenBody(BaseModel):
    """Length and trimming rules are the domain's (T4); here only the types."""

    model_config = ConfigDict(extra="forbid")
    description: str = Field(description="1-100 characters after trimming")
    scope: str = Field(default="scim", description="One of the scopes listed by /token-scopes")


class CreatedToken(BaseModel):
    id: str
    token: str = Field(description="The secret. Shown in this response only; store it now.")
    description: str
    scope: str
    created_at: datetime
    expires_at: datetime
    warning: str = "Store this token now: it will not be shown again."

    @classmethod
    def of(cls, issued: IssuedToken) -> CreatedToken:
        return cls(
            id=issued.id,
            token=issued.value,
            description=issued.description,
            scope=issued.scope,
            created_at=issued.created_at,
            expires_at=issued.expires_at,
        )


class TokenOut(BaseModel):
    id: str
    description: str
    scope: str
    created_by: str
    created_by_id: str | None
    creator_is_promaster: bool = Field(
        description="False once the creator is demoted, deactivated or deleted (T11)"
    )
    created_at: datetime
    expires_at: datetime
    days_left: int
    expires_soon: bool
    last_used_at: datetime | None
    last_used_from: str | None
    status: str
    revoked_at: datetime | None
    revoked_by: str | None

    @classmethod
    def of(cls, view: TokenView) -> TokenOut:
        return cls(**{name: getattr(view, name) for name in cls.model_fields})


class TokenList(BaseModel):
    tokens: list[TokenOut]


class ScopeOut(BaseModel):
    name: str
    label: str


class EventOut(BaseModel):
    id: int
    occurred_at: datetime
    action: str
    outcome: str
    actor_type: str
    actor_id: str | None
    actor_label: str | None
    target_type: str | None
    target_id: str | None
    client_address: str | None
    detail: dict[str, Any]
    message: str | None
    count: int

    @classmethod
    def of(cls, view: EventView) -> EventOut:
        return cls(**{name: getattr(view, name) for name in cls.model_fields})


class EventList(BaseModel):
    events: list[EventOut]
    next_before_id: int | None
