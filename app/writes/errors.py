"""Turn a database's refusal into a message on the field that caused it.

Each database reports a broken constraint its own way: PostgreSQL with an SQLSTATE and the
constraint's name, MariaDB with an error number and a sentence naming the key or column,
SQLite with a sentence naming ``table.column`` (or nothing at all, for foreign keys). This
module reads all three into one ``DatabaseComplaint`` (what kind, which constraint, which
columns), then finds the field it belongs to and words a message for a person: which
constraint, and for a duplicate the row that already holds the value.
"""

from __future__ import annotations

import decimal
import re
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    Constraint,
    Index,
    PrimaryKeyConstraint,
    Table,
    UniqueConstraint,
    and_,
    inspect,
    select,
)
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from sqlalchemy.schema import ColumnCollectionConstraint

from ..browse.labels import refs_where
from ..catalog.model import Catalog, Entity
from ..core import keys
from ..db.errors import RowboatError
from ..forms.converters import integer_range


@dataclass(frozen=True)
class Problem:
    """One message for the user, optionally linking to a row (the duplicate, the blocker)."""

    message: str
    link_entity: Entity | None = None
    link_identity: str | None = None
    link_label: str | None = None
    link_args: tuple[tuple[str, str], ...] = ()  # a list page's filter, instead of a row
    detail: str | None = None  # the database's own words, for the curious


class WriteFailed(RowboatError):
    """The change was not made; nothing was written. Carries messages per field."""

    status = 400
    title = "Not saved"

    def __init__(
        self,
        message: str,
        fields: dict[str, list[Problem]] | None = None,
        status: int | None = None,
        problems: list[Problem] | None = None,
    ) -> None:
        super().__init__(message)
        self.fields = fields or {}
        self.problems = problems if problems is not None else [Problem(message)]
        if status is not None:
            self.status = status


class Conflict(WriteFailed):
    """Someone else changed (or deleted) the row since the form was loaded."""

    status = 409
    title = "Changed meanwhile"

    def __init__(
        self, message: str, current: dict[str, Any] | None, fingerprint: str | None
    ) -> None:
        super().__init__(message)
        self.current = current  # None: the row is gone
        self.fingerprint = fingerprint


# --- a model's own rules ------------------------------------------------------------------------

# What a model's validator (``@validates``) raises for a value it refuses; the VALIDATION_ERRORS
# setting adds the user's own classes. Any other exception from a validator is a bug (a 500).
RULE_ERRORS: tuple[type[Exception], ...] = (ValueError, AssertionError)


def rule_broken(exc: Exception, obj: Any, key: str) -> Problem:
    """Word a validator's refusal of ``obj.key``: its own message (shown as text, never as
    markup), or which validator refused when it gave none (a bare ``assert``)."""
    text = str(exc).strip()
    if text:
        return Problem(text)
    found = inspect(obj).mapper.validators.get(key)
    if found is None:  # a property's setter, say
        return Problem(f"This value breaks a rule of the model ({type(exc).__name__}).")
    validator = found[0].__qualname__  # the class that defines it: Author.check_email
    return Problem(f"This value breaks a rule of the model: its validator {validator} refused it.")


def rules_broken(fields: dict[str, list[Problem]]) -> WriteFailed:
    """One answer for every value the model's validators refused (400, on their fields)."""
    problems = [
        Problem(f"{key.removeprefix('_related:')}: {problem.message}")
        for key, found in fields.items()
        for problem in found
    ]
    message = (
        next(iter(fields.values()))[0].message
        if len(problems) == 1
        else f"{len(problems)} values break the model's rules."
    )
    return WriteFailed(message, fields, status=400, problems=problems)


# --- reading the database's complaint -----------------------------------------------------------


@dataclass
class DatabaseComplaint:
    kind: str  # unique, foreign_key, restrict, not_null, check, too_long, out_of_range, bad_value
    constraint: str | None = None
    columns: list[str] = field(default_factory=list)  # database column names
    table: str | None = None  # the other table: the referencing one for "restrict"
    message: str = ""


