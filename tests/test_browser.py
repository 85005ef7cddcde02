"""Browser journeys through the demo database, in a real headless Chromium.

The HTTP tests check what the server sends; these check what a person sees and does: the
filter form's JavaScript offering only the operators that fit a column, the redirect to the
canonical ``column__op=value`` URL, sorting and keyset paging by clicking, and following
relationships from row to row. Every page is also watched for console errors, failed or
cross-origin requests and JavaScript dialogs (the demo data contains a ``<script>`` title).

Screenshots of each step go to $ROWBOAT_SCREENSHOTS, or to a pytest temporary directory.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from conftest import serving

from rowboat import create_app
from rowboat.demo.build import HTML_TITLE, LONG_TITLE

pytestmark = pytest.mark.browser


# --- Fixtures: one server and one browser for the whole module -------------------------------


class Served:
    """The running app: its base URL and the demo file, read directly for expected values."""

    def __init__(self, base: str, demo_path: Path) -> None:
        self.base = base
        self.demo_path = demo_path

    def url(self, path: str) -> str:
        return self.base + path

    def sql(self, statement: str, *params: Any) -> list[tuple[Any, ...]]:
        # Read-only and separate from the app's engine: the expected values do not come
        # from the code under test.
        conn = sqlite3.connect(f"file:{self.demo_path}?mode=ro", uri=True)
        try:
            return conn.execute(statement, params).fetchall()
        finally:
            conn.close()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    demo_path = tmp_path_factory.mktemp("browser-demo") / "demo.sqlite"
    with pytest.MonkeyPatch.context() as mp:
        for name in ("DATABASE_URL", "ROWBOAT_DATABASES", "ROWBOAT_MODELS"):
            mp.delenv(name, raising=False)
        app = create_app({"DEMO_PATH": str(demo_path)})
        with serving(app) as base:
            yield Served(base, demo_path)


class Watch:
    """Everything on a page that should never happen, collected while the test runs."""

    def __init__(self, page: Any, base: str) -> None:
        self.origin = base
        self.problems: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.problems.append(f"page error: {exc}"))
        page.on("dialog", self._dialog)
        page.on("requestfailed", self._failed)
        page.on("response", self._response)
        page.on("request", self._request)

    def _console(self, message: Any) -> None:
        if message.type in ("error", "warning"):
            where = message.location.get("url", "")
            self.problems.append(f"console {message.type}: {message.text} [{where}]")

    def _dialog(self, dialog: Any) -> None:
        self.problems.append(f"dialog {dialog.type}: {dialog.message}")
        dialog.dismiss()

    def _failed(self, request: Any) -> None:
        self.problems.append(f"request failed: {request.url} ({request.failure})")

    def _response(self, response: Any) -> None:
        # Error pages are fine when a test asks for one; this journey never does.
        if response.status >= 400:
            self.problems.append(f"HTTP {response.status}: {response.url}")

    def _request(self, request: Any) -> None:
        if not request.url.startswith(self.origin + "/") and not request.url.startswith("data:"):
            self.problems.append(f"request to another origin: {request.url}")

    def check(self) -> None:
        assert self.problems == [], "\n".join(self.problems)


@pytest.fixture
def page(browser: Any, served: Served) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture
def watch(page: Any, served: Served) -> Watch:
    return Watch(page, served.base)


# --- Helpers -----------------------------------------------------------------------------------


class Shooter:
    def __init__(self, page: Any, directory: Path, prefix: str) -> None:
        self.page = page
        self.directory = directory
        self.prefix = prefix
        self.n = 0

    def __call__(self, name: str, full_page: bool = False) -> None:
        self.n += 1
        path = self.directory / f"{self.prefix}-{self.n:02d}-{name}.png"
        self.page.screenshot(path=str(path), full_page=full_page)


COLUMN_VALUES_JS = """
(name) => {
  const ths = [...document.querySelectorAll('table.rows thead th')];
  const label = (th) => {
    const a = th.querySelector('a.sort');
    const text = a ? a.textContent : (th.firstChild ? th.firstChild.textContent : '');
    return text.replace(/[\\u25b2\\u25bc]/g, '').trim();
  };
  const idx = ths.findIndex((th) => label(th) === name);
  if (idx < 0) throw new Error('no column ' + name);
  return [...document.querySelectorAll('table.rows tbody tr')]
    .filter((tr) => !tr.querySelector('td.none'))
    .map((tr) => tr.children[idx].innerText.trim());
}
"""


def column(page: Any, name: str) -> list[str]:
    """The text of one column of the list page's table, top to bottom."""
    return page.evaluate(COLUMN_VALUES_JS, name)


