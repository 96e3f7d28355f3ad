"""What the UI shows for stored codes: audit actions, privileges and token scopes."""

from __future__ import annotations

from sitescim.domain.tokens import SCOPES

ACTION_LABELS = {
    "token.create": "Token created",
    "token.revoke": "Token revoked",
    "token.list": "Token list read",
    "auth.failed": "Authentication failed",
    "session.sign_in": "Signed in",
    "scim.user.create": "User created",
    "scim.user.replace": "User replaced",
    "scim.user.patch": "User changed",
    "scim.user.delete": "User deleted",
    "group.create": "Group created",
    "group.replace": "Group replaced",
    "group.patch": "Group changed",
    "group.delete": "Group deleted",
}
PRIVILEGE_LABELS = {
    "promaster": "Promaster",
    "business_analyst": "Business analyst",
    "user": "User",
}
SCOPE_LABELS = {scope.name: scope.label for scope in SCOPES.values()}
