"""Pure code, no I/O: row keys, values as text and back, filters, cell formatting.

Imports only the catalog's plain objects and SQLAlchemy's expression language; nothing here
opens a connection, runs a statement or knows Flask.
"""
