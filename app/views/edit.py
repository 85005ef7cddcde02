"""Writing rows from the browser: create, edit, delete (one or many) and the foreign-key lookup.

Every action lives under the reserved ``-`` segment (``/<db>/<table>/-/new``,
``/<db>/<table>/<key>/-/edit``...), which the browse routes never produce: a table segment and a
row key have one path segment each, so ``/<db>/<table>/<key>`` cannot be mistaken for these.
Views stay thin and post/redirect/get: an invalid form comes back with 400, a conflict with
409, a read-only database or table answers 403; the work is done by ``app.forms`` and
``app.writes``.
"""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
)
from sqlalchemy.exc import DBAPIError
from werkzeug.datastructures import CombinedMultiDict

from .. import writes
from ..audit.journal import Actor, Journal
from ..browse import crumbs, listing, rowpage
from ..browse.labels import refs_where
from ..catalog.model import Entity
from ..core import keys
from ..core.batches import key_in
from ..core.values import check_text, to_text
from ..db import blobs
from ..db.engines import Database, session_for
from ..db.errors import BadRequest, NotFound, fault_kind
from ..forms import form_spec, html_name
from ..forms.builder import FormSpec
from ..web import urls
from ..web.signin import Forbidden, current_access, needs, request_id
from ..writes.keyrefs import key_references
from .lookup import catalog_of, database_named, entity_at

bp = Blueprint("edit", __name__)


# --- URLs ---------------------------------------------------------------------------------------


def new_url(db: str, entity: Entity, prefill: dict[str, Any] | None = None) -> str:
    return urls.cached_url_for("edit.new", db=db, table=urls.segment(entity), **(prefill or {}))


def edit_url(db: str, entity: Entity, identity: str) -> str:
    return urls.cached_url_for("edit.edit", db=db, table=urls.segment(entity), key=identity)


def delete_url(db: str, entity: Entity, identity: str) -> str:
    return urls.cached_url_for("edit.delete", db=db, table=urls.segment(entity), key=identity)


def bulk_delete_url(db: str, entity: Entity) -> str:
    return urls.cached_url_for("edit.bulk_delete", db=db, table=urls.segment(entity))


def lookup_url(db: str, entity: Entity, column: str | None = None) -> str:
    return urls.cached_url_for("edit.lookup", db=db, table=urls.segment(entity), _column=column)


def download_url(db: str, entity: Entity, identity: str, column: str) -> str:
    return urls.download(db, entity, identity, column)


def writable(db: Database, entity: Entity) -> bool:
    """Whether the current caller may change rows of ``entity`` (so its buttons show)."""
    return (
        not db.read_only
        and not entity.read_only
        and entity.mapped_class is not None
        and current_access().may("write", db.name, entity.schema, entity.table_name)
    )


def related_prefill(relation: Any, values: dict[str, Any]) -> dict[str, str] | None:
    """For "add a related row": the child's foreign-key fields filled with this row's keys."""
    if relation.direction != "one-to-many" or not relation.target_keys:
        return None
    if any(values.get(k) is None for k in relation.local_keys):
        return None
    return {
        html_name(child_key): to_text(values[parent_key])
        for parent_key, child_key in zip(relation.local_keys, relation.target_keys)
    }


@bp.record_once
def _template_helpers(state: Any) -> None:
    state.app.jinja_env.globals.update(
        {
            "edit_urls": {
                "new": new_url,
                "edit": edit_url,
                "delete": delete_url,
                "bulk_delete": bulk_delete_url,
                "lookup": lookup_url,
                "download": download_url,
            },
            "writable": writable,
            "related_prefill": related_prefill,
        }
    )


# --- lookups ------------------------------------------------------------------------------------


def validation_errors() -> tuple[type[Exception], ...]:
    """What a model's validators raise for a refused value: ValueError, AssertionError and
    the VALIDATION_ERRORS setting's classes (imported once, by the app factory)."""
    errors: tuple[type[Exception], ...] = current_app.extensions["rowboat.validation_errors"]
    return errors


def _writable(db: str, table: str) -> tuple[Database, Entity]:
    database = database_named(db)
    entity = entity_at(database, table)
    writes.check_writable(database, entity)
    return database, entity


def _formdata() -> CombinedMultiDict:
    return CombinedMultiDict([request.files, request.form])


