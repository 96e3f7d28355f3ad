"""What the identity-provider layer (``scim.compat``) must know of each resource type.

Read from the scim2-models schemas themselves: which attributes are booleans
(a quirk sends them as strings), which complex attributes hold boolean
sub-attributes, and which multi-valued attributes have a ``value`` (a quirk
removes their entries by value).
"""

from __future__ import annotations

import types
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel
from scim2_models import (
    BulkRequest,
    EnterpriseUser,
    Extension,
    Group,
    PatchOp,
    Resource,
    SearchRequest,
    User,
)

from sitescim.scim.extension import SitescimUser


@dataclass(frozen=True, slots=True)
class SchemaShape:
    """What the layer must know of one schema; every name is casefolded."""

    booleans: frozenset[str]
    sub_booleans: Mapping[str, frozenset[str]]  # complex attribute -> boolean sub-attributes
    valued_lists: frozenset[str]  # multi-valued complex attributes with a ``value``


@dataclass(frozen=True, slots=True)
class ResourceShape:
    """A resource type: its core schema and its extensions, keyed by casefolded URN."""

    core_urn: str
    core: SchemaShape
    extensions: Mapping[str, tuple[str, SchemaShape]]

    def urns(self) -> Iterator[str]:
        yield self.core_urn
        for urn, _ in self.extensions.values():
            yield urn

    def scope(self, urn: str | None) -> SchemaShape:
        if urn is None or urn.casefold() == self.core_urn.casefold():
            return self.core
        return self.extensions[urn.casefold()][1]


def _leaves(annotation: Any) -> Iterator[Any]:
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType, list):
        for argument in get_args(annotation):
            yield from _leaves(argument)
    elif origin is Annotated:
        yield from _leaves(get_args(annotation)[0])
    else:
        yield annotation


def _is_list(annotation: Any) -> bool:
    origin = get_origin(annotation)
    if origin is list:
        return True
    if origin in (Union, types.UnionType):
        return any(_is_list(argument) for argument in get_args(annotation))
    return False


def _scim_name(name: str, field: Any) -> str:
    return str(field.serialization_alias or field.alias or name).casefold()


def _schema_shape(model: type[BaseModel]) -> SchemaShape:
    """Read the boolean and multi-valued attributes from the scim2-models schema itself."""
    booleans: set[str] = set()
    sub_booleans: dict[str, frozenset[str]] = {}
    valued: set[str] = set()
    for name, field in model.model_fields.items():
        scim_name = _scim_name(name, field)
        leaves = list(_leaves(field.annotation))
        if bool in leaves:
            booleans.add(scim_name)
        for leaf in leaves:
            if not (isinstance(leaf, type) and issubclass(leaf, BaseModel)):
                continue
            inner = frozenset(
                _scim_name(sub, sub_field)
                for sub, sub_field in leaf.model_fields.items()
                if bool in list(_leaves(sub_field.annotation))
            )
            if inner:
                sub_booleans[scim_name] = inner
            if _is_list(field.annotation) and "value" in leaf.model_fields:
                valued.add(scim_name)
    return SchemaShape(frozenset(booleans), sub_booleans, frozenset(valued))


def _resource_shape(core: type[Resource[Any]], *extensions: type[Extension]) -> ResourceShape:
    return ResourceShape(
        core_urn=str(core.__schema__),
        core=_schema_shape(core),
        extensions={
            str(ext.__schema__).casefold(): (str(ext.__schema__), _schema_shape(ext))
            for ext in extensions
        },
    )


USER_SHAPE = _resource_shape(User, EnterpriseUser, SitescimUser)
GROUP_SHAPE = _resource_shape(Group)

KNOWN_URNS = {
    urn.casefold(): urn
    for urn in (
        *USER_SHAPE.urns(),
        *GROUP_SHAPE.urns(),
        str(PatchOp.__schema__),
        str(SearchRequest.__schema__),
        str(BulkRequest.__schema__),
    )
}
