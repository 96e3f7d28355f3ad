"""One audit vocabulary: every action is labelled on the Activity page and falls under one of
its kinds, and an ``action=`` prefix finds users' and groups' actions alike."""

from __future__ import annotations

from sitescim.domain.actions import Action, Family, list_actions_of, list_actions_starting_with
from sitescim.services.activity import ACTIVITY_KINDS
from sitescim.web.ui.labels import ACTION_LABELS


def test_every_action_has_a_label():
    assert set(ACTION_LABELS) == set(Action)


def test_every_family_is_one_activity_kind():
    assert sorted(kind.family for kind in ACTIVITY_KINDS.values()) == sorted(Family)
    assert {action.family for action in Action} == set(Family)


def test_a_prefix_finds_users_and_groups_alike():
    provisioning = list_actions_starting_with("scim.")
    assert Action.SCIM_GROUP_PATCH in provisioning
    assert Action.SCIM_USER_CREATE in provisioning
    assert provisioning == list_actions_of(Family.SCIM)
    assert list_actions_starting_with("scim.group") == {
        Action.SCIM_GROUP_CREATE,
        Action.SCIM_GROUP_REPLACE,
        Action.SCIM_GROUP_PATCH,
        Action.SCIM_GROUP_DELETE,
    }
    assert list_actions_starting_with("group.") == frozenset()


def test_actions_are_stored_as_their_spelling():
    assert f"{Action.AUTH_FAILED}|site" == "auth.failed|site"
    assert {"scim.bulk": 1}.get(Action.SCIM_BULK) == 1
