"""Rows of a list page as HTML, built in Python.

A list page of 500 rows and 7 columns formats 3,500 cells. As Jinja macro calls they cost about
four times the plain template of the benchmark's floor app (``bench/listpages.py``); here each
column's formatter and opening ``<td>`` is chosen once per page and each row is one string
join. The page's template iterates over these rows lazily, so rendering still happens (and is
measured) while the template renders. Every value passes through a ``formatting`` formatter
or ``html.escape``; nothing reaches the page unescaped.
"""

from __future__ import annotations

import html
import weakref
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from markupsafe import Markup

from ..catalog.model import Catalog, Column, Entity, Relation
from ..core import keys
from ..core.formatting import (
    GROUPED,
    NULL_HTML,
    cell,
    date_formatter,
    formatter_for,
    groups_digits,
)
from ..web import urls
from .labels import Refs


def row_url_prefixes(db_name: str, catalog: Catalog, entity: Entity) -> dict[str, str]:
    """Row-page URLs without their key, for ``entity`` and every table it points at.

    An encoded identity (letters, digits, ``_ - ~ ,``) needs no URL quoting, so prefix +
    identity is exactly the URL ``urls.row`` builds, without a ``url_for`` call per row.
    """
    prefixes = {entity.name: urls.row(db_name, entity, "~")[:-1]}
    for relation in entity.many_to_one:
        target = catalog.entities.get(relation.target)
        if target is not None:
            prefixes[target.name] = urls.row(db_name, target, "~")[:-1]
    return prefixes


def value_cell(
    column: Column,
    values: dict[str, Any],
    relation: Relation | None,
    refs: Refs,
    prefixes: dict[str, str],
) -> Markup:
    """A cell's content: the value, or for a foreign key the row it points at, then the key."""
    if relation is None:
        return cell(values[column.key], column)
    return Markup(_reference_html(column, formatter_for(column), values, relation, refs, prefixes))


def _reference_html(
    column: Column,
    formatter: Callable[[Any], str],
    values: dict[str, Any],
    relation: Relation,
    refs: Refs,
    prefixes: dict[str, str],
) -> str:
    # Plain str and f-strings over escaped parts: Markup objects and Markup.format (a
    # Python-level Formatter) per cell are a measurable share of a 500-row page.
    value = values[column.key]
    if value is None:
        return NULL_HTML
    shown = formatter(value)
    if relation.name not in refs:
        return shown
    ref = refs[relation.name].get(tuple(values[k] for k in relation.local_keys))
    if ref is None:
        return (
            f'{shown} <span class="dangling" '
            f'title="no matching row in {html.escape(relation.target)}">(missing)</span>'
        )
    if ref.identity is None or relation.target not in prefixes:
        link = html.escape(ref.label)
    else:
        href = html.escape(prefixes[relation.target] + ref.identity)
        label = html.escape(ref.label)
        # A long label is cut by an ellipsis in a list's cell (rowboat.css): whole in its title.
        title = f' title="{label}"' if len(ref.label) > 24 else ""
        link = f'<a class="fk" href="{href}"{title}>{label}</a>'
    if ref.label == shown:  # a row no column names is labelled by its key: say it once
        return link
    return f'{link} <span class="key">{shown}</span>'


def unlinked_references(entity: Entity) -> list[Relation]:
    """The many-to-one relations a row's record cannot show as a link in a column (another
    relation starts at the same column), by title: the row page lists these apart, and only
    these, so no link is shown twice."""
    found = [
        r
        for r in entity.many_to_one
        if not r.local_keys or entity.foreign_key_for(r.local_keys[0]) is not r
    ]
    return sorted(found, key=lambda r: (r.title, r.name))


def _foreign_key_columns(entity: Entity) -> set[str]:
    """The keys of the columns holding a foreign key: their numbers are never grouped."""
    return {k for relation in entity.many_to_one for k in relation.local_keys}


_NO_KEY = (
    '<td class="link"><span class="nokey" title="Its primary key is NULL, so this row has no '
    'page: it cannot be opened, edited or deleted here.">no key</span></td>'
)


