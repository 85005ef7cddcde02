"""The floor: the least a web app can do to serve the benchmark's pages, to measure Rowboat against.

One keyset query joined to the customer, 50 rows, one Jinja template; a row page, a form, a
customer search, nothing else (no count, no labels, no filter form). Served like Rowboat:
``FLOOR_DATABASE_URL=... gunicorn -w 2 floor_app:app`` from this folder.
"""

import os

from flask import Flask, abort, jsonify, render_template, request
from jinja2 import DictLoader
from sqlalchemy import create_engine, text

app = Flask(__name__)
engine = create_engine(os.environ["FLOOR_DATABASE_URL"], pool_pre_ping=True)
LIKE = "ILIKE" if engine.dialect.name == "postgresql" else "LIKE"
SORTS = {"id", "created_at", "amount"}  # identifiers come from this set, values are bound
SELECT = "SELECT o.*, c.name AS customer FROM orders o JOIN customers c ON c.id = o.customer_id"
PAGE = """<!doctype html><title>orders</title><table>
<tr>{% for k in (rows[0].keys() if rows else []) %}<th>{{ k }}</th>{% endfor %}</tr>
{% for r in rows %}<tr><td><a href="/orders/{{ r.id }}">{{ r.id }}</a></td>
<td><a href="/customers/{{ r.customer_id }}">{{ r.customer }}</a> {{ r.customer_id }}</td>
<td>{{ r.created_at }}</td><td>{{ r.status }}</td><td>{{ r.amount }}</td><td>{{ r.note }}</td></tr>
{% endfor %}</table>{% if rows %}<a href="?after={{ rows[-1].id }}">next</a>{% endif %}"""
ROW = """<!doctype html><title>order {{ r.id }}</title><{{ tag }}>{% for k, v in r.items() %}
{% if form %}<label>{{ k }} <input name="{{ k }}" value="{{ v if v is not none else '' }}"></label>
{% else %}<dt>{{ k }}</dt><dd>{{ v }}</dd>{% endif %}{% endfor %}</{{ tag }}>"""


# Templates by name, so Jinja compiles each once (render_template_string compiles per call).
app.jinja_loader = DictLoader({"page.html": PAGE, "row.html": ROW})


@app.get("/orders")
def orders():
    sort = request.args.get("sort", "id")
    if sort not in SORTS:
        abort(400)
    where, params, desc = [], {}, False
    for name in ("status", "customer_id"):
        if name in request.args:
            where.append(f"o.{name} = :{name}")
            params[name] = request.args[name]
    if "amount_gt" in request.args:
        where.append("o.amount > :amount_gt")
        params["amount_gt"] = request.args["amount_gt"]
    if "q" in request.args:
        where.append(f"(o.status {LIKE} :q OR o.note {LIKE} :q)")
        params["q"] = f"%{request.args['q']}%"
    if "after" in request.args:  # keyset, on the id order only
        where.append("o.id > :after")
        params["after"] = int(request.args["after"])
    if "before" in request.args or "last" in request.args:
        desc = True
        if "before" in request.args:
            where.append("o.id < :before")
            params["before"] = int(request.args["before"])
    order = f"{sort}{' DESC' if desc else ''}, id{' DESC' if desc else ''}"
    # The page of orders first, then its customers: no planner joins 5M rows before sorting.
    page = f"SELECT * FROM orders o WHERE {' AND '.join(where) or 'TRUE'} ORDER BY o.{order}"
    sql = SELECT.replace("orders o", f"({page} LIMIT :limit) o") + f" ORDER BY o.{order}"
    params["limit"] = min(int(request.args.get("limit", 50)), 500)
    with engine.connect() as connection:
        rows = [row._mapping for row in connection.execute(text(sql), params)]
    return render_template("page.html", rows=rows[::-1] if desc else rows)


@app.get("/orders/<int:key>")
@app.get("/orders/<int:key>/edit")
def order(key):
    with engine.connect() as connection:
        row = connection.execute(text(f"{SELECT} WHERE o.id = :k"), {"k": key}).first()
    if row is None:
        abort(404)
    form = request.path.endswith("/edit")
    return render_template("row.html", r=row._mapping, form=form, tag="form" if form else "dl")


@app.get("/customers/lookup.json")
def lookup():
    sql = f"SELECT id, name FROM customers WHERE name {LIKE} :q ORDER BY id LIMIT 21"
    with engine.connect() as connection:
        found = connection.execute(text(sql), {"q": f"%{request.args.get('q', '')}%"})
        return jsonify([{"value": i, "label": name} for i, name in found])
