"""Bounded cost for every input: filter and URL caps, linear list pages, query-spec depth,
same-site redirects and the host allowlist (ROWBOAT_TRUSTED_HOSTS, ROWBOAT_BASE_URL).

Engine-independent, so one SQLite file serves them all.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import create_engine, text

from rowboat import create_app
from rowboat.config import ConfigError, load_config
from rowboat.db.engines import databases_of
from rowboat.querybuilder import spec as specs
from rowboat.views.edit import _local


@pytest.fixture(scope="module")
def db_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("bounds") / "bounds.sqlite"
    url = f"sqlite:///{path}"
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(
            text("CREATE TABLE items (id INTEGER PRIMARY KEY, name VARCHAR(40), note TEXT)")
        )
        connection.execute(
            text("INSERT INTO items (id, name, note) VALUES (:id, :name, :note)"),
            [{"id": i, "name": f"item {i}", "note": "n" * (i % 5)} for i in range(1, 31)],
        )
    engine.dispose()
    return url


def make_app(db_url: str, tmp_path: Any, **settings: Any) -> Flask:
    application = create_app(
        {"DATABASES": {"b": db_url}, "DEMO_PATH": str(tmp_path / "demo.sqlite"), **settings}
    )
    application.config["TESTING"] = True
    application.config["WTF_CSRF_ENABLED"] = False
    return application


@pytest.fixture
def bapp(db_url: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Flask]:
    for name in ("DATABASE_URL", "ROWBOAT_DATABASES", "ROWBOAT_MODELS", "ROWBOAT_TRUSTED_HOSTS"):
        monkeypatch.delenv(name, raising=False)
    application = make_app(db_url, tmp_path)
    yield application
    for database in databases_of(application).values():
        database.engine.dispose()


@pytest.fixture
def bclient(bapp: Flask) -> FlaskClient:
    return bapp.test_client()


def filters(count: int, column: str = "id__not") -> list[tuple[str, str]]:
    return [(column, str(i)) for i in range(count)]


def page(client: FlaskClient, args: list[tuple[str, str]], status: int = 200) -> str:
    response = client.get("/b/items?" + urlencode(args))
    body = response.get_data(as_text=True)
    assert response.status_code == status, body[-800:]
    return body


# --- the list page's filters -------------------------------------------------------------------


def test_each_remove_button_carries_only_its_position(bclient: FlaskClient) -> None:
    body = page(bclient, [("name__contains", "item"), ("id__gt", "3"), ("id__lt", "9")])
    buttons = re.findall(r'<button type="submit" class="remove" name="_remove" value="(\d+)"', body)
    assert buttons == ["0", "1", "2"]
    assert 'class="remove" href' not in body  # no link per filter repeating every other one


def test_removing_a_filter_keeps_the_others_sort_and_size(bclient: FlaskClient) -> None:
    form = [
        ("_search", ""),
        ("_fc", "name"), ("_fo", "contains"), ("_fv", "item"),
        ("_fc", "id"), ("_fo", "gt"), ("_fv", "3"),
        ("_fc", "id"), ("_fo", "lt"), ("_fv", "9"),
        ("_fc", ""), ("_fo", "exact"), ("_fv", ""),
        ("_sort_desc", "name"), ("_size", "20"), ("_remove", "1"),
    ]  # fmt: skip
    response = bclient.get("/b/items?" + urlencode(form))
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert location.path == "/b/items"
    assert parse_qsl(location.query) == [
        ("name__contains", "item"),
        ("id__lt", "9"),
        ("_sort_desc", "name"),
        ("_size", "20"),
    ]


def test_a_list_page_grows_linearly_with_its_filters(
    db_url: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each filter adds the same few bytes: the remove links that repeated every other filter
    made 570 filters a 6 MB page and 2,000 a 69 MB one (figures: bench/many_filters.py)."""
    monkeypatch.delenv("ROWBOAT_TRUSTED_HOSTS", raising=False)
    client = make_app(db_url, tmp_path, MAX_FILTERS=200).test_client()
    sizes = {n: len(page(client, filters(n))) for n in (0, 50, 100, 200)}
    steps = [sizes[50] - sizes[0], sizes[100] - sizes[50], (sizes[200] - sizes[100]) / 2]
    assert max(steps) < 1.2 * min(steps), sizes
    assert steps[-1] / 50 < 3_000, sizes  # bytes per filter: its form row, its description


