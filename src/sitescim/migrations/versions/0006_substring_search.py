"""Substring filters (co, sw, ew) served by an index on both databases

PostgreSQL: the trigram index on ``user_values.value_key`` never served a
filter, because ``emails.value co`` compares ``coalesce(value_key, lower(value))``
(a value longer than its 512-character key has none). It is replaced by a GIN
trigram index on exactly that expression. ``users.user_name_key`` keeps its own.
Both trigram indexes now go without GIN's pending list (``fastupdate = off``):
new entries wait there for a VACUUM, and every search reads the whole list, so
with autovacuum off or lagging the planner rightly avoided the index.

SQLite: FTS5 tables with the trigram tokenizer (SQLite 3.34 or later), filled
from the existing rows and kept in step by triggers:

- ``user_value_trigrams``: the same folded value of each value row (rowid = the
  row's id), certificates and value-less rows (addresses) left out;
- ``user_name_trigrams``: each user's ``user_name_key``, under a stable integer
  from ``user_name_trigram_rows`` (a users rowid is not stable: VACUUM may
  renumber a table whose key is not an INTEGER PRIMARY KEY).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 10:00:00
"""

from __future__ import annotations

import sqlite3

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

FOLDED_VALUE = "coalesce(value_key, lower(value))"

# Searchable value rows, the same test everywhere below: a value, and not a
# certificate (co/sw/ew do not apply to binary attributes).

SQLITE_UPGRADE = (
    "CREATE VIRTUAL TABLE user_value_trigrams USING fts5(folded_value, tokenize = 'trigram')",
    """CREATE TRIGGER user_values_trigrams_insert AFTER INSERT ON user_values
    WHEN new.value IS NOT NULL AND new.attribute <> 'x509Certificates'
    BEGIN
        INSERT INTO user_value_trigrams (rowid, folded_value)
        VALUES (new.id, coalesce(new.value_key, lower(new.value)));
    END""",
    """CREATE TRIGGER user_values_trigrams_delete AFTER DELETE ON user_values
    BEGIN
        DELETE FROM user_value_trigrams WHERE rowid = old.id;
    END""",
    """CREATE TRIGGER user_values_trigrams_update
    AFTER UPDATE OF id, attribute, value, value_key ON user_values
    BEGIN
        DELETE FROM user_value_trigrams WHERE rowid = old.id;
        INSERT INTO user_value_trigrams (rowid, folded_value)
        SELECT new.id, coalesce(new.value_key, lower(new.value))
        WHERE new.value IS NOT NULL AND new.attribute <> 'x509Certificates';
    END""",
    """INSERT INTO user_value_trigrams (rowid, folded_value)
    SELECT id, coalesce(value_key, lower(value)) FROM user_values
    WHERE value IS NOT NULL AND attribute <> 'x509Certificates'""",
    """CREATE TABLE user_name_trigram_rows (
        id INTEGER PRIMARY KEY,
        user_id VARCHAR(36) NOT NULL UNIQUE
    )""",
    "CREATE VIRTUAL TABLE user_name_trigrams USING fts5(user_name_key, tokenize = 'trigram')",
    """CREATE TRIGGER users_trigrams_insert AFTER INSERT ON users
    BEGIN
        INSERT INTO user_name_trigram_rows (user_id) VALUES (new.id);
        INSERT INTO user_name_trigrams (rowid, user_name_key)
        SELECT id, new.user_name_key FROM user_name_trigram_rows WHERE user_id = new.id;
    END""",
    """CREATE TRIGGER users_trigrams_delete AFTER DELETE ON users
    BEGIN
        DELETE FROM user_name_trigrams
        WHERE rowid = (SELECT id FROM user_name_trigram_rows WHERE user_id = old.id);
        DELETE FROM user_name_trigram_rows WHERE user_id = old.id;
    END""",
    """CREATE TRIGGER users_trigrams_update AFTER UPDATE OF id, user_name_key ON users
    BEGIN
        UPDATE user_name_trigram_rows SET user_id = new.id WHERE user_id = old.id;
        UPDATE user_name_trigrams SET user_name_key = new.user_name_key
        WHERE rowid = (SELECT id FROM user_name_trigram_rows WHERE user_id = new.id);
    END""",
    "INSERT INTO user_name_trigram_rows (user_id) SELECT id FROM users ORDER BY created_at, id",
    """INSERT INTO user_name_trigrams (rowid, user_name_key)
    SELECT user_name_trigram_rows.id, users.user_name_key
    FROM user_name_trigram_rows JOIN users ON users.id = user_name_trigram_rows.user_id""",
)

SQLITE_DOWNGRADE = (
    "DROP TRIGGER users_trigrams_update",
    "DROP TRIGGER users_trigrams_delete",
    "DROP TRIGGER users_trigrams_insert",
    "DROP TABLE user_name_trigrams",
    "DROP TABLE user_name_trigram_rows",
    "DROP TRIGGER user_values_trigrams_update",
    "DROP TRIGGER user_values_trigrams_delete",
    "DROP TRIGGER user_values_trigrams_insert",
    "DROP TABLE user_value_trigrams",
)


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.drop_index("ix_user_values_value_key_trgm", table_name="user_values")
        op.execute(
            "CREATE INDEX ix_user_values_folded_value_trgm ON user_values"
            f" USING gin ({FOLDED_VALUE} gin_trgm_ops) WITH (fastupdate = off)"
        )
        op.execute("ALTER INDEX ix_users_user_name_key_trgm SET (fastupdate = off)")
        op.execute("SELECT gin_clean_pending_list('ix_users_user_name_key_trgm')")
    elif dialect == "sqlite":
        if sqlite3.sqlite_version_info < (3, 34):
            raise RuntimeError(
                f"SQLite {sqlite3.sqlite_version} has no trigram tokenizer;"
                " sitescim needs SQLite 3.34 or later (with FTS5)."
            )
        for statement in SQLITE_UPGRADE:
            op.execute(statement)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute("ALTER INDEX ix_users_user_name_key_trgm RESET (fastupdate)")
        op.drop_index("ix_user_values_folded_value_trgm", table_name="user_values")
        op.create_index(
            "ix_user_values_value_key_trgm",
            "user_values",
            ["value_key"],
            postgresql_using="gin",
            postgresql_ops={"value_key": "gin_trgm_ops"},
        )
    elif dialect == "sqlite":
        for statement in SQLITE_DOWNGRADE:
            op.execute(statement)
