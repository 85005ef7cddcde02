"""Filtering a foreign key by its label: the picker's targets, the labels a list page's filters
show, and a label typed instead of a key turned into that key.

A foreign-key filter compares keys (``GenreId__exact=1``) and the URL keeps the key; people
know rows by their label ("Rock"). So the filter row offers the edit form's picker (the lookup
endpoint, ``writes.search``), the filter's description reads "GenreId = Rock (1)", and a label
typed without picking (no JavaScript, or submitted before choosing) is looked up here the way
the picker would: exactly one row labelled so (or, for a text that is not a key at all, exactly
one row the picker offers) gives its key, for the view to redirect to; otherwise the filter row
says what matched. Only single-column foreign keys have a picker: a composite key's columns are
filtered one by one, by value, as any column.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from ..catalog.model import Catalog, Entity, Relation
from ..catalog.types import TEXT_LIKE
from ..core.filters import Filter, split_list, text_holds
from ..core.values import check_text, from_text, to_text
from ..writes.choices import search
from .labels import RowRef, refs_for_keys
from .listing import PAGING, FilterProblem

# The operators whose values are keys of the target: the ones a label can stand for.
EQUALITY = frozenset({"exact", "not", "in"})
NAMED = 3  # rows named in the message for a label several rows match


@dataclass(frozen=True)
class Picker:
    """A filter column that points at one column of a target table with a key."""

    relation: Relation
    target: Entity
    key: str  # the target column the foreign key holds


def pickers(catalog: Catalog, entity: Entity) -> dict[str, Picker]:
    """The columns of ``entity`` whose filter offers the picker: each the only column of a
    many-to-one foreign key to a table the caller sees, which has a primary key (what the
    lookup endpoint needs to offer rows) and whose key column the lookup may search."""
    found: dict[str, Picker] = {}
    for relation in entity.many_to_one:
        if len(relation.local_keys) != 1 or len(relation.target_keys) != 1:
            continue  # a composite foreign key: no one column holds a row's key
        local, key = relation.local_keys[0], relation.target_keys[0]
        target = catalog.entities.get(relation.target)
        if local not in entity.columns or target is None or not target.primary_key:
            continue
        column = target.columns.get(key)
        if column is None or (column.computed and key not in target.primary_key):
            continue
        found.setdefault(local, Picker(relation, target, key))
    return found


@dataclass(frozen=True)
class Shown:
    """How a foreign-key filter's values read: in its description, each value as
    "Rock (1)" (``chip``), and beside the filter row's value box (``beside``)."""

    chip: dict[Any, str]
    beside: str
    missing: tuple[Any, ...]  # values no target row has


def _items(item: Filter) -> list[Any]:
    return item.value if isinstance(item.value, list) else [item.value]


def filter_labels(
    session: Session,
    found: dict[str, Picker],
    form: Sequence[Filter | FilterProblem],
    known: dict[str, dict[tuple[Any, ...], RowRef]] | None = None,
) -> dict[int, Shown]:
    """The labels of the foreign-key filters of a list page's form, by position in it.

    ``known``: the labels the page's rows already have, by relation name (an equality filter's
    rows all point at the row it names, so the page usually knows its label); the others are
    read in one query per target table and key column (``labels.refs_for_keys``), not one per
    filter."""
    known = known or {}
    wanted: dict[tuple[str, str], tuple[Picker, set[Any]]] = {}
    for item in form:
        picker = _picker_of(found, item)
        if picker is None or not isinstance(item, Filter):
            continue
        holds = text_holds(picker.target.columns[picker.key])
        on_page = known.get(picker.relation.name, {})
        values = [
            v
            for v in _items(item)
            if (v,) not in on_page and (not isinstance(v, str) or holds is None or holds(v))
        ]
        group = wanted.setdefault((picker.target.name, picker.key), (picker, set()))
        group[1].update(values)
    refs: dict[tuple[str, str], dict[tuple[Any, ...], RowRef]] = {
        name: refs_for_keys(session, picker.target, picker.relation, [(v,) for v in values])
        for name, (picker, values) in wanted.items()
    }
    shown: dict[int, Shown] = {}
    for position, item in enumerate(form):
        picker = _picker_of(found, item)
        if picker is None or not isinstance(item, Filter):
            continue
        by_key = {**refs[(picker.target.name, picker.key)], **known.get(picker.relation.name, {})}
        chip: dict[Any, str] = {}
        beside: list[str] = []
        missing: list[Any] = []
        for value in _items(item):
            text = to_text(value, item.column)
            ref = _ref_of(by_key, value)
            if ref is None:
                quoted = repr(text) if item.column.kind in TEXT_LIKE else text
                chip[value] = f"{quoted} (no {picker.target.name} has this {picker.key})"
                missing.append(value)
            elif ref.label != text:
                chip[value] = f"{ref.label} ({text})"
                beside.append(ref.label)
        shown[position] = Shown(chip, ", ".join(beside), tuple(missing))
    return shown


def _picker_of(found: dict[str, Picker], item: Filter | FilterProblem) -> Picker | None:
    if isinstance(item, Filter):
        column_key, operator_key = item.column.key, item.operator.key
    else:
        column_key, operator_key = item.column_key, item.operator_key
    return found.get(column_key) if operator_key in EQUALITY else None


