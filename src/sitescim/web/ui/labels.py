"""What the UI shows for stored codes: audit actions, privileges and token scopes."""

from __future__ import annotations

from sitescim.domain.actions import Action
from sitescim.domain.tokens import SCOPES

ACTION_LABELS: dict[Action, str] = {
    Action.TOKEN_CREATE: "Token created",
    Action.TOKEN_REVOKE: "Token revoked",
    Action.TOKEN_LIST: "Token list read",
    Action.AUTH_FAILED: "Authentication failed",
    Action.SESSION_SIGN_IN: "Signed in",
    Action.SCIM_USER_CREATE: "User created",
    Action.SCIM_USER_REPLACE: "User replaced",
    Action.SCIM_USER_PATCH: "User changed",
    Action.SCIM_USER_DEACTIVATE: "User deactivated",
    Action.SCIM_USER_DELETE: "User deleted",
    Action.SCIM_GROUP_CREATE: "Group created",
    Action.SCIM_GROUP_REPLACE: "Group replaced",
    Action.SCIM_GROUP_PATCH: "Group changed",
    Action.SCIM_GROUP_DELETE: "Group deleted",
    Action.SCIM_BULK: "Bulk request",
}
PRIVILEGE_LABELS = {
    "promaster": "Promaster",
    "business_analyst": "Business analyst",
    "user": "User",
}
SCOPE_LABELS = {scope.name: scope.label for scope in SCOPES.values()}