def _upload_limits(database: Database, spec: FormSpec) -> dict[str, Any]:
    """How large a file each file field takes (``blobs.form_limits``); before the request body
    is read, a request larger than the whole form can take is refused (413), and Werkzeug is
    told that limit for a body of no announced length."""
    config = current_app.config
    limits = blobs.form_limits(session_for(database), spec.columns, int(config["MAX_UPLOAD"]))
    if not limits:
        return limits
    others = len(spec.columns) - len(limits) + len(spec.related)
    cap = blobs.request_limit(limits, others, int(config["MAX_FORM_MEMORY"]))
    if request.content_length is not None and request.content_length > cap:
        names = {c.key: c.name for c in spec.columns}
        files = "; ".join(
            f"{names[k]}: {blobs.size_text(limit)} ({limit} bytes, what {reason})"
            for k, (limit, reason) in limits.items()
        )
        raise blobs.UploadTooLarge(
            f"This form was sent with {blobs.size_text(request.content_length)}, more than "
            f"the {blobs.size_text(cap)} it can take. The largest file each field takes: "
            f"{files}. Nothing was saved."
        )
    request.max_content_length = cap
    return limits


def _check_files(spec: FormSpec, form: Any, limits: dict[str, Any]) -> None:
    if limits:
        fields = {c.key: spec.field(form, c.key) for c in spec.columns if c.key in limits}
        blobs.check_uploads(limits, fields, {c.key: c.name for c in spec.columns})


# --- create and edit ----------------------------------------------------------------------------


def _render_form(
    database: Database,
    entity: Entity,
    spec: FormSpec,
    form: Any,
    status: int,
    key: str | None = None,
    fingerprint: str | None = None,
    failure: writes.WriteFailed | None = None,
    shown: dict[str, Any] | None = None,
    labels: writes.KnownLabels | None = None,
    parent: Any = None,
) -> Any:
    interrupted = isinstance(failure, writes.WriteInterrupted)
    if not interrupted:  # a database that just failed is not asked for choices again
        writes.fill_choices(
            session_for(database),
            catalog_of(database),
            spec,
            form,
            database.estimates,
            labels or {},
            parent,
        )
    crumb = None
    if key is not None:  # the row as every page of it names it in the breadcrumbs
        session = session_for(database)
        if interrupted:
            crumb = crumbs.crumb_text(key, None)
        else:
            crumb = crumbs.row_crumb(session, entity, key)
    key_refs = {}
    if (
        not interrupted
        and spec.mode == "edit"
        and any(c.editable and c.column.primary_key for c in spec.columns)
    ):  # the warning beside an editable key: who points at it and what a change does to them
        key_refs = key_references(session_for(database), catalog_of(database), entity)
    return (
        render_template(
            "edit/form.html",
            db=database,
            entity=entity,
            catalog=catalog_of(database),
            spec=spec,
            form=form,
            key=key,
            fingerprint=fingerprint,
            failure=failure,
            shown=shown or {},
            key_refs=key_refs,
            crumb=crumb,
        ),
        status,
        {"Retry-After": str(getattr(failure, "retry_after", 5))} if interrupted else {},
    )


@bp.route("/<db>/<table>/-/new", methods=["GET", "POST"])
@needs("write")
def new(db: str, table: str) -> Any:
    database, entity = _writable(db, table)
    spec = form_spec(entity, catalog_of(database), "create")
    # HEAD is a GET without the body (Flask routes it here too): it must never save. It is
    # not CSRF-checked, and taking it for a POST created a row from an empty form.
    if request.method in ("GET", "HEAD"):
        # A form for a table the database lacks (models ahead of their migration) says so
        # now, rather than when its save is refused.
        listing.check_present(session_for(database), entity)
        form = spec.make()
        for column in spec.columns:  # "add a related row" fills in the foreign key
            if column.html_name in request.args and column.editable:
                field = spec.field(form, column.key)
                field.text = request.args[column.html_name]
                field.is_null = False
        return _render_form(database, entity, spec, form, 200)
    limits = _upload_limits(database, spec)
    form = spec.make(formdata=_formdata())
    _check_files(spec, form, limits)
    if not form.validate():
        return _render_form(database, entity, spec, form, 400)
    try:
        identity = writes.create(
            session_for(database),
            catalog_of(database),
            entity,
            spec.values(form),
            spec.related_values(form),
            journal=journal_for(database, entity),
            rules=validation_errors(),
        )
    except writes.WriteFailed as failure:
        return _render_form(database, entity, spec, form, failure.status, failure=failure)
    flash(f"Created a row in {entity.name}.", "edit")
    return redirect(urls.row(db, entity, identity))