def _ref_of(by_key: dict[tuple[Any, ...], RowRef], value: Any) -> RowRef | None:
    ref = by_key.get((value,))
    if ref is None and isinstance(value, str):
        # A case-insensitive collation (MariaDB's) finds 'o'brien' for "O'Brien".
        folded = value.casefold()
        ref = next(
            (r for (k,), r in by_key.items() if isinstance(k, str) and k.casefold() == folded),
            None,
        )
    return ref


def settles_by_label(found: dict[str, Picker], form: Sequence[Filter | FilterProblem]) -> bool:
    """Whether ``settle`` needs the filters' labels first: a text key filter's value that names
    no row may be a label typed instead of the key."""
    return any(
        isinstance(item, Filter) and picker is not None and item.column.kind in TEXT_LIKE
        for item in form
        for picker in [_picker_of(found, item)]
    )


@dataclass
class Settled:
    """What typed labels came to: new values by form position, and messages by position for
    the filters that still cannot be used."""

    replacements: dict[int, str]
    messages: dict[int, str]


def settle(
    session: Session,
    found: dict[str, Picker],
    form: Sequence[Filter | FilterProblem],
    shown: dict[int, Shown],
) -> Settled:
    """Turn the labels typed into foreign-key filters into keys, where one row is meant.

    A value that is not a key at all (``Rock`` for an integer key) becomes the key of the one
    row labelled so (case aside), or of the one row the picker offers for it; a value that
    could be a key but names no row (a text key) becomes a key only for a row labelled
    exactly so, since it may be a key that is simply not there. Every other problem keeps
    its message, and a label that names no row or several says so, naming a few.
    """
    settled = Settled({}, {})
    for position, item in enumerate(form):
        picker = _picker_of(found, item)
        if isinstance(item, FilterProblem):
            settled.messages[position] = item.message
            if picker is None or item.column is None:
                continue
            texts = split_list(item.raw) if item.operator_key == "in" else [item.raw]
            keys: list[str] = []
            for text in texts:
                try:
                    from_text(text, item.column)
                    keys.append(text)
                    continue
                except ValueError:
                    pass
                key, message = by_label(session, picker, text, exact_only=False)
                if key is None:
                    if message is not None:
                        settled.messages[position] = message
                    break
                keys.append(key)
            else:
                if keys:
                    settled.replacements[position] = _joined(keys)
                    del settled.messages[position]
        elif (
            picker is not None
            and item.column.kind in TEXT_LIKE  # an integer that names no row is no label
            and position in shown
            and shown[position].missing
        ):
            missing = shown[position].missing
            resolved = {}
            for value in missing:
                key, _ = by_label(session, picker, to_text(value, item.column), exact_only=True)
                if key is None:
                    break
                resolved[value] = key
            else:
                keys = [resolved.get(v, to_text(v, item.column)) for v in _items(item)]
                settled.replacements[position] = _joined(keys)
    return settled


def _joined(keys: list[str]) -> str:
    # An "in" list is one item per line when an item holds a comma (a text key may).
    return ("\n" if any("," in k for k in keys) else ", ").join(keys)


def by_label(
    session: Session, picker: Picker, text: str, exact_only: bool
) -> tuple[str | None, str | None]:
    """The key (as text) of the one target row ``text`` names, or why there is none.

    Searched as the picker searches (``writes.search``: its label columns contain the text,
    or its key is the text). A row whose whole label is the text, case aside, wins; short of
    that, a single row found is meant (unless ``exact_only``).
    """
    target, wanted = picker.target, text.strip()
    try:
        check_text(wanted)  # a NUL: no database searches for it (the value's own message stands)
    except ValueError:
        return None, None
    if not wanted:
        return None, None
    results, more = search(session, target, picker.key, wanted)
    exact = [r for r in results if str(r["label"]).casefold() == wanted.casefold()]
    if len(exact) == 1:
        return str(exact[0]["value"]), None
    if not exact_only and len(results) == 1 and not more:
        return str(results[0]["value"]), None
    if exact_only:
        return None, None
    how = f"type part of a label and pick a row from the list, or type the {picker.key} itself"
    if not results:
        return None, (
            f"No row of {target.name} is labelled {wanted!r}, and that is not a valid "
            f"{picker.key} either: {how}."
        )
    named = ", ".join(_named(r) for r in (exact or results)[:NAMED])
    count = len(exact) if len(exact) > 1 else len(results)
    several = f"{count}{'+' if more and len(exact) < 2 else ''} rows of {target.name}"
    rest = "…" if count > NAMED or more else ""
    return None, f"{several} match {wanted!r} ({named}{rest}): {how}."


def _named(result: dict[str, Any]) -> str:
    label, value = str(result["label"]), str(result["value"])
    return label if label == value else f"{label} ({value})"


def with_replacements(
    args: Iterable[tuple[str, str]], replacements: dict[int, str]
) -> list[tuple[str, str]]:
    """The list page's arguments with some filters' values replaced (by their position
    among the filters), starting again from the first page."""
    result: list[tuple[str, str]] = []
    position = 0
    for name, value in args:
        if name in PAGING:
            continue
        if not name.startswith("_"):
            value = replacements.get(position, value)
            position += 1
        result.append((name, value))
    return result
