"""Browsing rows: list pages, counts, labels, the row page, rows as HTML, the home overview."""
