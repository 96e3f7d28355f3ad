"""The errors our domain raises, independent of how they reach a client.

    SitescimError
    ├── InvalidInputError        a field's value breaks a rule (400)
    ├── TooManyOperationsError   a Bulk request over maxOperations (413)
    ├── AuthenticationError      who is calling is not established (401)
    │   ├── InvalidTokenError    missing, malformed, unknown, expired or revoked token
    │   └── SignInThrottledError too many failed sign-ins; says when to retry (429)
    ├── PermissionDeniedError    the caller is known but may not do this (403)
    │   └── InsufficientScopeError   the token's scope does not cover this API
    ├── NotFoundError            absent, or belongs to another site (404)
    └── ConflictError            the state forbids it (409)
        ├── ActiveTokenExistsError   T3: one active token per Promaster
        └── AlreadyExistsError       a unique name or slug is taken

Each family names its HTTP status and SCIM ``scimType`` (RFC 7644 §3.12), as
scim2-models' exceptions do: the audit log records what a client is told, and
the services raise these rather than a second name for the same meaning. Only
``web/errors.py`` turns them into responses, and the CLI into exit codes.

Errors that exist only on the web (a form's CSRF check, a page that needs a
signed-in visitor, a rate limit) live beside the web code that raises them.
"""

from __future__ import annotations

from typing import ClassVar


class SitescimError(Exception):
    """Base of every error our domain raises; its message is safe to show."""

    status: ClassVar[int] = 400
    scim_type: ClassVar[str | None] = None


class InvalidInputError(SitescimError):
    scim_type = "invalidValue"

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")


class TooManyOperationsError(SitescimError):
    """RFC 7644 §3.7.4: more operations than ``maxOperations``."""

    status = 413
    scim_type = "tooMany"


class AuthenticationError(SitescimError):
    status = 401


class InvalidTokenError(AuthenticationError):
    """The reason is for the audit log; clients always see the same message."""

    public_message = "The access token is missing, malformed, unknown, expired or revoked."

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(self.public_message)


class SignInThrottledError(AuthenticationError):
    """Too many failed sign-ins for this account or address; says when to retry."""

    status = 429

    def __init__(self, retry_after_seconds: int) -> None:
        self.retry_after_seconds = retry_after_seconds
        minutes = max(1, -(-retry_after_seconds // 60))
        super().__init__(
            f"Too many failed sign-in attempts. Wait {minutes} minute"
            f"{'s' if minutes != 1 else ''} and try again."
        )


class PermissionDeniedError(SitescimError):
    status = 403


class InsufficientScopeError(PermissionDeniedError):
    pass


class NotFoundError(SitescimError):
    status = 404


class ConflictError(SitescimError):
    status = 409
    scim_type = "uniqueness"


class ActiveTokenExistsError(ConflictError):
    def __init__(self) -> None:
        super().__init__(
            "You already hold an active SCIM token. Revoke the existing token first, "
            "then create a new one."
        )


class AlreadyExistsError(ConflictError):
    pass
