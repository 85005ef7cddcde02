"""The query builder: a plain-data query spec, checked against the catalog, compiled to select().

The flow is one way, each step a small module that never imports Flask:
``spec`` (query string / JSON -> QuerySpec) -> ``validate`` (QuerySpec + Catalog -> Plan, or
QueryError naming the problem) -> ``compile`` (Plan -> Select) -> ``run`` (read-only
transaction, time limit, cap + 1 rows) or ``export`` (streamed CSV / JSON). ``describe`` turns
a plan into the one-line sentence shown above the SQL.
"""

from __future__ import annotations
