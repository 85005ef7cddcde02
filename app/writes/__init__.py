"""Writing rows: the transaction, the translation of database errors, the delete preview and
the choices of foreign-key fields. Plain Python over a SQLAlchemy session; no Flask."""

from .choices import KnownLabels, fill_choices, known_labels, search
from .errors import Conflict, Problem, WriteFailed
from .preview import Preview, delete_preview
from .rows import (
    LoadedRow,
    OutcomeUnknown,
    WriteInterrupted,
    bulk_delete,
    check_writable,
    create,
    delete,
    fingerprint,
    load,
    load_for_form,
    update,
)

__all__ = [
    "KnownLabels",
    "known_labels",
    "Conflict",
    "LoadedRow",
    "OutcomeUnknown",
    "WriteInterrupted",
    "Preview",
    "Problem",
    "WriteFailed",
    "bulk_delete",
    "check_writable",
    "create",
    "delete",
    "delete_preview",
    "fill_choices",
    "fingerprint",
    "load",
    "load_for_form",
    "search",
    "update",
]
