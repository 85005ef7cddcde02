"""Generate a table's form class from the catalog's description of it, once per entity.

The generic parts of every field (label, NULL allowed, default, editable, help text from the
column comment) are worked out here beside the converter's per-type choice, and the resulting
WTForms class is cached on the entity: a form is instantiated per request, never rebuilt.
Field names are the column keys, except that names starting with ``_`` (the form's own
controls: ``_null``, ``_fingerprint``...) and ``csrf_token`` are prefixed with ``c:``.
"""

from __future__ import annotations

import re
import threading
import weakref
from dataclasses import dataclass, field
from typing import Any

import wtforms
from sqlalchemy import CheckConstraint, inspect
from sqlalchemy.orm import Mapper
from wtforms.validators import Length

from ..catalog.model import Catalog, Column, Entity, Relation, core_columns
from . import fields as field_classes
from .converters import convert, json_text, through_decorator
from .fields import UNSET, ColumnField, RelatedChanges, RelatedField
from .spec import ColumnSpec

MODES = ("create", "edit")


@dataclass(eq=False)
class RelatedSpec:
    """A many-to-many relation edited on this form."""

    name: str
    html_name: str
    relation: Relation
    target: Entity


@dataclass(eq=False)
class FormSpec:
    entity: Entity
    mode: str
    form_class: type[wtforms.Form]
    columns: list[ColumnSpec]
    related: list[RelatedSpec]
    attributes: dict[str, str] = field(default_factory=dict)  # column key -> form attribute

    def make(self, formdata: Any = None, obj_values: dict[str, Any] | None = None) -> Any:
        """Instantiate the form from submitted data, or from a row's current values."""
        data = {}
        if obj_values is not None:
            data = {self.attributes[k]: v for k, v in obj_values.items() if k in self.attributes}
        return self.form_class(formdata=formdata, data=data)

    def field(self, form: Any, key: str) -> ColumnField:
        return form[self.attributes[key]]

    def column_fields(self, form: Any) -> list[ColumnField]:
        return [form[self.attributes[c.key]] for c in self.columns]

    def related_fields(self, form: Any) -> list[RelatedField]:
        return [form[self.attributes[f"_related:{r.name}"]] for r in self.related]

    def values(self, form: Any) -> dict[str, Any]:
        """The column values to write: every editable field that was given a value."""
        return {
            c.key: form[self.attributes[c.key]].data
            for c in self.columns
            if c.editable and form[self.attributes[c.key]].data is not UNSET
        }

    def related_values(self, form: Any) -> dict[str, list[str] | RelatedChanges]:
        """For each many-to-many relation on the form: the identities of the chosen rows, or
        the rows to link and unlink (a search-and-add field)."""
        result = {}
        for related in self.related:
            data = form[self.attributes[f"_related:{related.name}"]].data
            if data is not UNSET:
                result[related.name] = data
        return result


_cache: weakref.WeakKeyDictionary[Entity, dict[str, FormSpec]] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def form_spec(entity: Entity, catalog: Catalog, mode: str) -> FormSpec:
    """The (cached) form of ``entity`` for creating or editing a row."""
    if mode not in MODES:
        raise ValueError(f"unknown form mode {mode!r}")
    with _lock:
        specs = _cache.setdefault(entity, {})
        if mode not in specs:
            specs[mode] = _build(entity, catalog, mode)
        return specs[mode]


def html_name(key: str) -> str:
    return f"c:{key}" if key.startswith("_") or key == "csrf_token" else key


def _default_text(core: Any) -> str | None:
    if core.server_default is not None:
        arg = getattr(core.server_default, "arg", None)
        text = getattr(arg, "text", arg)
        return str(text) if text is not None else "database default"
    if core.default is not None:
        arg = getattr(core.default, "arg", None)
        if arg is not None and not callable(arg):
            return repr(arg)
        return "set by the model"
    return None


def _is_autoincrement(core: Any) -> bool:
    table = getattr(core, "table", None)
    try:
        return table is not None and table.autoincrement_column is core
    except Exception:  # noqa: BLE001 - an odd table whose autoincrement cannot be worked out
        return False