def list_rows(
    entity: Entity,
    rows: Iterable[dict[str, Any]],
    refs: Refs,
    prefixes: dict[str, str],
    selectable: bool,
) -> Iterator[Markup]:
    """One ``<tr>`` per row: a link to the row page (with a checkbox when rows can be deleted
    in bulk), then a cell per column."""
    rows = rows if isinstance(rows, list) else list(rows)
    plan = []  # per column: (key, column, formatter, FK relation or None, opening <td>)
    keys_held = _foreign_key_columns(entity)
    for column in entity.columns.values():
        relation = entity.foreign_key_for(column.key)
        kind = f"{column.kind} fk" if relation is not None else column.kind
        if groups_digits(column, column.key in keys_held):
            kind = f"{kind} {GROUPED}"
        formatter = formatter_for(column)
        if relation is None and column.kind in ("date", "datetime"):
            formatter = date_formatter(column, (v[column.key] for v in rows)) or formatter
        plan.append((column.key, column, formatter, relation, f'<td class="{kind}">'))
    row_url = html.escape(prefixes[entity.name])
    for values in rows:
        parts = ["<tr>"]
        if entity.primary_key:
            identity = keys.identity_of(entity, values)
            if identity is None:  # a NULL in the key (SQLite allows it): no page to link to
                parts.append(_NO_KEY)
            else:
                parts.append('<td class="link">')
                if selectable:
                    parts.append(
                        f'<input type="checkbox" name="_key" value="{identity}"'
                        ' form="bulk-delete" aria-label="Select this row"> '
                    )
                parts.append(f'<a href="{row_url}{identity}" title="Open this row">open</a></td>')
        for key, column, formatter, relation, td in plan:
            parts.append(td)
            if relation is None:
                value = values[key]
                parts.append(NULL_HTML if value is None else formatter(value))
            else:
                parts.append(_reference_html(column, formatter, values, relation, refs, prefixes))
            parts.append("</td>")
        parts.append("</tr>")
        yield Markup("".join(parts))


def record_rows(
    db_name: str,
    entity: Entity,
    identity: str,
    values: dict[str, Any],
    refs: Refs,
    prefixes: dict[str, str],
) -> Markup:
    """The row page's table: per column, a heading (name, type, badges, comment, and for
    bytes a download link) and the value. Built here for the same reason as ``list_rows``:
    as a Jinja loop it was a tenth of a row page's time."""
    parts = []
    keys_held = _foreign_key_columns(entity)
    for column in entity.columns.values():
        parts.append(_record_heading(column))
        if column.kind == "binary" and values[column.key] is not None:
            href = html.escape(urls.download(db_name, entity, identity, column.key))
            parts.append(
                f'<a class="download" href="{href}" title="Download the bytes of '
                f'{html.escape(column.name)}">⤓ download</a>'
            )
        relation = entity.foreign_key_for(column.key)
        midnight = relation is None and date_formatter(column, [values[column.key]])
        if midnight:
            cell_html = Markup(midnight(values[column.key]))
        else:
            cell_html = value_cell(column, values, relation, refs, prefixes)
        kind = html.escape(column.kind)
        if groups_digits(column, column.key in keys_held):
            kind = f"{kind} {GROUPED}"
        parts.append(f'</th>\n  <td class="{kind}">{cell_html}</td>\n</tr>\n')
    return Markup("".join(parts))


_HEADINGS: weakref.WeakKeyDictionary[Column, str] = weakref.WeakKeyDictionary()


def _record_heading(column: Column) -> str:
    """A record row up to its heading's end: the same on every page of the table."""
    heading = _HEADINGS.get(column)
    if heading is None:
        type_name = html.escape(column.type_name)
        badges = ' <span class="badge">key</span>' if column.primary_key else ""
        badges += ' <span class="badge">computed</span>' if column.computed else ""
        notes = [n for n in (column.help, column.comment) if n]
        comment = ""
        if notes:
            comment = f'<span class="help">{html.escape(" · ".join(notes))}</span>'
        heading = _HEADINGS[column] = (
            f'<tr>\n  <th title="{type_name}">{html.escape(column.title)}{badges}\n'
            f'    <span class="type">{type_name}</span>\n    {comment}'
        )
    return heading
