"""Schema browsing: what a database holds, as the database itself describes it.

Plain Python over SQLAlchemy's ``Inspector``, no Flask: ``structure`` takes a cheap snapshot of
every table's columns and keys (bulk reflection, cached) and the full description of one table
on demand; ``ddl`` gives a table's CREATE statement; ``diagram`` lays out the foreign keys as a
graph; ``drift`` compares the user's models with the live database through Alembic.
"""
