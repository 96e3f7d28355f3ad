"""Each user's SCIM document kept as text, with the version it was built from

``users.document`` is the document a list page shows, less what a request or
another resource decides (the base URL, the user's groups), and
``users.document_version`` the ``version`` it was written for. Existing users
start without one: a page builds those in SQL, as before, until the service's
upkeep (services.stored_documents) stores theirs.

Plain ADD COLUMN on both databases: SQLite's batch mode would rebuild ``users``
and drop the triggers of migrations 0006 and 0010 with it.

Revision ID: 0011_stored_user_documents
Revises: 0010_resource_counts
Create Date: 2026-11-30 23:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_stored_user_documents"
down_revision = "0010_resource_counts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("users", sa.Column("document", sa.Text(), nullable=True))
    op.add_column("users", sa.Column("document_version", sa.Integer(), nullable=True))


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # DROP COLUMN in place (SQLite >= 3.35), for the same reason as above.
        op.execute("ALTER TABLE users DROP COLUMN document_version")
        op.execute("ALTER TABLE users DROP COLUMN document")
        return
    op.drop_column("users", "document_version")
    op.drop_column("users", "document")
