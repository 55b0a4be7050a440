"""What the QA page may ask of the service: its store, scorecard, recordings and clock.

Built by the coordinator; ``cti/web/qa.py`` reaches the QA side only
through this (the agent's recording pause goes through ``DeskFacade``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from cti.qa.scorecard import Scorecard
from cti.qa.store import QaStore


class QaFacade:
    def __init__(
        self,
        store: QaStore,
        scorecard: Scorecard,
        recordings_dir: Path,
        clock: Callable[[], float],
    ) -> None:
        self.store, self.scorecard, self.recordings_dir = store, scorecard, recordings_dir
        self._clock = clock

    def now(self) -> float:
        return self._clock()
