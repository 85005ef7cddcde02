"""Forms generated from the catalog: one converter per column type, one form class per table.

Plain Python: nothing here imports Flask or runs a statement. ``form_spec(entity, catalog,
mode)`` returns the cached form of a table; the views instantiate it per request and the
write services read its values.
"""

from .builder import FormSpec, RelatedSpec, form_spec, html_name
from .converters import Conversion, convert, register
from .fields import BOOL_MARKER, NULL_FLAG, RELATED_MARKER, UNSET
from .spec import ColumnSpec

__all__ = [
    "BOOL_MARKER",
    "NULL_FLAG",
    "RELATED_MARKER",
    "UNSET",
    "ColumnSpec",
    "Conversion",
    "FormSpec",
    "RelatedSpec",
    "convert",
    "form_spec",
    "html_name",
    "register",
]
