"""Attribute paths (RFC 7644 §3.10) split into URN, attribute, sub-attribute and filter.

One parser for every place that reads a path's text itself: the identity-provider
layer (``scim.compat``), ``sortBy`` and ``attributes`` (``scim.listing``) and the
group PATCH planner (``scim.patching``). Names keep the case they were written
in; callers compare them case-insensitively, as RFC 7643 §2.1 asks.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class AttributePath:
    """``urn:…:User:name.givenName`` is (``urn:…:User``, ``name``, ``givenName``)."""

    urn: str | None
    attribute: str  # "" when the path is a schema URN itself
    sub: str | None
    filtered: bool  # the attribute carries a value filter: ``emails[type eq "work"]``
    urn_only: bool = False  # the whole text is a schema URN


def split_urn(text: str, urns: Iterable[str] | None = None) -> tuple[str | None, str | None]:
    """The path's schema URN, if any, and the rest; the rest is None when the text is a URN.

    With ``urns``, only those are recognised, case-insensitively, and returned in
    their declared spelling. Without, any ``urn:`` prefix up to the last colon is
    taken as the URN (the attribute then cannot be a dotted name with a colon).
    """
    if urns is None:
        if text[:4].lower() == "urn:":
            urn, _, rest = text.rpartition(":")
            return urn, rest
        return None, text
    folded = text.casefold()
    for urn in urns:
        if folded == urn.casefold():
            return urn, None
        if folded.startswith(urn.casefold() + ":"):
            return urn, text[len(urn) + 1 :]
    return None, text


def parse_path(text: str, urns: Iterable[str] | None = None) -> AttributePath:
    """The parts of an attribute path; ``urns`` as for ``split_urn``.

    A value filter is not parsed, only stepped over: ``emails[type eq "work"].value``
    is ``emails``, filtered, with the sub-attribute ``value``.
    """
    urn, rest = split_urn(text.strip(), urns)
    if rest is None:
        return AttributePath(urn, "", None, filtered=False, urn_only=True)
    attribute, bracket, after = rest.partition("[")
    if bracket:
        tail = after.rpartition("]")[2]
        sub = tail[1:] if tail.startswith(".") else None
        return AttributePath(urn, attribute, sub or None, filtered=True)
    attribute, _, sub = attribute.partition(".")
    return AttributePath(urn, attribute, sub or None, filtered=False)