def ids(page: Any) -> list[int]:
    return [int(v) for v in column(page, "id")]


def query_of(url: str) -> list[tuple[str, str]]:
    return parse_qsl(urlsplit(url).query, keep_blank_values=True)


def offered_operators(page: Any, row: Any) -> list[str]:
    """The operators the filter row's picker currently lets a person choose."""
    return row.locator("select.filter-op").evaluate(
        "(s) => [...s.options].filter((o) => !o.hidden && !o.disabled).map((o) => o.value)"
    )


def assert_same_origin_assets(page: Any, base: str) -> None:
    """Every stylesheet, script, image or frame the page references is served by the app."""
    refs = page.evaluate(
        """() => [...document.querySelectorAll('[src], link[href]')]
                 .map((el) => el.src || el.href)"""
    )
    assert refs, "the page references no assets at all"
    assert [r for r in refs if not r.startswith(base + "/")] == []


# --- The journey -------------------------------------------------------------------------------


def test_filter_sort_page_and_follow_relationships(
    page: Any, watch: Watch, served: Served, shots: Path
) -> None:
    shot = Shooter(page, shots, "journey")

    # Home: one database, its tables listed.
    page.goto(served.url("/"))
    assert page.locator("section.database h1").first.inner_text().startswith("demo")
    assert_same_origin_assets(page, served.base)
    shot("home", full_page=True)
    page.get_by_role("link", name="books", exact=True).click()
    page.wait_for_url(served.url("/demo/books"))
    assert page.locator("h1").first.inner_text().startswith("books")
    (total,) = served.sql("SELECT count(*) FROM books")[0]
    assert page.locator("p.count").inner_text() == f"{total:,} rows"
    assert ids(page) == [r[0] for r in served.sql("SELECT id FROM books ORDER BY id LIMIT 50")]
    assert_same_origin_assets(page, served.base)
    shot("books", full_page=True)

    # The filter form: the operator picker follows the chosen column's type.
    row = page.locator(".filter-row.new")
    row.locator("select.filter-column").select_option("title")
    text_ops = offered_operators(page, row)
    assert {"exact", "contains", "startswith", "isnull"} <= set(text_ops)
    row.locator("select.filter-column").select_option("in_print")
    bool_ops = offered_operators(page, row)
    assert {"istrue", "isfalse"} <= set(bool_ops)
    assert "contains" not in bool_ops and "gt" not in bool_ops
    row.locator("select.filter-column").select_option("price")
    numeric_ops = offered_operators(page, row)
    assert {"exact", "lt", "gt", "gte", "in"} <= set(numeric_ops)
    assert not {"contains", "startswith", "endswith", "istrue"} & set(numeric_ops)
    # The previously chosen operator no longer fits, so the picker moved to one that does.
    assert row.locator("select.filter-op").input_value() in numeric_ops
    # An operator without a value hides the value box; one with a value shows it again.
    row.locator("select.filter-op").select_option("isnull")
    assert row.locator("input.filter-value").is_hidden()
    row.locator("select.filter-op").select_option("gt")
    assert row.locator("input.filter-value").is_visible()
    row.locator("input.filter-value").click()
    row.locator("input.filter-value").type("40")
    shot("filter-form")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url(lambda url: "price__gt=" in url)

    # The server redirected the form's _fc/_fo/_fv triple to the canonical URL.
    params = query_of(page.url)
    assert urlsplit(page.url).path == "/demo/books"
    assert [p for p in params if not p[0].startswith("_")] == [("price__gt", "40")]
    assert not {name for name, _ in params} & {"_fc", "_fo", "_fv", "_search"}
    (matching,) = served.sql("SELECT count(*) FROM books WHERE price > 40")[0]
    # A filtered list counts up to FILTER_COUNT_CAP (1,000) on SQLite, which has no estimates.
    assert matching > 1000
    assert page.locator("p.count").inner_text() == "1,000+ rows (counted up to 1,000)"
    assert "price" in page.locator("p.description").inner_text()
    prices = [Decimal(v) for v in column(page, "price")]
    assert prices and all(p > 40 for p in prices)
    expected = served.sql("SELECT id FROM books WHERE price > 40 ORDER BY id LIMIT 50")
    assert ids(page) == [r[0] for r in expected]
    # The applied filter is shown back in the form, ready to edit or remove.
    applied = page.locator(".filter-row:not(.new)")
    assert applied.count() == 1
    assert applied.locator("select.filter-column").input_value() == "price"
    assert applied.locator("select.filter-op").input_value() == "gt"
    assert applied.locator("input.filter-value").input_value() == "40"
    shot("filtered", full_page=True)

    # Sorting: one click ascending, a second click descending; the filter stays.
    page.locator("table.rows thead").get_by_role("link", name="price", exact=True).click()
    page.wait_for_url(lambda url: ("_sort", "price") in query_of(url))
    assert ("price__gt", "40") in query_of(page.url)
    prices = [Decimal(v) for v in column(page, "price")]
    assert prices == sorted(prices) and all(p > 40 for p in prices)
    lowest = served.sql("SELECT price FROM books WHERE price > 40 ORDER BY price LIMIT 50")
    assert prices == [Decimal(str(r[0])).quantize(Decimal("0.01")) for r in lowest]
    assert "▲" in page.locator("table.rows thead a.sort.active").inner_text()
    shot("sorted-ascending")

    page.locator("table.rows thead a.sort.active").click()
    page.wait_for_url(lambda url: ("_sort_desc", "price") in query_of(url))
    assert ("price__gt", "40") in query_of(page.url)
    assert "▼" in page.locator("table.rows thead a.sort.active").inner_text()
    first_ids = ids(page)
    first_prices = [Decimal(v) for v in column(page, "price")]
    highest = served.sql("SELECT price FROM books WHERE price > 40 ORDER BY price DESC LIMIT 100")
    highest_prices = [Decimal(str(r[0])).quantize(Decimal("0.01")) for r in highest]
    assert first_prices == highest_prices[:50]
    assert page.locator("nav.pager a[rel=prev]").count() == 0
    shot("sorted-descending")

    # Keyset paging: Next shows the following rows; Previous leads back to the first ones.
    page.get_by_role("link", name="Next ›").first.click()
    page.wait_for_url(lambda url: any(name == "_next" for name, _ in query_of(url)))
    second_ids = ids(page)
    second_prices = [Decimal(v) for v in column(page, "price")]
    assert second_ids and not set(second_ids) & set(first_ids)
    assert second_prices == highest_prices[50:100]
    assert ("_sort_desc", "price") in query_of(page.url)
    shot("next-page", full_page=True)
    page.get_by_role("link", name="‹ Previous").first.click()
    page.wait_for_url(lambda url: any(name == "_prev" for name, _ in query_of(url)))
    assert ids(page) == first_ids

    # Open the first row.
    book_id = first_ids[0]
    page.locator("table.rows tbody tr").first.get_by_role("link", name="open").click()
    page.wait_for_url(served.url(f"/demo/books/{book_id}"))
    title, author_id, author_name, price = served.sql(
        "SELECT b.title, b.author_id, a.name, b.price FROM books b"
        " JOIN authors a ON a.id = b.author_id WHERE b.id = ?",
        book_id,
    )[0]
    fields = {
        th.split()[0]: td
        for th, td in zip(
            page.locator("table.record tbody th").all_inner_texts(),
            page.locator("table.record tbody td").all_inner_texts(),
        )
    }
    assert {"id", "title", "author_id", "price", "published", "isbn"} <= set(fields)
    assert fields["id"] == str(book_id)
    assert fields["title"] == title
    assert Decimal(fields["price"]) == Decimal(str(price)).quantize(Decimal("0.01"))
    assert fields["author_id"] == f"{author_name} {author_id}"
    shot("book-row", full_page=True)

    # Many-to-one: the author link, in the record (and in no list of its own below it).
    assert page.locator("section.relations").count() == 0
    author_link = page.locator("table.record a.fk")
    assert author_link.inner_text() == author_name
    author_link.click()
    page.wait_for_url(served.url(f"/demo/authors/{author_id}"))
    assert page.locator("h1").first.inner_text().startswith("authors")

    # One-to-many: the author's books, a preview and a "See all" link.
    books_of_author = dict(
        served.sql("SELECT id, title FROM books WHERE author_id = ? ORDER BY id", author_id)
    )
    related = page.locator("section#rel-books")
    heading = related.locator("h2").inner_text()
    n = len(books_of_author)
    assert f"{n} row{'' if n == 1 else 's'}" in heading
    previewed = related.locator("ul li a")
    assert 1 <= previewed.count() <= n
    previewed_ids = {
        int(href.rsplit("/", 1)[1])
        for href in previewed.evaluate_all("(links) => links.map((a) => a.href)")
    }
    assert previewed_ids <= set(books_of_author)
    assert previewed.all_inner_texts() == [books_of_author[i] for i in sorted(previewed_ids)]
    shot("author-row", full_page=True)

    related.get_by_role("link", name="See all").click()
    page.wait_for_url(lambda url: urlsplit(url).path == "/demo/books")
    assert page.locator("p.count").inner_text() == f"{n} row{'' if n == 1 else 's'}"
    assert sorted(ids(page)) == sorted(books_of_author)
    assert all(v.endswith(f" {author_id}") for v in column(page, "author_id"))
    shot("author-books", full_page=True)

    watch.check()