def test_more_filters_than_the_cap_is_a_400(bclient: FlaskClient) -> None:
    page(bclient, filters(50))
    body = page(bclient, filters(51), status=400)
    assert "51 filters" in body and "ROWBOAT_MAX_FILTERS" in body
    # The filter form's rows count the same (the blank row and removed rows do not).
    form = [(n, v) for i in range(51) for n, v in (("_fc", "id"), ("_fo", "not"), ("_fv", str(i)))]
    assert bclient.get("/b/items?" + urlencode(form)).status_code == 400
    assert bclient.get("/b/items?" + urlencode([*form, ("_remove", "0")])).status_code == 302
    # The list export reads the same filters, and the same cap.
    export = bclient.get("/b/-/export/items.csv?" + urlencode(filters(51)))
    assert export.status_code == 400


def test_the_filter_cap_is_a_setting(
    db_url: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ROWBOAT_MAX_FILTERS", "3")
    client = make_app(db_url, tmp_path).test_client()
    page(client, filters(3))
    assert "at most 3" in page(client, filters(4), status=400)
    assert client.get("/b/-/export/items.json?" + urlencode(filters(4))).status_code == 400


def test_a_long_address_is_a_414(bclient: FlaskClient, db_url: str, tmp_path: Any) -> None:
    long_value = "x" * 8200
    response = bclient.get("/b/items?" + urlencode([("name__contains", long_value)]))
    assert response.status_code == 414
    assert "ROWBOAT_MAX_URL_LENGTH" in response.get_data(as_text=True)
    # Any path: the query page, an unknown URL.
    assert bclient.get("/b/-/query?table=items&where=" + long_value).status_code == 414
    assert bclient.get("/nowhere/" + long_value).status_code == 414
    roomy = make_app(db_url, tmp_path, MAX_URL_LENGTH=20_000).test_client()
    assert roomy.get("/b/items?" + urlencode([("name__contains", long_value)])).status_code == 200


# --- the query builder's spec ------------------------------------------------------------------


def nested_json(depth: int) -> str:
    condition = '{"kind": "and", "items": [{"field": "id", "op": "gt", "value": 1}]}'
    group = '{"kind": "or", "items": [' * depth + condition + "]}" * depth
    return json.dumps({"table": "items"})[:-1] + ', "where": ' + group + "}"


def test_a_deeply_nested_json_spec_is_refused_before_decoding() -> None:
    specs.from_json_text(nested_json(specs.MAX_DEPTH))  # as deep as allowed
    for depth in (specs.MAX_DEPTH + 1, 1_300, 100_000):
        with pytest.raises(specs.QueryError, match="nest"):
            specs.from_json_text(nested_json(depth))
    # Brackets inside strings do not count.
    spec = specs.from_json_text(
        '{"table": "items", "where": {"items": [{"field": "name", "op": "exact", '
        '"value": "' + "[" * 500 + '"}]}}'
    )
    assert next(spec.where.conditions()).value == "[" * 500


def test_a_deep_json_spec_is_a_400_on_every_page(db_url: str, tmp_path: Any) -> None:
    deep = urlencode([("_spec", nested_json(1_300))])  # 69 KB: past the default URL cap
    bclient = make_app(db_url, tmp_path, MAX_URL_LENGTH=100_000).test_client()
    for path in ("/b/-/query", "/b/-/query.json", "/b/-/query/explain", "/b/-/query/export.csv"):
        response = bclient.get(f"{path}?{deep}")
        assert response.status_code == 400, (path, response.status_code)
        assert "nest" in response.get_data(as_text=True)


def test_a_long_chain_of_query_string_groups_stops_at_the_depth_cap() -> None:
    """Each group's walk to the root stops after MAX_DEPTH steps (it walked the whole chain:
    quadratic in the number of groups)."""
    chain = [("wg.1", "or")] + [(f"wg.{i}", f"and:{i - 1}") for i in range(2, 99)]
    with pytest.raises(specs.QueryError, match=f"nest at most {specs.MAX_DEPTH} deep"):
        specs.parse_args([("table", "items"), *chain, ("where.98", "id:gt:1")])
    many = [(f"wg.{i}", "and") for i in range(1, specs.MAX_GROUPS + 2)]
    with pytest.raises(specs.QueryError, match="at most 100 where groups"):
        specs.parse_args([("table", "items"), *many])


def test_too_many_conditions_is_a_400(bclient: FlaskClient) -> None:
    args = [("table", "items")] + [("where", f"id:not:{i}") for i in range(101)]
    response = bclient.get("/b/-/query?" + urlencode(args))
    assert response.status_code == 400
    assert "at most 100 conditions" in response.get_data(as_text=True)


# --- redirects -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("back", "expected"),
    [
        ("/b/items?_size=20", "/b/items?_size=20"),
        ("  /b/items\n", "/b/items"),
        ("/b/it\tems", "/b/items"),
        ("//evil.example", None),
        ("/\t/evil.example", None),
        ("/\n/evil.example", None),
        ("/\r\n/evil.example", None),
        ("\t//evil.example", None),
        (" //evil.example", None),
        ("/\\evil.example", None),
        ("\\\\evil.example", None),
        ("/b/items\\..\\x", None),
        ("https://evil.example/", None),
        ("javascript:alert(1)", None),
        ("evil.example", None),
        ("/b/\x00items", None),
        ("", None),
    ],
)
def test_only_a_same_site_path_is_gone_back_to(back: str, expected: str | None) -> None:
    assert _local(back) == expected


