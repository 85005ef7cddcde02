"""How breadcrumbs name a row, the same on its page, its edit and delete forms and its history.

The rule: the row's label followed by its key, "Dune (5)" (a long label cut with "…"); the key
alone when the row has no label of its own (its label is its key) or cannot be read (deleted,
or the database is down: a history page must still show).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from ..catalog.model import Entity
from ..core import keys
from ..core.batches import key_in
from .labels import label_of, refs_where


def shown_key(key: str) -> str:
    """A URL's key segment as people read it: "5", or "1,2" for a composite key."""
    return keys.decode(key) if "," not in key else key


# A label longer than this is cut, so a long title cannot crowd the header (the row's page and
# forms show it whole).
CRUMB_LABEL_MAX = 60


def crumb_text(key: str, label: str | None) -> str:
    shown = shown_key(key)
    if not label or label == shown:
        return shown
    if len(label) > CRUMB_LABEL_MAX:
        label = label[: CRUMB_LABEL_MAX - 1].rstrip() + "…"
    return f"{label} ({shown})"


def row_crumb(
    session: Session, entity: Entity, key: str, values: dict[str, Any] | None = None
) -> str:
    """``crumb_text`` of the row a URL's key segment names. Its label comes from ``values``,
    the row as the page already read it, when its label columns make it; otherwise (a model's
    ``__str__`` needs the object) it is read from the database."""
    if values is not None and not entity.label_from_str:
        return crumb_text(key, label_of(entity, values))
    try:
        identity = keys.decode_identity(key, [entity.columns[k] for k in entity.primary_key])
    except keys.MalformedKey:
        return crumb_text(key, None)
    pk = [entity.columns[k].expression for k in entity.primary_key]
    try:
        found = refs_where(session, entity, key_in(pk, [identity]), limit=1)
    except DBAPIError:
        session.rollback()
        return crumb_text(key, None)
    return crumb_text(key, found[0][1].label if found else None)
