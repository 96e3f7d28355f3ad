"""Group rows <-> SCIM Group resources, through scim2-models (habits 2 and 3).

Members are passed in apart from the group row because they are rows of their
own: a caller that was asked not to return members (``excludedAttributes=
members``) passes ``None`` and no member is ever read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from scim2_models import (
    Context,
    Group,
    GroupMember,
    InvalidValueException,
    Meta,
    ResponseParameters,
)

from sitescim.scim.etags import make_etag
from sitescim.scim.schemas import GROUP_LIMITS, GROUP_SCHEMA
from sitescim.scim.user_documents import scim_datetime

USER = "User"
GROUP = "Group"
MEMBER_KINDS = (USER, GROUP)


class StoredGroup(Protocol):
    """What a stored group offers the mapping; ``db.models.Group`` and the hot
    reader's ``GroupRecord`` fit."""

    @property
    def id(self) -> str: ...
    @property
    def display_name(self) -> str: ...
    @property
    def external_id(self) -> str | None: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def updated_at(self) -> datetime: ...
    @property
    def version(self) -> int: ...


@dataclass(frozen=True, slots=True)
class MemberView:
    """One member as a response shows it: its id, kind (User/Group) and display."""

    value: str
    kind: str
    display: str | None = None


@dataclass(frozen=True, slots=True)
class GroupInput:
    """A validated group body (POST or PUT): what the client may set."""

    display_name: str
    external_id: str | None
    members: list[str]


def member_ref(base_url: str, member: MemberView) -> str:
    collection = "Users" if member.kind == USER else "Groups"
    return f"{base_url}/{collection}/{member.value}"


def group_to_model(
    group: StoredGroup, members: Sequence[MemberView] | None, base_url: str
) -> Group:
    return Group(
        id=group.id,
        external_id=group.external_id,
        display_name=group.display_name,
        members=None
        if members is None
        else [
            GroupMember(
                value=member.value,
                ref=member_ref(base_url, member),
                type=member.kind,
                display=member.display,
            )
            for member in members
        ],
        meta=Meta(
            resource_type="Group",
            created=group.created_at,
            last_modified=group.updated_at,
            location=f"{base_url}/Groups/{group.id}",
            version=make_etag(group.id, group.version),
        ),
    )


def group_to_scim(
    group: StoredGroup,
    members: Sequence[MemberView] | None,
    base_url: str,
    *,
    parameters: ResponseParameters[Group] | None = None,
) -> dict[str, Any]:
    """The response body; ``parameters`` (attributes/excludedAttributes) trim it.

    Without a selection, or with only ``excludedAttributes=members`` (Entra ID
    asks that on every group read), the body is built straight from the rows:
    a group of 100,000 members would otherwise build as many pydantic objects.
    """
    if shown_as_document(parameters):
        return group_document(group, members, base_url)
    model = group_to_model(group, members, base_url)
    return model.model_dump(
        scim_ctx=Context.RESOURCE_QUERY_RESPONSE, response_parameters=parameters
    )


def group_document(
    group: StoredGroup, members: Sequence[MemberView] | None, base_url: str
) -> dict[str, Any]:
    """What ``group_to_model(...).model_dump()`` gives, without the models (a test holds them equal)."""
    document: dict[str, Any] = {"schemas": [GROUP_SCHEMA], "id": group.id}
    if group.external_id is not None:
        document["externalId"] = group.external_id
    document["displayName"] = group.display_name
    if members:
        shown = []
        for member in members:
            entry = {
                "value": member.value,
                "$ref": member_ref(base_url, member),
                "type": member.kind,
            }
            if member.display is not None:
                entry["display"] = member.display
            shown.append(entry)
        document["members"] = shown
    document["meta"] = {
        "resourceType": "Group",
        "created": scim_datetime(group.created_at),
        "lastModified": scim_datetime(group.updated_at),
        "location": f"{base_url}/Groups/{group.id}",
        "version": make_etag(group.id, group.version),
    }
    return document


def shown_as_document(parameters: ResponseParameters[Group] | None) -> bool:
    """Whether ``group_document`` shows the group (no selection, or only members left out)."""
    return parameters is None or _excludes_only_members(parameters)


