"""user_values.primary keeps an absent primary apart from false

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 02:28:21.338218
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("user_values", schema=None) as batch_op:
        batch_op.alter_column("primary", existing_type=sa.Boolean(), nullable=True)


def downgrade() -> None:
    op.execute('UPDATE user_values SET "primary" = false WHERE "primary" IS NULL')
    with op.batch_alter_table("user_values", schema=None) as batch_op:
        batch_op.alter_column("primary", existing_type=sa.Boolean(), nullable=False)
