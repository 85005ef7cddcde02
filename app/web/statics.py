"""Static files under versioned URLs (``?v=`` a digest of the file), which browsers keep for a
year: a changed file gets a new URL, so a long cache never serves a stale one. A URL without
the current version (an old page, a hand-typed address) is answered as before, revalidated on
every use."""

from __future__ import annotations

import functools
import hashlib
import os
from typing import Any

from flask import Flask, current_app, request

YEAR = 365 * 24 * 3600


def version(filename: str) -> str | None:
    """The version of a static file (None when there is no such file)."""
    folder = current_app.static_folder
    if folder is None:
        return None
    path = os.path.join(folder, filename)
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return _digest(path, stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=256)
def _digest(path: str, _mtime_ns: int, _size: int) -> str:
    with open(path, "rb") as source:
        return hashlib.sha256(source.read()).hexdigest()[:12]


def init_app(app: Flask) -> None:
    def max_age(filename: str | None) -> int | None:
        if filename is not None and request.args.get("v") == version(filename):
            return YEAR
        return None  # Flask's default: no max-age, revalidated with its ETag

    app.get_send_file_max_age = max_age  # type: ignore[method-assign]

    @app.after_request
    def _immutable(response: Any) -> Any:
        if request.endpoint == "static" and response.cache_control.max_age == YEAR:
            response.cache_control.public = True
            response.cache_control.immutable = True
        return response
