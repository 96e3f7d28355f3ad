"""A site's own SCIM rate limit per token (issue 10: rate limits)

``sites.scim_rate_limit`` holds the ``limits`` library's notation, such as
``50/second``; NULL keeps the service's default (SITESCIM_RATE_LIMIT_SCIM_PER_TOKEN).

Revision ID: 0007_site_scim_rate_limit
Revises: 0006
Create Date: 2026-11-30 07:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_site_scim_rate_limit"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("sites", sa.Column("scim_rate_limit", sa.String(length=100), nullable=True))


def downgrade() -> None:
    # Plain DROP COLUMN (SQLite 3.35+): a batch copy of ``sites`` would cascade deletes.
    op.execute("ALTER TABLE sites DROP COLUMN scim_rate_limit")
