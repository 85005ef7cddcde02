"""Many-to-many links written through a row's form: which target rows a row is linked to.

A form's related field gives every chosen identity (a select of a small target) or a
``RelatedChanges`` (the search-and-add list of a large one: only what the user changed). Either
way only the link rows that change are inserted or deleted; those that stay are never touched.
Each write reports what it changed, as target identities, for the audit log; ``linked_now``
reads which of some targets are linked now, for a revert's guard and ``reconcile``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, Table, and_, insert, inspect, select
from sqlalchemy import delete as delete_statement
from sqlalchemy.orm import Mapper, Session, object_session

from ..catalog.model import Catalog, Entity
from ..catalog.modellogic import identity_of
from ..core import keys
from ..core.batches import chunks, key_in
from ..forms.fields import RelatedChanges
from .errors import RULE_ERRORS, Problem, WriteFailed, rule_broken, rules_broken


@dataclass
class LinkChange:
    """What one relation's write changed: the target identities linked and unlinked."""

    linked: list[str] = field(default_factory=list)
    unlinked: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.linked or self.unlinked)


def apply_related(
    session: Session,
    catalog: Catalog,
    entity: Entity,
    obj: Any,
    related: dict[str, list[str] | RelatedChanges],
    rules: tuple[type[Exception], ...] = RULE_ERRORS,
) -> dict[str, LinkChange]:
    """Make each many-to-many relation hold exactly the chosen rows (a list of identities), or
    link and unlink the rows a ``RelatedChanges`` names, leaving every other link row alone.
    Returns the relations whose links changed, with what changed. A row the model's
    validator of the collection refuses (raising one of ``rules``) fails the save on the
    relation's field (400), every relation tried first."""
    changed = {}
    refused: dict[str, list[Problem]] = {}
    for name, chosen in related.items():
        relation = entity.relations[name]
        target = catalog.entities[relation.target]
        prop = relation.attribute.property
        if isinstance(chosen, RelatedChanges):
            adding = [k for k in chosen.add if k not in chosen.remove]
            removing = [k for k in chosen.remove if k not in chosen.add]
            added = _targets(session, target, name, adding, must_exist=True)
            removed = _targets(session, target, name, removing, must_exist=False)
        else:
            added, removed = _targets(session, target, name, chosen, must_exist=True), None
        if prop.viewonly:
            change = _write_link_table(session, target, obj, prop, added, removed)
        else:
            # The user's model owns this relationship: let the ORM write the link rows. Its
            # validators run as the collection changes.
            try:
                change = _change_collection(target, obj, prop, added, removed)
            except rules as exc:
                refused[f"_related:{name}"] = [rule_broken(exc, obj, prop.key)]
                continue
        if change:
            changed[name] = change
    if refused:
        raise rules_broken(refused)
    return changed


def linked_now(
    session: Session, catalog: Catalog, entity: Entity, obj: Any, name: str, wanted: list[str]
) -> set[str]:
    """Which of the target identities ``wanted`` the row ``obj`` is linked to now."""
    relation = entity.relations[name]
    target = catalog.entities[relation.target]
    prop = relation.attribute.property
    found = _targets(session, target, name, wanted, must_exist=False)
    if not found:
        return set()
    where_parent = _parent_condition(_parent_values(obj, prop))
    link_cols = [link_col for _, link_col in prop.secondary_synchronize_pairs]
    by_link = {_link_value(prop, t): _identity(target, t) for t in found}
    linked = set()
    for chunk in chunks(sorted(by_link, key=repr)):
        stmt = select(*link_cols).where(where_parent, key_in(link_cols, chunk))
        linked |= {by_link[tuple(row)] for row in session.execute(stmt) if tuple(row) in by_link}
    return linked


def in_order(identities: Any) -> list[str]:
    """Identities sorted as people count: 5 before 17."""
    return sorted(identities, key=lambda k: (not k.isdigit(), int(k) if k.isdigit() else 0, k))


def _identity(target: Entity, row: Any) -> str:
    session = object_session(row)
    assert session is not None
    identity = identity_of(session, target, row)
    return keys.encode_identity(identity, [target.columns[k] for k in target.primary_key])


def _targets(
    session: Session, target: Entity, name: str, texts: list[str], must_exist: bool
) -> list[Any]:
    """The target rows named by identity texts, loaded in batches; a missing or malformed one
    is refused (409, on the field) when it ``must_exist``, skipped otherwise."""
    pk_columns = [target.columns[k] for k in target.primary_key]
    wanted: dict[tuple[Any, ...], str] = {}
    missing = []
    for text in texts:
        try:
            wanted[keys.decode_identity(text, pk_columns)] = text
        except keys.MalformedKey:
            missing.append(text)
    found: dict[tuple[Any, ...], Any] = {}
    identities = list(wanted)
    for chunk in chunks(identities):
        assert target.mapped_class is not None  # a many-to-many target is an ORM-mapped class
        stmt: Select[Any] = select(target.mapped_class).where(
            key_in([c.expression for c in pk_columns], chunk)
        )
        for row in session.execute(stmt).scalars():
            found[identity_of(session, target, row)] = row
    missing += [wanted[i] for i in identities if i not in found]
    if missing and must_exist:
        message = f"No row {missing[0]!r} in {target.name}."
        raise WriteFailed(message, {f"_related:{name}": [Problem(message)]}, status=409)
    return [found[i] for i in identities if i in found]


