"""What a form field knows about its column: read by the builder that makes the field and by
the field itself."""

from __future__ import annotations

from dataclasses import dataclass

from ..catalog.model import Column, Entity, Relation
from .converters import Conversion


@dataclass(eq=False)
class ColumnSpec:
    """Everything a field needs to know about its column, computed once."""

    key: str
    name: str
    html_name: str
    column: Column
    mode: str
    conversion: Conversion
    nullable: bool
    has_default: bool
    default_text: str | None
    editable: bool
    not_editable_reason: str | None
    relation: Relation | None  # the many-to-one relation this column is the key of
    target: Entity | None
    target_key: str | None
    help: str = ""

    @property
    def field_type(self) -> str:
        return "ForeignKeyField" if self.relation is not None else self.conversion.field

    @property
    def required(self) -> bool:
        """Whether the user must type something for the submit to work."""
        if not self.editable or self.nullable:
            return False
        return not (self.mode == "create" and self.has_default)
