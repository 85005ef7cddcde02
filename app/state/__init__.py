"""Rowboat's own state database: users, grants, API tokens (later the audit log, saved queries
and history). SQLAlchemy models, Alembic migrations kept beside them, applied on start under a
lock. The bottom layer, beside ``app.db``: nothing of the pages is imported here.
"""
