"""PATCH on stored rows: a PatchOp becomes a plan of targeted row changes.

A group's members are rows, so a PATCH is never applied to an in-memory copy
of the whole group (scim2-models' ``PatchOp.patch``): that would read every
member of a 100,000-member group to add one. Instead each operation becomes a
step naming the members it touches — add these ids, remove these ids, or
remove the rows a ``members[...]`` filter selects, evaluated by the database —
and only ``replace members`` (which by definition names the whole set) clears
the group. The service runs the steps in order against the membership rows.

Identity-provider quirks (``Replace``, Entra ID's ``remove`` that lists the
members in ``value``) are rewritten into RFC form by ``scim.compat`` before a
body gets here, and the body is validated under the request's scim2-models
policy. Should a ``remove`` with a ``value`` still arrive (a lenient policy
lets it through), it removes the members listed, never all of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from pydantic import ValidationError
from scim2_models import (
    Context,
    Group,
    GroupMember,
    InvalidPathException,
    InvalidValueException,
    MutabilityException,
    PatchOp,
    PatchOperation,
)
from scim2_models.path import (
    CompareOperator,
    Comparison,
    FilterNode,
    LogicalExpr,
    LogicalOperator,
    Path,
)

from sitescim.scim.group_mapping import fit_group_attribute, member_values
from sitescim.scim.paths import split_urn
from sitescim.scim.schemas import GROUP_SCHEMA, PATCH_OP_SCHEMA

# Attributes the server sets; a PATCH without path may echo them back unchanged.
_READ_ONLY = frozenset({"id", "meta", "schemas"})


class StepKind(StrEnum):
    ADD = "add"
    REMOVE = "remove"
    CLEAR = "clear"
    REMOVE_MATCHING = "remove_matching"


@dataclass(frozen=True, slots=True)
class MembershipStep:
    """One change to the membership rows; ``ids``, or a filter the database evaluates, say which."""

    kind: StepKind
    ids: tuple[str, ...] = ()
    value_filter: FilterNode | None = None  # REMOVE_MATCHING: what is inside members[...]


@dataclass(slots=True)
class GroupPatch:
    """What a PATCH changes: attributes (by column name) and membership steps."""

    attributes: dict[str, str | None] = field(default_factory=dict)
    steps: list[MembershipStep] = field(default_factory=list)

    @property
    def member_ids(self) -> set[str]:
        """Every id the steps add, to check in one query that they exist."""
        return {
            value
            for step in self.steps
            if step.kind in (StepKind.ADD, StepKind.CLEAR)
            for value in step.ids
        }


def plain_operations(body: Any, *, most: int) -> list[Any] | None:
    """The ``Operations`` of a body that is exactly a PatchOp envelope (the one schema,
    no other key) with 1 to ``most`` of them, else None: the fast paths' first check
    (user_patch, group_patch); anything else goes the general way."""
    if not isinstance(body, dict) or body.keys() != {"schemas", "Operations"}:
        return None
    if body["schemas"] != [PATCH_OP_SCHEMA]:
        return None
    operations = body["Operations"]
    if not isinstance(operations, list) or not 0 < len(operations) <= most:
        return None
    return operations


def parse_group_patch(body: dict[str, Any]) -> GroupPatch:
    """Validate a PatchOp body against the Group schema and plan its row changes."""
    request = PatchOp[Group].model_validate(body, scim_ctx=Context.RESOURCE_PATCH_REQUEST)
    plan = GroupPatch()
    for operation in request.operations or []:
        if operation.path is None:
            _plan_without_path(plan, operation.op, operation.value)
        else:
            _plan_with_path(plan, operation.op, operation.path, operation.value)
    return plan


def _plan_without_path(plan: GroupPatch, op: PatchOperation.Op, value: Any) -> None:
    if op == PatchOperation.Op.remove:  # scim2-models refuses this already
        raise InvalidPathException(detail="A remove operation needs a path.")
    if not isinstance(value, dict):
        raise InvalidValueException(
            detail="An operation without a path needs an object of attributes as value."
        )
    for key, item in value.items():
        name = _attribute_name(str(key))
        if name in _READ_ONLY:
            continue
        if name == "members":
            _plan_members(plan, op, item)
        elif name in ("displayname", "externalid"):
            _plan_attribute(plan, op, name, item)
        else:
            raise InvalidPathException(detail=f"Groups have no attribute {key!r}.")


def _plan_with_path(plan: GroupPatch, op: PatchOperation.Op, path: Path[Any], value: Any) -> None:
    name = _attribute_name(str(path.attr))
    if name == "members":
        binding = path.resolve()
        if binding is not None and binding.sub_field_name is not None:
            raise MutabilityException(
                detail="A member's sub-attributes cannot be changed; remove and add it."
            )
        if path.value_filter is not None:
            if op != PatchOperation.Op.remove:
                raise InvalidPathException(
                    detail="Only remove takes a filter on members; add members by value."
                )
            plan.steps.append(_removal_step(path))
            return
        if op == PatchOperation.Op.remove:
            plan.steps.append(_removal_by_value(value))
            return
        _plan_members(plan, op, value)
    elif name in ("displayname", "externalid") and path.value_filter is None:
        _plan_attribute(plan, op, name, None if op == PatchOperation.Op.remove else value)
    else:
        raise InvalidPathException(detail=f"The path {str(path)!r} cannot be patched on a Group.")


def _attribute_name(key: str) -> str:
    """Attribute names are case-insensitive and may carry the Group schema URN."""
    return (split_urn(key, (GROUP_SCHEMA,))[1] or "").lower()


def _plan_attribute(plan: GroupPatch, op: PatchOperation.Op, name: str, value: Any) -> None:
    if value is not None and not isinstance(value, str):
        raise InvalidValueException(detail=f"{_SCIM_NAMES[name]} must be a string.")
    fit_group_attribute(_SCIM_NAMES[name], value)
    if name == "displayname":
        value = (value or "").strip()
        if not value:
            raise MutabilityException(detail="displayName is required and cannot be removed.")
        plan.attributes["display_name"] = value
    else:
        plan.attributes["external_id"] = value or None


_SCIM_NAMES = {"displayname": "displayName", "externalid": "externalId"}


def _plan_members(plan: GroupPatch, op: PatchOperation.Op, value: Any) -> None:
    ids = tuple(_member_ids(value))
    if op == PatchOperation.Op.replace_:
        plan.steps.append(MembershipStep(StepKind.CLEAR, ids))
    elif ids:
        plan.steps.append(MembershipStep(StepKind.ADD, ids))


def _member_ids(value: Any) -> list[str]:
    """A member object or a list of them, validated by the GroupMember schema."""
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    try:
        members = [GroupMember.model_validate(item) for item in items]
    except ValidationError:
        raise InvalidValueException(
            detail='members takes objects like {"value": "<id>"}.'
        ) from None
    return member_values(members)


def _removal_by_value(value: Any) -> MembershipStep:
    """``remove members`` clears them all; with a value (Entra ID), only those listed."""
    if value is None:
        return MembershipStep(StepKind.CLEAR)
    return MembershipStep(StepKind.REMOVE, tuple(_member_ids(value)))


def _removal_step(path: Path[Any]) -> MembershipStep:
    """``members[value eq "x" or value eq "y"]`` is a list of ids; others are evaluated."""
    assert path.value_filter is not None
    ids = _ids_of(path.value_filter)
    if ids is not None:
        return MembershipStep(StepKind.REMOVE, tuple(ids))
    return MembershipStep(StepKind.REMOVE_MATCHING, value_filter=path.value_filter)


def _ids_of(node: FilterNode) -> list[str] | None:
    if isinstance(node, Comparison):
        if (
            node.op == CompareOperator.eq
            and node.attr_path.attr.lower() == "value"
            and node.attr_path.sub_attr is None
            and isinstance(node.value, str)
        ):
            return [node.value]
        return None
    if isinstance(node, LogicalExpr) and node.op == LogicalOperator.or_:
        ids: list[str] = []
        for term in node.terms:
            found = _ids_of(term)
            if found is None:
                return None
            ids.extend(found)
        return ids
    return None
