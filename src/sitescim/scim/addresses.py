"""E-mail addresses as identity providers send them (SPEC section 2).

scim2-models validates ``emails[].value`` with email-validator, which by
default refuses special-use and dotless domains: ``.local`` (a common Active
Directory suffix, and what Okta's own SCIM tests use), ``.test``, ``.example``,
``.internal``, ``localhost``. An address of an organisation's own network is
not ours to refuse: any syntactically plausible address is stored. The
library's defaults are module settings meant to be changed by its users; they
are set once, when the SCIM package loads, so strict mode keeps them too.
"""

from __future__ import annotations

import email_validator


def accept_internal_domains() -> None:
    """Check the syntax of an address, not whether its domain is publicly deliverable."""
    email_validator.SPECIAL_USE_DOMAIN_NAMES = []
    email_validator.GLOBALLY_DELIVERABLE = False