_PG_CODES = {
    "23505": "unique",
    "23503": "foreign_key",
    "23502": "not_null",
    "23514": "check",
    "22001": "too_long",
    "22003": "out_of_range",
    "22008": "bad_value",
    "22007": "bad_value",
    "22P02": "bad_value",
    "22023": "bad_value",
    "22021": "bad_value",
}
_MY_CODES = {
    1062: "unique",
    1452: "foreign_key",
    1216: "foreign_key",
    1451: "restrict",
    1217: "restrict",
    1048: "not_null",
    1364: "not_null",
    4025: "check",
    3819: "check",
    1406: "too_long",
    1264: "out_of_range",
    1690: "out_of_range",
    1265: "bad_value",
    1292: "bad_value",
    1366: "bad_value",
    1367: "bad_value",
    1411: "bad_value",
    4078: "bad_value",
}


def _split_names(text: str) -> list[str]:
    return [part.strip().strip('`"') for part in text.split(",") if part.strip()]


def read_complaint(exc: DBAPIError, dialect: str) -> DatabaseComplaint:
    orig = exc.orig
    message = str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__
    if dialect == "postgresql":
        return _postgresql(orig, message)
    if dialect in ("mysql", "mariadb"):
        return _mysql(orig, message)
    return _sqlite(message)


def _postgresql(orig: Any, message: str) -> DatabaseComplaint:
    code = getattr(orig, "pgcode", None)
    diag = getattr(orig, "diag", None)
    detail = getattr(diag, "message_detail", None) or ""
    kind = _PG_CODES.get(code or "", "unknown")
    complaint = DatabaseComplaint(
        kind,
        getattr(diag, "constraint_name", None),
        message=message + (f" {detail}" if detail else ""),
    )
    column = getattr(diag, "column_name", None)
    if column:
        complaint.columns = [column]
    match = re.search(r"Key \((.+?)\)=", detail)
    if match and not complaint.columns:
        complaint.columns = _split_names(match.group(1))
    referenced = re.search(r'is still referenced from table "(.+?)"', detail)
    if kind == "foreign_key" and referenced:
        complaint.kind = "restrict"
        complaint.table = referenced.group(1)
    return complaint


def _mysql(orig: Any, message: str) -> DatabaseComplaint:
    args: tuple[Any, ...] = getattr(orig, "args", ())
    code = args[0] if args and isinstance(args[0], int) else None
    text = str(args[1]) if len(args) > 1 else message
    complaint = DatabaseComplaint(_MY_CODES.get(code or 0, "unknown"), message=text)
    if complaint.kind == "unique":
        match = re.search(r"for key '(.+?)'", text)
        if match:
            complaint.constraint = match.group(1).rsplit(".", 1)[-1]
    elif complaint.kind in ("foreign_key", "restrict"):
        match = re.search(r"CONSTRAINT `(.+?)` FOREIGN KEY \((.+?)\) REFERENCES", text)
        if match:
            complaint.constraint = match.group(1)
            complaint.columns = _split_names(match.group(2))
        table = re.search(r"fails \(`[^`]*`\.`(.+?)`", text)
        if table and complaint.kind == "restrict":
            complaint.table = table.group(1)
    elif complaint.kind == "check":
        match = re.search(r"CONSTRAINT `(.+?)` failed", text) or re.search(
            r"constraint '(.+?)' is violated", text, re.IGNORECASE
        )
        if match:
            complaint.constraint = match.group(1)
    else:
        match = re.search(r"(?:Column|Field) '(.+?)'", text) or re.search(
            r"for column (?:`[^`]*`\.)*[`']([^`']+)[`'](?: at row|$)", text
        )
        if match:
            complaint.columns = [match.group(1)]
    return complaint


def _sqlite(message: str) -> DatabaseComplaint:
    for prefix, kind in (
        ("UNIQUE constraint failed:", "unique"),
        ("NOT NULL constraint failed:", "not_null"),
    ):
        if message.startswith(prefix):
            names = [n.strip().rsplit(".", 1)[-1] for n in message[len(prefix) :].split(",")]
            return DatabaseComplaint(kind, columns=names, message=message)
    if message.startswith("CHECK constraint failed:"):
        return DatabaseComplaint(
            "check", constraint=message.split(":", 1)[1].strip(), message=message
        )
    if "FOREIGN KEY constraint failed" in message:
        return DatabaseComplaint("foreign_key", message=message)
    if "datatype mismatch" in message:
        return DatabaseComplaint("bad_value", message=message)
    return DatabaseComplaint("unknown", message=message)