def _change_collection(
    target: Entity, obj: Any, prop: Any, added: list[Any], removed: list[Any] | None
) -> LinkChange:
    collection = getattr(obj, prop.key)
    before = list(collection)
    if removed is None:  # every chosen row
        setattr(obj, prop.key, set(added) if isinstance(collection, set) else added)
        collection = getattr(obj, prop.key)
    else:
        for row in removed:
            if row in collection:
                collection.remove(row)
        for row in added:
            if row not in collection:
                collection.add(row) if isinstance(collection, set) else collection.append(row)
    after = list(collection)
    return LinkChange(
        linked=in_order(_identity(target, t) for t in after if t not in before),
        unlinked=in_order(_identity(target, t) for t in before if t not in after),
    )


def _parent_values(obj: Any, prop: Any) -> dict[Any, Any]:
    """The values a link row holds to point at the row ``obj``, by link-table column."""
    parent_mapper: Mapper[Any] = inspect(obj).mapper
    return {
        link_col: getattr(obj, parent_mapper.get_property_by_column(col).key)
        for col, link_col in prop.synchronize_pairs
    }


def _parent_condition(parent: dict[Any, Any]) -> Any:
    return and_(*[link_col == value for link_col, value in parent.items()])


def _link_value(prop: Any, target_row: Any) -> tuple[Any, ...]:
    """The values a link row holds to point at ``target_row``."""
    mapper = inspect(target_row).mapper
    return tuple(
        getattr(target_row, mapper.get_property_by_column(col).key)
        for col, _ in prop.secondary_synchronize_pairs
    )


def _write_link_table(
    session: Session,
    target: Entity,
    obj: Any,
    prop: Any,
    added: list[Any],
    removed: list[Any] | None,
) -> LinkChange:
    """Insert and delete link rows: to hold exactly ``added`` (``removed`` None), or to add
    ``added`` and drop ``removed``. Link rows that stay are never touched."""
    secondary: Table = prop.secondary
    parent = _parent_values(obj, prop)
    link_cols = [link_col for _, link_col in prop.secondary_synchronize_pairs]
    where_parent = _parent_condition(parent)
    named = {_link_value(prop, t): t for t in added}
    wanted = set(named)
    if removed is None:
        have = {tuple(row) for row in session.execute(select(*link_cols).where(where_parent))}
        gone = have - wanted
    else:
        removing = {_link_value(prop, t): t for t in removed}
        named = {**removing, **named}  # a row both added and removed is named as added
        asked = set(removing) - wanted
        have = set()
        for chunk in chunks(sorted(wanted | asked, key=repr)):
            stmt = select(*link_cols).where(where_parent, key_in(link_cols, chunk))
            have |= {tuple(row) for row in session.execute(stmt)}
        gone = asked & have  # unlinking a row that is not linked changes nothing
    for chunk in chunks(sorted(gone, key=repr)):
        session.execute(delete_statement(secondary).where(where_parent, key_in(link_cols, chunk)))
    new = wanted - have
    if new:
        session.execute(
            insert(secondary),
            [
                {
                    **{c.key: v for c, v in parent.items()},
                    **dict(zip([c.key for c in link_cols], t)),
                }
                for t in sorted(new, key=repr)
            ],
        )
    unnamed = [t for t in gone if t not in named]  # every chosen row: the others were read
    if unnamed:
        named.update(_targets_by_link(session, target, prop, unnamed))
    return LinkChange(
        linked=in_order(_identity(target, named[t]) for t in new),
        unlinked=in_order(_identity(target, named[t]) for t in gone if t in named),
    )


def _targets_by_link(
    session: Session, target: Entity, prop: Any, values: list[tuple[Any, ...]]
) -> dict[tuple[Any, ...], Any]:
    """The target rows that link rows holding ``values`` point at, by those values."""
    assert target.mapped_class is not None
    columns = [col for col, _ in prop.secondary_synchronize_pairs]
    found = {}
    for chunk in chunks(sorted(values, key=repr)):
        stmt: Select[Any] = select(target.mapped_class).where(key_in(columns, chunk))
        for row in session.execute(stmt).scalars():
            found[_link_value(prop, row)] = row
    return found
