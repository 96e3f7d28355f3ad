"""Entity tags (RFC 7644 §3.14): one derivation, one way of matching each precondition."""

from __future__ import annotations

from scim2_models import PreconditionFailedException


def make_etag(id: str, version: int) -> str:
    """The weak entity tag of a resource; ``meta.version`` and the ETag header agree.

    The version counter changes on every modification, which is all a weak
    validator needs; the id is taken so every caller derives tags the same way.
    """
    del id
    return f'W/"{version}"'


def _tags(header: str) -> set[str]:
    """The listed tags compared weakly: ``W/"3"`` and ``"3"`` name the same version."""
    return {tag.strip().removeprefix("W/") for tag in header.split(",")}


def check_if_match(if_match: str | None, current: str, *, detail: str) -> None:
    """A stale If-Match is refused with 412 before anything changes; ``*`` matches any."""
    if if_match is None:
        return
    tags = _tags(if_match)
    if "*" not in tags and current.removeprefix("W/") not in tags:
        raise PreconditionFailedException(detail=detail)


def matches_if_none_match(if_none_match: str | None, current: str) -> bool:
    """Whether a GET may answer 304 (RFC 7232 §3.2): weak comparison, ``*`` matches."""
    if if_none_match is None:
        return False
    tags = _tags(if_none_match)
    return "*" in tags or current.removeprefix("W/") in tags
