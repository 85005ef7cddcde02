"""WTForms fields for table columns: each keeps what was typed, and says what it means.

A field's ``data`` after a submit is the Python value to store, ``None`` for SQL NULL, or
``UNSET``: nothing was given, so the column is left alone (on edit) or to the database's
default (on create). ``text`` is what the input shows, so a form that fails comes back with
exactly what the user typed. NULL is chosen with a separate checkbox (``_null=<field name>``),
which is how a nullable text column tells NULL from the empty string.

The template's ``render_field`` macro dispatches on the field class name (``field.type``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from werkzeug.datastructures import FileStorage
from wtforms import Field
from wtforms.utils import unset_value

from ..catalog.readtypes import StoredText
from ..db.blobs import Upload
from .spec import ColumnSpec


class _Unset:
    """Nothing was submitted for a column: keep it, or let the database fill it in."""

    _instance: _Unset | None = None

    def __new__(cls) -> _Unset:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()

NULL_FLAG = "_null"  # checkbox: this field is NULL
WAS_NULL = "_was_null"  # hidden: the NULL box was ticked when the form was shown
BOOL_MARKER = "_bool"  # hidden: this checkbox was on the form (absent checkbox = unchecked)
RELATED_MARKER = "_related"  # hidden: this many-to-many field was on the form (every choice)
RELATED_CHANGES = "_related_changes"  # hidden: this one was on it as changes (search and add)


# What number and date inputs accept as their value (HTML's "valid floating-point number" and
# "valid date string"); anything else they replace with "".
_BROWSER_SYNTAX = {
    "number": re.compile(r"-?(\d+(\.\d+)?|\.\d+)([eE][+-]?\d+)?"),
    "date": re.compile(r"\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])"),
}


def same_lines(a: str, b: str) -> bool:
    """Equal but for line endings (CRLF, CR and LF all count as one newline)."""
    if a == b:
        return True
    return a.replace("\r\n", "\n").replace("\r", "\n") == b.replace("\r\n", "\n").replace(
        "\r", "\n"
    )


class ColumnField(Field):
    """A field for one column, typed as text and parsed by the column's converter."""

    spec: ColumnSpec

    def __init__(self, *args: Any, spec: ColumnSpec, **kwargs: Any) -> None:
        kwargs.setdefault("description", spec.help)
        super().__init__(*args, **kwargs)
        # The form attribute (and HTML id) is a safe "f<n>"; the submitted name is the column's,
        # so a column called "data" or "errors" cannot shadow the form's own attributes.
        self.name = spec.html_name
        self.spec = spec
        self.text = ""
        self.is_null = False
        self.data = UNSET
        self.current: Any = UNSET  # the database's value, shown beside a conflicting edit

    @property
    def conversion(self) -> Any:
        return self.spec.conversion

    @property
    def creating(self) -> bool:
        return self.spec.mode == "create"

    # --- from the database ---------------------------------------------------------------

    def process(
        self, formdata: Any, data: Any = unset_value, extra_filters: Sequence[Any] | None = None
    ) -> None:
        self.process_errors = []
        self.object_data = data
        self._flags = set(formdata.getlist(NULL_FLAG)) if formdata is not None else set()
        self._was_null = set(formdata.getlist(WAS_NULL)) if formdata is not None else set()
        if formdata is None:
            self.process_data(data)
            return
        self.raw_data = formdata.getlist(self.name) if self.name in formdata else []
        if self.unchanged(self.raw_data):
            # What was posted is what the form showed: nothing to write, whatever the text
            # would parse to (a zero date, a value Python cannot hold, CRLF for LF).
            self.process_data(data)
            self.data = UNSET
            return
        try:
            self.process_formdata(self.raw_data)
        except ValueError as exc:
            self.process_errors.append(exc.args[0])

    # --- unchanged? ----------------------------------------------------------------------

    def unchanged(self, valuelist: list[Any]) -> bool:
        """Whether the submission says exactly what the form showed for the stored value.

        Compared as text, the way the form shows values, with line endings ignored: browsers
        post every newline of a textarea as CRLF, so stored LF or CR would otherwise change.
        """
        current = self.object_data
        if self.creating or current is unset_value or current is UNSET:
            return False
        submitted = self.submitted(valuelist)
        if submitted is None:
            return False
        shown = (True, "") if current is None else (False, self.format(current))
        return submitted[0] == shown[0] and same_lines(submitted[1], shown[1])

    def submitted(self, valuelist: list[Any]) -> tuple[bool, str] | None:
        """(NULL?, text) that a submission stands for, without parsing it; None: nothing."""
        raw = valuelist[0] if valuelist else None
        if raw is None or not isinstance(raw, str):
            return None
        is_null = self.name in self._flags and not (raw and self.started_null)
        if is_null:
            return True, ""
        empty = raw == "" if self.text_like else raw.strip() == ""
        if empty and not self.text_like and self.spec.nullable:
            return True, ""
        return False, raw

    @property
    def text_like(self) -> bool:
        """Whether an empty input is the empty string: for text, and for text the database
        holds where its type promised something else (SQLite keeps '' in a DATE column)."""
        return self.conversion.text_like or isinstance(self.object_data, StoredText)

    @property
    def started_null(self) -> bool:
        """Whether the NULL box was already ticked when the form was shown."""
        return self.creating or self.name in self._was_null

    def process_data(self, value: Any) -> None:
        if value is unset_value or value is UNSET:
            self.data = UNSET
            self.is_null = self.creating and self.spec.nullable and not self.spec.has_default
            return
        self.data = value
        self.is_null = value is None
        self.text = "" if value is None else self.format(value)

    def format(self, value: Any) -> str:
        return self.conversion.format(value)

    @property
    def conflict_text(self) -> str | None:
        """After a conflict: the database's current value, when it differs from the input."""
        if self.current is UNSET:
            return None
        now = "NULL" if self.current is None else self.format(self.current)
        mine = "NULL" if self.is_null else self.text
        return None if now == mine else now

    # --- from the form -------------------------------------------------------------------

    def process_formdata(self, valuelist: list[Any]) -> None:
        raw = valuelist[0] if valuelist else None
        if raw is not None and not isinstance(raw, str):
            self.data = UNSET
            raise ValueError("Expected text here, not a file.")
        self.text = raw or ""
        self.is_null = self.name in self._flags
        if self.is_null and raw and self.started_null:
            # The box was ticked when the form was shown and a value has been typed since:
            # the value is what changed, so it is what the user meant (and the other way
            # round: a box ticked over old text means NULL).
            self.is_null = False
        if self.is_null:
            self.data = None
            self.text = ""
            if not self.spec.nullable:
                raise ValueError("This column cannot be NULL.")
            return
        if raw is None and not self.creating:
            self.data = UNSET  # not on the form: leave the column as it is
            return
        self.data = self.read_text(self.line_endings(raw or ""))

    def line_endings(self, raw: str) -> str:
        """Browsers post CRLF for every newline typed: keep the stored value's own convention
        (CRLF only where the current value already uses it), else plain LF."""
        current = self.object_data
        if "\r\n" in raw and not (isinstance(current, str) and "\r\n" in current):
            return raw.replace("\r\n", "\n")
        return raw

    @property
    def multiline(self) -> bool:
        """Shown in a textarea: a one-line input would drop the value's line breaks."""
        return "\n" in self.text or "\r" in self.text

    @property
    def input_type(self) -> str:
        """The conversion's input type, or plain text for a value that input cannot hold: a
        number or date input posts "" for anything outside its own syntax (text stored in a
        numeric column, year 10000, 20240101 in a SQLite DATE column)."""
        kind = self.conversion.input_type
        syntax = _BROWSER_SYNTAX.get(kind)
        if syntax is None or self.text == "" or syntax.fullmatch(self.text):
            return kind
        return "text"

    def read_text(self, raw: str) -> Any:
        empty = raw == "" if self.text_like else raw.strip() == ""
        if empty:
            if self.creating and self.spec.has_default:
                return UNSET  # the database (or the model) fills it in
            if self.text_like:
                return ""
            if self.spec.nullable:
                return None
            raise ValueError("A value is required: this column is NOT NULL.")
        return self.conversion.parse(raw)

    def pre_validate(self, form: Any) -> None:
        if not self.spec.editable:
            self.data = UNSET  # shown, never written


