"""Site-scoped queries, one module per aggregate.

They take a Session (or its Connection) and never commit: the caller owns the
transaction. Where SQLite and PostgreSQL differ, they ask ``db.dialect``.
"""