# --- finding the field and wording the message -------------------------------------------------


@dataclass
class WriteContext:
    session: Session
    catalog: Catalog
    entity: Entity
    tables: list[Table]
    # The row's values as the write would leave them, by column key: what was submitted, and
    # on an update the stored values of the columns the user left alone (they are not written,
    # but a constraint error names the row they would clash with through all of them).
    values: dict[str, Any]
    action: str  # "create", "update" or "delete"
    identity: tuple[Any, ...] | None = None  # the row being changed or deleted


def _keys_by_name(entity: Entity) -> dict[str, str]:
    # Stored columns win over a hybrid property that happens to share a name.
    ordered = sorted(entity.columns.values(), key=lambda c: not c.computed)
    return {c.name: c.key for c in ordered}


def constraint_columns(tables: list[Table], name: str | None) -> tuple[str, list[str]] | None:
    """Find a named constraint or unique index on the tables: (kind, database column names)."""
    if not name:
        return None
    for table in tables:
        for constraint in table.constraints:
            if constraint.name == name or (name == "PRIMARY" and constraint is table.primary_key):
                kind = type(constraint).__name__
                if kind == "CheckConstraint":
                    return kind, _check_columns(table, constraint, name)
                # Table.constraints holds primary key, foreign key, unique and check constraints,
                # all of which are over a collection of columns.
                assert isinstance(constraint, ColumnCollectionConstraint)
                return kind, [c.name for c in constraint.columns]
        for index in table.indexes:
            if index.name == name:
                return "Index", [c.name for c in index.columns if hasattr(c, "name")]
        column = name.rsplit(".", 1)[-1]
        if column in table.columns:  # MariaDB names a column's own CHECK "table.column"
            return "Column", [column]
    return None


def _name_by_columns(tables: list[Table], columns: list[str], kind: str) -> str | None:
    """The name of the unique constraint (or index) over exactly these columns (SQLite does
    not name the constraint it enforces)."""
    if kind != "unique":
        return None
    wanted = set(columns)
    for table in tables:
        candidates: list[Constraint | Index] = [*table.constraints, *table.indexes]
        for item in candidates:
            names = {c.name for c in getattr(item, "columns", []) if hasattr(c, "name")}
            unique = isinstance(item, (UniqueConstraint, PrimaryKeyConstraint)) or getattr(
                item, "unique", False
            )
            if unique and names == wanted and item.name:
                return str(item.name)
    return None


def _check_columns(table: Table, constraint: Any, name: str) -> list[str]:
    sql = str(getattr(constraint, "sqltext", ""))
    found = [
        c.name
        for c in table.columns
        if re.search(rf"(?<![\w]){re.escape(c.name)}(?![\w])", sql) or c.name == name
    ]
    return found


def _check_text(tables: list[Table], name: str | None) -> str | None:
    for table in tables:
        for constraint in table.constraints:
            if constraint.name == name and hasattr(constraint, "sqltext"):
                return str(constraint.sqltext)
    return None


