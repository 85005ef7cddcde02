"""Security headers on every answer: what a browser may load, frame and send elsewhere.

Every script and style is a file under ``static/`` (no inline ``<script>``, no ``style=``
attributes), so the Content-Security-Policy allows only the dashboard's own origin: an
injected ``<script>`` or ``onclick`` would not run even if escaping ever failed. The pages
may not be framed (clickjacking), the browser may not guess content types (a download of a
binary value is never run as HTML), and no other site learns the dashboard's URLs, which
name tables, keys and filter values.
"""

from __future__ import annotations

from flask import Flask, Response

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)

HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",  # frame-ancestors for browsers that predate it
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def init_app(app: Flask) -> None:
    @app.after_request
    def _secure(response: Response) -> Response:
        for name, value in HEADERS.items():
            response.headers.setdefault(name, value)
        return response
