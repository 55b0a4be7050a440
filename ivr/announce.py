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

from cti import dialplan
from cti.domain.callcenter import QueueEstimate
from ivr.fastagi import AgiSession
from ivr.prompts import MAX_SPOKEN_NUMBER

CALLBACK_KEY, KEEP_WAITING_KEY = "1", "2"
CALLBACK_DIGIT_TIMEOUT_MS = 5000


class QueueInfo(Protocol):
    def queue_estimate(self, call_id: str) -> QueueEstimate | None: ...


@dataclass(frozen=True, slots=True)
class Announcement:
    position: int
    wait_s: float
    prompts: tuple[str, ...]
    callback: str | None = None  # the number the caller will be called back on


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
        callback_offer_after_s: float | None = None,
    ) -> None:
        self.info = info
        self.callback_offer_after_s = callback_offer_after_s
        self.prompts_root = prompts_root
        self.languages = languages
        self.default_language = default_language

    async def run(self, session: AgiSession) -> Announcement | None:
        """Say the caller's place and wait; None when the router does not hold the call."""
        estimate = self.info.queue_estimate(session.uniqueid)
        if estimate is None:
            return None
        chosen = await session.get_variable(dialplan.LANGUAGE)
        language = chosen if chosen in self.languages else self.default_language
        prompts = announcement_prompts(estimate)
        await session.set_variable(dialplan.QUEUE_POSITION, str(estimate.position))
        offer = self._offers_callback(estimate, session.caller_number)
        # with a call-back on offer, "1" at any time during the announcement takes it
        escape = CALLBACK_KEY if offer else '""'
        pressed = ""
        for name in prompts:
            pressed = await session.stream_file(self._prompt(language, name), escape) or ""
            if pressed:
                break
        callback = None
        if offer:
            callback = await self._callback(session, language, pressed == CALLBACK_KEY)
        return Announcement(estimate.position, estimate.wait_s, prompts, callback)

    def _prompt(self, language: str, name: str) -> str:
        return str(self.prompts_root / language / name)

    def _offers_callback(self, estimate: QueueEstimate, number: str) -> bool:
        limit = self.callback_offer_after_s
        return limit is not None and estimate.wait_s >= limit and callable_number(number)

    async def _callback(self, session: AgiSession, language: str, chosen: bool) -> str | None:
        """Offer a call-back; on "1" and a confirmation, set it and hang up."""
        if not chosen:
            digits, _ = await session.get_data(
                self._prompt(language, "callback-offer"), CALLBACK_DIGIT_TIMEOUT_MS, 1
            )
            if digits != CALLBACK_KEY:
                return None
        number = session.caller_number
        await session.stream_file(self._prompt(language, "callback-confirm"))
        for digit in number[-4:]:
            await session.stream_file(self._prompt(language, f"num-{digit}"))
        digits, _ = await session.get_data(
            self._prompt(language, "callback-confirm-press"), CALLBACK_DIGIT_TIMEOUT_MS, 1
        )
        if digits != CALLBACK_KEY:
            return None  # keep waiting
        await session.set_variable(dialplan.CALLBACK, number)
        await session.stream_file(self._prompt(language, "callback-thanks"))
        await session.command("HANGUP")
        return number


def callable_number(number: str) -> bool:
    """A caller id we can dial back: digits (a leading + allowed), not anonymous."""
    digits = number.removeprefix("+")
    return 3 <= len(digits) <= 20 and digits.isdigit()