class ValueField(ColumnField):
    """A one-line input: numbers, dates, times, intervals, UUIDs."""


class TextField(ColumnField):
    """A one-line text input; empty means the empty string, the checkbox means NULL."""


class TextAreaField(ColumnField):
    """Long text; empty means the empty string, the checkbox means NULL."""


class JSONField(ColumnField):
    """A JSON document (or a PostgreSQL array as a JSON list); empty means NULL."""


class ChoiceField(ColumnField):
    """One of an enum's values."""


class BooleanField(ColumnField):
    """A checkbox when the column is NOT NULL; yes / no / NULL when it is nullable."""

    @property
    def tri_state(self) -> bool:
        return self.spec.nullable or (self.creating and self.spec.has_default)

    def process(
        self, formdata: Any, data: Any = unset_value, extra_filters: Sequence[Any] | None = None
    ) -> None:
        self._present = set(formdata.getlist(BOOL_MARKER)) if formdata is not None else set()
        super().process(formdata, data, extra_filters)

    def format(self, value: Any) -> str:
        return "true" if value else "false"

    def submitted(self, valuelist: list[Any]) -> tuple[bool, str] | None:
        if self.tri_state:
            return super().submitted(valuelist)
        raw = valuelist[0] if valuelist else None
        if raw is None and self.name not in self._present:
            return None
        if raw is not None and not isinstance(raw, str):
            return None
        checked = raw is not None and raw.strip().lower() not in ("", "0", "false", "off", "no")
        return False, self.format(checked)

    def process_formdata(self, valuelist: list[Any]) -> None:
        if self.tri_state:
            super().process_formdata(valuelist)
            return
        raw = valuelist[0] if valuelist else None
        if raw is None and self.name not in self._present:
            self.data = UNSET  # neither the box nor its marker: not on the form
            return
        if raw is not None and not isinstance(raw, str):
            raise ValueError("Expected a checkbox value, not a file.")
        self.data = raw is not None and raw.strip().lower() not in ("", "0", "false", "off", "no")
        self.text = self.format(self.data)

    def read_text(self, raw: str) -> Any:
        if raw.strip() == "":
            if self.creating and self.spec.has_default:
                return UNSET
            if self.spec.nullable:
                return None
            raise ValueError("Choose yes or no.")
        return self.conversion.parse(raw)


