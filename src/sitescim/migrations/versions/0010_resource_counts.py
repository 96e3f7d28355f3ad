"""Each site's number of users and groups, kept by triggers (unfiltered lists' totalResults)

``resource_counts`` holds one row per site and resource (``users``, ``groups``),
filled from the existing rows; triggers on both tables keep it in step with
every INSERT and DELETE, in the writing transaction.

- SQLite: row triggers (an upsert per inserted row, an update per deleted row).
- PostgreSQL: statement triggers over transition tables, so a Bulk batch or a
  cascade adds or subtracts its whole count in one upsert per site.

Revision ID: 0010_resource_counts
Revises: 0009_events_and_webhooks
Create Date: 2026-11-30 17:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_resource_counts"
down_revision = "0009_events_and_webhooks"
branch_labels = None
depends_on = None

FILL = (
    "INSERT INTO resource_counts (site_id, resource, total)"
    " SELECT site_id, 'users', count(*) FROM users GROUP BY site_id",
    "INSERT INTO resource_counts (site_id, resource, total)"
    " SELECT site_id, 'groups', count(*) FROM groups GROUP BY site_id",
)

SQLITE_TRIGGERS = (
    """CREATE TRIGGER users_count_insert AFTER INSERT ON users
    BEGIN
        INSERT INTO resource_counts (site_id, resource, total)
        VALUES (new.site_id, 'users', 1)
        ON CONFLICT (site_id, resource) DO UPDATE SET total = total + 1;
    END""",
    """CREATE TRIGGER users_count_delete AFTER DELETE ON users
    BEGIN
        UPDATE resource_counts SET total = total - 1
        WHERE site_id = old.site_id AND resource = 'users';
    END""",
    """CREATE TRIGGER groups_count_insert AFTER INSERT ON groups
    BEGIN
        INSERT INTO resource_counts (site_id, resource, total)
        VALUES (new.site_id, 'groups', 1)
        ON CONFLICT (site_id, resource) DO UPDATE SET total = total + 1;
    END""",
    """CREATE TRIGGER groups_count_delete AFTER DELETE ON groups
    BEGIN
        UPDATE resource_counts SET total = total - 1
        WHERE site_id = old.site_id AND resource = 'groups';
    END""",
)

POSTGRES_TRIGGERS = (
    """CREATE FUNCTION users_count_insert() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO resource_counts (site_id, resource, total)
        SELECT site_id, 'users', count(*) FROM added GROUP BY site_id ORDER BY site_id
        ON CONFLICT (site_id, resource)
        DO UPDATE SET total = resource_counts.total + excluded.total;
        RETURN NULL;
    END $$""",
    """CREATE FUNCTION users_count_delete() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE resource_counts c SET total = c.total - d.removed
        FROM (SELECT site_id, count(*) AS removed FROM removed GROUP BY site_id) d
        WHERE c.site_id = d.site_id AND c.resource = 'users';
        RETURN NULL;
    END $$""",
    """CREATE TRIGGER users_count_insert AFTER INSERT ON users
    REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION users_count_insert()""",
    """CREATE TRIGGER users_count_delete AFTER DELETE ON users
    REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION users_count_delete()""",
    """CREATE FUNCTION groups_count_insert() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO resource_counts (site_id, resource, total)
        SELECT site_id, 'groups', count(*) FROM added GROUP BY site_id ORDER BY site_id
        ON CONFLICT (site_id, resource)
        DO UPDATE SET total = resource_counts.total + excluded.total;
        RETURN NULL;
    END $$""",
    """CREATE FUNCTION groups_count_delete() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE resource_counts c SET total = c.total - d.removed
        FROM (SELECT site_id, count(*) AS removed FROM removed GROUP BY site_id) d
        WHERE c.site_id = d.site_id AND c.resource = 'groups';
        RETURN NULL;
    END $$""",
    """CREATE TRIGGER groups_count_insert AFTER INSERT ON groups
    REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION groups_count_insert()""",
    """CREATE TRIGGER groups_count_delete AFTER DELETE ON groups
    REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION groups_count_delete()""",
)

SQLITE_DOWNGRADE = (
    "DROP TRIGGER users_count_insert",
    "DROP TRIGGER users_count_delete",
    "DROP TRIGGER groups_count_insert",
    "DROP TRIGGER groups_count_delete",
)

POSTGRES_DOWNGRADE = (
    "DROP TRIGGER users_count_insert ON users",
    "DROP TRIGGER users_count_delete ON users",
    "DROP TRIGGER groups_count_insert ON groups",
    "DROP TRIGGER groups_count_delete ON groups",
    "DROP FUNCTION users_count_insert()",
    "DROP FUNCTION users_count_delete()",
    "DROP FUNCTION groups_count_insert()",
    "DROP FUNCTION groups_count_delete()",
)


def upgrade() -> None:
    op.create_table(
        "resource_counts",
        sa.Column("site_id", sa.String(length=36), nullable=False),
        sa.Column("resource", sa.String(length=16), nullable=False),
        sa.Column("total", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["site_id"],
            ["sites.id"],
            name=op.f("fk_resource_counts_site_id_sites"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("site_id", "resource", name=op.f("pk_resource_counts")),
    )
    postgres = op.get_bind().dialect.name == "postgresql"
    for statement in (*FILL, *(POSTGRES_TRIGGERS if postgres else SQLITE_TRIGGERS)):
        op.execute(statement)


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for statement in POSTGRES_DOWNGRADE if postgres else SQLITE_DOWNGRADE:
        op.execute(statement)
    op.drop_table("resource_counts")
