"""The audit log's one vocabulary: every action a row records, in one spelling.

An action is ``<family>.<what>`` or ``<family>.<resource>.<what>``. The family
(``scim``, ``token``, ``session``, ``auth``) is what the Activity page filters
by, and the API's ``action=`` filter matches a prefix of these spellings. A new
action is one member here; migration 0008 respelled the stored ``group.*`` rows.
"""

from __future__ import annotations

from enum import StrEnum


class Family(StrEnum):
    SCIM = "scim"
    TOKEN = "token"  # noqa: S105 - an action family, not a secret
    SESSION = "session"
    AUTH = "auth"


class Action(StrEnum):
    SCIM_USER_CREATE = "scim.user.create"
    SCIM_USER_REPLACE = "scim.user.replace"
    SCIM_USER_PATCH = "scim.user.patch"
    SCIM_USER_DEACTIVATE = "scim.user.deactivate"
    SCIM_USER_DELETE = "scim.user.delete"
    SCIM_GROUP_CREATE = "scim.group.create"
    SCIM_GROUP_REPLACE = "scim.group.replace"
    SCIM_GROUP_PATCH = "scim.group.patch"
    SCIM_GROUP_DELETE = "scim.group.delete"
    SCIM_BULK = "scim.bulk"
    TOKEN_CREATE = "token.create"  # noqa: S105 - an action, not a secret
    TOKEN_LIST = "token.list"  # noqa: S105 - an action, not a secret
    TOKEN_REVOKE = "token.revoke"  # noqa: S105 - an action, not a secret
    SESSION_SIGN_IN = "session.sign_in"
    AUTH_FAILED = "auth.failed"

    @property
    def family(self) -> Family:
        return Family(self.value.partition(".")[0])


def list_actions_starting_with(prefix: str) -> frozenset[Action]:
    """The actions an ``action=`` prefix (``scim.``, ``scim.group``) stands for."""
    return frozenset(action for action in Action if action.value.startswith(prefix))


def list_actions_of(family: Family) -> frozenset[Action]:
    return frozenset(action for action in Action if action.family is family)
