"""The WSGI entry point: ``gunicorn wsgi:app``."""

from rowboat import create_app
from rowboat.db import heap

heap.FREEZE_AFTER_DISCOVERY = True  # a long-lived worker: see app/db/heap.py
app = create_app()
