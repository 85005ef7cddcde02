"""The user's models: find what a reference names and read it as mapped classes and tables.

A reference is ``package.module:attribute.path`` (dotted attributes after the colon) or
``path/to/file.py:attribute.path``. It may name any of the shapes Flask projects declare
models with; ``models_of`` reads each as the same thing, a ``Models`` (its mappers and tables):

- a ``DeclarativeBase`` subclass, or what ``declarative_base()`` returns;
- a ``registry`` (classes mapped with ``registry.map_imperatively`` or its decorators);
- a Flask-SQLAlchemy ``SQLAlchemy`` instance, or its ``db.Model`` (each bind is a database:
  the one whose name is the bind key, or the default bind);
- SQLModel's ``SQLModel`` (the classes declared with ``table=True``);
- a plain ``MetaData``: tables with no classes, mapped as reflected tables are.

Every mistake is a ``ModelsError`` that says what went wrong and how to fix it, raised when
the app is created (``./rowboat serve`` checks it before starting gunicorn): never a 500.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import MetaData, Table
from sqlalchemy.orm import Mapper, registry

from ..config import ConfigError


class ModelsError(ConfigError):
    """A models reference that cannot be used; the message says why and what to do."""


@dataclass
class Models:
    """What a reference names, as the catalog reads it."""

    mappers: list[Mapper[Any]]  # the mapped classes (none for a plain MetaData)
    metadata: MetaData  # their tables, and the tables no class maps (a link table, say)
    registry: registry | None  # configured before use; None for a plain MetaData


def load(reference: str, database: str | None = None) -> Models:
    """Import what ``reference`` names and read it (``database``: the name of the Rowboat
    database it is for, which picks a Flask-SQLAlchemy bind of that name)."""
    return models_of(resolve(reference), reference, database)


def resolve(reference: str) -> Any:
    """The object ``module:attr.path`` or ``path/to/file.py:attr.path`` names."""
    source, colon, path = reference.rpartition(":")
    if not colon or not source or not path:
        raise ModelsError(
            f"models {reference!r}: write module:attribute (e.g. blog.models:db.Model) or "
            "path/to/file.py:attribute (e.g. src/blog/models.py:Base)."
        )
    module = _import_file(source, reference) if _is_file(source) else _import(source, reference)
    found: Any = module
    walked = []
    for part in path.split("."):
        walked.append(part)
        if not part.isidentifier() or not hasattr(found, part):
            where = module.__name__ + (f".{'.'.join(walked[:-1])}" if walked[:-1] else "")
            raise ModelsError(
                f"models {reference!r}: {where} has no attribute {part!r}. {_suggestion(found)}"
            )
        found = getattr(found, part)
    return found


def describe(target: Any) -> str:
    """Name a models object for messages, without its ``repr`` (Flask-SQLAlchemy's asks for
    an engine, and would put a database URL in the message)."""
    if isinstance(target, str):
        return target
    name = getattr(target, "__qualname__", None) or type(target).__qualname__
    return f"{getattr(target, '__module__', None) or type(target).__module__}.{name}"


def models_of(target: Any, reference: str, database: str | None = None) -> Models:
    """Read any supported shape of models (see the module's doc)."""
    if _is_flask_sqlalchemy(target):
        return _flask_sqlalchemy(target, reference, database)
    owner: Any = getattr(target, "__fsa__", None)  # db.Model names its db: read its binds
    if _is_flask_sqlalchemy(owner) and owner.Model is target:
        return _flask_sqlalchemy(owner, reference, database)
    if isinstance(target, registry):
        return Models(list(target.mappers), target.metadata, target)
    if isinstance(target, MetaData):
        return Models([], target, None)
    own = _registry_of(target)
    if own is not None:
        metadata = getattr(target, "metadata", None)
        if not isinstance(metadata, MetaData):
            metadata = own.metadata
        return Models(list(own.mappers), metadata, own)
    raise ModelsError(
        f"models {reference!r} names a {type(target).__name__}, not models Rowboat can read. "
        "Name a declarative base (a DeclarativeBase subclass or declarative_base()'s result), "
        "a registry, a Flask-SQLAlchemy db (or db.Model), SQLModel, or a MetaData."
    )


def tables_of(models: Models) -> list[Table]:
    """The tables the models describe, parents before children."""
    return list(models.metadata.sorted_tables)


# --- shapes ----------------------------------------------------------------------------------


def _registry_of(target: Any) -> registry | None:
    """The registry of a declarative base (or of SQLModel, which keeps it privately)."""
    for name in ("registry", "_sa_registry"):
        found = getattr(target, name, None)
        if isinstance(found, registry):
            return found
    return None


def _is_flask_sqlalchemy(target: Any) -> bool:
    """Whether ``target`` is a Flask-SQLAlchemy ``SQLAlchemy`` (checked without importing the
    library, which Rowboat does not need: it has ``Model`` and ``metadatas``)."""
    return (
        isinstance(getattr(target, "metadatas", None), dict)
        and _registry_of(getattr(target, "Model", None)) is not None
    )


def _flask_sqlalchemy(db: Any, reference: str, database: str | None) -> Models:
    """One bind of a Flask-SQLAlchemy ``db``: the one named like the database, else the
    default one (key None). The classes are those whose tables are in that bind's MetaData."""
    metadatas: dict[str | None, MetaData] = db.metadatas
    key = database if database in metadatas else None
    if key not in metadatas:
        binds = ", ".join(repr(k) for k in metadatas)
        raise ModelsError(
            f"models {reference!r}: this Flask-SQLAlchemy db has no default bind, and no bind "
            f"is called {database!r} (its binds: {binds}). Name the Rowboat database after "
            "the bind (ROWBOAT_DATABASES=<bind>=URL)."
        )
    metadata = metadatas[key]
    own = _registry_of(db.Model)
    assert own is not None
    mappers = [m for m in own.mappers if _table_metadata(m) is metadata]
    return Models(mappers, metadata, own)


def _table_metadata(mapper: Mapper[Any]) -> MetaData | None:
    table = mapper.local_table
    return table.metadata if isinstance(table, Table) else None


# --- importing -------------------------------------------------------------------------------


def _is_file(source: str) -> bool:
    return source.endswith(".py") or "/" in source or "\\" in source


def _import(name: str, reference: str) -> Any:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        # The module named (or a package above it) is missing, rather than something the
        # user's module imports.
        if exc.name is not None and (name == exc.name or name.startswith(exc.name + ".")):
            raise ModelsError(
                f"models {reference!r}: no module named {exc.name!r} on the Python path "
                f"({_path_shown()}). Put your project's folder on PYTHONPATH "
                "(PYTHONPATH=/path/to/project), or name the file: path/to/models.py:Base."
            ) from None
        raise _import_failed(reference, exc) from None
    except Exception as exc:  # noqa: BLE001 - the user's module failed: say where, not a 500
        raise _import_failed(reference, exc) from None


def _import_file(source: str, reference: str) -> Any:
    """Import a file by its path, under the dotted name its package gives it (so its own
    absolute and relative imports work): the folder above its outermost package goes on the
    path."""
    path = Path(source).expanduser().resolve()
    if not path.is_file():
        raise ModelsError(f"models {reference!r}: there is no file {str(path)!r}.")
    parts = [path.stem]
    folder = path.parent
    while (folder / "__init__.py").is_file():
        parts.insert(0, folder.name)
        folder = folder.parent
    if parts[-1] == "__init__":
        parts.pop()
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))
    importlib.invalidate_caches()
    name = ".".join(parts)
    loaded = sys.modules.get(name)
    if loaded is not None and Path(getattr(loaded, "__file__", "") or "").resolve() != path:
        raise ModelsError(
            f"models {reference!r}: a different module called {name!r} is already imported "
            f"(from {getattr(loaded, '__file__', '?')}). Rename your package or module."
        )
    return _import(name, reference)


