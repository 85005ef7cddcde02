"""The built-in demo database: what Rowboat shows when no database has been configured.

It exists so the dashboard is useful with zero configuration: the first start builds a small
SQLite file from these models and browses it. The demo is served in user-model mode (with
these classes, not reflected tables), so it also shows off what the dashboard gains from
models in code: hybrid properties, relationship names, enums and row labels from __str__.
"""

from __future__ import annotations

from typing import Any

from .models import Base

__all__ = ["Base", "ensure_demo_database"]


def __getattr__(name: str) -> Any:
    # Lazy, so that `python -m rowboat.demo.build` does not find its own module already imported
    # by this package (runpy warns, and the module would run twice).
    if name == "ensure_demo_database":
        from .build import ensure_demo_database

        return ensure_demo_database
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