def translate(exc: DBAPIError, ctx: WriteContext) -> WriteFailed:
    """Word the database's refusal for the user, on the field(s) it concerns."""
    complaint = read_complaint(exc, ctx.catalog.dialect)
    by_name = _keys_by_name(ctx.entity)
    found = constraint_columns(ctx.tables, complaint.constraint)
    columns = complaint.columns or (found[1] if found else [])
    if not complaint.constraint and columns:
        complaint.constraint = _name_by_columns(ctx.tables, columns, complaint.kind)
    field_keys = [by_name[c] for c in columns if c in by_name]
    constraint_note = f" (constraint {complaint.constraint})" if complaint.constraint else ""
    detail = complaint.message
    kind = complaint.kind
    if kind == "foreign_key" and ctx.action == "delete":
        kind = "restrict"

    if kind == "unique":
        return _unique(ctx, field_keys, constraint_note, detail)
    if kind == "foreign_key":
        return _foreign_key(ctx, field_keys, constraint_note, detail)
    if kind == "restrict" and ctx.action == "delete" and ctx.identity is not None:
        blockers = _blockers(ctx)
        if blockers:
            return WriteFailed(blockers[0].message, status=409, problems=blockers)
    if kind == "restrict":
        what = f"rows in {complaint.table}" if complaint.table else "other rows"
        message = (
            f"Other rows still point at this row: {what} refer to it{constraint_note}. "
            "Delete or change them first."
        )
        if ctx.action == "update":
            message = (
                f"This key cannot change: {what} refer to it{constraint_note} "
                "and the database does not update them along."
            )
        return WriteFailed(
            message,
            {k: [Problem(message, detail=detail)] for k in field_keys if ctx.action != "delete"},
            status=409,
            problems=[Problem(message, detail=detail)],
        )
    if kind == "check":
        rule = _check_text(ctx.tables, complaint.constraint)
        message = f"This breaks the check constraint{constraint_note or ''}" + (
            f": {rule}." if rule else "."
        )
        if not rule and found and found[0] == "Column":
            # A column's own CHECK, which reflection does not return; on MariaDB it is most
            # often the json_valid() check of a JSON column.
            message += " (If this column holds JSON: is it valid JSON?)"
        return _on_fields(message, field_keys or _guess(ctx), detail, 400)
    messages = {
        "not_null": "A value is required: this column is NOT NULL.",
        "too_long": "Too long for this column.",
        "out_of_range": "Out of range for this column's type.",
        "bad_value": "The database does not accept this value for this column's type.",
    }
    if kind in messages:
        message = messages[kind]
        if kind == "too_long" and len(field_keys) == 1:
            length = getattr(ctx.entity.columns[field_keys[0]].type, "length", None)
            if length:
                message = f"Too long for this column: at most {length} characters."
        return _on_fields(message, field_keys or _guess(ctx), detail, 400)
    return WriteFailed(
        "The database refused the change.",
        status=400,
        problems=[Problem("The database refused the change.", detail=detail)],
    )


def _blockers(ctx: WriteContext) -> list[Problem]:
    """Which rows keep a delete from happening, counted the way the delete preview counts."""
    from .preview import delete_preview  # the preview imports this module's neighbours

    assert ctx.identity is not None
    try:
        preview = delete_preview(ctx.session, ctx.catalog, ctx.entity, [ctx.identity], 2.0)
    except DBAPIError:
        ctx.session.rollback()
        return []
    problems = []
    for effect in preview.effects:
        if effect.action != "blocking" or not effect.count:
            continue
        rows = f"{effect.count} row{'' if effect.count == 1 else 's'}"
        constraint = f", constraint {effect.constraint}" if effect.constraint else ""
        problems.append(
            Problem(
                f"Not deleted: {rows} in {effect.table} still refer to this row "
                f"({effect.table}.{', '.join(effect.columns)}{constraint}). "
                "Delete or change them first.",
                link_entity=effect.entity,
                link_args=tuple(effect.list_args),
            )
        )
    return problems


def _on_fields(message: str, field_keys: list[str], detail: str, status: int) -> WriteFailed:
    if not field_keys:
        return WriteFailed(message, status=status, problems=[Problem(message, detail=detail)])
    return WriteFailed(
        message, {k: [Problem(message, detail=detail)] for k in field_keys}, status=status
    )


def _guess(ctx: WriteContext) -> list[str]:
    """Which submitted values break their column's declared limits (the database said no
    column): strings longer than their length, numbers with too many digits."""
    suspects = []
    for key, value in ctx.values.items():
        column = ctx.entity.columns.get(key)
        if column is None:
            continue
        length = getattr(column.type, "length", None)
        if isinstance(value, str) and length and len(value) > length:
            suspects.append(key)
        elif isinstance(value, int) and not isinstance(value, bool) and column.kind == "integer":
            low, high = integer_range(column.type, ctx.catalog.dialect)
            if not low <= value <= high:
                suspects.append(key)
        elif isinstance(value, decimal.Decimal) and column.kind == "numeric":
            precision = getattr(column.type, "precision", None)
            scale = getattr(column.type, "scale", None) or 0
            if precision is not None and value.is_finite():
                digits = len(str(abs(int(value)))) if int(value) else 0
                if digits > precision - scale:
                    suspects.append(key)
    return suspects