@bp.route("/<db>/<table>/<key>/-/edit", methods=["GET", "POST"])
@needs("write")
def edit(db: str, table: str, key: str) -> Any:
    database, entity = _writable(db, table)
    catalog = catalog_of(database)
    session = session_for(database)
    spec = form_spec(entity, catalog, "edit")
    loaded: writes.LoadedRow | None
    if request.method in ("GET", "HEAD"):  # HEAD never saves (see new)
        loaded, refs = writes.load_for_form(session, catalog, entity, key, bool(spec.related))
        # Many-to-many links are read while filling the fields: a few of them for a large
        # target (a row may have thousands), every one for a small target's select.
        form = spec.make(obj_values=loaded.values)
        return _render_form(
            database,
            entity,
            spec,
            form,
            200,
            key=key,
            fingerprint=loaded.fingerprint,
            shown=loaded.values,
            labels=writes.known_labels(entity, loaded.values, refs),
            parent=loaded.obj,
        )
    limits = _upload_limits(database, spec)
    try:
        loaded = writes.load(session, entity, key)
    except (NotFound, DBAPIError) as exc:
        # Deleted meanwhile, or the database is down or busy: the save below reports it, with
        # the user's values.
        if isinstance(exc, DBAPIError):
            if fault_kind(exc) is None:
                raise
            session.rollback()
        loaded = None
    # Non-editable columns and binary sizes are shown from the row as it is now.
    shown = loaded.values if loaded is not None else {}
    # The current values tell which fields the user left as they were shown: those are not
    # written, whatever their text would parse to.
    form = spec.make(formdata=_formdata(), obj_values=shown)
    _check_files(spec, form, limits)
    expected = request.form.get("_fingerprint", "")
    if not form.validate():
        return _render_form(
            database,
            entity,
            spec,
            form,
            400,
            key=key,
            fingerprint=expected,
            shown=shown,
            parent=loaded.obj if loaded is not None else None,
        )
    try:
        new_key = writes.update(
            session,
            catalog,
            entity,
            key,
            expected,
            spec.values(form),
            spec.related_values(form),
            journal=journal_for(database, entity),
            rules=validation_errors(),
        )
    except writes.Conflict as conflict:
        if conflict.current is not None:
            for column in spec.columns:
                spec.field(form, column.key).current = conflict.current.get(column.key)
            shown = conflict.current
        return _render_form(
            database,
            entity,
            spec,
            form,
            409,
            key=key,
            fingerprint=conflict.fingerprint or expected,
            failure=conflict,
            shown=shown,
            parent=_parent(session, entity, key, spec),
        )
    except writes.WriteFailed as failure:
        return _render_form(
            database,
            entity,
            spec,
            form,
            failure.status,
            key=key,
            fingerprint=expected,
            failure=failure,
            shown=shown,
            parent=None
            if isinstance(failure, writes.WriteInterrupted)
            else _parent(session, entity, key, spec),
        )
    flash("Saved.", "edit")
    return redirect(urls.row(db, entity, new_key))


def _parent(session: Any, entity: Entity, key: str, spec: FormSpec) -> Any:
    """The row a failed save was for, loaded again after its rollback (for its links)."""
    if not spec.related:
        return None
    try:
        return writes.load(session, entity, key).obj
    except NotFound:
        return None


# --- delete -------------------------------------------------------------------------------------


def _preview(database: Database, entity: Entity, identities: list[tuple[Any, ...]]) -> Any:
    """What deleting these rows would do, in every table (the full catalog, not the
    caller's view of it: a cascade reaches tables whatever the caller may read)."""
    budget = max(2.0, 2 * float(current_app.config["STATEMENT_TIMEOUT"]))
    return writes.delete_preview(
        session_for(database), database.catalog, entity, identities, budget
    )


def check_cascades(
    database: Database, entity: Entity, identities: list[tuple[Any, ...]]
) -> dict[str, int | None] | None:
    """Refuse a delete whose cascades (ON DELETE CASCADE / SET NULL / SET DEFAULT) would
    change rows of tables the caller may not change, as Django admin does. Returns the rows
    the cascades reach per table, for the audit log (None when it is off and nothing was
    checked)."""
    access = current_access()
    auditing = bool(current_app.config["AUDIT"])
    if access.is_admin and not auditing:
        return None
    effects = [e for e in _preview(database, entity, identities).visible if e.action != "blocking"]
    barred = sorted(
        {
            effect.table
            for effect in effects
            if not access.is_admin
            and (
                effect.entity is None
                or not access.may(
                    "write", database.name, effect.entity.schema, effect.entity.table_name
                )
            )
        }
    )
    if barred:
        raise Forbidden(
            "Not deleted: the database would also change rows of "
            + ", ".join(repr(name) for name in barred)
            + ", which you may not change. Someone who may (or an admin) can delete it."
        )
    return {f"{effect.table} ({effect.action})": effect.count for effect in effects}


