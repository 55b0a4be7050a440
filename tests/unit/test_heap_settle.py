"""The collector set once the service is up (``cti.heap``)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from cti.heap import YOUNG_EVERY, settle_heap


@pytest.fixture
def collector() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


def test_settling_the_heap_freezes_what_was_started_and_spaces_the_young_passes(
    collector: None,
) -> None:
    kept = [object(), {"started": [1, 2]}]  # something the start built and keeps
    settle_heap()
    assert gc.get_freeze_count() > len(kept)
    assert gc.get_threshold()[0] == YOUNG_EVERY > 700
    assert not any(o is kept[1] for o in gc.get_objects())  # out of the passes' sight