class SetField(ColumnField):
    """A MySQL/MariaDB SET: any number of its values, as checkboxes."""

    def process_formdata(self, valuelist: list[Any]) -> None:
        self.is_null = self.name in self._flags
        allowed = {value for value, _ in self.conversion.choices}
        if any(not isinstance(v, str) for v in valuelist):
            raise ValueError("Expected text here, not a file.")
        chosen = [v for v in valuelist if v != ""]
        self.text = ",".join(chosen)
        if self.is_null:
            self.data = None
            if not self.spec.nullable:
                raise ValueError("This column cannot be NULL.")
            return
        unknown = [v for v in chosen if v not in allowed]
        if unknown:
            self.data = UNSET
            raise ValueError(f"Not one of the set's values: {', '.join(unknown)}.")
        self.data = set(chosen)

    def format(self, value: Any) -> str:
        members = value.split(",") if isinstance(value, str) else value
        return ",".join(sorted(m for m in members if m != ""))

    def submitted(self, valuelist: list[Any]) -> tuple[bool, str] | None:
        if any(not isinstance(v, str) for v in valuelist):
            return None
        if self.name in self._flags:
            return True, ""
        return False, self.format([v for v in valuelist if v != ""])

    @property
    def chosen(self) -> set[str]:
        return {v for v in self.text.split(",") if v}