def journal_for(
    database: Database,
    entity: Entity,
    cascade: dict[str, int | None] | None = None,
    revert_of: int | None = None,
) -> Journal | None:
    """The audit log's record of this write (``revert_of``: the entry it reverts), or None
    when auditing is off."""
    if not current_app.config["AUDIT"]:
        return None
    access = current_access()
    actor = Actor(access.user, access.token, request.remote_addr, request_id())
    full = database.catalog.entities[entity.name]  # hidden columns too: a revert needs them
    state = current_app.extensions["rowboat.state"]
    return Journal(state, actor, database.name, full, cascade, revert_of)


def _retry_headers(failure: writes.WriteFailed | None) -> dict[str, str]:
    """Retry-After for a delete the database or the audit log could not make now (503), as
    the row forms send it."""
    if isinstance(failure, writes.WriteInterrupted):
        return {"Retry-After": str(failure.retry_after)}
    return {}


def _labels(database: Database, entity: Entity, identities: list[tuple[Any, ...]]) -> list[Any]:
    pk = [entity.columns[k].expression for k in entity.primary_key]
    # At most MAX_PAGE_SIZE rows are deleted at once: one IN list, never one OR per row.
    found = refs_where(session_for(database), entity, key_in(pk, identities), limit=200)
    return [ref for _, ref in found]


@bp.route("/<db>/<table>/<key>/-/delete", methods=["GET", "POST"])
@needs("write")
def delete(db: str, table: str, key: str) -> Any:
    database, entity = _writable(db, table)
    session = session_for(database)
    failure: writes.WriteFailed | None = None
    status = 200
    if request.method == "POST":
        expected = request.form.get("_fingerprint") or None
        cascade = check_cascades(database, entity, [rowpage.decode_key(entity, key)])
        journal = journal_for(database, entity, cascade)
        try:
            writes.delete(session, catalog_of(database), entity, key, expected, journal)
        except writes.Conflict as conflict:
            failure, status = conflict, 409
            if conflict.current is None:
                return _render_gone(database, entity, key, conflict)
        except writes.WriteFailed as refused:
            failure, status = refused, refused.status
        else:
            flash(f"Deleted the row {shown_key(key)} from {entity.name}.", "edit")
            return redirect(urls.table(db, entity))
    loaded = writes.load(session, entity, key)
    refs = _labels(database, entity, [loaded.identity])
    return (
        render_template(
            "edit/delete.html",
            db=database,
            entity=entity,
            catalog=catalog_of(database),
            key=key,
            label=refs[0].label if refs else key,
            crumb=crumbs.crumb_text(key, refs[0].label if refs else None),
            values=loaded.values,
            fingerprint=loaded.fingerprint,
            preview=_preview(database, entity, [loaded.identity]),
            failure=failure,
        ),
        status,
        _retry_headers(failure),  # a 503 (database or audit log unavailable) says when to retry
    )


# What a browser removes from a URL before reading it (the WHATWG URL standard): ASCII tab,
# LF and CR anywhere, and C0 controls and spaces at either end.
_URL_STRIPPED = {9: None, 10: None, 13: None}
_URL_TRIMMED = "".join(map(chr, range(0x21)))


def _local(url: str) -> str | None:
    """A same-site path to go back to, or None (never another host: no open redirect).

    Checked as a browser will read it: "/\\t/evil.example" is followed as "//evil.example",
    another host, once the tab is dropped; a backslash counts as a slash. Only a path that
    starts with exactly one slash passes, and the cleaned form is what the redirect sends.
    """
    cleaned = url.translate(_URL_STRIPPED).strip(_URL_TRIMMED)
    if not cleaned.startswith("/") or cleaned.startswith("//") or "\\" in cleaned:
        return None
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in cleaned):
        return None
    return cleaned


def shown_key(key: str) -> str:
    return keys.decode(key) if "," not in key else key