def _build(entity: Entity, catalog: Catalog, mode: str) -> FormSpec:
    mapper: Mapper[Any] | None = (
        inspect(entity.mapped_class) if entity.mapped_class is not None else None
    )
    discriminators = set()
    if mapper is not None and mapper.polymorphic_on is not None:
        discriminators.add(id(mapper.polymorphic_on))
    attrs: dict[str, Any] = {}
    attributes: dict[str, str] = {}
    columns: list[ColumnSpec] = []
    for n, column in enumerate(entity.columns.values()):
        cores = core_columns(column)
        if not cores:
            continue  # a hybrid property: shown on the row page, not part of the row
        spec = _column_spec(entity, catalog, column, cores, mode, discriminators)
        attribute = f"f{n}"
        field_class = getattr(field_classes, spec.field_type)
        validators = []
        length = getattr(column.type, "length", None)
        if spec.conversion.text_like and isinstance(length, int) and spec.editable:
            validators.append(
                Length(max=length, message=f"At most {length} characters, for this column.")
            )
        attrs[attribute] = field_class(label=column.title, spec=spec, validators=validators)
        attributes[column.key] = attribute
        columns.append(spec)
    related: list[RelatedSpec] = []
    for relation in entity.relations.values():
        target = catalog.entities.get(relation.target)
        if not _editable_many_to_many(relation, target):
            continue
        assert target is not None
        attribute = f"r{len(related)}"
        name = f"_related:{relation.name}"
        related_spec = RelatedSpec(relation.name, name, relation, target)
        attrs[attribute] = RelatedField(
            label=relation.title, html_name=name, relation=relation, target=target
        )
        attributes[name] = attribute
        related.append(related_spec)
    form_class = type(f"{entity.name}_{mode}_form", (wtforms.Form,), attrs)
    return FormSpec(entity, mode, form_class, columns, related, attributes)


def _column_spec(
    entity: Entity,
    catalog: Catalog,
    column: Column,
    cores: list[Any],
    mode: str,
    discriminators: set[int],
) -> ColumnSpec:
    core = cores[0]
    conversion = convert(column.type, catalog.dialect)
    if conversion.text_like and _json_checked(core):
        conversion = json_text(catalog.dialect)
    if column.decorator is not None:
        conversion = through_decorator(conversion, column.decorator, catalog.dialect)
    identity = getattr(core, "identity", None)
    has_default = any(
        c.server_default is not None
        or c.default is not None
        or getattr(c, "identity", None) is not None
        or _is_autoincrement(c)
        for c in cores
    )
    reason = None
    if column.computed:
        reason = "computed by the database"
    elif any(id(c) in discriminators for c in cores):
        reason = "set from the row's class"
    elif identity is not None and getattr(identity, "always", False):
        reason = "an identity column the database always assigns"
    relation = entity.foreign_key_for(column.key)
    target = catalog.entities.get(relation.target) if relation is not None else None
    if relation is not None and (
        len(relation.local_keys) != 1
        or target is None
        or relation.target_keys[0] not in target.columns
    ):
        relation, target = None, None  # composite keys are typed column by column
    notes = []
    if column.help:
        notes.append(column.help)
    if column.comment:
        notes.append(column.comment)
    if conversion.hint:
        notes.append(conversion.hint)
    if mode == "create" and has_default and reason is None:
        if any(_is_autoincrement(c) or getattr(c, "identity", None) is not None for c in cores):
            notes.append("leave empty: the database assigns it")
        else:
            notes.append(f"leave empty for the default ({_default_text(core)})")
    return ColumnSpec(
        key=column.key,
        name=column.name,
        html_name=html_name(column.key),
        column=column,
        mode=mode,
        conversion=conversion,
        nullable=column.nullable and not column.primary_key,
        has_default=has_default,
        default_text=_default_text(core),
        editable=reason is None,
        not_editable_reason=reason,
        relation=relation,
        target=target,
        target_key=relation.target_keys[0] if relation is not None else None,
        help=" · ".join(notes),
    )


def _json_checked(core: Any) -> bool:
    """Whether a text column is constrained to hold JSON (how MariaDB stores its JSON type)."""
    table = getattr(core, "table", None)
    pattern = re.compile(rf"json_valid\(\s*[`\"]?{re.escape(core.name)}[`\"]?\s*\)", re.I)
    for constraint in getattr(table, "constraints", ()):
        if isinstance(constraint, CheckConstraint) and pattern.search(str(constraint.sqltext)):
            return True
    return False


def _editable_many_to_many(relation: Relation, target: Entity | None) -> bool:
    if relation.direction != "many-to-many" or relation.attribute is None or target is None:
        return False
    if not target.primary_key or target.mapped_class is None:
        return False
    prop = getattr(relation.attribute, "property", None)
    return getattr(prop, "secondary", None) is not None
