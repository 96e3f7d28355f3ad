"""Operator API keys: how the application that serves the sites reads the events feed
and the reconciliation lists (spec sections 5 and 6).

A key is no site token: it belongs to the operator, not to a site's Promasters,
and it reads only. It has a site token's format (T9) under its own prefix, so
secret scanners and the service tell the two apart, and like a token only its
keyed hash is kept (T5).
"""

from __future__ import annotations

import secrets
from collections.abc import Collection
from dataclasses import dataclass

from sitescim.domain import tokens
from sitescim.domain.errors import NotFoundError

PREFIX = "sscop_"


def generate_key() -> str:
    return tokens.format_token(secrets.randbits(tokens.RANDOM_BITS), prefix=PREFIX)


def is_well_formed(value: str) -> bool:
    return tokens.is_well_formed(value, prefix=PREFIX)


hash_key = tokens.hash_token
validate_description = tokens.validate_description


@dataclass(frozen=True, slots=True)
class OperatorKey:
    """An authenticated operator key: which sites it may read (None: every site)."""

    id: str
    description: str
    site_ids: frozenset[str] | None

    def may_read(self, site_id: str) -> bool:
        return self.site_ids is None or site_id in self.site_ids

    def narrow(self, requested: Collection[str] | None) -> frozenset[str] | None:
        """The sites a read covers: those asked for, within the key's own.

        A site outside the key is answered as if it did not exist (T10's rule
        for tokens, kept for keys): naming one is a 404, not a quiet empty page.
        """
        if requested is None:
            return self.site_ids
        chosen = frozenset(requested)
        if self.site_ids is not None and not chosen <= self.site_ids:
            raise NotFoundError("No such site.")
        return chosen