def _render_gone(database: Database, entity: Entity, key: str, failure: Any) -> Any:
    return (
        render_template(
            "edit/delete.html",
            db=database,
            entity=entity,
            catalog=catalog_of(database),
            key=key,
            label=shown_key(key),
            crumb=crumbs.crumb_text(key, None),
            values=None,
            fingerprint=None,
            preview=None,
            failure=failure,
        ),
        409,
    )


@bp.post("/<db>/<table>/-/delete")
@needs("write")
def bulk_delete(db: str, table: str) -> Any:
    database, entity = _writable(db, table)
    texts = list(dict.fromkeys(request.form.getlist("_key")))
    if not texts:
        raise BadRequest("No rows were selected: tick the rows to delete first.")
    limit = int(current_app.config["MAX_PAGE_SIZE"])
    if len(texts) > limit:
        raise BadRequest(f"At most {limit} rows can be deleted at once.")
    try:
        identities = [rowpage.decode_key(entity, t) for t in texts]
    except NotFound as exc:
        raise BadRequest(exc.message) from None
    failure: writes.WriteFailed | None = None
    status = 200
    if request.form.get("_confirm") == "1":
        cascade = check_cascades(database, entity, identities)
        journal = journal_for(database, entity, cascade)
        try:
            deleted = writes.bulk_delete(
                session_for(database), catalog_of(database), entity, texts, journal
            )
        except writes.WriteFailed as refused:
            failure, status = refused, refused.status
        else:
            flash(f"Deleted {deleted} row{'' if deleted == 1 else 's'} from {entity.name}.", "edit")
            return redirect(_local(request.form.get("_back", "")) or urls.table(db, entity))
    return (
        render_template(
            "edit/bulk_delete.html",
            db=database,
            entity=entity,
            catalog=catalog_of(database),
            keys_=texts,
            refs=_labels(database, entity, identities),
            preview=_preview(database, entity, identities),
            failure=failure,
            back=_local(request.form.get("_back", "")) or urls.table(db, entity),
        ),
        status,
        _retry_headers(failure),  # a 503 (database or audit log unavailable) says when to retry
    )


# --- reading helpers: the foreign-key search and binary downloads --------------------------------


@bp.get("/<db>/<table>/-/lookup.json")
@needs("read", machine=True)
def lookup(db: str, table: str) -> Any:
    database = database_named(db)
    entity = entity_at(database, table)
    # The value searched and returned: a key column (the results carry the full identity too).
    column = request.args.get("_column") or (entity.primary_key[0] if entity.primary_key else "")
    if (
        column not in entity.columns
        or entity.columns[column].computed
        and column not in (entity.primary_key)
    ):
        raise BadRequest(f"{entity.name!r} has no column {column!r} to look up by")
    if not entity.primary_key:
        raise BadRequest(f"{entity.name!r} has no primary key: its rows cannot be chosen")
    query = request.args.get("q", "")
    try:
        check_text(query)
    except ValueError as exc:  # a NUL: PostgreSQL refuses it in any text
        raise BadRequest(f"The search text cannot be used: {exc}.") from None
    results, more = writes.search(session_for(database), entity, column, query)
    return jsonify({"results": results, "more": more})


@bp.get("/<db>/<table>/<key>/-/download/<column>")
@needs("read", machine=True)
def download(db: str, table: str, key: str, column: str) -> Any:
    database = database_named(db)
    entity = entity_at(database, table)
    try:
        column_key = keys.decode(column)
    except keys.MalformedKey as exc:
        raise NotFound(str(exc)) from None
    target = entity.columns.get(column_key)
    if target is None or target.kind != "binary" or not entity.primary_key:
        raise NotFound(f"{entity.name!r} has no binary column {column_key!r}")
    identity = rowpage.decode_key(entity, key)
    # A slice at a time, on a connection of its own (blobs.Download): never the whole value.
    body, size, exists = blobs.open_download(database.engine, entity, target, identity)
    if not exists:
        raise NotFound(f"no row {key!r} in {entity.name!r}")
    if body is None:
        raise NotFound(f"{column_key!r} is NULL in this row")
    filename = f"{entity.table_name}-{shown_key(key)}-{column_key}.bin"
    safe = "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in filename)
    headers = {
        "Content-Disposition": f'attachment; filename="{safe}"',
        "X-Content-Type-Options": "nosniff",
    }
    if size is not None:
        headers["Content-Length"] = str(size)
    return Response(body, mimetype="application/octet-stream", headers=headers)
