"""The query builder over HTTP, on SQLite, PostgreSQL and MariaDB, through Flask's test client.

Pages, JSON, EXPLAIN, streamed exports (query results and list pages), fuzzed invalid specs
that must be a 400 with a message and run nothing, and a query cancelled by the time limit
that leaves the pool with nothing checked out.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_query_support import (  # noqa: F401
    CUSTOMERS,
    ORDERS,
    make_query_app,
    query_app,
    query_url,
)


@pytest.fixture
def qclient(query_app: Flask) -> FlaskClient:  # noqa: F811
    return query_app.test_client()


def q(*pairs: tuple[str, str], path: str = "/shop/-/query") -> str:
    return f"{path}?{urlencode(pairs)}"


def test_choose_a_table_first(qclient: FlaskClient, read: Callable[[Any], Any]) -> None:
    page = read(qclient.get("/shop/-/query"))
    links = {a.text() for a in page.one("ul", "qb-tables").find_all("a")}
    assert {"qb_order", "qb_customer", "qb_region"} <= links


def test_the_form_redirects_to_the_canonical_url(qclient: FlaskClient) -> None:
    form = [
        ("table", "qb_order"),
        ("_jaddk", "left"),
        ("_jadd", "customer"),
        ("_gid", "0"),
        ("_gparent", ""),
        ("_gkind", "and"),
        ("_wg", "0"),
        ("_wf", "qty"),
        ("_wo", "gte"),
        ("_wv", "5"),
        ("_hkind", "and"),
        ("run", "1"),
    ]
    response = qclient.get(q(*form))
    assert response.status_code == 302
    target = urlsplit(response.headers["Location"])
    assert parse_qsl(target.query) == [
        ("table", "qb_order"),
        ("join", "left:customer"),
        ("where", "qty:gte:5"),
        ("run", "1"),
    ]


def test_run_shows_rows_with_links_and_a_cut_notice(
    qclient: FlaskClient, read: Callable[[Any], Any]
) -> None:
    response = qclient.get(
        q(
            ("table", "qb_order"),
            ("join", "left:customer"),
            ("col", "id"),
            ("col", "total"),
            ("col", "customer.name"),
            ("order", "id:desc"),
            ("limit", "5"),
            ("run", "1"),
        )
    )
    assert response.status_code == 200
    page = read(response)
    assert "first 5 rows shown" in page.one("p", "qb-count").text()
    rows = page.one("table", "qb-results").one("tbody").find_all("tr")
    assert len(rows) == 5
    first = rows[0].find_all("td")
    assert first[0].one("a").href == "/shop/qb_order/150"
    assert first[0].text() == "150"
    assert first[1].find("a") is None  # not a key
    assert "qb_order with Customer (left join)" in page.one("p", "qb-description").text()
    assert page.one("pre", "sql").text().startswith("SELECT")


def test_aggregates_match_python(qclient: FlaskClient) -> None:
    response = qclient.get(
        q(
            ("table", "qb_order"),
            ("join", "customer"),
            ("col", "customer.region_id"),
            ("agg", "count:*"),
            ("agg", "sum:total"),
            ("group", "customer.region_id"),
            ("having", "count:*:gt:10"),
            ("order", "customer.region_id"),
            ("run", "1"),
            path="/shop/-/query.json",
        )
    )
    assert response.status_code == 200
    data = response.get_json(force=True)
    customers = {c["id"]: c for c in CUSTOMERS}
    groups: dict[Any, list[Any]] = {}
    for o in ORDERS:
        if o["customer_id"] is not None:
            groups.setdefault(customers[o["customer_id"]]["region_id"], []).append(o["total"])
    expected = [
        [region, len(totals), sum(t for t in totals if t is not None)]
        for region, totals in groups.items()
        if len(totals) > 10
    ]
    nulls_first = sorted(expected, key=lambda r: (r[0] is not None, r[0] or 0))
    got = [[r[0], r[1], Decimal(str(r[2]))] for r in data["rows"]]
    if got and got[0][0] is not None and any(r[0] is None for r in got):
        nulls_first = nulls_first[1:] + nulls_first[:1]  # PostgreSQL sorts NULL last
    assert got == nulls_first
    assert data["columns"] == ["customer.region_id", "count(*)", "sum(total)"]
    assert data["spec"]["aggregates"] == ["count:*", "sum:total"]


def test_json_spec_loads_back_into_the_url(qclient: FlaskClient) -> None:
    spec = {
        "table": "qb_order",
        "columns": ["id"],
        "where": {
            "kind": "or",
            "items": [
                {"field": "qty", "op": "in", "value": [1, 2]},
                {"kind": "and", "items": [{"field": "status", "op": "isnull"}]},
            ],
        },
        "limit": 3,
    }
    response = qclient.get(q(("_spec", json.dumps(spec))))
    assert response.status_code == 302
    assert parse_qsl(urlsplit(response.headers["Location"]).query) == [
        ("table", "qb_order"),
        ("col", "id"),
        ("wg.0", "or"),
        ("where", "qty:in:1\n2"),
        ("wg.1", "and"),
        ("where.1", "status:isnull:"),
        ("limit", "3"),
    ]


def test_explain_shows_the_plan(qclient: FlaskClient, read: Callable[[Any], Any]) -> None:
    response = qclient.get(
        q(
            ("table", "qb_order"),
            ("join", "customer"),
            ("where", "qty:gt:3"),
            path="/shop/-/query/explain",
        )
    )
    assert response.status_code == 200
    page = read(response)
    plan = page.find("pre", "qb-plan") or page.find("table", "qb-plan")
    assert plan is not None and plan.text()


def _expected_orders(min_qty: int) -> list[dict[str, Any]]:
    return [o for o in ORDERS if o["qty"] is not None and o["qty"] >= min_qty]


def test_query_exports_stream_csv_and_json(qclient: FlaskClient) -> None:
    args = [("table", "qb_order"), ("col", "id"), ("col", "status"), ("where", "qty:gte:5")]
    expected = _expected_orders(5)
    response = qclient.get(q(*args, path="/shop/-/query/export.csv"))
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].endswith('.csv"')
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0] == ["id", "status"]
    assert [int(r[0]) for r in rows[1:]] == [o["id"] for o in expected]
    assert [r[1] for r in rows[1:]] == [o["status"] or "" for o in expected]
    data = json.loads(qclient.get(q(*args, path="/shop/-/query/export.json")).get_data())
    assert data["columns"] == ["id", "status"]
    assert data["rows"] == [{"id": o["id"], "status": o["status"]} for o in expected]
    assert data["truncated"] is False


def test_export_respects_the_row_cap(query_url: str, tmp_path: Any) -> None:  # noqa: F811
    app = make_query_app(query_url, tmp_path, EXPORT_MAX_ROWS=7)
    try:
        client = app.test_client()
        args = [("table", "qb_order"), ("col", "id")]
        data = json.loads(client.get(q(*args, path="/shop/-/query/export.json")).get_data())
        assert [r["id"] for r in data["rows"]] == list(range(1, 8))
        assert data["truncated"] is True
        lines = client.get(q(*args, path="/shop/-/query/export.csv")).get_data(as_text=True)
        assert lines.splitlines() == ["id", *map(str, range(1, 8))]
    finally:
        for database in app.extensions["rowboat.databases"].values():
            database.engine.dispose()


def test_list_page_export_keeps_filters_and_sort(qclient: FlaskClient) -> None:
    response = qclient.get("/shop/-/export/qb_order.csv?qty__gte=5&_sort_desc=total&_size=20")
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    expected = sorted(
        _expected_orders(5), key=lambda o: (o["total"] is not None, o["total"] or 0, o["id"])
    )
    expected.reverse()
    got = [int(r["id"]) for r in rows]
    assert len(got) == len(expected)  # every row, not one page
    assert sorted(got) == sorted(o["id"] for o in expected)
    totals = [Decimal(r["total"]) for r in rows if r["total"]]
    assert totals == sorted(totals, reverse=True)
    data = json.loads(qclient.get("/shop/-/export/qb_order.json?qty__gte=5").get_data())
    assert [r["id"] for r in data["rows"]] == [o["id"] for o in _expected_orders(5)]


# --- invalid specs -----------------------------------------------------------------------------

HOSTILE = [
    "'; DROP TABLE qb_order; --",
    '" OR 1=1 --',
    "qb_order`; SELECT 1",
    "id) UNION SELECT password FROM users --",
    "~",
    "a.b.c.d.e.f.g.h",
    "",
    "x:y:z",
    "💥",
    "\x00",
]
NAMES = [
    "table",
    "join",
    "col",
    "agg",
    "where",
    "where.1",
    "wg.1",
    "group",
    "having",
    "order",
    "limit",
    "_x",
    "hg.0",
]


@st.composite
def invalid_args(draw: Any) -> list[tuple[str, str]]:
    base = [("table", "qb_order")]
    mutation = draw(
        st.lists(
            st.tuples(
                st.sampled_from(NAMES),
                st.one_of(
                    st.sampled_from(HOSTILE),
                    st.builds(
                        lambda a, b: f"{a}:{b}",
                        st.sampled_from(["qty", "status", "nope", "sum", "count"]),
                        st.sampled_from(HOSTILE + ["gt:x", "like:1", "*", "between:1"]),
                    ),
                ),
            ),
            min_size=1,
            max_size=3,
        )
    )
    return base + mutation


@pytest.fixture(scope="module")
def fuzz_app(query_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:  # noqa: F811
    app = make_query_app(query_url, tmp_path_factory.mktemp("fuzz"))
    app.extensions["rowboat.databases"]["shop"].catalog  # noqa: B018 - discover up front
    yield app
    for database in app.extensions["rowboat.databases"].values():
        database.engine.dispose()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(args=invalid_args(), endpoint=st.sampled_from(["", ".json", "/explain", "/export.csv"]))
def test_invalid_specs_are_400_and_run_nothing(
    fuzz_app: Flask, args: list[tuple[str, str]], endpoint: str
) -> None:
    from sqlalchemy import event

    engine = fuzz_app.extensions["rowboat.databases"]["shop"].engine
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    args = [*args, ("run", "1")]
    event.listen(engine, "before_cursor_execute", record)
    try:
        response = fuzz_app.test_client().get(q(*args, path=f"/shop/-/query{endpoint}"))
    finally:
        event.remove(engine, "before_cursor_execute", record)
    if response.status_code == 400:
        body = response.get_data(as_text=True)
        assert "Invalid query" in body or "Bad request" in body
        queries = [s for s in statements if "qb_" in s]
        assert queries == [], f"ran {queries} for {args}"
    else:
        # A fuzzed spec that happens to be valid runs normally; it must never be a 500.
        assert response.status_code in (200, 302), (args, response.status_code)


def test_hostile_names_are_refused_by_name(qclient: FlaskClient) -> None:
    response = qclient.get(
        q(("table", "qb_order"), ("col", 'id"; DROP TABLE qb_order; --'), path="/shop/-/query.json")
    )
    assert response.status_code == 400
    assert "has no column 'id\"; DROP TABLE qb_order; --'" in response.get_json()["message"]


# --- time limits -------------------------------------------------------------------------------

EXPLOSIVE = [
    ("table", "qb_num"),
    ("join", "grp.qb_num_collection.grp.qb_num_collection"),
    ("agg", "count:*"),
    ("run", "1"),
]


def test_a_slow_query_is_cancelled_and_the_pool_recovers(
    query_url: str,  # noqa: F811
    tmp_path: Any,
    read: Callable[[Any], Any],
) -> None:
    app = make_query_app(query_url, tmp_path, STATEMENT_TIMEOUT=0.5)
    try:
        client = app.test_client()
        database = app.extensions["rowboat.databases"]["shop"]
        response = client.get(q(*EXPLOSIVE))
        assert response.status_code == 504
        message = read(response).one("div", "qb-error").text()
        assert "time limit and was cancelled" in message
        assert database.pool_status()["checkedout"] == 0
        response = client.get(q(*EXPLOSIVE, path="/shop/-/query.json"))
        assert response.status_code == 504
        assert database.pool_status()["checkedout"] == 0
        # The same pooled connection still answers, and is writable again afterwards.
        ok = client.get(q(("table", "qb_region"), ("run", "1"), path="/shop/-/query.json"))
        assert ok.status_code == 200 and len(ok.get_json()["rows"]) == 4
        with database.engine.begin() as connection:
            from sqlalchemy import text

            connection.execute(text("UPDATE qb_region SET name = name WHERE id = 1"))
        assert database.pool_status()["checkedout"] == 0
    finally:
        for db in app.extensions["rowboat.databases"].values():
            db.engine.dispose()


def test_queries_cannot_write(query_app: Flask) -> None:  # noqa: F811
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    from rowboat.querybuilder.run import read_only

    engine = query_app.extensions["rowboat.databases"]["shop"].engine
    with engine.connect() as connection, read_only(connection):
        with pytest.raises(DBAPIError):
            connection.execute(text("UPDATE qb_region SET name = 'x' WHERE id = 1"))
    with engine.connect() as connection:
        assert (
            connection.execute(text("SELECT name FROM qb_region WHERE id = 1")).scalar() == "north"
        )


def test_reserved_words_and_edge_tables(client: FlaskClient) -> None:
    """The shared edge schema: a table called "order" with a column "from", joined to person."""
    response = client.get(
        q(
            ("table", "order"),
            ("join", "left:person"),
            ("col", "id"),
            ("col", "from"),
            ("col", "person.name"),
            ("where", "from:contains:o"),
            ("run", "1"),
            path="/edge/-/query.json",
        )
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    rows = response.get_json()["rows"]
    assert rows == [[1, "warehouse", "Ada"], [2, "shop", "<script>alert(1)</script>"]]
