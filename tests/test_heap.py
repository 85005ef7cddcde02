"""heap.settle freezes what is alive only in a served app (wsgi.py), and never twice over."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from rowboat.db import heap


@pytest.fixture
def no_frozen_objects() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()


def test_settle_does_nothing_outside_a_served_app(no_frozen_objects: None) -> None:
    assert heap.FREEZE_AFTER_DISCOVERY is False  # tests create apps without wsgi.py
    heap.settle()
    assert gc.get_freeze_count() == 0


class _Node:
    me: object = None


def test_settle_freezes_the_live_objects_and_lets_old_ones_go(
    no_frozen_objects: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(heap, "FREEZE_AFTER_DISCOVERY", True)
    node = _Node()
    node.me = node  # a cycle: only the collector can free it
    alive = weakref.ref(node)
    heap.settle()
    assert gc.get_freeze_count() > 1000  # everything alive, the node included
    del node
    gc.collect()
    assert alive() is not None  # frozen: collections no longer look at it
    heap.settle()  # as after a schema refresh: the discarded objects are collected
    assert alive() is None