def _path_shown() -> str:
    python = (sys.base_prefix, sys.prefix)
    entries = [entry or "." for entry in sys.path if not entry.startswith(python)][:6]
    return "searched: " + ", ".join(entries)


def _import_failed(reference: str, exc: BaseException) -> ModelsError:
    frames = traceback.extract_tb(exc.__traceback__)
    here = str(Path(__file__).resolve())
    own = [f for f in frames if "importlib" not in f.filename and f.filename != here]
    where = f" ({own[-1].filename}, line {own[-1].lineno})" if own else ""
    return ModelsError(
        f"models {reference!r}: importing it failed{where}: {type(exc).__name__}: {exc}. "
        "Fix the error in your module, then start Rowboat again."
    )


def _suggestion(found: Any) -> str:
    """Names in a module that look like models, to suggest."""
    candidates = []
    for name in sorted(dir(found)):
        if name.startswith("__"):
            continue
        try:
            value = getattr(found, name)
        except Exception:  # noqa: BLE001, S112 - a lazy attribute that fails: not a candidate
            continue
        if hasattr(value, "__mapper__"):
            continue  # a mapped class: its base is what to name
        if isinstance(value, (registry, MetaData)) or _registry_of(value) is not None:
            candidates.append(name)
        elif _is_flask_sqlalchemy(value):
            candidates += [name, f"{name}.Model"]
    if not candidates:
        return "It holds no declarative base, registry, Flask-SQLAlchemy db or MetaData."
    return "Models found there: " + ", ".join(candidates[:8]) + "."