@given(st.text(alphabet=st.sampled_from("/\\\t\n\r \x00\x0b:ab.?#%@"), max_size=12))
def test_a_path_gone_back_to_stays_on_the_site_as_a_browser_reads_it(back: str) -> None:
    local = _local(back)
    if local is None:
        return
    # What a browser does with it (WHATWG URL): drop tab/LF/CR, read "\" as "/".
    read = re.sub(r"[\t\n\r]", "", local).replace("\\", "/")
    assert read.startswith("/") and not read.startswith("//")
    assert urlsplit("http://rowboat.test" + read).netloc == "rowboat.test"


def test_bulk_delete_goes_back_only_to_this_site(bclient: FlaskClient, db_url: str) -> None:
    for back, expected in (("/\t/evil.example", "/b/items"), ("/b/items?_size=20", None)):
        data = {"_key": "30", "_confirm": "1", "_back": back}
        response = bclient.post("/b/items/-/delete", data=data)
        assert response.status_code == 302
        assert response.headers["Location"] == (expected or back)
        engine = create_engine(db_url)
        with engine.begin() as connection:  # put the row back for the next round
            connection.execute(text("INSERT OR IGNORE INTO items (id, name) VALUES (30, 'x')"))
        engine.dispose()


# --- hosts -----------------------------------------------------------------------------------


def host_status(client: FlaskClient, host: str, path: str = "/b/items") -> int:
    return client.get(path, environ_overrides={"HTTP_HOST": host}).status_code


@pytest.mark.parametrize(
    "host",
    ["localhost", "localhost:5000", "LOCALHOST:80", "127.0.0.1", "127.0.0.1:8000", "[::1]:5000"],
)
def test_localhost_answers_by_default(bclient: FlaskClient, host: str) -> None:
    assert host_status(bclient, host) == 200