def _unique(
    ctx: WriteContext, field_keys: list[str], constraint_note: str, detail: str
) -> WriteFailed:
    existing = None
    if field_keys and all(k in ctx.values for k in field_keys):
        condition = and_(*[ctx.entity.columns[k].expression == ctx.values[k] for k in field_keys])
        try:
            found = refs_where(ctx.session, ctx.entity, condition, limit=1)
        except DBAPIError:
            ctx.session.rollback()
            found = []
        if found:
            existing = found[0][1]
    names = ", ".join(ctx.entity.columns[k].name for k in field_keys)
    message = (
        f"Another row already has this {'combination of ' if len(field_keys) > 1 else ''}"
        f"value{'s' if len(field_keys) > 1 else ''}{' of ' + names if names else ''}"
        f"{constraint_note}."
    )
    problem = Problem(
        message,
        link_entity=ctx.entity if existing and existing.identity else None,
        link_identity=existing.identity if existing else None,
        link_label=existing.label if existing else None,
        detail=detail,
    )
    if not field_keys:
        return WriteFailed(message, status=409, problems=[problem])
    return WriteFailed(message, {k: [problem] for k in field_keys}, status=409)


def _foreign_key(
    ctx: WriteContext, field_keys: list[str], constraint_note: str, detail: str
) -> WriteFailed:
    """Name the foreign key(s) whose value points at no row; SQLite does not say which."""
    problems: dict[str, list[Problem]] = {}
    for relation in ctx.entity.many_to_one:
        if field_keys and relation.local_keys[0] not in field_keys:
            continue
        target = ctx.catalog.entities.get(relation.target)
        if target is None or not all(k in ctx.values for k in relation.local_keys):
            continue
        values = [ctx.values[k] for k in relation.local_keys]
        if any(v is None for v in values):
            continue
        condition = and_(
            *[target.columns[k].expression == v for k, v in zip(relation.target_keys, values)]
        )
        try:
            exists = ctx.session.execute(
                select(target.columns[relation.target_keys[0]].expression)
                .select_from(_from(target))
                .where(condition)
                .limit(1)
            ).first()
        except DBAPIError:
            ctx.session.rollback()
            exists = None
        if exists is not None:
            continue
        shown = ", ".join(
            f"{target.columns[k].name} = {v}" for k, v in zip(relation.target_keys, values)
        )
        note = constraint_note or _foreign_key_note(ctx.tables, relation.local_keys, ctx.entity)
        message = f"No row in {target.name} has {shown}{note}."
        problems.setdefault(relation.local_keys[0], []).append(
            Problem(message, link_entity=target, detail=detail)
        )
    if problems:
        first = next(iter(problems.values()))[0].message
        return WriteFailed(first, problems, status=409)
    if field_keys:
        message = f"This value points at no row{constraint_note}."
        return WriteFailed(
            message, {k: [Problem(message, detail=detail)] for k in field_keys}, status=409
        )
    message = f"A foreign key points at no row{constraint_note}."
    return WriteFailed(message, status=409, problems=[Problem(message, detail=detail)])


def _foreign_key_note(tables: list[Table], local_keys: list[str], entity: Entity) -> str:
    names = {entity.columns[k].name for k in local_keys}
    for table in tables:
        for constraint in table.foreign_key_constraints:
            if {c.name for c in constraint.columns} == names and constraint.name:
                return f" (constraint {constraint.name})"
    return ""


def _from(entity: Entity) -> Any:
    return entity.mapped_class if entity.mapped_class is not None else entity.selectable


def identity_text(entity: Entity, identity: tuple[Any, ...]) -> str:
    return keys.encode_identity(identity, [entity.columns[k] for k in entity.primary_key])
