"""Covering paging indexes (site, created, id); trigram indexes for co filters on PostgreSQL

Deep pages in creation order read ids from the index alone; ``co`` filters on
userName and on multi-valued values (emails.value co) use pg_trgm GIN indexes.
pg_trgm is a trusted extension (PostgreSQL 13+): a database owner may create it.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 03:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TRIGRAM_INDEXES = (
    ("ix_users_user_name_key_trgm", "users", "user_name_key"),
    ("ix_user_values_value_key_trgm", "user_values", "value_key"),
)


def upgrade() -> None:
    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_index("ix_users_site_id_created_at")
        batch_op.create_index("ix_users_site_id_created_at_id", ["site_id", "created_at", "id"])
    with op.batch_alter_table("groups") as batch_op:
        batch_op.create_index("ix_groups_site_id_created_at_id", ["site_id", "created_at", "id"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        for name, table, column in TRIGRAM_INDEXES:
            op.create_index(
                name,
                table,
                [column],
                postgresql_using="gin",
                postgresql_ops={column: "gin_trgm_ops"},
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for name, table, _ in TRIGRAM_INDEXES:
            op.drop_index(name, table_name=table)
    with op.batch_alter_table("groups") as batch_op:
        batch_op.drop_index("ix_groups_site_id_created_at_id")
    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_index("ix_users_site_id_created_at_id")
        batch_op.create_index("ix_users_site_id_created_at", ["site_id", "created_at"])
