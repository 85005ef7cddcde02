"""The values a model computes in Python, for the row page: hybrids without a SQL form and
association proxies (``Entity.derived``). They need the row as an object, loaded once; a
value whose code fails says so instead of failing the page."""

from __future__ import annotations

import html
from typing import Any

from markupsafe import Markup
from sqlalchemy.orm import Session

from ..catalog.model import Entity
from ..catalog.modellogic import orm_identity
from ..core.formatting import NULL_HTML
from ..core.values import to_text
from ..db import blobs


def derived_rows(session: Session, entity: Entity, identity: tuple[Any, ...]) -> Markup:
    """The row page's extra record rows, one per derived value (read-only)."""
    if not entity.derived or entity.mapped_class is None:
        return Markup("")
    obj = session.get(
        entity.mapped_class,
        orm_identity(entity, identity, session.get_bind().dialect.name),
        options=blobs.deferred(entity),  # never the bytes
    )
    if obj is None:
        return Markup("")
    parts = []
    for derived in entity.derived:
        try:
            value = getattr(obj, derived.key)
            shown = _proxy_html(value) if derived.kind == "proxy" else _value_html(value)
        except Exception as exc:  # noqa: BLE001 - the model's own code: report, never a 500
            problem = html.escape(type(exc).__name__)
            shown = f'<span class="dangling">could not be computed: {problem}</span>'
        badge = "association proxy" if derived.kind == "proxy" else "computed in Python"
        parts.append(
            f'<tr class="derived">\n  <th title="{badge}">{html.escape(derived.key)}'
            f' <span class="badge">read-only</span>\n    <span class="type">{badge}</span></th>\n'
            f'  <td class="derived">{shown}</td>\n</tr>\n'
        )
    return Markup("".join(parts))


def _value_html(value: Any) -> str:
    return NULL_HTML if value is None else html.escape(to_text(value))


def _proxy_html(values: Any) -> str:
    items = list(values) if values is not None else []
    if not items:
        return '<span class="none">None.</span>'
    shown = "".join(f"<li>{_value_html(item)}</li>" for item in items)
    return f'<ul class="proxied">{shown}</ul>'
