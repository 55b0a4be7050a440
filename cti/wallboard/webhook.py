"""Alarms to a site's webhook: one JSON POST per alarm raised or cleared.

Sent by one background task from a bounded queue, so the event loop never
waits on the webhook: each POST has a timeout and is retried with a bounded
exponential backoff; when the queue is full (the webhook is down for long)
the oldest alarms are dropped with a warning, never the CTI's time.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import aiohttp

log = logging.getLogger(__name__)


class AlarmWebhook:
    def __init__(
        self,
        url: str,
        timeout_s: float = 5.0,
        retries: int = 3,
        backoff_s: float = 1.0,
        depth: int = 100,
    ) -> None:
        self.url, self.timeout_s, self.retries, self.backoff_s = url, timeout_s, retries, backoff_s
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=depth)
        self.sent = 0
        self.failed = 0

    def send(self, payload: dict[str, Any]) -> None:
        """Queue a POST; never blocks (the oldest is dropped when full)."""
        if self.queue.full():
            dropped = self.queue.get_nowait()
            self.queue.task_done()
            log.warning("alarm webhook is behind: dropped %s", dropped.get("rule"))
        self.queue.put_nowait(payload)

    async def run(self) -> None:
        timeout = aiohttp.ClientTimeout(total=self.timeout_s)
        async with aiohttp.ClientSession(timeout=timeout) as http:
            while True:
                payload = await self.queue.get()
                try:
                    await self._post(http, payload)
                except Exception:  # never stop sending (the service runs this task)
                    self.failed += 1
                    log.exception("alarm webhook: %s not sent", payload.get("rule"))
                finally:
                    self.queue.task_done()

    async def _post(self, http: aiohttp.ClientSession, payload: dict[str, Any]) -> None:
        delay = self.backoff_s
        for attempt in range(1, self.retries + 1):
            try:
                async with http.post(self.url, json=payload, allow_redirects=False) as response:
                    if response.status < 300:
                        self.sent += 1
                        return
                    problem = f"HTTP {response.status}"
            except (aiohttp.ClientError, TimeoutError) as exc:
                problem = str(exc) or type(exc).__name__
            if attempt < self.retries:
                log.info(
                    "alarm webhook try %d failed (%s); again in %.1fs", attempt, problem, delay
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)
            else:
                self.failed += 1
                log.warning("alarm webhook gave up after %d tries: %s", attempt, problem)
