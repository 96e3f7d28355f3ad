"""What the directory's pages show: rows of lists, pages of rows, details, the header."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class PersonRow:
    id: str
    name: str
    user_name: str
    email: str | None
    active: bool
    groups: tuple[str, ...]
    more_groups: int


@dataclass(frozen=True, slots=True)
class PeoplePage:
    people: Sequence[PersonRow]
    total: int
    more_than_total: bool  # a search stops counting at COUNT_CAP
    search: str
    next_after: str | None
    prev_before: str | None


@dataclass(frozen=True, slots=True)
class Value:
    value: str
    type: str | None
    primary: bool


@dataclass(frozen=True, slots=True)
class Ref:
    id: str
    name: str


@dataclass(frozen=True, slots=True)
class PersonDetail:
    id: str
    name: str
    user_name: str
    display_name: str | None
    external_id: str | None
    active: bool
    privilege: str
    title: str | None
    department: str | None
    organization: str | None
    emails: tuple[Value, ...]
    phone_numbers: tuple[Value, ...]
    groups: tuple[Ref, ...]
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class GroupRow:
    id: str
    name: str
    member_count: int


@dataclass(frozen=True, slots=True)
class GroupsPage:
    groups: Sequence[GroupRow]
    total: int
    search: str
    next_after: str | None
    prev_before: str | None


@dataclass(frozen=True, slots=True)
class Member:
    id: str
    kind: str
    name: str


@dataclass(frozen=True, slots=True)
class GroupDetail:
    id: str
    name: str
    external_id: str | None
    member_count: int
    members: tuple[Member, ...]
    next_after: int | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class Profile:
    """Who is signed in, in which site: what every page's header shows."""

    user_id: str
    label: str
    privilege: str
    is_promaster: bool
    site_name: str
    site_slug: str
