"""Choose how a row of an entity is named when another table points at it.

A model's own ``__str__`` wins (discovery never asks here then); otherwise the column that
names the row, in this order:

1. a name: ``name``, ``full_name``, ``display_name``;
2. a person's first and last name together (``FirstName`` + ``LastName`` → "Jane Peacock");
3. a title or label: an album's or a book's title. After a person's name, because in a table
   of people ``title`` is a job title that many share ("Sales Support Agent");
4. any other column ending in "name" or "title" (``ArtistName``, ``username``), but a lone
   part of a person's name;
5. something that identifies without naming: ``email``, ``code``, ``description``;
6. a lone first or last name.

Otherwise none, and the row's key serves. Only ever a choice among the entity's columns of
text, never a key or a computed one. A model's ``info={"label": ...}`` on a column renames the
column on the pages; it does not choose the row's label.
"""

from __future__ import annotations

import re

from ..core.formatting import groups_digits
from .model import Column

_NAMES = ("name", "fullname", "displayname")
_TITLES = ("title", "label")
_IDENTIFYING = ("email", "emailaddress", "code", "description")
_FIRST = ("firstname", "givenname", "forename")
_LAST = ("lastname", "surname", "familyname")
_NAME_PARTS = {*_FIRST, *_LAST, "middlename"}


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def choose_label_keys(columns: dict[str, Column]) -> list[str]:
    """Return the column keys whose values, joined by a space, label a row (may be empty)."""
    text = [
        c for c in columns.values() if c.kind == "text" and not c.primary_key and not c.computed
    ]
    by_norm: dict[str, str] = {}
    for column in text:  # the first of two spellings of one name ("name" and "Name") wins
        by_norm.setdefault(_norm(column.name), column.key)

    def first_of(wanted: tuple[str, ...]) -> list[str]:
        return next(([by_norm[w]] for w in wanted if w in by_norm), [])

    named = first_of(_NAMES)
    if named:
        return named
    first, last = first_of(_FIRST), first_of(_LAST)
    if first and last:
        return first + last
    titled = first_of(_TITLES)
    if titled:
        return titled
    for column in text:
        norm = _norm(column.name)
        if norm.endswith(("name", "title")) and norm not in _NAME_PARTS:
            return [column.key]
    identifying = first_of(_IDENTIFYING)
    if identifying:
        return identifying
    # A lone part of a person's name; failing that, no column names the row (an invoice's
    # first text column is its billing address): the key itself is the clearer label.
    return first or last


def choose_summary_keys(columns: dict[str, Column], foreign_keys: set[str]) -> list[str]:
    """For a row no column names (an invoice, an invoice line), the columns that tell it from
    its siblings in a preview: its first date or time, and its first quantity (a price, a
    total: a number that is neither a key nor an id, a year or a code)."""
    dated = [
        c.key
        for c in columns.values()
        if c.kind in ("date", "datetime") and not c.primary_key and not c.computed
    ]
    quantities = [
        c.key
        for c in columns.values()
        if groups_digits(c, c.key in foreign_keys) and not c.computed
    ]
    return dated[:1] + quantities[:1]