@pytest.mark.parametrize(
    "host",
    [
        "evil.example",
        "evil.example:5000",
        "localhost.evil.example",
        "127.0.0.1.nip.io",
        "[::2]:5000",
        "[::1]x",
        "[::1]:x",
        "local host",
        "",
    ],
)
def test_another_host_is_a_400_by_default(bclient: FlaskClient, host: str) -> None:
    response = bclient.get("/b/items", environ_overrides={"HTTP_HOST": host})
    assert response.status_code == 400
    body = response.get_data(as_text=True)
    assert "ROWBOAT_TRUSTED_HOSTS" in body
    # Before anything else: an unknown page, a form post and the health check too.
    assert host_status(bclient, host, "/nowhere") == 400
    assert host_status(bclient, host, "/static/rowboat.css") == 400
    response = bclient.post("/b/items/-/delete", environ_overrides={"HTTP_HOST": host})
    assert response.status_code == 400


def test_trusted_hosts_is_a_setting(
    db_url: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ROWBOAT_TRUSTED_HOSTS", "dash.example.com, .corp.example [2001:db8::1]")
    client = make_app(db_url, tmp_path).test_client()
    for host in ("dash.example.com", "dash.example.com:8000", "a.corp.example", "[2001:db8::1]"):
        assert host_status(client, host) == 200, host
    for host in ("localhost", "example.com", "corp.example.evil", "[::1]:5000"):
        assert host_status(client, host) == 400, host
    monkeypatch.setenv("ROWBOAT_TRUSTED_HOSTS", "*")
    client = make_app(db_url, tmp_path).test_client()
    assert host_status(client, "anything.example:1234") == 200
    # An override (a list) works as the environment does.
    client = make_app(db_url, tmp_path, TRUSTED_HOSTS=["x.example"]).test_client()
    assert host_status(client, "x.example") == 200
    assert host_status(client, "localhost") == 400


@pytest.mark.parametrize(
    "value", ["", " , ", "http://dash.example.com", "dash.example.com:8000", "a/b", "::1"]
)
def test_a_bad_trusted_hosts_value_fails_at_start(value: str) -> None:
    with pytest.raises(ConfigError, match="ROWBOAT_TRUSTED_HOSTS"):
        load_config({"ROWBOAT_TRUSTED_HOSTS": value})


# --- the share URL -----------------------------------------------------------------------------


def share_url(client: FlaskClient, host: str = "localhost") -> str:
    response = client.get(
        "/b/-/query?table=items&where=id:gt:3", environ_overrides={"HTTP_HOST": host}
    )
    assert response.status_code == 200
    match = re.search(r'class="qb-share" type="text" readonly value="([^"]+)"', response.text)
    assert match is not None
    return match.group(1).replace("&amp;", "&")


def test_the_share_url_uses_the_trusted_host_or_the_base_url(
    bclient: FlaskClient, db_url: str, tmp_path: Any
) -> None:
    assert share_url(bclient, "127.0.0.1:8000").startswith("http://127.0.0.1:8000/b/-/query?")
    # Any other Host header never reaches the page, so never the link.
    assert host_status(bclient, "evil.example", "/b/-/query?table=items") == 400
    based = make_app(db_url, tmp_path, BASE_URL="https://dash.example.com/rowboat").test_client()
    url = share_url(based, "127.0.0.1:8000")
    assert url.startswith("https://dash.example.com/rowboat/b/-/query?table=items&")
    assert "run=1" in url
    data = based.get("/b/-/query.json?table=items").get_json()
    assert data["url"].startswith("https://dash.example.com/rowboat/b/-/query?")


@pytest.mark.parametrize("value", ["dash.example.com", "ftp://x", "https://x/?q=1"])
def test_a_bad_base_url_fails_at_start(value: str) -> None:
    with pytest.raises(ConfigError, match="ROWBOAT_BASE_URL"):
        load_config({"ROWBOAT_BASE_URL": value})
