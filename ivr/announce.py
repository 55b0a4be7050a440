"""Announcements to callers waiting for an agent: place in line and expected wait.

The dialplan's wait loop ([hotline-wait]) calls the FastAGI script
``announce`` every ``announce_every_s`` seconds; the figures come from the
CTI's router (the order calls will really be served in), not from app_queue.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Protocol

from cti.domain.callcenter import QueueEstimate
from ivr.engine import LANGUAGE_VARIABLE
from ivr.fastagi import AgiSession
from ivr.prompts import MAX_SPOKEN_NUMBER

#: Set on the caller's channel after each announcement (for reports and tests).
POSITION_VARIABLE = "HOTLINE_QUEUE_POSITION"


class QueueInfo(Protocol):
    def queue_estimate(self, call_id: str) -> QueueEstimate | None: ...


@dataclass(frozen=True, slots=True)
class Announcement:
    position: int
    wait_s: float
    prompts: tuple[str, ...]


def announcement_prompts(estimate: QueueEstimate) -> tuple[str, ...]:
    """Prompt names, in order, that say the place in line and the expected wait."""
    if estimate.position <= MAX_SPOKEN_NUMBER:
        said: list[str] = ["queue-position", f"num-{estimate.position}", "queue-position-end"]
    else:
        said = ["queue-position-many"]
    minutes = math.ceil(estimate.wait_s / 60)
    if estimate.wait_s < 60:
        said.append("queue-wait-short")
    elif minutes <= MAX_SPOKEN_NUMBER:
        said += ["queue-wait", f"num-{minutes}", "queue-minutes"]
    else:
        said.append("queue-wait-long")
    return tuple(said)


class Announcer:
    def __init__(
        self,
        info: QueueInfo,
        prompts_root: PurePosixPath,
        languages: frozenset[str],
        default_language: str,
    ) -> None:
        self.info = info
        self.prompts_root = prompts_root
        self.languages = languages
        self.default_language = default_language

    async def run(self, session: AgiSession) -> Announcement | None:
        """Say the caller's place and wait; None when the router does not hold the call."""
        estimate = self.info.queue_estimate(session.uniqueid)
        if estimate is None:
            return None
        chosen = await session.get_variable(LANGUAGE_VARIABLE)
        language = chosen if chosen in self.languages else self.default_language
        prompts = announcement_prompts(estimate)
        await session.set_variable(POSITION_VARIABLE, str(estimate.position))
        for name in prompts:
            await session.stream_file(str(self.prompts_root / language / name))
        return Announcement(estimate.position, estimate.wait_s, prompts)
