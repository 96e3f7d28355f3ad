"""SCIM users, groups and memberships

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 01:38:03.339411
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "groups",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("site_id", sa.String(length=36), nullable=False),
        sa.Column("display_name", sa.String(length=256), nullable=False),
        sa.Column("display_name_key", sa.String(length=256), nullable=False),
        sa.Column("external_id", sa.String(length=256), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.id"], name=op.f("fk_groups_site_id_sites"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_groups")),
    )
    with op.batch_alter_table("groups", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_groups_site_id"), ["site_id"], unique=False)
        batch_op.create_index(
            "ix_groups_site_id_display_name_key", ["site_id", "display_name_key"], unique=False
        )
        batch_op.create_index(
            "ix_groups_site_id_external_id", ["site_id", "external_id"], unique=False
        )
        batch_op.create_index(
            "ix_groups_site_id_updated_at", ["site_id", "updated_at"], unique=False
        )

    op.create_table(
        "group_members",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("site_id", sa.String(length=36), nullable=False),
        sa.Column("group_id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=True),
        sa.Column("member_group_id", sa.String(length=36), nullable=True),
        sa.CheckConstraint(
            "(user_id IS NULL) != (member_group_id IS NULL)",
            name=op.f("ck_group_members_one_member_kind"),
        ),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["groups.id"],
            name=op.f("fk_group_members_group_id_groups"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["member_group_id"],
            ["groups.id"],
            name=op.f("fk_group_members_member_group_id_groups"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["site_id"],
            ["sites.id"],
            name=op.f("fk_group_members_site_id_sites"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_group_members_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_group_members")),
        sa.UniqueConstraint(
            "group_id", "member_group_id", name=op.f("uq_group_members_group_id_member_group_id")
        ),
        sa.UniqueConstraint("group_id", "user_id", name=op.f("uq_group_members_group_id_user_id")),
    )
    with op.batch_alter_table("group_members", schema=None) as batch_op:
        batch_op.create_index(
            "ix_group_members_site_id_member_group_id", ["site_id", "member_group_id"], unique=False
        )
        batch_op.create_index(
            "ix_group_members_site_id_user_id", ["site_id", "user_id"], unique=False
        )

    op.create_table(
        "user_values",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("site_id", sa.String(length=36), nullable=False),
        sa.Column("attribute", sa.String(length=32), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("value", sa.Text(), nullable=True),
        sa.Column("value_key", sa.String(length=512), nullable=True),
        sa.Column("type", sa.String(length=64), nullable=True),
        sa.Column("primary", sa.Boolean(), nullable=False),
        sa.Column("display", sa.String(length=256), nullable=True),
        sa.Column("extra", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.id"], name=op.f("fk_user_values_site_id_sites"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_user_values_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_values")),
    )
    with op.batch_alter_table("user_values", schema=None) as batch_op:
        batch_op.create_index(
            "ix_user_values_site_id_attribute_value_key",
            ["site_id", "attribute", "value_key"],
            unique=False,
        )
        batch_op.create_index(batch_op.f("ix_user_values_user_id"), ["user_id"], unique=False)

    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("display_name_key", sa.String(length=256), nullable=True))
        batch_op.add_column(sa.Column("name_formatted", sa.String(length=512), nullable=True))
        batch_op.add_column(sa.Column("name_family", sa.String(length=256), nullable=True))
        batch_op.add_column(sa.Column("name_given", sa.String(length=256), nullable=True))
        batch_op.add_column(sa.Column("name_middle", sa.String(length=256), nullable=True))
        batch_op.add_column(sa.Column("name_prefix", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("name_suffix", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("nick_name", sa.String(length=256), nullable=True))
        batch_op.add_column(sa.Column("profile_url", sa.String(length=1024), nullable=True))
        batch_op.add_column(sa.Column("title", sa.String(length=256), nullable=True))
        batch_op.add_column(sa.Column("user_type", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("preferred_language", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("locale", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("timezone", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("employee_number", sa.String(length=256), nullable=True))
        batch_op.add_column(sa.Column("cost_center", sa.String(length=256), nullable=True))
        batch_op.add_column(sa.Column("organization", sa.String(length=256), nullable=True))
        batch_op.add_column(sa.Column("division", sa.String(length=256), nullable=True))
        batch_op.add_column(sa.Column("department", sa.String(length=256), nullable=True))
        batch_op.add_column(sa.Column("manager_id", sa.String(length=256), nullable=True))
        batch_op.add_column(sa.Column("manager_display_name", sa.String(length=256), nullable=True))
        batch_op.create_index(
            "ix_users_site_id_created_at", ["site_id", "created_at"], unique=False
        )
        batch_op.create_index(
            "ix_users_site_id_display_name_key", ["site_id", "display_name_key"], unique=False
        )
        batch_op.create_index(
            "ix_users_site_id_external_id", ["site_id", "external_id"], unique=False
        )
        batch_op.create_index(
            "ix_users_site_id_updated_at", ["site_id", "updated_at"], unique=False
        )


def downgrade() -> None:

    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_index("ix_users_site_id_updated_at")
        batch_op.drop_index("ix_users_site_id_external_id")
        batch_op.drop_index("ix_users_site_id_display_name_key")
        batch_op.drop_index("ix_users_site_id_created_at")
        batch_op.drop_column("manager_display_name")
        batch_op.drop_column("manager_id")
        batch_op.drop_column("department")
        batch_op.drop_column("division")
        batch_op.drop_column("organization")
        batch_op.drop_column("cost_center")
        batch_op.drop_column("employee_number")
        batch_op.drop_column("timezone")
        batch_op.drop_column("locale")
        batch_op.drop_column("preferred_language")
        batch_op.drop_column("user_type")
        batch_op.drop_column("title")
        batch_op.drop_column("profile_url")
        batch_op.drop_column("nick_name")
        batch_op.drop_column("name_suffix")
        batch_op.drop_column("name_prefix")
        batch_op.drop_column("name_middle")
        batch_op.drop_column("name_given")
        batch_op.drop_column("name_family")
        batch_op.drop_column("name_formatted")
        batch_op.drop_column("display_name_key")

    with op.batch_alter_table("user_values", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_user_values_user_id"))
        batch_op.drop_index("ix_user_values_site_id_attribute_value_key")

    op.drop_table("user_values")
    with op.batch_alter_table("group_members", schema=None) as batch_op:
        batch_op.drop_index("ix_group_members_site_id_user_id")
        batch_op.drop_index("ix_group_members_site_id_member_group_id")

    op.drop_table("group_members")
    with op.batch_alter_table("groups", schema=None) as batch_op:
        batch_op.drop_index("ix_groups_site_id_updated_at")
        batch_op.drop_index("ix_groups_site_id_external_id")
        batch_op.drop_index("ix_groups_site_id_display_name_key")
        batch_op.drop_index(batch_op.f("ix_groups_site_id"))

    op.drop_table("groups")
