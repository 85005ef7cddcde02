"""Crawl a database as a new user would, through the app: every table and view, every sort
both ways (first, next and last page), a filter per column, and every row page.

    PYTHONPATH=. .venv/bin/python bench/crawl.py postgresql+psycopg2://postgres@127.0.0.1/chinook

Prints the row pages visited per table, the count of each HTTP status and every answer that is
not 200. Not a test: it reads every row, so its run time grows with the database.
"""

from __future__ import annotations

import collections
import re
import sys
import time

from rowboat import create_app
from rowboat.catalog.types import ORDERABLE
from rowboat.core import keys

NEXT_LINK = re.compile(r'rel="next" class="next" href="([^"]+)"')


class Crawler:
    def __init__(self, url: str) -> None:
        self.app = create_app({"DATABASES": {"c": {"url": url}}})
        self.client = self.app.test_client()
        self.statuses: collections.Counter[int] = collections.Counter()
        self.failures: list[tuple[str, int, str]] = []

    def get(self, path: str) -> str:
        response = self.client.get(path.replace("&amp;", "&"))
        self.statuses[response.status_code] += 1
        if response.status_code != 200:
            tail = re.sub(r"\s+", " ", response.text)[-300:]
            self.failures.append((path, response.status_code, tail))
        return response.text

    def next_page(self, html: str) -> str | None:
        found = NEXT_LINK.search(html)
        return found.group(1) if found else None

    def every_row_page(self, base: str, segment: str) -> int:
        visited = 0
        path: str | None = base + "?_size=500"
        row_link = re.compile(r'href="(/c/' + re.escape(segment) + r'/[^"/]+)"')
        while path:
            html = self.get(path)
            for link in set(row_link.findall(html)):
                self.get(link)
                visited += 1
            path = self.next_page(html)
        return visited

    def sorts_and_filters(self, base: str, entity) -> None:
        for column in entity.columns.values():
            if column.kind in ORDERABLE and column.kind != "binary":
                for sort in ("_sort", "_sort_desc"):
                    following = self.next_page(self.get(f"{base}?{sort}={column.key}"))
                    if following:
                        self.get(following)
                    self.get(f"{base}?{sort}={column.key}&_last=1")
            self.get(f"{base}?{column.key}__notnull=1")
            if column.kind == "text":
                self.get(f"{base}?{column.key}__contains=a&_search=e")
            if column.kind in ("integer", "numeric"):
                self.get(f"{base}?{column.key}__gte=1&{column.key}__lt=100")

    def run(self) -> None:
        catalog = self.app.extensions["rowboat.databases"]["c"].catalog
        for name, entity in catalog.entities.items():
            segment = keys.entity_segment(entity.schema, entity.table_name)
            base = f"/c/{segment}"
            rows = self.every_row_page(base, segment)
            self.sorts_and_filters(base, entity)
            print(f"{name}: {rows} row pages", flush=True)
        for path in ("/", "/c", "/healthz"):
            self.get(path)


def main() -> None:
    crawler = Crawler(sys.argv[1])
    started = time.perf_counter()
    crawler.run()
    elapsed = time.perf_counter() - started
    print(
        f"status counts: {dict(crawler.statuses)}; not 200: {len(crawler.failures)}; "
        f"{elapsed:.0f} s"
    )
    for failure in crawler.failures[:20]:
        print(failure)


if __name__ == "__main__":
    main()
