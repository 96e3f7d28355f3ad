"""The events of a change to a group (``services.events``), built from its row alone.

A group's event ``data`` is its SCIM JSON without ``members``: a group may have
100,000, and a one-member PATCH must cost the same at 100,000 as at 10, so no
member is read for an event. Who joined or left is in ``group.members_added``
and ``group.members_removed``, whose ``changes.members`` are the rows the
request's statements really inserted or deleted (they return them).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sitescim.db.models import Group
from sitescim.domain.events import EventType
from sitescim.scim.group_mapping import group_document
from sitescim.services.events import NewEvent
from sitescim.services.tokens import AuthenticatedToken


@dataclass(slots=True)
class MemberLedger:
    """Which members a request changed, net: member id -> (kind, was in, is in).

    Fed only with rows the statements really inserted or deleted, so a member
    added twice, or removed while absent, is no change; nor is one added and
    removed again in one request.
    """

    members: dict[str, tuple[str, bool, bool]] = field(default_factory=dict)

    def added(self, members: Sequence[tuple[str, str]]) -> None:
        for member_id, kind in members:
            was = self.members[member_id][1] if member_id in self.members else False
            self.members[member_id] = (kind, was, True)

    def removed(self, members: Sequence[tuple[str, str]]) -> None:
        for member_id, kind in members:
            was = self.members[member_id][1] if member_id in self.members else True
            self.members[member_id] = (kind, was, False)

    def changed(self, *, now_in: bool) -> list[dict[str, str]]:
        """``changes.members`` of the members that are now in (or out) and were not."""
        return [
            {"value": member_id, "type": kind}
            for member_id, (kind, was, is_in) in self.members.items()
            if is_in == now_in and was != now_in
        ]


def group_event(
    kind: EventType,
    token: AuthenticatedToken,
    group: Group,
    data: dict[str, Any],
    now: datetime,
    changes: dict[str, Any] | None = None,
) -> NewEvent:
    return NewEvent(kind, token.site_id, group.id, data, token.who, now, changes)


def group_events(
    token: AuthenticatedToken,
    group: Group,
    base_url: str,
    now: datetime,
    ledger: MemberLedger,
    *,
    attributes: Sequence[str] = (),
    created: bool = False,
) -> list[NewEvent]:
    """A change's events in the order a consumer should apply them: the group
    itself, then who joined, then who left; all show the group as it now is."""
    data = group_document(group, None, base_url)
    events: list[NewEvent] = []
    if created:
        events.append(group_event(EventType.GROUP_CREATED, token, group, data, now))
    elif attributes:
        changes = {"attributes": list(attributes)}
        events.append(group_event(EventType.GROUP_UPDATED, token, group, data, now, changes))
    for kind, now_in in (
        (EventType.GROUP_MEMBERS_ADDED, True),
        (EventType.GROUP_MEMBERS_REMOVED, False),
    ):
        members = ledger.changed(now_in=now_in)
        if members:
            events.append(group_event(kind, token, group, data, now, {"members": members}))
    return events
