"""Red-flag tags to supervisors at once: the CTI's side of the escalation.

The transcription workers run in other processes and store tags in the
database; a tag the tag rules name in ``red_flags`` is stored with
``detail.red_flag``. One task here reads the tags stored since the last
look every ``escalation_poll_s`` seconds (nothing to lose if the CTI or a
worker restarts: the database is the hand-over) and pushes each red flag as
a ``qa.escalation`` frame to supervisors' WebSockets and, when one is set
up, to the alarm webhook. Every tag the tag rules put is also handed to the
wallboard (``RedFlagFeed``), whose ``qa_red_flags`` alarm rules count the
red-flagged calls; when the CTI starts, the tags stored within those rules'
reach are handed over first, so their counts go on across a restart.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC
from typing import Any, Protocol

from cti.db.models import CallRecord, CallTag
from cti.kpi.red_flags import TagSeen
from cti.qa.store import QaStore, ts

log = logging.getLogger(__name__)

FRAME = "qa.escalation"


class Supervisors(Protocol):
    def to_supervisors(self, kind: str, data: dict[str, Any]) -> int: ...


class Webhook(Protocol):
    def send(self, payload: dict[str, Any]) -> None: ...


class RedFlagFeed(Protocol):
    """Where the tags go to be counted (``cti.wallboard.feature.Wallboard``)."""

    def qa_since(self) -> float | None: ...

    def qa_tags(self, seen: list[TagSeen]) -> None: ...


def tag_seen(tag: CallTag, queue: str | None) -> TagSeen:
    at = tag.created_at if tag.created_at.tzinfo else tag.created_at.replace(tzinfo=UTC)
    red = isinstance(tag.detail, dict) and bool(tag.detail.get("red_flag"))
    return TagSeen(tag.call_id, tag.tag, queue, at.timestamp(), red)


def escalation_json(tag: CallTag, cdr: CallRecord | None) -> dict[str, Any]:
    """What a supervisor is told: the call, the tag, where in the call it was said."""
    at = tag.created_at if tag.created_at.tzinfo else tag.created_at.replace(tzinfo=UTC)
    return {
        "call_id": tag.call_id,
        "tag": tag.tag,
        "start_s": tag.start_s,
        "end_s": tag.end_s,
        "tagged_at": at.isoformat(),
        "agent_id": cdr.agent_id if cdr else None,
        "queue": cdr.queue if cdr else None,
        "url": f"/qa#{tag.call_id}",
    }


class Escalations:
    def __init__(
        self,
        store: QaStore,
        hub: Supervisors,
        webhook: Webhook | None,
        poll_s: float,
        feed: RedFlagFeed | None = None,
    ) -> None:
        self.store, self.hub, self.webhook, self.poll_s = store, hub, webhook, poll_s
        self.feed = feed
        self.last_id: int | None = None  # None: not primed (the first look starts now)
        self.sent = 0

    async def prime(self) -> None:
        """Start after the tags stored so far: those were escalated before (the
        feed gets those within its reach, to count)."""
        last_id = await self.store.last_tag_id()
        since = self.feed.qa_since() if self.feed is not None else None
        if self.feed is not None and since is not None:
            rows = await self.store.rule_tags_since(ts(since), last_id)
            self.feed.qa_tags([tag_seen(tag, queue) for tag, queue in rows])
        self.last_id = last_id

    async def poll_once(self) -> list[dict[str, Any]]:
        """Push the red flags stored since the last look; the escalations pushed."""
        if self.last_id is None:
            await self.prime()
            return []
        pushed = []
        seen = []
        for tag, cdr in await self.store.tags_after(self.last_id):
            self.last_id = tag.id
            if tag.source == "rule":
                seen.append(tag_seen(tag, cdr.queue if cdr else None))
            if not (isinstance(tag.detail, dict) and tag.detail.get("red_flag")):
                continue
            escalation = escalation_json(tag, cdr)
            self.hub.to_supervisors(FRAME, escalation)
            if self.webhook is not None:
                self.webhook.send({"event": FRAME, "rule": tag.tag} | escalation)
            log.info("red flag %s on call %s escalated", tag.tag, tag.call_id)
            pushed.append(escalation)
        self.sent += len(pushed)
        if seen and self.feed is not None:
            self.feed.qa_tags(seen)
        return pushed

    async def run(self) -> None:
        """Look every ``poll_s`` seconds until cancelled; a failed look is logged."""
        while True:
            try:
                await self.poll_once()
            except Exception:
                log.exception("looking for red-flag tags failed; trying again")
            await asyncio.sleep(self.poll_s)