def _excludes_only_members(parameters: ResponseParameters[Group]) -> bool:
    excluded = parameters.excluded_attributes or []
    return (
        not parameters.attributes and len(excluded) == 1 and _names_members(excluded[0], whole=True)
    )


def parse_response_parameters(
    attributes: str | None, excluded_attributes: str | None
) -> ResponseParameters[Group] | None:
    """The query's attributes/excludedAttributes, resolved against the Group schema.

    A bad value raises pydantic's ValidationError, which the web layer turns
    into a 400 (invalidPath).
    """
    if not attributes and not excluded_attributes:
        return None
    return ResponseParameters[Group].model_validate(
        {"attributes": attributes or None, "excludedAttributes": excluded_attributes or None}
    )


def wants_members(parameters: ResponseParameters[Group] | None) -> bool:
    """Whether the response shows members, so whether they must be read at all.

    ``attributes`` must name members (or one of its sub-attributes);
    ``excludedAttributes`` must not name members as a whole.
    """
    if parameters is None:
        return True
    if parameters.attributes:
        return any(_names_members(path, whole=False) for path in parameters.attributes)
    return not any(
        _names_members(path, whole=True) for path in parameters.excluded_attributes or ()
    )


def _names_members(path: Any, *, whole: bool) -> bool:
    binding = path.resolve()
    if binding is None or binding.field_name != "members":
        return False
    return binding.sub_field_name is None or not whole


def fit_group_attribute(attribute: str, value: str | None) -> str | None:
    """The value, or invalidValue when it is longer than its column."""
    limit = GROUP_LIMITS[attribute]
    if value is not None and len(value) > limit:
        raise InvalidValueException(detail=f"'{attribute}' is longer than {limit} characters")
    return value


def group_from_scim(payload: dict[str, Any], *, context: Context) -> GroupInput:
    """Validate a POST or PUT body; readOnly attributes (id, meta) are ignored.

    Plain members (``value``, ``type``, ``$ref``, ``display`` as strings, which is
    what clients send) are read straight from the body: scim2-models spends some
    150 µs on each, a 30 ms wait for a 200-member group. Anything else is
    validated member by member.
    """
    members = _plain_members(payload)
    if members is None:
        model = Group.model_validate(payload, scim_ctx=context)
        members = member_values(model.members or [])
    else:
        rest = {key: item for key, item in payload.items() if key != "members"}
        model = Group.model_validate(rest, scim_ctx=context)
    display_name = (model.display_name or "").strip()
    if not display_name:
        raise InvalidValueException(detail="displayName is required.")
    fit_group_attribute("displayName", display_name)
    return GroupInput(
        display_name=display_name,
        external_id=fit_group_attribute("externalId", model.external_id),
        members=members,
    )


_PLAIN_MEMBER_KEYS = frozenset({"value", "type", "$ref", "display"})


def _plain_members(payload: Any) -> list[str] | None:
    """The member ids, in order without repeats, if every member is plain; else None."""
    if not isinstance(payload, dict):
        return None
    entries = payload.get("members")
    if not isinstance(entries, list) or sum(key.casefold() == "members" for key in payload) != 1:
        return None
    seen: dict[str, None] = {}
    for entry in entries:  # a loop of plain checks: this runs for every member
        if type(entry) is not dict or not entry.keys() <= _PLAIN_MEMBER_KEYS:
            return None
        value, kind = entry.get("value"), entry.get("type")
        if type(value) is not str or not value:
            return None
        if kind is not None and kind not in MEMBER_KINDS:
            return None
        if "$ref" in entry and type(entry["$ref"]) is not str:
            return None
        if "display" in entry and type(entry["display"]) is not str:
            return None
        seen[value] = None
    return list(seen)


def member_values(members: Sequence[GroupMember]) -> list[str]:
    """The ids members name, in order and without repeats; each needs a value."""
    seen: dict[str, None] = {}
    for member in members:
        if not member.value:
            raise InvalidValueException(detail="Each member needs a value (the member's id).")
        if member.type is not None and member.type not in MEMBER_KINDS:
            raise InvalidValueException(detail="A member's type is 'User' or 'Group'.")
        seen.setdefault(member.value, None)
    return list(seen)
