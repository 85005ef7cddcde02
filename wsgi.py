"""The WSGI entry point: ``gunicorn wsgi:app``."""

from app import create_app
from app.db import heap

heap.FREEZE_AFTER_DISCOVERY = True  # a long-lived worker: see app/db/heap.py
app = create_app()