def test_awkward_values_render_as_text(
    page: Any, watch: Watch, served: Served, shots: Path
) -> None:
    shot = Shooter(page, shots, "values")
    page.goto(served.url("/demo/books"))

    # Book 1's title looks like HTML: it must show as text, and its <script> must not run.
    first = page.locator("table.rows tbody tr").first
    assert ids(page)[0] == 1
    title_cell = first.locator("td.text").first
    assert title_cell.inner_text() == HTML_TITLE
    assert title_cell.locator("b, script").count() == 0
    # Only the app's own script files: no inline script came out of the data.
    assert page.locator("script:not([src])").count() == 0

    # Book 2's title is cut, with the whole value one click away.
    second = page.locator("table.rows tbody tr").nth(1)
    long_cell = second.locator("details.long")
    assert long_cell.count() == 1
    summary = long_cell.locator("summary").inner_text()
    assert summary.endswith("…") and LONG_TITLE.startswith(summary[:-1])
    assert len(summary) < len(LONG_TITLE)
    assert long_cell.locator(".full").is_hidden()
    long_cell.locator("summary").click()
    assert long_cell.locator(".full").is_visible()
    assert long_cell.locator(".full").inner_text() == LONG_TITLE
    shot("books-long-title-open")

    # The row pages show the same values as text too.
    page.goto(served.url("/demo/books/1"))
    assert HTML_TITLE in page.locator("table.record").inner_text()
    assert page.locator("table.record b, main script").count() == 0
    shot("book-1-html-title", full_page=True)
    page.goto(served.url("/demo/books/2"))
    record = page.locator("table.record")
    cut = record.locator("details.long")
    if cut.count():
        cut.locator("summary").click()
    assert LONG_TITLE in record.inner_text()
    shot("book-2-long-title", full_page=True)

    # Employees: a self-reference. Department heads have no manager (NULL); the others link
    # to their manager's row, whose page lists the reports (one-to-many back to employees).
    page.goto(served.url("/demo/employees"))
    heads = served.sql("SELECT count(*) FROM employees WHERE manager_id IS NULL")[0][0]
    assert heads > 0
    (total,) = served.sql("SELECT count(*) FROM employees")[0]
    assert page.locator("p.count").inner_text() == f"{total:,} rows"
    managers = column(page, "manager_id")
    assert "NULL" in managers
    shot("employees", full_page=True)
    page.locator("table.rows tbody tr").filter(
        has=page.locator("a.fk[href*='/demo/employees/']")
    ).first.locator("a.fk[href*='/demo/employees/']").click()
    page.wait_for_url(lambda url: urlsplit(url).path.startswith("/demo/employees/"))
    manager_id = int(urlsplit(page.url).path.rsplit("/", 1)[1])
    (reports,) = served.sql("SELECT count(*) FROM employees WHERE manager_id = ?", manager_id)[0]
    assert reports > 0
    assert f"{reports} row" in page.locator("section#rel-reports h2").inner_text()
    shot("employee-manager", full_page=True)

    watch.check()
