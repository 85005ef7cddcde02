"""The WSGI entry point: ``gunicorn wsgi:app``."""

from app import create_app, heap

heap.FREEZE_AFTER_DISCOVERY = True  # a long-lived worker: see app/heap.py
app = create_app()
