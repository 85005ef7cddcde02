"""Keeping CPython's garbage collector off the objects that live as long as a server worker.

A discovered catalog holds tens of thousands of objects (reflected tables, mapped classes,
SQLAlchemy's caches). A full collection walks every one of them, so the request that happens
to trigger it takes tens of milliseconds longer: in ``bench/`` that was the slowest 1 % of list
pages, and about a seventh of the throughput. Freezing moves every object alive at that moment
into a generation the collector never scans; the garbage requests make is collected as usual.

Only a served app does this (``wsgi.py`` turns it on): each settling costs a full collection,
which in a test process holding hundreds of apps' worth of objects takes seconds.
"""

from __future__ import annotations

import gc

FREEZE_AFTER_DISCOVERY = False


def settle() -> None:
    """After a catalog discovery: collect what is garbage now, then freeze everything alive.

    Unfreezing first lets a refreshed schema's discarded catalog be collected instead of
    staying frozen for good.
    """
    if not FREEZE_AFTER_DISCOVERY:
        return
    gc.unfreeze()
    gc.collect()
    gc.freeze()
