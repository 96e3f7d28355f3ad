"""The errors our domain raises, independent of how they reach a client.

    SitescimError
    ├── InvalidInputError        a field's value breaks a rule (400)
    ├── AuthenticationError      who is calling is not established (401)
    │   └── InvalidTokenError    missing, malformed, unknown, expired or revoked token
    ├── PermissionDeniedError    the caller is known but may not do this (403)
    │   └── InsufficientScopeError   the token's scope does not cover this API
    ├── NotFoundError            absent, or belongs to another site (404)
    └── ConflictError            the state forbids it (409)
        ├── ActiveTokenExistsError   T3: one active token per Promaster
        └── AlreadyExistsError       a unique name or slug is taken

Only ``web/errors.py`` and the CLI turn these into responses or exit codes.
"""

from __future__ import annotations


class SitescimError(Exception):
    """Base of every error our domain raises; its message is safe to show."""


class InvalidInputError(SitescimError):
    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")


class AuthenticationError(SitescimError):
    pass


class InvalidTokenError(AuthenticationError):
    """The reason is for the audit log; clients always see the same message."""

    public_message = "The access token is missing, malformed, unknown, expired or revoked."

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(self.public_message)


class PermissionDeniedError(SitescimError):
    pass


class InsufficientScopeError(PermissionDeniedError):
    pass


class NotFoundError(SitescimError):
    pass


class ConflictError(SitescimError):
    pass


class ActiveTokenExistsError(ConflictError):
    def __init__(self) -> None:
        super().__init__(
            "You already hold an active SCIM token. Revoke the existing token first, "
            "then create a new one."
        )


class AlreadyExistsError(ConflictError):
    pass
