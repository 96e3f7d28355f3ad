"""One audit vocabulary (issue 12): group actions are spelled ``scim.group.*``

Users were recorded as ``scim.user.*`` and groups as ``group.*``; the stored
rows take the spelling of ``sitescim.domain.actions.Action``. The downgrade
gives them back their old spelling.

Revision ID: 0008_one_audit_vocabulary
Revises: 0007_site_scim_rate_limit
Create Date: 2026-11-30 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_one_audit_vocabulary"
down_revision = "0007_site_scim_rate_limit"
branch_labels = None
depends_on = None

# Spelled out, not imported: a migration keeps the names of its own day.
RESPELLED = {
    "group.create": "scim.group.create",
    "group.replace": "scim.group.replace",
    "group.patch": "scim.group.patch",
    "group.delete": "scim.group.delete",
}

_RENAME = sa.text("UPDATE audit_events SET action = :new WHERE action = :old")


def upgrade() -> None:
    op.get_bind().execute(_RENAME, [{"old": old, "new": new} for old, new in RESPELLED.items()])


def downgrade() -> None:
    op.get_bind().execute(_RENAME, [{"old": new, "new": old} for old, new in RESPELLED.items()])