class FileField(ColumnField):
    """Binary data as a file upload; no new file keeps the current value.

    The file stays where Werkzeug spooled it (a temporary file): ``data`` is an ``Upload``
    that the save reads a slice at a time. The current value is only ever known by its size
    (``blobs.StoredBinary``), never its bytes.
    """

    def unchanged(self, valuelist: list[Any]) -> bool:
        return False  # no file chosen already means "keep"; the bytes are never on the form

    def process_formdata(self, valuelist: list[Any]) -> None:
        upload = valuelist[0] if valuelist else None
        chosen = isinstance(upload, FileStorage) and bool(upload.filename)
        self.is_null = self.name in self._flags and not (self.started_null and chosen)
        if self.is_null:
            self.data = None
            if not self.spec.nullable:
                raise ValueError("This column cannot be NULL.")
            return
        if upload is None or (isinstance(upload, str) and upload == ""):
            self.data = UNSET  # keep the current bytes (or the default, on create)
            if self.creating and not (self.spec.nullable or self.spec.has_default):
                raise ValueError("Choose a file: this column is NOT NULL.")
            return
        if not isinstance(upload, FileStorage):
            self.data = UNSET
            raise ValueError("Choose a file to upload.")
        if not upload.filename and upload.content_length == 0:
            self.data = UNSET  # an empty file input
            return
        self.data = Upload.of(upload.stream, upload.filename or "")
        self.text = upload.filename or ""

    def process_data(self, value: Any) -> None:
        super().process_data(value)
        self.text = ""  # never echo bytes into the page

    @property
    def conflict_text(self) -> str | None:
        if self.current is UNSET:
            return None
        if self.current is None:
            return "NULL"
        size = self.current if isinstance(self.current, int) else len(self.current)
        return f"{size} bytes"

    @property
    def size(self) -> int | None:
        value = self.object_data
        if isinstance(value, (bytes, bytearray, memoryview)):
            return len(value)
        return value if isinstance(value, int) else None


class ForeignKeyField(ColumnField):
    """A foreign-key column: a select of labelled rows when the target is small, else a
    search-as-you-type input backed by the lookup endpoint. Either way the value is the key."""

    choices: list[tuple[str, str]] | None = None  # set per request, None: search instead
    current_label: str | None = None  # the label of the row the value points at


@dataclass
class RelatedChanges:
    """What a search-and-add many-to-many field changes: the identities to link and to unlink.

    A row may hold thousands of links: the form shows a few and posts only what the user
    changed, so an unchanged save touches no link row and the request stays small.
    """

    add: list[str] = field(default_factory=list)
    remove: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.add or self.remove)


class RelatedField(Field):
    """A many-to-many relationship. ``data`` is every chosen identity (the ticked boxes of a
    small target), ``RelatedChanges`` (the search-and-add list of a large one), or ``UNSET``."""

    def __init__(
        self, *args: Any, relation: Any, target: Any, html_name: str, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.name = html_name
        self.add_name = f"_related_add:{relation.name}"
        self.remove_name = f"_related_remove:{relation.name}"
        self.relation = relation
        self.target = target
        self.data: Any = UNSET
        self.choices: list[tuple[str, str]] | None = None  # small target: every row
        # A large target (set by writes.fill_choices): how many rows are linked now, the first
        # few of them, and the rows the posted changes name, as (identity, label).
        self.linked_count: int | None = None
        self.linked: list[tuple[str, str]] = []
        self.added: list[tuple[str, str]] = []
        self.removed: list[tuple[str, str]] = []  # ticked for removal, beyond ``linked``
        self.removing: set[str] = set()  # every linked identity the user asked to unlink
        self.others: list[tuple[str, str]] = []  # small target: the rows neither linked nor chosen

    def process(
        self, formdata: Any, data: Any = unset_value, extra_filters: Sequence[Any] | None = None
    ) -> None:
        self.process_errors = []
        if formdata is not None and self.name in set(formdata.getlist(RELATED_CHANGES)):
            add, remove = formdata.getlist(self.add_name), formdata.getlist(self.remove_name)
            if self._keys(add + remove):  # else nothing changed: UNSET leaves the links alone
                self.data = RelatedChanges(self._keys(add) or [], self._keys(remove) or [])
            return
        if formdata is None or self.name not in set(formdata.getlist(RELATED_MARKER)):
            self.data = UNSET if data is unset_value else list(data)
            return
        values = self._keys(formdata.getlist(self.name))
        if values is not None:
            self.data = values

    def _keys(self, values: list[Any]) -> list[str] | None:
        if any(not isinstance(v, str) for v in values):
            self.data = UNSET
            assert isinstance(self.process_errors, list)  # process() has just set a fresh list
            self.process_errors.append("Expected row keys here, not a file.")
            return None
        return list(dict.fromkeys(v for v in values if v != ""))
